// opsdeck web UI — the edit form (`#/services/NAME/edit`): the wizard's schema form, pre-filled.
// Secrets read "set — leave empty to keep" and can be replaced or removed; "Test these settings"
// tests the edited config merged with the stored secrets on the server (the secret never comes
// back to the browser); Save sends the version that was read, and a change made elsewhere in
// the meantime is explained, never silently overwritten.

import { api, isAdmin, isQuiet, describeError, servicePath, provider as loadProvider, loadStatus, testService, rememberReport, ApiError } from "../api.js";
import { el, clear, focus, busy, confirmDialog } from "../dom.js";
import { failureText, humanize, intervalText } from "../format.js";
import { schemaForm, textField, intervalField, checkField, parseTags, setFieldError } from "../forms.js";
import { noticeArea, notify, flash } from "../notices.js";
import { reportView } from "../report.js";
import * as router from "../router.js";

function same(a, b) {
  return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
}

// Whether a PATCH config would change anything compared with the stored config.
function configChanges(patch, stored) {
  return Object.keys(patch).filter((k) => {
    const before = stored[k];
    if (before && typeof before === "object" && !Array.isArray(before) && "set" in before) return true; // a secret typed or removed
    return !same(patch[k], before);
  });
}

export function mount(root, route, ctx) {
  const name = route.params.name;
  ctx.title("Edit " + name);
  const area = noticeArea();
  root.append(
    el("p", { className: "crumbs" }, el("a", { href: router.href.service(name), text: "← " + name })),
    el("h2", { id: "edit-title", tabindex: "-1", text: "Edit " + name }),
    area
  );
  if (!isAdmin()) {
    root.append(el("p", { id: "readonly-note", text: "Changing a service needs an admin token; this one is read-only." }));
    return;
  }
  const body = el("div", {}, el("p", { className: "muted", text: "Loading…" }));
  root.append(body);
  const state = { svc: null, provider: null, form: null, test: null };

  async function load() {
    try {
      const r = await api("GET", servicePath(name), undefined, { signal: ctx.signal });
      state.svc = r.body;
      state.provider = await loadProvider(state.svc.provider, ctx.signal);
    } catch (e) {
      if (isQuiet(e)) return;
      clear(body);
      if (e instanceof ApiError && e.status === 404) notify(area, "There is no service named " + name + ".", "error");
      else notify(area, "Could not load " + name + ": " + describeError(e), "error");
      return;
    }
    render();
  }

  function render() {
    clear(body);
    const svc = state.svc;
    const p = state.provider;
    if (svc.provisioned) {
      body.append(
        el(
          "p",
          { className: "note" },
          name + " comes from the server's config file (",
          el("code", { text: "opsdeckd --config" }),
          "). Change it there and restart opsdeckd; the API refuses edits to it."
        )
      );
      return;
    }
    const form = schemaForm(p, { mode: "edit", current: svc.config });
    state.form = form;
    state.test = null;
    const tags = textField("Tags", "Comma-separated.", { autocomplete: "off", value: svc.tags.join(", ") });
    const interval = intervalField(svc.interval_secs);
    const enabled = checkField("Check on a schedule", "When off, opsdeckd keeps the service but does not check it on its own.", svc.enabled);
    const result = el("div", { id: "edit-result", className: "result", tabindex: "-1", hidden: true });
    const conflict = el("div", { id: "conflict", className: "result conflict", tabindex: "-1", role: "alert", hidden: true });
    const testBtn = el("button", { type: "button", className: "secondary", id: "edit-test", text: "Test these settings" });
    const saveBtn = el("button", { type: "submit", id: "edit-save", text: "Save" });
    const cancel = el("a", { className: "button secondary", href: router.href.service(name), text: "Cancel" });
    const f = el(
      "form",
      { id: "edit-form", novalidate: true, autocomplete: "off" },
      el("fieldset", {}, el("legend", { text: p.name + " settings" }), form.element),
      el("fieldset", {}, el("legend", { text: "Service" }), tags.wrap, interval.wrap, enabled.wrap),
      result,
      conflict,
      el("div", { className: "actions" }, testBtn, saveBtn, cancel)
    );
    body.append(f);

    testBtn.addEventListener("click", () => busy(testBtn, "Testing…", () => runTest(form, result)));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(saveBtn, "Saving…", () =>
        save(form, { tags: parseTags(tags.input.value), interval_secs: interval.value(), enabled: enabled.input.checked }, conflict, saveBtn)
      );
    });
  }

  async function runTest(form, result) {
    form.clearErrors();
    const { config, errors } = form.collect();
    if (errors.length) {
      form.focusFirstInvalid();
      return;
    }
    const key = JSON.stringify(config);
    clear(result);
    result.hidden = false;
    result.append(el("p", { className: "muted", text: "Testing " + name + " with these settings…" }));
    try {
      const r = await api("POST", servicePath(name, "/test-config"), { config }, { signal: ctx.signal });
      state.test = { key, report: r.body };
      clear(result);
      result.append(el("h3", { text: "Test of these settings (not saved)" }), reportView(r.body));
      if (r.body.status !== "connected") {
        for (const { field, message } of form.fieldsForFailure(r.body.failure, state.provider.name)) {
          setFieldError(field.input, field.err, message);
        }
      }
    } catch (e) {
      if (isQuiet(e)) return;
      state.test = { key, error: e };
      form.applyServerErrors(e);
      clear(result);
      result.append(el("h3", { text: "The test could not run" }), el("p", { className: "error-text", text: describeError(e) }));
    }
    focus(result);
  }

  async function save(form, general, conflict, saveBtn) {
    conflict.hidden = true;
    const { config, errors } = form.collect();
    if (errors.length) {
      form.focusFirstInvalid();
      return;
    }
    const svc = state.svc;
    const changed = configChanges(config, svc.config);
    if (changed.length) {
      const t = state.test;
      const key = JSON.stringify(config);
      const passing = t && t.key === key && t.report && t.report.status === "connected";
      if (!passing) {
        const why = !t
          ? "The changed settings have not been tested."
          : t.key !== key
            ? "The settings changed since the last test."
            : t.error
              ? "The last test could not run: " + describeError(t.error)
              : "The last test failed: " + failureText(t.report.failure) + (t.report.message ? " — " + t.report.message : "");
        const yes = await confirmDialog({
          title: "Save without a passing test?",
          body: [why],
          confirmLabel: "Save anyway",
          cancelLabel: "Go back",
          returnFocus: saveBtn,
        });
        if (!yes) return;
      }
    }
    await patch(form, config, general, svc.version, changed.length > 0, conflict);
  }

  async function patch(form, config, general, version, configChanged, conflict) {
    const payload = Object.assign({ version, config }, general);
    let saved;
    try {
      saved = (await api("PATCH", servicePath(name), payload, { signal: ctx.signal })).body;
    } catch (e) {
      if (isQuiet(e)) return;
      if (e instanceof ApiError && e.code === "stale_version") {
        await explainConflict(form, config, general, conflict);
        return;
      }
      const rest = form.applyServerErrors(e);
      if (rest.length < e.details.length) form.focusFirstInvalid();
      notify(area, "Could not save: " + describeError(e), "error");
      return;
    }
    // New settings deserve a fresh result, so the status shown is about them.
    let how = "";
    if (configChanged && saved.enabled) {
      try {
        const r = await testService(name, ctx.signal);
        rememberReport(name, r);
        how = r.status === "connected" ? " and tested it: connected" : " and tested it: " + (failureText(r.failure) || r.status);
      } catch (e) {
        how = "";
      }
    }
    await loadStatus({ force: true }).catch(() => null);
    flash("Saved the changes to " + name + how + ".", how.includes("connected") || !how ? "success" : "info");
    router.go(router.href.service(name));
  }

  // Someone saved the service after we read it: say what they changed and let the user choose.
  async function explainConflict(form, config, general, conflict) {
    let now;
    try {
      now = (await api("GET", servicePath(name), undefined, { signal: ctx.signal })).body;
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Someone changed " + name + " meanwhile, and reading their version failed: " + describeError(e), "error");
      return;
    }
    const before = state.svc;
    const diffs = [];
    const props = (state.provider.schema && state.provider.schema.properties) || {};
    const labelOf = (k) => {
      const spec = (state.provider.fields || []).find((x) => x.name === k) || {};
      return spec.label || (props[k] && props[k].title) || humanize(k);
    };
    const show = (v) => {
      if (v === undefined || v === null) return "not set";
      if (v && typeof v === "object" && !Array.isArray(v) && "set" in v) return v.set ? "set" : "not set";
      return Array.isArray(v) ? v.join(", ") || "none" : String(v);
    };
    const keys = new Set(Object.keys(before.config).concat(Object.keys(now.config)));
    for (const k of keys) {
      if (!same(before.config[k], now.config[k])) diffs.push(labelOf(k) + ": was " + show(before.config[k]) + ", now " + show(now.config[k]));
    }
    if (!same(before.tags, now.tags)) diffs.push("Tags: was " + show(before.tags) + ", now " + show(now.tags));
    if (before.enabled !== now.enabled) diffs.push("Scheduled checks: now " + (now.enabled ? "enabled" : "disabled"));
    if (!same(before.interval_secs, now.interval_secs)) diffs.push("Check interval: now " + intervalText(now.interval_secs).toLowerCase());
    if (diffs.length === 0) diffs.push("A secret was replaced, or the same values were saved again.");

    clear(conflict);
    const mine = el("button", { type: "button", className: "danger", id: "conflict-overwrite", text: "Save mine over theirs" });
    const theirs = el("button", { type: "button", className: "secondary", id: "conflict-reload", text: "Discard mine and load theirs" });
    mine.addEventListener("click", () => {
      state.svc = now;
      busy(mine, "Saving…", () => patch(form, config, general, now.version, true, conflict));
    });
    theirs.addEventListener("click", () => {
      state.svc = now;
      render();
      notify(area, "Loaded the current settings of " + name + " (version " + now.version + ").", "success");
      focus(root.querySelector("h2"));
    });
    conflict.append(
      el("h3", { text: "Not saved: " + name + " was changed elsewhere" }),
      el(
        "p",
        {},
        "Someone saved " + name + " after you opened this form (version " + before.version + " → " + now.version + "). Your changes are still in the form. What they changed:"
      ),
      el("ul", {}, diffs.map((d) => el("li", { text: d }))),
      el("div", { className: "actions" }, theirs, mine)
    );
    conflict.hidden = false;
    focus(conflict);
  }

  load();
}
