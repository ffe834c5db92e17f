// opsdeck web UI — one service's page (`#/services/NAME`): status in words, the details of the
// last report seen (scopes, rate-limit headroom, credential expiry, sub-checks), the latest
// metrics with "Collect now", the recent check results, the configuration, and the actions
// Test, Edit, Enable/Disable and Delete.
//
// Extension point: `registerSection(render)` adds a block to the History section; `render` gets
// {name, service, checks, signal} and returns an element (or null). The monitoring work puts its
// uptime strips and charts there.

import {
  api,
  isAdmin,
  isQuiet,
  describeError,
  servicePath,
  loadStatus,
  cachedStatus,
  provider as loadProvider,
  testService,
  rememberReport,
  lastReport,
  forgetReport,
  ApiError,
} from "../api.js";
import { el, clear, focus, busy, confirmDialog, richText } from "../dom.js";
import {
  statusBadge,
  statusKey,
  failureText,
  latency,
  timeEl,
  absolute,
  relative,
  metricValue,
  humanize,
  categoryText,
  intervalText,
} from "../format.js";
import { statusStrip, latencySparkline } from "../charts.js";
import { detailsView } from "../report.js";
import { noticeArea, notify, flash, takeFlash } from "../notices.js";
import * as router from "../router.js";
import { incidentPanel } from "./incidents.js";
import { historySection } from "./history.js";

const sections = [];

export function registerSection(render) {
  sections.push(render);
}

// Monitoring: uptime, the status strip, response time, events and metric trends.
registerSection(historySection);

const CHECKS_FIRST = 50;
const CHECKS_MORE = 500;

