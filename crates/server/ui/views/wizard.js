// opsdeck web UI — the add-service wizard (`#/new`), one step per screen like Home Assistant's
// config flows: 1 choose a provider (cards by category, with search), 2 configure (a form
// generated from the provider's schema), 3 test (the result in view, focus on it, the field a
// failure points at marked), 4 name, tags, interval and save. Back keeps every value, switching
// provider keeps what was typed for each, and saving an untested or failing configuration asks
// first. The wizard keeps its state while you look elsewhere; it is cleared after a save, on
// Cancel and on sign-out.

import {
  api,
  isAdmin,
  isQuiet,
  describeError,
  providers as loadProviders,
  provider as loadProvider,
  loadStatus,
  cachedStatus,
  testService,
  rememberReport,
  onSignOut,
  ApiError,
} from "../api.js";
import { el, clear, focus, busy, confirmDialog } from "../dom.js";
import { categoryText, CATEGORY_ORDER, firstSentence, failureText } from "../format.js";
import { schemaForm, textField, intervalField, parseTags, validName, setFieldError, clearFieldError } from "../forms.js";
import { noticeArea, notify, flash } from "../notices.js";
import { reportView } from "../report.js";
import * as router from "../router.js";

const STEPS = ["Provider", "Settings", "Test", "Name and save"];

let wiz = fresh();

function fresh() {
  return {
    step: 1,
    providerId: null,
    forms: new Map(),
    query: "",
    test: null, // {key, report} or {key, error}
    name: null,
    nameTouched: false,
    tags: null,
    interval: null,
  };
}

onSignOut(() => {
  wiz = fresh();
});

function configKey(providerId, config) {
  return JSON.stringify([providerId, config]);
}

