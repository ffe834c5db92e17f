// opsdeck web UI: the status dashboard and the add-service wizard.
//
// Rules this file keeps (the server's Content-Security-Policy enforces the first two):
// - no inline script or style, no request to another origin: every call is a relative
//   path under /api/v1 on this server;
// - data from the API is written with textContent / value / attributes only, never as HTML;
// - the API token lives in sessionStorage (this tab, until it closes or "Sign out"), never in
//   localStorage or a cookie, and is sent only as `Authorization: Bearer`.
(function () {
  "use strict";

  const TOKEN_KEY = "opsdeck.token";
  const REFRESH_MS = 30000;

  const $ = (id) => document.getElementById(id);

  // ---------- small DOM helpers (text only) ----------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "className") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---------- token ----------

  function getToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      return null;
    }
  }

  function setToken(t) {
    try {
      sessionStorage.setItem(TOKEN_KEY, t);
    } catch (_) {
      // Storage disabled: the token then lives in memory for this page only.
    }
    memoryToken = t;
  }

  let memoryToken = null;

  function token() {
    return getToken() || memoryToken;
  }

  // ---------- API ----------

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = Array.isArray(details) ? details : [];
    }
  }

  // Calls the API on this origin. Returns {status, etag, body}; throws ApiError for an error
  // answer (the server's {code, message, details}) or a network failure.
  async function api(method, path, body, extraHeaders) {
    const t = token();
    if (!t) {
      showLogin();
      throw new ApiError(401, "unauthorized", "Sign in with an API token first.");
    }
    const headers = Object.assign(
      { Authorization: "Bearer " + t, Accept: "application/json" },
      extraHeaders || {}
    );
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "network", "Cannot reach opsdeckd: " + (e && e.message ? e.message : e));
    }
    const etag = resp.headers.get("ETag");
    if (resp.status === 304) return { status: 304, etag, body: null };
    let data = null;
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (!resp.ok) {
      const code = data && typeof data.code === "string" ? data.code : "http_" + resp.status;
      const message =
        data && typeof data.message === "string"
          ? data.message
          : "The server answered " + resp.status + " " + resp.statusText + ".";
      const err = new ApiError(resp.status, code, message, data && data.details);
      if (resp.status === 401) signOut("The token was refused (" + message + "). Sign in again.");
      throw err;
    }
    return { status: resp.status, etag, body: data };
  }

  // ---------- notices ----------

  function notify(message, kind) {
    const n = $("notice");
    clear(n);
    n.className = "notice " + (kind || "error");
    n.setAttribute("role", kind === "info" ? "status" : "alert");
    n.append(el("span", { text: message }));
    const close = el("button", { type: "button", className: "link", "aria-label": "Dismiss message" }, "×");
    close.addEventListener("click", () => (n.hidden = true));
    n.append(close);
    n.hidden = false;
  }

  function describeError(e) {
    if (e instanceof ApiError) {
      let s = e.message;
      if (e.code && e.code !== "network") s += " (" + e.code + ")";
      const extra = e.details
        .filter((d) => d && typeof d.message === "string")
        .map((d) => (d.field ? d.field + ": " : "") + d.message);
      if (extra.length) s += " — " + extra.join("; ");
      return s;
    }
    return String(e && e.message ? e.message : e);
  }

  function notifyError(prefix, e) {
    notify(prefix + ": " + describeError(e), "error");
  }

  // ---------- views ----------

  const views = ["login", "dashboard", "wizard"];

  function show(view) {
    for (const v of views) $(v).hidden = v !== view;
    $("nav").hidden = view === "login";
    for (const [id, v] of [["nav-dashboard", "dashboard"], ["nav-add", "wizard"]]) {
      if (v === view) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
  }

  function showLogin(message) {
    stopRefresh();
    show("login");
    if (message) notify(message, "error");
    $("token-input").focus();
  }

  function signOut(message) {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      // nothing stored
    }
    memoryToken = null;
    dash.etag = null;
    dash.doc = null;
    clear($("services-body"));
    $("summary").textContent = "";
    $("updated").textContent = "";
    resetWizard();
    wiz.providers = null;
    clear($("provider-select"));
    $("provider-select").append(el("option", { value: "" }, "Choose a provider…"));
    $("notice").hidden = true;
    showLogin(message);
  }

  // ---------- formatting ----------

  const STATUS = {
    connected: { label: "Connected", mark: "✓" },
    failed: { label: "Failed", mark: "✗" },
    unknown: { label: "Unknown", mark: "?" },
  };

  function statusBadge(status) {
    const known = Object.prototype.hasOwnProperty.call(STATUS, status) ? status : "unknown";
    const s = STATUS[known];
    return el(
      "span",
      { className: "status status-" + known },
      el("span", { className: "mark", "aria-hidden": "true", text: s.mark }),
      " " + (known === status ? s.label : String(status))
    );
  }

  function latency(ms) {
    if (typeof ms !== "number") return "—";
    if (ms < 1000) return ms + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  const rtf =
    typeof Intl !== "undefined" && Intl.RelativeTimeFormat
      ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
      : null;

  function relative(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const diff = (t - Date.now()) / 1000;
    const abs = Math.abs(diff);
    const units = [
      ["year", 31536000],
      ["month", 2592000],
      ["day", 86400],
      ["hour", 3600],
      ["minute", 60],
    ];
    if (abs < 45) return rtf ? rtf.format(0, "second") : "just now";
    for (const [unit, secs] of units) {
      if (abs >= secs) {
        const n = Math.round(diff / secs);
        return rtf ? rtf.format(n, unit) : Math.abs(n) + " " + unit + "(s) ago";
      }
    }
    const n = Math.round(diff / 60);
    return rtf ? rtf.format(n, "minute") : Math.abs(n) + " minute(s) ago";
  }

  function timeCell(iso) {
    if (!iso) return el("span", { className: "muted", text: "never" });
    const d = new Date(iso);
    return el("time", {
      datetime: iso,
      title: Number.isNaN(d.getTime()) ? iso : d.toLocaleString(),
      text: relative(iso),
    });
  }

  // ---------- dashboard ----------

  const dash = { etag: null, doc: null, timer: null, loading: false, testing: new Set() };

  async function loadStatus(force) {
    if (dash.loading) return;
    dash.loading = true;
    try {
      const headers = {};
      if (dash.etag && dash.doc && !force) headers["If-None-Match"] = dash.etag;
      const r = await api("GET", "/api/v1/status", undefined, headers);
      if (r.status !== 304 && r.body) {
        dash.doc = r.body;
        dash.etag = r.etag;
      }
      renderStatus();
      $("updated").textContent = "Updated " + new Date().toLocaleTimeString() + "; refreshes every 30 s.";
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) notifyError("Could not load the status", e);
    } finally {
      dash.loading = false;
    }
  }

  function renderStatus() {
    const doc = dash.doc;
    const body = $("services-body");
    clear(body);
    if (!doc) return;
    const s = doc.summary || {};
    $("summary").textContent =
      (s.connected || 0) + " connected · " + (s.failed || 0) + " failed · " + (s.unknown || 0) + " unknown";
    const services = Array.isArray(doc.services) ? doc.services : [];
    $("empty").hidden = services.length > 0;
    for (const svc of services) body.append(serviceRow(svc));
  }

  function serviceRow(svc) {
    const name = String(svc.service);
    const nameCell = el("th", { scope: "row" }, el("span", { text: name }));
    if (svc.enabled === false) nameCell.append(" ", el("span", { className: "tag", text: "disabled" }));
    const testBtn = el("button", { type: "button", className: "small", "aria-label": "Test " + name }, "Test");
    if (dash.testing.has(name)) {
      testBtn.disabled = true;
      testBtn.textContent = "Testing…";
    }
    testBtn.addEventListener("click", () => testService(name));
    return el(
      "tr",
      { className: "row-" + (svc.status || "unknown") },
      nameCell,
      el("td", { text: svc.provider || "" }),
      el("td", {}, statusBadge(svc.status)),
      el("td", { text: svc.failure || "—" }),
      el("td", { className: "message", text: svc.message || "" }),
      el("td", { className: "num", text: latency(svc.latency_ms) }),
      el("td", { text: svc.identity || "—" }),
      el("td", {}, timeCell(svc.checked_at)),
      el("td", {}, testBtn)
    );
  }

  function reportText(r) {
    const st = r.status === "connected" ? "connected" : r.status + (r.failure ? " (" + r.failure + ")" : "");
    return r.service + ": " + st + (r.message ? " — " + r.message : "");
  }

  async function testService(name) {
    dash.testing.add(name);
    renderStatus();
    try {
      const r = await api("POST", "/api/v1/services/" + encodeURIComponent(name) + "/test");
      notify(reportText(r.body), r.body.status === "connected" ? "info" : "error");
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) notifyError("Test of " + name + " failed", e);
    } finally {
      dash.testing.delete(name);
    }
    await loadStatus(true);
  }

  async function testAll() {
    const btn = $("test-all");
    btn.disabled = true;
    btn.textContent = "Testing…";
    try {
      const r = await api("POST", "/api/v1/test-all");
      const reports = Array.isArray(r.body) ? r.body : [];
      const ok = reports.filter((x) => x.status === "connected").length;
      notify(
        "Tested " + reports.length + " service(s): " + ok + " connected, " + (reports.length - ok) + " not connected.",
        ok === reports.length ? "info" : "error"
      );
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) notifyError("Test all failed", e);
    } finally {
      btn.disabled = false;
      btn.textContent = "Test all";
    }
    await loadStatus(true);
  }

  function startRefresh() {
    stopRefresh();
    dash.timer = setInterval(() => {
      if (!document.hidden && token()) loadStatus(false);
    }, REFRESH_MS);
  }

  function stopRefresh() {
    if (dash.timer) clearInterval(dash.timer);
    dash.timer = null;
  }

  function openDashboard(force) {
    show("dashboard");
    startRefresh();
    loadStatus(force === true);
  }

  // ---------- wizard ----------

  const wiz = { providers: null, provider: null, inputs: [] };

  async function openWizard() {
    show("wizard");
    if (!wiz.providers) {
      try {
        const r = await api("GET", "/api/v1/providers");
        wiz.providers = Array.isArray(r.body) ? r.body : [];
        const sel = $("provider-select");
        for (const p of wiz.providers) {
          sel.append(el("option", { value: p.id }, p.name + " (" + p.category + ")"));
        }
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) notifyError("Could not list providers", e);
        return;
      }
    }
    $("provider-select").focus();
  }

  function resetWizard() {
    $("wizard-form").reset();
    wiz.provider = null;
    wiz.inputs = [];
    clear($("config-body"));
    $("config-fields").hidden = true;
    $("provider-description").textContent = "";
    $("wizard-result").hidden = true;
    clear($("wizard-result"));
    $("wizard-test").disabled = true;
    $("wizard-save").disabled = true;
    clearFieldError($("service-name"));
  }

  async function chooseProvider() {
    const id = $("provider-select").value;
    wiz.provider = null;
    wiz.inputs = [];
    clear($("config-body"));
    $("config-fields").hidden = true;
    $("wizard-result").hidden = true;
    $("wizard-test").disabled = true;
    $("wizard-save").disabled = true;
    $("provider-description").textContent = "";
    if (!id) return;
    try {
      const r = await api("GET", "/api/v1/providers/" + encodeURIComponent(id));
      if ($("provider-select").value !== id) return; // changed meanwhile
      wiz.provider = r.body;
      renderConfigForm(r.body);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) notifyError("Could not load the provider", e);
    }
  }

  // Builds one input per property of the provider's JSON Schema, in the provider's field order.
  function renderConfigForm(p) {
    $("provider-description").textContent = p.description || "";
    const schema = p.schema || {};
    const props = schema.properties || {};
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    const order = [];
    for (const f of Array.isArray(p.fields) ? p.fields : []) {
      if (f && typeof f.name === "string" && props[f.name] && !order.includes(f.name)) order.push(f.name);
    }
    for (const k of Object.keys(props)) if (!order.includes(k)) order.push(k);

    const body = $("config-body");
    for (const name of order) {
      const field = buildField(name, props[name] || {}, required.has(name));
      wiz.inputs.push(field);
      body.append(field.wrap);
    }
    $("config-fields").hidden = order.length === 0;
    $("wizard-test").disabled = false;
    $("wizard-save").disabled = false;
  }

  function isSecret(s) {
    return s["x-secret"] === true || s.writeOnly === true || s.format === "password";
  }

  function fmt(v) {
    return Array.isArray(v) ? v.join(", ") : String(v);
  }

  function buildField(name, s, required) {
    const id = "cfg-" + name.replace(/[^A-Za-z0-9_-]/g, "_");
    const helpId = id + "-help";
    const errId = id + "-error";
    const type = s.type;
    const kind = Array.isArray(s.enum)
      ? "enum"
      : type === "boolean"
        ? "boolean"
        : type === "integer" || type === "number"
          ? "integer"
          : type === "array"
            ? "array"
            : isSecret(s)
              ? "secret"
              : s.format === "uri"
                ? "url"
                : "string";

    const label = el("label", { for: id }, name);
    if (required) label.append(" ", el("span", { className: "req", text: "(required)" }));
    if (kind === "secret") label.append(" ", el("span", { className: "tag", text: "secret" }));

    const common = { id, name, "aria-describedby": helpId + " " + errId };
    let input;
    if (kind === "boolean") {
      input = el("input", Object.assign({ type: "checkbox" }, common));
      input.checked = s.default === true;
    } else if (kind === "enum") {
      input = el("select", common);
      const dflt = s.default !== undefined ? " (default: " + fmt(s.default) + ")" : "";
      input.append(el("option", { value: "" }, required ? "Choose…" : "Not set" + dflt));
      for (const v of s.enum) input.append(el("option", { value: String(v) }, String(v)));
    } else if (kind === "array") {
      input = el("textarea", Object.assign({ rows: 3, spellcheck: "false" }, common));
    } else if (kind === "integer") {
      input = el("input", Object.assign({ type: "number", step: 1, inputmode: "numeric" }, common));
      if (typeof s.minimum === "number") input.min = String(s.minimum);
      if (typeof s.maximum === "number") input.max = String(s.maximum);
    } else if (kind === "secret") {
      input = el("input", Object.assign({ type: "password", autocomplete: "new-password", spellcheck: "false" }, common));
    } else {
      input = el("input", Object.assign({ type: kind === "url" ? "url" : "text", spellcheck: "false" }, common));
    }
    if (required) input.setAttribute("aria-required", "true");
    if (s.default !== undefined && kind !== "boolean" && kind !== "enum" && kind !== "secret") {
      input.setAttribute("placeholder", fmt(s.default));
    }

    const help = el("p", { id: helpId, className: "help" });
    const parts = [];
    if (s.description) parts.push(String(s.description));
    if (kind === "array") parts.push("One value per line (or comma-separated).");
    if (s.default !== undefined) parts.push("Default: " + fmt(s.default) + ".");
    if (Array.isArray(s.examples) && s.examples.length && kind !== "secret") {
      parts.push("Example: " + fmt(s.examples[0]) + ".");
    }
    if (kind === "integer" && (typeof s.minimum === "number" || typeof s.maximum === "number")) {
      parts.push("Range: " + (s.minimum ?? "…") + "–" + (s.maximum ?? "…") + ".");
    }
    if (kind === "secret") parts.push("Stored encrypted; never shown again.");
    help.textContent = parts.join(" ");
    const err = el("p", { id: errId, className: "field-error", hidden: true });

    const wrap =
      kind === "boolean"
        ? el("div", { className: "field check" }, input, label, help, err)
        : el("div", { className: "field" }, label, input, help, err);
    return { name, schema: s, kind, required, input, err, wrap };
  }

  function setFieldError(input, errNode, message) {
    input.setAttribute("aria-invalid", "true");
    if (errNode) {
      errNode.textContent = message;
      errNode.hidden = false;
    }
  }

  function clearFieldError(input) {
    input.removeAttribute("aria-invalid");
    const err = $(input.id + "-error");
    if (err) {
      err.textContent = "";
      err.hidden = true;
    }
  }

  // Reads the form into a config object; returns {config, errors: [{field, input, message}]}.
  function collectConfig() {
    const config = {};
    const errors = [];
    for (const f of wiz.inputs) {
      clearFieldError(f.input);
      const s = f.schema;
      if (f.kind === "boolean") {
        const dflt = s.default === true;
        if (f.input.checked !== dflt || (f.required && s.default === undefined)) config[f.name] = f.input.checked;
        continue;
      }
      const raw = f.input.value;
      const v = f.kind === "secret" ? raw : raw.trim();
      if (v === "") {
        if (f.required) errors.push({ f, message: "Required." });
        continue;
      }
      if (f.kind === "integer") {
        if (!/^-?[0-9]+$/.test(v)) {
          errors.push({ f, message: "Enter a whole number." });
          continue;
        }
        const n = Number(v);
        if ((typeof s.minimum === "number" && n < s.minimum) || (typeof s.maximum === "number" && n > s.maximum)) {
          errors.push({ f, message: "Must be between " + (s.minimum ?? "…") + " and " + (s.maximum ?? "…") + "." });
          continue;
        }
        config[f.name] = n;
      } else if (f.kind === "array") {
        const items = v.split(/[\n,]/).map((x) => x.trim()).filter((x) => x !== "");
        if (f.required && items.length === 0) errors.push({ f, message: "Required." });
        else config[f.name] = items;
      } else if (f.kind === "url") {
        let ok = false;
        try {
          const u = new URL(v);
          ok = u.protocol === "http:" || u.protocol === "https:";
        } catch (_) {
          ok = false;
        }
        if (!ok) errors.push({ f, message: "Enter an absolute http(s) URL." });
        else config[f.name] = v;
      } else {
        if (typeof s.pattern === "string") {
          let re = null;
          try {
            re = new RegExp(s.pattern);
          } catch (_) {
            re = null;
          }
          if (re && !re.test(v)) {
            errors.push({ f, message: "Does not have the expected form." + (Array.isArray(s.examples) ? " Example: " + fmt(s.examples[0]) + "." : "") });
            continue;
          }
        }
        config[f.name] = v;
      }
    }
    for (const e of errors) setFieldError(e.f.input, e.f.err, e.message);
    return { config, errors };
  }

  function validName(n) {
    return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n);
  }

  function checkName(requiredName) {
    const input = $("service-name");
    clearFieldError(input);
    const n = input.value.trim();
    if (n === "" && !requiredName) return { ok: true, name: null };
    if (!validName(n)) {
      setFieldError(
        input,
        $("service-name-error"),
        "Use 1–64 letters, digits, “-”, “_” or “.”, starting with a letter or digit."
      );
      return { ok: false, name: null };
    }
    return { ok: true, name: n };
  }

  // Puts the server's per-field problems (`config.<name>`, `name`) next to the inputs.
  function showServerFieldErrors(e) {
    if (!(e instanceof ApiError)) return;
    for (const d of e.details) {
      if (!d || typeof d.field !== "string") continue;
      if (d.field === "name") {
        setFieldError($("service-name"), $("service-name-error"), d.message);
        continue;
      }
      const m = /^config\.(.+)$/.exec(d.field);
      const f = m && wiz.inputs.find((x) => x.name === m[1]);
      if (f) setFieldError(f.input, f.err, d.message);
    }
  }

  function focusFirstInvalid() {
    const bad = $("wizard-form").querySelector("[aria-invalid='true']");
    if (bad) bad.focus();
  }

  function showReport(r) {
    const box = $("wizard-result");
    clear(box);
    const dl = el("dl", { className: "report" });
    const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
    row("Status", statusBadge(r.status));
    if (r.failure) row("Failure", r.failure);
    row("Message", r.message || "—");
    if (r.identity) row("Identity", r.identity);
    row("Latency", latency(r.latency_ms));
    box.append(el("h3", { text: "Connection test" }), dl);
    box.hidden = false;
  }

  function showWizardError(prefix, e) {
    const box = $("wizard-result");
    clear(box);
    box.append(el("h3", { text: prefix }), el("p", { className: "error-text", text: describeError(e) }));
    box.hidden = false;
  }

  async function wizardTest() {
    if (!wiz.provider) return;
    const name = checkName(false);
    const { config, errors } = collectConfig();
    if (!name.ok || errors.length) {
      focusFirstInvalid();
      return;
    }
    const btn = $("wizard-test");
    btn.disabled = true;
    btn.textContent = "Testing…";
    const body = { provider: wiz.provider.id, config };
    if (name.name) body.name = name.name;
    try {
      const r = await api("POST", "/api/v1/test", body);
      showReport(r.body);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        showServerFieldErrors(e);
        showWizardError("Test connection failed", e);
      }
    } finally {
      btn.disabled = !wiz.provider;
      btn.textContent = "Test connection";
    }
  }

  async function wizardSave(ev) {
    ev.preventDefault();
    if (!wiz.provider) return;
    const name = checkName(true);
    const { config, errors } = collectConfig();
    if (!name.ok || errors.length) {
      focusFirstInvalid();
      return;
    }
    const tags = $("service-tags")
      .value.split(",")
      .map((x) => x.trim())
      .filter((x) => x !== "");
    const btn = $("wizard-save");
    btn.disabled = true;
    try {
      await api("POST", "/api/v1/services", { name: name.name, provider: wiz.provider.id, config, tags });
      resetWizard();
      notify("Saved service " + name.name + ".", "info");
      openDashboard(true);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) {
        showServerFieldErrors(e);
        showWizardError("Could not save", e);
        focusFirstInvalid();
      }
    } finally {
      btn.disabled = !wiz.provider;
    }
  }

  // ---------- wiring ----------

  function init() {
    // An error slot for the service name, like the generated fields have.
    const nameErr = el("p", { id: "service-name-error", className: "field-error", hidden: true });
    $("service-name-help").after(nameErr);
    $("service-name").setAttribute("aria-describedby", "service-name-help service-name-error");

    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token-input").value.trim();
      $("token-input").value = "";
      if (!t) return;
      if (!/^[\x21-\x7e]+$/.test(t)) {
        notify("That does not look like an API token (printable characters, no spaces).", "error");
        return;
      }
      setToken(t);
      $("notice").hidden = true;
      openDashboard();
    });
    $("sign-out").addEventListener("click", () => signOut());
    $("nav-dashboard").addEventListener("click", () => openDashboard());
    $("nav-add").addEventListener("click", () => {
      stopRefresh();
      openWizard();
    });
    $("refresh").addEventListener("click", () => loadStatus(true));
    $("test-all").addEventListener("click", () => testAll());
    $("provider-select").addEventListener("change", () => chooseProvider());
    $("wizard-test").addEventListener("click", () => wizardTest());
    $("wizard-form").addEventListener("submit", wizardSave);
    $("wizard-cancel").addEventListener("click", () => {
      resetWizard();
      openDashboard();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && dash.timer && token()) loadStatus(false);
    });

    if (token()) openDashboard();
    else showLogin();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
