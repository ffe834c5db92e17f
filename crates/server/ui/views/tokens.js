// opsdeck web UI — API tokens (`#/tokens`, admins): list, create an admin or read-only token
// with a name (shown once, with a copy button), revoke.

import { api, isAdmin, isQuiet, describeError, ApiError } from "../api.js";
import { el, clear, focus, busy, confirmDialog } from "../dom.js";
import { absolute, timeEl } from "../format.js";
import { textField, setFieldError, clearFieldError } from "../forms.js";
import { noticeArea, notify } from "../notices.js";

const ROLES = {
  read: "Read-only",
  admin: "Admin",
};

export function mount(root, route, ctx) {
  ctx.title("API tokens");
  const area = noticeArea();
  root.append(el("h2", { id: "tokens-title", tabindex: "-1", text: "API tokens" }), area);
  if (!isAdmin()) {
    root.append(el("p", { id: "readonly-note", text: "Only admin tokens can see and manage API tokens." }));
    return;
  }
  root.append(
    el(
      "p",
      { className: "help" },
      "Give every person, dashboard or script its own token, so it can be revoked alone. Read-only tokens suit Grafana, Prometheus and people who only look."
    )
  );

  // ----- create -----
  const nameF = textField("Name", "Who or what uses it, e.g. `grafana` or `alice`.", { maxlength: 100, autocomplete: "off", "aria-required": "true" });
  const roleRead = el("input", { type: "radio", name: "role", id: "role-read", value: "read", checked: true });
  const roleAdmin = el("input", { type: "radio", name: "role", id: "role-admin", value: "admin" });
  const roles = el(
    "fieldset",
    { className: "roles" },
    el("legend", { text: "Role" }),
    el("div", { className: "check" }, roleRead, el("label", { for: "role-read" }, el("strong", { text: "Read-only" }), " — dashboards and reading the API; cannot test or change anything")),
    el("div", { className: "check" }, roleAdmin, el("label", { for: "role-admin" }, el("strong", { text: "Admin" }), " — can add, test, change and delete services and manage tokens"))
  );
  const createBtn = el("button", { type: "submit", id: "token-create", text: "Create token" });
  const created = el("div", { id: "new-token", className: "result", tabindex: "-1", hidden: true });
  const form = el("form", { id: "token-form", novalidate: true, autocomplete: "off" }, nameF.wrap, roles, el("div", { className: "actions" }, createBtn));
  const list = el("div", {}, el("p", { className: "muted", text: "Loading…" }));
  root.append(
    el("section", { className: "panel", "aria-labelledby": "create-title" }, el("h3", { id: "create-title", text: "Create a token" }), form, created),
    el("section", { className: "panel", "aria-labelledby": "list-title" }, el("h3", { id: "list-title", text: "Tokens" }), list)
  );

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldError(nameF.input, nameF.err);
    const name = nameF.input.value.trim();
    if (name === "") {
      setFieldError(nameF.input, nameF.err, "Give the token a name.");
      focus(nameF.input);
      return;
    }
    const role = roleAdmin.checked ? "admin" : "read";
    busy(createBtn, "Creating…", async () => {
      try {
        const r = await api("POST", "/api/v1/tokens", { name, role }, { signal: ctx.signal });
        nameF.input.value = "";
        showToken(r.body);
        await loadList();
      } catch (e) {
        if (isQuiet(e)) return;
        const d = e instanceof ApiError ? e.details.find((x) => x && x.field === "name") : null;
        if (d) {
          setFieldError(nameF.input, nameF.err, d.message);
          focus(nameF.input);
        } else notify(area, "Could not create the token: " + describeError(e), "error");
      }
    });
  });

  // The new token, once: with a copy button, gone when dismissed or when the page is left.
  function showToken(t) {
    clear(created);
    const value = el("input", { id: "new-token-value", type: "text", readonly: true, value: t.token, spellcheck: "false", "aria-describedby": "new-token-help" });
    const copy = el("button", { type: "button", id: "copy-token", text: "Copy" });
    const status = el("span", { className: "muted", role: "status" });
    copy.addEventListener("click", async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(value.value);
        status.textContent = "Copied.";
      } catch (_) {
        // No clipboard access (e.g. plain http to another host): the text is selected instead.
        status.textContent = "Selected — press Ctrl+C (⌘C) to copy.";
      }
    });
    const done = el("button", { type: "button", className: "secondary", text: "Done" });
    done.addEventListener("click", () => {
      clear(created);
      created.hidden = true;
      focus(nameF.input);
    });
    created.append(
      el("h4", { text: (ROLES[t.role] || t.role) + " token “" + t.name + "” created" }),
      el("p", { id: "new-token-help", className: "warn", text: "Copy it now: it is shown this once and cannot be read again." }),
      el("div", { className: "with-button" }, value, copy),
      status,
      el("div", { className: "actions" }, done)
    );
    created.hidden = false;
    focus(created);
  }

  // ----- list -----
  async function loadList() {
    let tokens;
    try {
      tokens = (await api("GET", "/api/v1/tokens", undefined, { signal: ctx.signal })).body || [];
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not list the tokens: " + describeError(e), "error");
      return;
    }
    clear(list);
    if (tokens.length === 0) {
      list.append(
        el("p", { className: "muted", text: "No stored tokens. (The admin token from OPSDECK_ADMIN_TOKEN is not listed: it lives in the server's environment.)" })
      );
      return;
    }
    const tbody = el("tbody");
    for (const t of tokens) {
      const revoke = el("button", { type: "button", className: "small danger", "aria-label": "Revoke " + t.name, "data-token": String(t.id), text: "Revoke" });
      revoke.addEventListener("click", () => revokeToken(t, revoke));
      tbody.append(
        el(
          "tr",
          {},
          el("th", { scope: "row", "data-label": "Name", text: t.name }),
          el("td", { "data-label": "Role" }, el("span", { className: "role role-" + t.role, text: ROLES[t.role] || t.role })),
          el("td", { "data-label": "Created", title: absolute(t.created_at) }, timeEl(t.created_at)),
          el("td", { className: "actions-col" }, revoke)
        )
      );
    }
    list.append(
      el(
        "div",
        { className: "table-wrap" },
        el(
          "table",
          { id: "tokens" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "Role" }), el("th", { scope: "col", text: "Created" }), el("th", { scope: "col" }, el("span", { className: "visually-hidden", text: "Actions" })))),
          tbody
        )
      ),
      el("p", { className: "muted small", text: "The admin token from OPSDECK_ADMIN_TOKEN, if the server has one, is not listed." })
    );
  }

  async function revokeToken(t, button) {
    const yes = await confirmDialog({
      title: "Revoke “" + t.name + "”?",
      body: ["Anything using this " + (ROLES[t.role] || t.role).toLowerCase() + " token loses access at once. If it is the token you signed in with, you will be signed out."],
      confirmLabel: "Revoke " + t.name,
      danger: true,
      returnFocus: button,
    });
    if (!yes) return;
    try {
      await api("DELETE", "/api/v1/tokens/" + encodeURIComponent(String(t.id)), undefined, { signal: ctx.signal });
      notify(area, "Revoked “" + t.name + "”.", "success");
      await loadList();
      focus(root.querySelector("#list-title"));
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not revoke the token: " + describeError(e), "error");
    }
  }

  loadList();
}