export function mount(root, route, ctx) {
  const name = route.params.name;
  ctx.title(name);
  const admin = isAdmin();
  const area = noticeArea();
  const state = { svc: null, provider: null, checks: null, checksLimit: CHECKS_FIRST, metrics: null, metricsError: null, collecting: false };

  const title = el("h2", { id: "service-title", tabindex: "-1", text: name });
  const subtitle = el("p", { className: "subtitle muted" });
  const actions = el("div", { className: "actions", id: "service-actions" });
  const statusBox = el("section", { id: "status", className: "panel", "aria-labelledby": "status-title", tabindex: "-1" });
  const detailsBox = el("section", { id: "details", className: "panel", "aria-labelledby": "details-title" });
  const metricsBox = el("section", { id: "metrics", className: "panel", "aria-labelledby": "metrics-title" });
  const historyBox = el("section", { id: "history", className: "panel", "aria-labelledby": "history-title" });
  const configBox = el("section", { id: "config", className: "panel", "aria-labelledby": "config-title" });

  root.append(
    el("p", { className: "crumbs" }, el("a", { href: router.href.dashboard(), text: "← All services" })),
    el("div", { className: "section-head" }, el("div", {}, title, subtitle), actions),
    area,
    el("div", { className: "grid" }, statusBox, detailsBox),
    incidentPanel(name, ctx.signal),
    historyBox,
    metricsBox,
    configBox
  );
  const f = takeFlash();
  if (f) notify(area, f.message, f.kind);

  // ----- status -----
  function entry() {
    const doc = cachedStatus();
    return doc && Array.isArray(doc.services) ? doc.services.find((s) => s.service === name) || null : null;
  }

  // The newest of the dashboard entry and a report run in this tab.
  function current() {
    const e = entry();
    const r = lastReport(name);
    if (r && (!e || !e.checked_at || Date.parse(r.checked_at) >= Date.parse(e.checked_at))) {
      return Object.assign({}, e || {}, r, { fromReport: true });
    }
    return e;
  }

  function renderStatus() {
    clear(statusBox);
    statusBox.append(el("h3", { id: "status-title", text: "Status" }));
    const s = current();
    if (!s) {
      statusBox.append(el("p", { className: "muted", text: "Loading…" }));
      return;
    }
    const dl = el("dl", { className: "report" });
    const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
    row("Status", statusBadge(s.status));
    if (s.failure) row("Failure", el("span", {}, failureText(s.failure), " ", el("code", { className: "muted", text: s.failure })));
    row("Message", el("span", { className: "message-full" }, s.message ? richText(s.message) : "—"));
    if (s.hint) row("What to do", el("span", {}, richText(s.hint)));
    row("Identity", s.identity || "—");
    row("Latency", latency(s.latency_ms));
    row(
      "Last checked",
      s.checked_at ? el("span", {}, absolute(s.checked_at), " (", timeEl(s.checked_at), ")") : el("span", { className: "muted", text: "never" })
    );
    statusBox.append(dl);
    const svc = state.svc;
    if (svc && svc.enabled === false) {
      statusBox.append(el("p", { className: "muted", text: "Disabled: opsdeckd does not check it on its own. Enable it to resume scheduled checks." }));
    }
  }

  // ----- details of the last report -----
  function renderDetails() {
    clear(detailsBox);
    detailsBox.append(el("h3", { id: "details-title", text: "Connection details" }));
    // The newest of: the stored history's latest check (kept with its details) and a test run
    // in this tab that the history has not been reloaded with yet.
    const newest = state.checks && state.checks[0];
    const live = lastReport(name);
    const report = newest && (!live || Date.parse(newest.checked_at) >= Date.parse(live.checked_at)) ? newest : live;
    const view = report ? detailsView(report.details) : null;
    if (!view) {
      detailsBox.append(
        el(
          "p",
          { className: "muted" },
          report
            ? "The last check reported no details."
            : admin
              ? "Run Test to see what the credentials can do: scopes, rate-limit headroom, expiry and sub-checks."
              : "Scopes, rate-limit headroom and expiry show here after the service's first check."
        )
      );
      return;
    }
    detailsBox.append(view);
    detailsBox.append(el("p", { className: "muted small" }, "From the check ", timeEl(report.checked_at), "."));
  }

  // ----- metrics -----
  function renderMetrics() {
    clear(metricsBox);
    const head = el("div", { className: "section-head" }, el("h3", { id: "metrics-title", text: "Metrics" }));
    if (admin) {
      const b = el("button", { type: "button", className: "secondary small", id: "collect-now", text: state.collecting ? "Collecting…" : "Collect now" });
      b.disabled = state.collecting;
      b.addEventListener("click", () => collect(true));
      head.append(el("div", { className: "actions" }, b));
    }
    metricsBox.append(head);
    const m = state.metrics;
    if (state.metricsError) {
      metricsBox.append(el("p", { className: "error-text", text: "Could not read the metrics: " + state.metricsError }));
    }
    if (!m) {
      if (!state.metricsError) metricsBox.append(el("p", { className: "muted", text: "Loading…" }));
      return;
    }
    const at = m.collected_at;
    if (at) {
      metricsBox.append(el("p", { className: "muted small" }, "Collected ", timeEl(at), " (" + absolute(at) + ")"));
    } else if (!m.error) {
      metricsBox.append(el("p", { className: "muted small", text: admin ? "Not collected yet. The scheduler collects after each connected check, or use Collect now." : "Not collected yet. The scheduler collects after each connected check." }));
    }
    if (m.error) {
      metricsBox.append(
        el(
          "p",
          { className: "error-text" },
          "Collection failed: ",
          failureText(m.error.failure || m.error.kind),
          m.error.message ? " — " + m.error.message : "",
          m.error.hint ? " " + m.error.hint : ""
        )
      );
    }
    const list = Array.isArray(m.metrics) ? m.metrics.slice() : [];
    if (list.length === 0 && !m.error && at) metricsBox.append(el("p", { className: "muted", text: "No metrics were reported." }));
    if (list.length) {
      list.sort((a, b) => (a.name === b.name ? JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)) : a.name.localeCompare(b.name)));
      const prefix = (state.svc ? state.svc.provider : "") + "_";
      const tbody = el("tbody");
      for (const x of list) {
        const v = metricValue(x.value, x.unit);
        const short = x.name.startsWith(prefix) ? x.name.slice(prefix.length) : x.name;
        const labels = Object.entries(x.labels || {});
        tbody.append(
          el(
            "tr",
            {},
            el("th", { scope: "row", "data-label": "Metric" }, el("span", { text: humanize(short) }), el("code", { className: "key", text: x.name })),
            el(
              "td",
              { "data-label": "Labels" },
              labels.length
                ? el("span", { className: "tags" }, labels.map(([k, val]) => el("span", { className: "chip", text: k + "=" + val })))
                : el("span", { className: "muted", text: "—" })
            ),
            el("td", { className: "num", "data-label": "Value", title: v.title, text: v.text })
          )
        );
      }
      metricsBox.append(
        el(
          "div",
          { className: "table-wrap" },
          el(
            "table",
            { className: "metrics" },
            el("caption", { className: "visually-hidden", text: "Latest metrics of " + name }),
            el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Metric" }), el("th", { scope: "col", text: "Labels" }), el("th", { scope: "col", className: "num", text: "Value" }))),
            tbody
          )
        )
      );
    }
    // Sections that failed while the others were collected (the metrics above are partial).
    if (Array.isArray(m.problems) && m.problems.length) {
      metricsBox.append(
        el("h4", { text: "Not collected" }),
        el(
          "ul",
          { className: "notes problems" },
          m.problems.map((p) =>
            el("li", { className: "error-text" }, el("strong", { text: (p.section || "section") + ": " }), failureText(p.failure), p.message ? " — " + p.message : "")
          )
        )
      );
    }
    if (Array.isArray(m.notes) && m.notes.length) {
      metricsBox.append(el("h4", { text: "Notes" }), el("ul", { className: "notes" }, m.notes.map((n) => el("li", { text: n }))));
    }
  }

  async function collect(fresh) {
    state.collecting = true;
    state.metricsError = null;
    renderMetrics();
    try {
      // GET answers the stored collection; POST (admin) collects afresh.
      const r = await api(fresh ? "POST" : "GET", servicePath(name, "/metrics"), undefined, { signal: ctx.signal });
      state.metrics = r.body || {};
      if (fresh) notify(area, "Collected the metrics of " + name + ".", "success");
    } catch (e) {
      if (isQuiet(e)) return;
      state.metricsError = describeError(e);
    } finally {
      state.collecting = false;
    }
    renderMetrics();
    if (fresh) focus(metricsBox.querySelector("h3"));
  }

  // ----- history -----
  function renderHistory() {
    clear(historyBox);
    historyBox.append(el("h3", { id: "history-title", text: "History" }));
    const checks = state.checks;
    for (const render of sections) {
      try {
        const node = render({ name, service: state.svc, checks, signal: ctx.signal });
        if (node) historyBox.append(node);
      } catch (e) {
        // An extension must not break the page.
        historyBox.append(el("p", { className: "error-text", text: "A history block failed: " + describeError(e) }));
      }
    }
    historyBox.append(el("h4", { id: "checks-title", text: "Recent checks" }));
    if (!checks) {
      historyBox.append(el("p", { className: "muted", text: "Loading…" }));
      return;
    }
    if (checks.length === 0) {
      historyBox.append(el("p", { className: "muted", text: "No check has run yet." }));
      return;
    }
    // The charts repeat the table below as pictures; their captions say how to read them.
    const charts = el(
      "div",
      { className: "charts" },
      el("figure", {}, statusStrip(checks), el("figcaption", { className: "muted small", text: "Status, oldest → newest (tall red = failed)" }))
    );
    const spark = latencySparkline(checks);
    if (spark) {
      // The same scale as the chart's (at least 1 ms).
      const max = Math.max(1, ...checks.map((c) => (typeof c.latency_ms === "number" ? c.latency_ms : 0)));
      charts.append(el("figure", {}, spark, el("figcaption", { className: "muted small", text: "Latency, oldest → newest (top = " + latency(max) + ")" })));
    }
    historyBox.append(charts);
    const tbody = el("tbody");
    for (const c of checks) {
      tbody.append(
        el(
          "tr",
          { className: "row-" + statusKey(c.status) },
          el("td", { className: "when", "data-label": "When" }, el("time", { datetime: c.checked_at, title: relative(c.checked_at), text: absolute(c.checked_at) })),
          el("td", { "data-label": "Status" }, statusBadge(c.status)),
          el("td", { "data-label": "Failure" }, c.failure ? failureText(c.failure) : el("span", { className: "muted", text: "—" })),
          el("td", { className: "num", "data-label": "Latency", text: latency(c.latency_ms) }),
          el("td", { className: "message", "data-label": "Message" }, el("span", {}, richText(c.message || ""))),
          el("td", { "data-label": "Identity", text: c.identity || "—" })
        )
      );
    }
    historyBox.append(
      el(
        "div",
        { className: "table-wrap" },
        el(
          "table",
          { className: "checks", "aria-labelledby": "checks-title" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ["When", "Status", "Failure", "Latency", "Message", "Identity"].map((h) =>
                el("th", { scope: "col", className: h === "Latency" ? "num" : "", text: h })
              )
            )
          ),
          tbody
        )
      )
    );
    historyBox.append(
      el("p", { className: "muted small" }, "Newest first; showing " + checks.length + (checks.length === 1 ? " check." : " checks."))
    );
    if (checks.length === state.checksLimit && state.checksLimit < CHECKS_MORE) {
      const more = el("button", { type: "button", className: "secondary small", text: "Show up to " + CHECKS_MORE });
      more.addEventListener("click", async () => {
        state.checksLimit = CHECKS_MORE;
        await loadChecks();
        focus(historyBox.querySelector("#checks-title"));
      });
      historyBox.append(more);
    }
  }

  async function loadChecks() {
    try {
      const r = await api("GET", servicePath(name, "/checks?limit=" + state.checksLimit), undefined, { signal: ctx.signal });
      state.checks = Array.isArray(r.body) ? r.body : [];
    } catch (e) {
      if (isQuiet(e)) return;
      state.checks = [];
      notify(area, "Could not read the check history: " + describeError(e), "error");
    }
    renderHistory();
    renderDetails();
  }

  // ----- configuration -----
  function renderConfig() {
    clear(configBox);
    configBox.append(el("h3", { id: "config-title", text: "Configuration" }));
    const svc = state.svc;
    if (!svc) return;
    if (svc.provisioned) {
      configBox.append(
        el(
          "p",
          { className: "note" },
          "This service comes from the server's config file (",
          el("code", { text: "opsdeckd --config" }),
          "): change it there and restart opsdeckd. It is shown read-only here."
        )
      );
    }
    const p = state.provider;
    const props = (p && p.schema && p.schema.properties) || {};
    const fieldList = p && Array.isArray(p.fields) ? p.fields : [];
    const names = fieldList.map((x) => x.name).filter((n) => n in props || n in svc.config);
    for (const k of Object.keys(svc.config)) if (!names.includes(k)) names.push(k);
    const dl = el("dl", { className: "report config" });
    for (const key of names) {
      const spec = fieldList.find((x) => x.name === key) || {};
      const s = props[key] || {};
      const label = spec.label || s.title || humanize(key);
      const v = svc.config[key];
      let shown;
      if (v && typeof v === "object" && !Array.isArray(v) && "set" in v) {
        shown = el("span", { className: v.set ? "" : "muted", text: v.set ? "set (stored encrypted)" : "not set" });
      } else if (v === undefined || v === null) {
        shown = el("span", { className: "muted", text: s.default !== undefined ? "default (" + (Array.isArray(s.default) ? s.default.join(", ") : String(s.default)) + ")" : "not set" });
      } else if (Array.isArray(v)) shown = v.length ? v.join(", ") : el("span", { className: "muted", text: "none" });
      else if (typeof v === "boolean") shown = v ? "yes" : "no";
      else shown = String(v);
      dl.append(el("dt", {}, label, " ", el("code", { className: "key", text: key })), el("dd", {}, shown));
    }
    const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
    row("Tags", svc.tags.length ? el("span", { className: "tags" }, svc.tags.map((t) => el("a", { className: "chip", href: router.href.dashboard({ tag: t }), text: t }))) : el("span", { className: "muted", text: "none" }));
    row("Scheduled checks", svc.enabled ? "enabled" : "disabled");
    row("Check interval", intervalText(svc.interval_secs));
    row("Created", absolute(svc.created_at));
    row("Last changed", el("span", {}, absolute(svc.updated_at), " (version " + svc.version + ")"));
    configBox.append(dl);
  }

  // ----- header and actions -----
  function renderHeader() {
    const svc = state.svc;
    clear(subtitle);
    clear(actions);
    if (!svc) return;
    const p = state.provider;
    subtitle.append(p ? p.name + " · " + categoryText(p.category) : svc.provider);
    if (!svc.enabled) subtitle.append(" ", el("span", { className: "tag", text: "disabled" }));
    if (svc.provisioned) subtitle.append(" ", el("span", { className: "tag", text: "from config file" }));
    if (!admin) {
      actions.append(el("p", { className: "muted small", id: "readonly-note", text: "Read-only token: testing and changes need an admin token." }));
      return;
    }
    const testBtn = el("button", { type: "button", id: "action-test", text: "Test" });
    testBtn.addEventListener("click", () => busy(testBtn, "Testing…", runTest));
    actions.append(testBtn);
    if (svc.provisioned) {
      actions.append(el("p", { className: "muted small", text: "Edit, disable and delete: in the config file." }));
      return;
    }
    actions.append(el("a", { className: "button secondary", id: "action-edit", href: router.href.edit(name), text: "Edit" }));
    const toggle = el("button", { type: "button", className: "secondary", id: "action-toggle", text: svc.enabled ? "Disable" : "Enable" });
    toggle.addEventListener("click", () => busy(toggle, svc.enabled ? "Disabling…" : "Enabling…", () => setEnabled(!svc.enabled)));
    const del = el("button", { type: "button", className: "danger", id: "action-delete", text: "Delete" });
    del.addEventListener("click", () => remove(del));
    actions.append(toggle, del);
  }

  async function runTest() {
    try {
      const r = await testService(name, ctx.signal);
      rememberReport(name, r);
      await Promise.all([loadStatus({ force: true, signal: ctx.signal }).catch(() => null), loadChecks()]);
      renderStatus();
      renderDetails();
      const ok = r.status === "connected";
      notify(area, "Tested " + name + ": " + (ok ? "connected" : failureText(r.failure) || r.status) + ".", ok ? "success" : "error");
      focus(statusBox);
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Test of " + name + " failed: " + describeError(e), "error");
    }
  }

  async function setEnabled(enabled) {
    try {
      const r = await api("PATCH", servicePath(name), { version: state.svc.version, enabled }, { signal: ctx.signal });
      state.svc = r.body;
      await loadStatus({ force: true, signal: ctx.signal }).catch(() => null);
      renderAll();
      notify(
        area,
        enabled ? "Enabled " + name + ": opsdeckd checks it on its own again." : "Disabled " + name + ": opsdeckd no longer checks it on its own.",
        "success"
      );
      focus(actions.querySelector("#action-toggle"));
    } catch (e) {
      if (isQuiet(e)) return;
      if (e instanceof ApiError && e.code === "stale_version") {
        await loadService();
        notify(area, "Someone changed " + name + " meanwhile; the page now shows their version. Try again if it is still needed.", "error");
      } else notify(area, "Could not change " + name + ": " + describeError(e), "error");
    }
  }

  async function remove(button) {
    const yes = await confirmDialog({
      title: "Delete " + name + "?",
      body: ["This removes " + name + ", its stored secrets and its whole check history. It cannot be undone."],
      confirmLabel: "Delete " + name,
      danger: true,
      returnFocus: button,
    });
    if (!yes) return;
    try {
      await busy(button, "Deleting…", () => api("DELETE", servicePath(name), undefined, { signal: ctx.signal }));
      forgetReport(name);
      await loadStatus({ force: true }).catch(() => null);
      flash("Deleted " + name + ".", "success");
      router.go(router.href.dashboard());
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not delete " + name + ": " + describeError(e), "error");
    }
  }

  function renderAll() {
    renderHeader();
    renderStatus();
    renderDetails();
    renderMetrics();
    renderHistory();
    renderConfig();
  }

  async function loadService() {
    try {
      const r = await api("GET", servicePath(name), undefined, { signal: ctx.signal });
      state.svc = r.body;
    } catch (e) {
      if (isQuiet(e)) return false;
      clear(root);
      root.append(el("p", { className: "crumbs" }, el("a", { href: router.href.dashboard(), text: "← All services" })), title, area);
      if (e instanceof ApiError && e.status === 404) {
        notify(area, "There is no service named " + name + ". It may have been deleted.", "error");
      } else notify(area, "Could not load " + name + ": " + describeError(e), "error");
      return false;
    }
    try {
      state.provider = await loadProvider(state.svc.provider, ctx.signal);
    } catch (e) {
      state.provider = null; // labels fall back to the keys
    }
    renderAll();
    return true;
  }

  // Stay current while open: the scheduler's results show up without a reload. The status
  // document is revalidated with its ETag, so an unchanged one costs a 304.
  let seen = null;
  const timer = setInterval(async () => {
    if (document.hidden || !state.svc) return;
    try {
      await loadStatus({ signal: ctx.signal });
    } catch (e) {
      return;
    }
    const e = entry();
    const at = e ? e.checked_at : null;
    if (at !== seen) {
      seen = at;
      renderStatus();
      loadChecks();
    }
  }, 30000);

  renderAll();
  (async () => {
    if (!(await loadService())) return;
    seen = (entry() || {}).checked_at || null;
    loadStatus({ signal: ctx.signal })
      .then(() => renderStatus())
      .catch((e) => {
        if (!isQuiet(e)) notify(area, "Could not load the status: " + describeError(e), "error");
      });
    loadChecks();
    collect(false);
  })();
  return () => clearInterval(timer);
}
