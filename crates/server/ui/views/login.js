// opsdeck web UI — sign-in: one API token, checked against the server before it is kept, with a
// word on where a token comes from.

import { setToken, clearToken, loadSession, describeError, ApiError } from "../api.js";
import { el, focus } from "../dom.js";
import { setFieldError, clearFieldError } from "../forms.js";
import { noticeArea, notify } from "../notices.js";

export function mount(root, message, onSignedIn) {
  const area = noticeArea();
  const input = el("input", {
    id: "token-input",
    name: "token",
    type: "password",
    required: true,
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "token-help token-error",
  });
  const err = el("p", { id: "token-error", className: "field-error", hidden: true });
  const submit = el("button", { type: "submit", text: "Sign in" });
  const form = el(
    "form",
    { id: "login-form", autocomplete: "off", novalidate: true },
    el("div", { className: "field" }, el("label", { for: "token-input", text: "API token" }), input, err),
    submit
  );
  root.append(
    el("h2", { id: "login-title", tabindex: "-1", text: "Sign in" }),
    area,
    form,
    el(
      "div",
      { id: "token-help", className: "help-block" },
      el("h3", { text: "Where do I get a token?" }),
      el(
        "ul",
        {},
        el("li", {}, "When opsdeckd first started, it printed an admin token once (it begins with ", el("code", { text: "odk_" }), ")."),
        el("li", {}, "If the server was started with ", el("code", { text: "OPSDECK_ADMIN_TOKEN" }), ", that value is an admin token."),
        el("li", {}, "An admin can create a token for you on the Tokens page; read-only tokens can look but not change.")
      ),
      el("p", { className: "muted" }, "The token is kept in this browser tab only (session storage) and sent to this server alone.")
    )
  );
  if (message) notify(area, message, "error");

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearFieldError(input, err);
    const t = input.value.trim();
    if (!t) {
      setFieldError(input, err, "Paste a token first.");
      focus(input);
      return;
    }
    if (!/^[\x21-\x7e]+$/.test(t)) {
      setFieldError(input, err, "That does not look like an API token (printable characters, no spaces).");
      focus(input);
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    setToken(t);
    try {
      await loadSession({ keepSession: true });
      input.value = "";
      onSignedIn();
    } catch (e) {
      clearToken();
      submit.disabled = false;
      submit.textContent = "Sign in";
      if (e instanceof ApiError && e.status === 401) {
        setFieldError(input, err, "opsdeckd did not accept this token. Check that you copied all of it.");
      } else {
        setFieldError(input, err, "Could not sign in: " + describeError(e));
      }
      focus(input);
    }
  });
  focus(input);
}