export function mount(root, route, ctx) {
  ctx.title("Add a service");
  const area = noticeArea();
  const title = el("h2", { id: "wizard-title", tabindex: "-1", text: "Add a service" });
  if (!isAdmin()) {
    root.append(title, el("p", { id: "readonly-note", text: "Adding services needs an admin token; this one is read-only." }));
    return;
  }
  const cancel = el("button", { type: "button", className: "secondary", id: "wizard-cancel", text: "Cancel" });
  cancel.addEventListener("click", () => {
    wiz = fresh();
    router.go(router.href.dashboard());
  });
  const stepper = el("ol", { className: "steps", "aria-label": "Steps" });
  const steps = STEPS.map((label, i) =>
    el("section", { className: "step", id: "step-" + (i + 1), "aria-labelledby": "step-" + (i + 1) + "-title", hidden: true })
  );
  root.append(el("div", { className: "section-head" }, title, el("div", { className: "actions" }, cancel)), stepper, area, ...steps);

  if (!wiz.name) {
    wiz.name = textField(
      "Service name",
      "1–64 letters, digits, `-`, `_` or `.`, starting with a letter or digit. It names the service in the API, `/metrics` and alerts, and cannot be changed later.",
      { maxlength: 64, autocomplete: "off", "aria-required": "true" }
    );
    wiz.name.input.addEventListener("input", () => {
      wiz.nameTouched = true;
    });
    wiz.tags = textField("Tags", "Optional, comma-separated, e.g. `prod, platform`. Filter the dashboard by them.", { autocomplete: "off" });
    wiz.interval = intervalField(null);
  }

  function renderStepper() {
    clear(stepper);
    STEPS.forEach((label, i) => {
      const n = i + 1;
      const li = el("li", { className: n < wiz.step ? "done" : n === wiz.step ? "current" : "" }, el("span", { className: "n", text: String(n) }), " " + label);
      if (n === wiz.step) li.setAttribute("aria-current", "step");
      stepper.append(li);
    });
  }

  function goStep(n, focusTarget) {
    wiz.step = n;
    renderStepper();
    steps.forEach((s, i) => {
      s.hidden = i + 1 !== n;
    });
    const render = [renderChoose, renderConfigure, renderTest, renderSave][n - 1];
    render();
    ctx.title("Add a service — " + STEPS[n - 1]);
    focus(focusTarget || steps[n - 1].querySelector("h3"));
  }

  function currentForm() {
    return wiz.providerId ? wiz.forms.get(wiz.providerId) : null;
  }

  // ----- step 1: provider -----
  function renderChoose() {
    const box = steps[0];
    clear(box);
    const search = el("input", { type: "search", id: "provider-search", value: wiz.query, placeholder: "GitHub, AI, billing…", spellcheck: "false", autocomplete: "off" });
    const groups = el("div", { className: "provider-groups" });
    const none = el("p", { className: "muted", hidden: true, text: "No provider matches." });
    box.append(
      el("h3", { id: "step-1-title", tabindex: "-1", text: "Choose a provider" }),
      el("div", { className: "field" }, el("label", { for: "provider-search", text: "Search providers" }), search),
      groups,
      none
    );
    const draw = (list) => {
      clear(groups);
      const q = wiz.query.trim().toLowerCase();
      const hit = (p) =>
        !q || [p.id, p.name, p.description, p.category, categoryText(p.category)].join(" ").toLowerCase().includes(q);
      const cats = [...new Set(list.map((p) => p.category))].sort((a, b) => CATEGORY_ORDER.indexOf(a) - CATEGORY_ORDER.indexOf(b));
      let shown = 0;
      for (const c of cats) {
        const items = list.filter((p) => p.category === c && hit(p));
        if (!items.length) continue;
        shown += items.length;
        const headId = "cat-" + c;
        groups.append(
          el(
            "section",
            { className: "provider-group", "aria-labelledby": headId },
            el("h4", { id: headId, text: categoryText(c) }),
            el(
              "ul",
              { className: "cards" },
              items.map((p) => {
                const b = el(
                  "button",
                  { type: "button", className: "card", "data-provider": p.id, "aria-pressed": wiz.providerId === p.id ? "true" : "false" },
                  el("span", { className: "card-title", text: p.name }),
                  el("span", { className: "card-desc", title: p.description, text: firstSentence(p.description) })
                );
                b.addEventListener("click", () => choose(p.id, b));
                return el("li", {}, b);
              })
            )
          )
        );
      }
      none.hidden = shown > 0;
    };
    groups.append(el("p", { className: "muted", text: "Loading providers…" }));
    loadProviders(ctx.signal)
      .then((list) => {
        draw(list);
        const onSearch = () => {
          if (wiz.query === search.value) return;
          wiz.query = search.value;
          draw(list);
        };
        search.addEventListener("input", onSearch);
        search.addEventListener("change", onSearch);
      })
      .catch((e) => {
        if (!isQuiet(e)) notify(area, "Could not list providers: " + describeError(e), "error");
      });
  }

  async function choose(id, button) {
    try {
      if (!wiz.forms.has(id)) {
        const p = await busy(button, "Loading…", () => loadProvider(id, ctx.signal));
        wiz.forms.set(id, schemaForm(p, { mode: "create" }));
      }
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not load the provider: " + describeError(e), "error");
      return;
    }
    wiz.providerId = id;
    goStep(2);
  }

  // ----- step 2: settings -----
  function renderConfigure() {
    const box = steps[1];
    clear(box);
    const form = currentForm();
    if (!form) return goStep(1);
    const p = form.provider;
    const back = el("button", { type: "button", className: "secondary", text: "Back" });
    back.addEventListener("click", () => goStep(1));
    const skip = el("button", { type: "button", className: "secondary", id: "skip-test", text: "Continue without testing" });
    skip.addEventListener("click", () => {
      const { errors } = form.collect();
      if (errors.length) return void form.focusFirstInvalid();
      goStep(4);
    });
    const test = el("button", { type: "submit", id: "wizard-test", text: "Test connection" });
    const f = el("form", { id: "config-form", novalidate: true, autocomplete: "off" }, form.element, el("div", { className: "actions" }, back, skip, test));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const { errors } = form.collect();
      if (errors.length) {
        form.focusFirstInvalid();
        return;
      }
      goStep(3);
      runTest();
    });
    const intro = el("p", { className: "help intro" }, p.description || "");
    if (p.docs_url) {
      intro.append(" ", el("a", { href: p.docs_url, target: "_blank", rel: "noopener noreferrer", text: "Provider docs" }));
    }
    box.append(el("h3", { id: "step-2-title", tabindex: "-1", text: "Configure " + p.name }), intro, f);
  }

  // ----- step 3: test -----
  const result = el("div", { id: "wizard-result", className: "result", tabindex: "-1", "aria-live": "polite" });

  function renderTest() {
    const box = steps[2];
    clear(box);
    const form = currentForm();
    if (!form) return goStep(1);
    const back = el("button", { type: "button", className: "secondary", id: "back-to-settings", text: "Back to settings" });
    back.addEventListener("click", () => goStep(2, form.element.querySelector("[aria-invalid='true']")));
    const again = el("button", { type: "button", className: "secondary", id: "test-again", text: "Test again" });
    again.addEventListener("click", () => runTest());
    const next = el("button", { type: "button", id: "wizard-continue", text: "Continue" });
    next.addEventListener("click", () => goStep(4));
    box.append(
      el("h3", { id: "step-3-title", tabindex: "-1", text: "Test the connection to " + form.provider.name }),
      result,
      el("div", { className: "actions" }, back, again, next)
    );
    drawResult();
  }

  function drawResult() {
    clear(result);
    const form = currentForm();
    const t = wiz.test;
    const next = steps[2].querySelector("#wizard-continue");
    if (next) {
      next.disabled = false;
      next.title = "";
    }
    if (!t) {
      result.append(el("p", { className: "muted", text: "Not tested yet: press “Test again”." }));
      return;
    }
    if (t.testing) {
      result.append(el("p", { className: "muted", text: "Testing " + form.provider.name + "… this takes at most the server's check timeout." }));
      return;
    }
    const fixes = [];
    if (t.error) {
      result.append(el("h4", { text: "The test could not run" }), el("p", { className: "error-text", text: describeError(t.error) }));
      for (const d of t.error.details || []) {
        const m = d && typeof d.field === "string" ? /^config\.([^.[\]]+)/.exec(d.field) : null;
        const f = m && form.byName(m[1]);
        if (f) fixes.push(f);
      }
    } else {
      const r = t.report;
      result.append(reportView(r));
      if (r.status !== "connected") {
        for (const { field } of form.fieldsForFailure(r.failure, form.provider.name)) fixes.push(field);
      }
    }
    if (fixes.length) {
      result.append(
        el(
          "p",
          { className: "fixes" },
          "Marked in the settings: ",
          fixes.map((f, i) => {
            const b = el("button", { type: "button", className: "small", "data-fix": f.name, text: "Fix " + f.label.toLowerCase() });
            b.addEventListener("click", () => goStep(2, f.input));
            return [i ? " " : "", b];
          })
        )
      );
    }
    if (next) {
      next.className = t.report && t.report.status === "connected" ? "" : "secondary";
      // Settings the server refused cannot be saved either: fix them first.
      const refused = t.error instanceof ApiError && (t.error.code === "invalid_config" || t.error.code === "invalid_body");
      next.disabled = refused;
      next.title = refused ? "The server refused these settings; fix the marked fields first." : "";
    }
  }

  async function runTest() {
    const form = currentForm();
    form.clearErrors();
    const { config, errors } = form.collect();
    if (errors.length) return goStep(2, form.element.querySelector("[aria-invalid='true']"));
    const key = configKey(wiz.providerId, config);
    wiz.test = { key, testing: true };
    drawResult();
    const body = { provider: wiz.providerId, config };
    const typed = wiz.name.input.value.trim();
    if (validName(typed)) body.name = typed;
    try {
      const r = await api("POST", "/api/v1/test", body, { signal: ctx.signal });
      wiz.test = { key, report: r.body };
      const rep = r.body;
      if (rep.status !== "connected") {
        for (const { field, message } of form.fieldsForFailure(rep.failure, form.provider.name)) {
          setFieldError(field.input, field.err, message);
        }
      }
    } catch (e) {
      if (isQuiet(e)) {
        // Left mid-test: come back to "not tested", not to a test that never ends.
        if (wiz.test && wiz.test.testing) wiz.test = null;
        return;
      }
      wiz.test = { key, error: e };
      form.applyServerErrors(e);
    }
    if (wiz.step === 3) {
      drawResult();
      focus(result);
    }
  }

  // ----- step 4: name and save -----
  function renderSave() {
    const box = steps[3];
    clear(box);
    const form = currentForm();
    if (!form) return goStep(1);
    if (!wiz.nameTouched && wiz.name.input.value === "") wiz.name.input.value = suggestName(wiz.providerId);
    const back = el("button", { type: "button", className: "secondary", text: "Back" });
    back.addEventListener("click", () => goStep(wiz.test ? 3 : 2));
    const save = el("button", { type: "submit", id: "wizard-save", text: "Save" });
    const f = el(
      "form",
      { id: "save-form", novalidate: true, autocomplete: "off" },
      wiz.name.wrap,
      wiz.tags.wrap,
      wiz.interval.wrap,
      testSummary(form),
      el("div", { className: "actions" }, back, save)
    );
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, "Saving…", () => saveService(form, save));
    });
    box.append(el("h3", { id: "step-4-title", tabindex: "-1", text: "Name and save" }), f);
  }

  function testSummary(form) {
    const { config } = form.collect({ quiet: true });
    const t = wiz.test;
    const key = configKey(wiz.providerId, config);
    let text;
    let cls = "note";
    if (!t || t.testing) {
      text = "These settings have not been tested.";
      cls = "note warn";
    } else if (t.key !== key) {
      text = "These settings changed since the last test.";
      cls = "note warn";
    } else if (t.error) {
      text = "The last test could not run: " + describeError(t.error);
      cls = "note warn";
    } else if (t.report.status === "connected") {
      text = "Tested: connected" + (t.report.identity ? " as " + t.report.identity : "") + ".";
    } else {
      text = "The last test failed: " + failureText(t.report.failure) + ".";
      cls = "note warn";
    }
    return el("p", { className: cls, id: "test-summary", text });
  }

  function suggestName(id) {
    const doc = cachedStatus();
    const taken = new Set(doc && Array.isArray(doc.services) ? doc.services.map((s) => s.service) : []);
    if (!taken.has(id)) return id;
    for (let i = 2; i < 100; i += 1) if (!taken.has(id + "-" + i)) return id + "-" + i;
    return "";
  }

  async function saveService(form, saveBtn) {
    const nameIn = wiz.name.input;
    clearFieldError(nameIn, wiz.name.err);
    const name = nameIn.value.trim();
    if (!validName(name)) {
      setFieldError(nameIn, wiz.name.err, name === "" ? "Give the service a name." : "Use 1–64 letters, digits, “-”, “_” or “.”, starting with a letter or digit.");
      focus(nameIn);
      return;
    }
    const { config, errors } = form.collect();
    if (errors.length) return goStep(2, form.element.querySelector("[aria-invalid='true']"));
    const key = configKey(wiz.providerId, config);
    const t = wiz.test;
    const passing = t && !t.testing && t.key === key && t.report && t.report.status === "connected";
    if (!passing) {
      let why;
      if (!t || t.testing) why = "These settings have not been tested.";
      else if (t.key !== key) why = "These settings changed since the last test.";
      else if (t.error) why = "The last test could not run: " + describeError(t.error);
      else why = "The last test failed: " + failureText(t.report.failure) + (t.report.message ? " — " + t.report.message : "");
      const yes = await confirmDialog({
        title: "Save without a passing test?",
        body: [why, "opsdeck will save " + name + " and show it as failing until the settings work."],
        confirmLabel: "Save anyway",
        cancelLabel: "Go back",
        returnFocus: saveBtn,
      });
      if (!yes) return;
    }
    const body = { name, provider: wiz.providerId, config, tags: parseTags(wiz.tags.input.value) };
    const interval = wiz.interval.value();
    if (interval !== null) body.interval_secs = interval;
    try {
      await api("POST", "/api/v1/services", body, { signal: ctx.signal });
    } catch (e) {
      if (isQuiet(e)) return;
      if (e instanceof ApiError && e.code === "already_exists") {
        setFieldError(nameIn, wiz.name.err, "A service named " + name + " already exists; choose another name.");
        focus(nameIn);
        return;
      }
      const rest = form.applyServerErrors(e);
      const nameProblem = (e.details || []).find((d) => d && d.field === "name");
      if (nameProblem) {
        setFieldError(nameIn, wiz.name.err, nameProblem.message);
        focus(nameIn);
      } else if (rest.length < (e.details || []).length) {
        goStep(2, form.element.querySelector("[aria-invalid='true']"));
      }
      notify(area, "Could not save: " + describeError(e), "error");
      return;
    }
    // A first result right away, so the dashboard shows the real status instead of "never".
    let report = null;
    try {
      report = await testService(name, ctx.signal);
      rememberReport(name, report);
    } catch (e) {
      report = null;
    }
    await loadStatus({ force: true }).catch(() => null);
    const how = report
      ? report.status === "connected"
        ? "connected"
        : failureText(report.failure) || report.status
      : "not tested yet";
    flash("Saved " + name + " (" + how + ").", report && report.status === "connected" ? "success" : "info", { service: name });
    wiz = fresh();
    router.go(router.href.dashboard());
  }

  goStep(wiz.step, wiz.step === 1 ? null : undefined);
}
