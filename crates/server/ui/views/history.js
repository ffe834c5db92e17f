// opsdeck web UI — monitoring on the service page and the dashboard (feature `monitoring`):
// uptime figures (24 h / 30 d / 90 d), a status strip switchable between 24 h by 15 minutes and
// 30 or 90 days by day, the response-time chart (p50/p95), status-change events and metric
// trends; and, on each dashboard row, a compact 24 h strip with the 30-day uptime.
//
// Everything is drawn from the monitoring API; nothing here computes uptime. When the feature is
// off (GET /session, or a 404 feature_disabled) nothing is shown.

import { api, servicePath, featureOn, isQuiet, describeError, ApiError } from "../api.js";
import { el, clear } from "../dom.js";
import { latency, absolute, failureText, metricValue, humanize, duration, STATUS, statusKey } from "../format.js";
import { uptimeStrip, uptimeLegend, responseTimeChart, trendChart, percent } from "../charts.js";

const STRIPS = {
  "24h": { label: "24 hours", query: "window=24h&bucket=15m", bucket: "15m", caption: "Last 24 hours, one bar per 15 minutes, oldest left" },
  "30d": { label: "30 days", query: "window=30d&bucket=1d", bucket: "1d", caption: "Last 30 days, one bar per UTC day, oldest left" },
  "90d": { label: "90 days", query: "window=90d&bucket=1d", bucket: "1d", caption: "Last 90 days, one bar per UTC day, oldest left" },
};

// Metrics worth a trend chart: cost and usage first (month-to-date cost, tokens, requests).
const TREND_HINTS = ["cost", "spend", "usage", "tokens", "requests"];
const MAX_TRENDS = 4;
const EVENTS_SHOWN = 10;

function disabled(e) {
  return e instanceof ApiError && e.status === 404 && e.code === "feature_disabled";
}

async function get(path, signal) {
  const r = await api("GET", path, undefined, { signal });
  return r.body;
}

// ---------- the service page ----------

// One section per page visit, reused across the page's re-renders (it keeps its own data).
let current = null;

// The History block of the service page (registered with service.js' `registerSection`).
export function historySection(ctx) {
  if (!featureOn("monitoring")) return null;
  const newest = ctx.checks && ctx.checks[0] ? ctx.checks[0].checked_at : null;
  if (current && current.name === ctx.name && current.signal === ctx.signal && !ctx.signal.aborted) {
    if (newest !== current.newest) {
      current.newest = newest;
      current.reload();
    }
    return current.root;
  }
  current = makeSection(ctx.name, ctx.signal, newest);
  return current.root;
}

function makeSection(name, signal, newest) {
  const root = el("div", { className: "monitoring", id: "monitoring" });
  const figures = el("ul", { className: "uptime-figures", id: "uptime-figures", "aria-label": "Uptime" });
  const seg = el("div", { className: "seg", role: "group", "aria-label": "Status strip period" });
  const stripBox = el("figure", { id: "uptime-strip" });
  const responseBox = el("figure", { id: "response-time" });
  const eventsBox = el("div", { id: "events" });
  const trendsBox = el("div", { id: "trends" });
  const s = { name, signal, newest, root, window: "24h", reload: () => load() };

  root.append(
    el("h4", { id: "uptime-title", text: "Uptime" }),
    figures,
    seg,
    stripBox,
    el("p", { className: "legend muted small" }, uptimeLegend()),
    el("h4", { id: "response-title", text: "Response time" }),
    responseBox,
    el("h4", { id: "events-title", text: "Status changes" }),
    eventsBox,
    trendsBox
  );
  for (const [key, def] of Object.entries(STRIPS)) {
    const b = el("button", { type: "button", className: "secondary small", "data-window": key, "aria-pressed": String(key === s.window), text: def.label });
    b.addEventListener("click", () => {
      s.window = key;
      for (const x of seg.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x.getAttribute("data-window") === key));
      loadStrip();
    });
    seg.append(b);
  }

  function hide() {
    clear(root);
  }

  async function loadFigures() {
    const list = [];
    for (const w of ["24h", "30d", "90d"]) {
      list.push(get(servicePath(name, "/uptime?window=" + w), signal));
    }
    const got = await Promise.all(list);
    clear(figures);
    for (const u of got) {
      const detail = [u.checks + (u.checks === 1 ? " check" : " checks")];
      if (u.failed) detail.push(u.failed + " failed");
      if (u.unknown) detail.push(u.unknown + " unknown (not counted)");
      figures.append(
        el(
          "li",
          { "data-window": u.window },
          el("div", { className: "muted small", text: { "24h": "Last 24 hours", "30d": "Last 30 days", "90d": "Last 90 days" }[u.window] || u.window }),
          el("div", { className: "figure", text: percent(u.uptime, 3) }),
          el("div", { className: "muted small", text: detail.join(", ") })
        )
      );
    }
  }

  async function loadStrip() {
    const def = STRIPS[s.window];
    const h = await get(servicePath(name, "/history?" + def.query), signal);
    clear(stripBox);
    const decided = h.buckets.filter((b) => b.uptime !== null && b.uptime !== undefined);
    const down = decided.filter((b) => b.uptime < 1).length;
    stripBox.append(
      uptimeStrip(h.buckets, { bucket: h.bucket }),
      el("figcaption", { className: "muted small", text: def.caption + " — " + h.buckets.length + " bars, " + down + " with failures. Hover a bar for its uptime and checks." })
    );
  }

  async function loadResponse() {
    const h = await get(servicePath(name, "/history?window=24h&bucket=1h"), signal);
    clear(responseBox);
    const chart = responseTimeChart(h.buckets, { bucket: h.bucket });
    if (!chart) {
      responseBox.append(el("p", { className: "muted", text: "No connected check in the last 24 hours." }));
      return;
    }
    const u = await get(servicePath(name, "/uptime?window=24h"), signal);
    responseBox.append(
      chart,
      el(
        "figcaption",
        { className: "muted small" },
        "Last 24 hours by hour: solid line p50, dashed line p95. Over the day: p50 " + latency(u.latency_ms.p50) + ", p95 " + latency(u.latency_ms.p95) + ", slowest " + latency(u.latency_ms.max) + "."
      )
    );
  }

  async function loadEvents() {
    const list = await get(servicePath(name, "/events?since=90d&limit=50"), signal);
    clear(eventsBox);
    if (!list.length) {
      eventsBox.append(el("p", { className: "muted", text: "No status change in the last 90 days." }));
      return;
    }
    const tbody = el("tbody");
    for (const e of list.slice(0, EVENTS_SHOWN)) {
      const to = STATUS[statusKey(e.to)];
      const from = e.from ? STATUS[statusKey(e.from)].label : "first check";
      tbody.append(
        el(
          "tr",
          { className: "event event-" + statusKey(e.to) },
          el("td", { className: "when", "data-label": "When", text: absolute(e.at) }),
          el("td", { "data-label": "Change" }, from + " → ", el("strong", { text: to.mark + " " + to.label }), e.failure ? " (" + failureText(e.failure) + ")" : ""),
          el("td", { "data-label": "Before", text: typeof e.previous_duration_s === "number" ? "after " + duration(Math.round(e.previous_duration_s)) : "—" }),
          el("td", { "data-label": "Message", className: "message", text: e.message })
        )
      );
    }
    eventsBox.append(
      el(
        "div",
        { className: "table-wrap" },
        el(
        "table",
        { className: "events", "aria-labelledby": "events-title" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "When" }), el("th", { scope: "col", text: "Change" }), el("th", { scope: "col", text: "Previous state lasted" }), el("th", { scope: "col", text: "Message" }))),
        tbody
      )
      )
    );
    if (list.length > EVENTS_SHOWN) {
      eventsBox.append(
        el("p", { className: "muted small", text: "The " + EVENTS_SHOWN + " newest of " + (list.length >= 50 ? "50 or more" : list.length) + " changes in the last 90 days; GET /api/v1/services/" + name + "/events lists them all." })
      );
    }
  }

  async function loadTrends() {
    let m;
    try {
      m = await get(servicePath(name, "/metrics"), signal);
    } catch (e) {
      return;
    }
    const names = [...new Set((Array.isArray(m && m.metrics) ? m.metrics : []).map((x) => x.name))];
    names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const pick = names.slice(0, MAX_TRENDS);
    clear(trendsBox);
    if (!pick.length) return;
    trendsBox.append(el("h4", { id: "trends-title", text: "Metric trends (30 days, last value per day)" }));
    const row = el("div", { className: "charts" });
    trendsBox.append(row);
    for (const metric of pick) {
      const h = await get(servicePath(name, "/metrics/history?name=" + encodeURIComponent(metric) + "&window=30d&bucket=1d"), signal);
      const series = (h.series || [])[0];
      if (!series || !series.points.length) continue;
      const fmt = (v) => metricValue(v, series.unit);
      const labels = Object.entries(series.labels || {}).map(([k, v]) => k + "=" + v).join(", ");
      const title = humanize(metric) + (labels ? " (" + labels + ")" : "");
      const chart = trendChart(series.points, { fmt, label: title });
      if (!chart) continue;
      const last = series.points[series.points.length - 1];
      row.append(
        el(
          "figure",
          { className: "trend-figure", "data-metric": metric },
          chart,
          el("figcaption", { className: "muted small", text: title + ": " + fmt(last.value) + " now" + ((h.series || []).length > 1 ? "; " + h.series.length + " series, the first shown" : "") })
        )
      );
    }
  }

  async function load() {
    try {
      await loadFigures();
      await Promise.all([loadStrip(), loadResponse(), loadEvents()]);
      await loadTrends();
    } catch (e) {
      if (disabled(e)) return hide();
      if (isQuiet(e)) return;
      root.append(el("p", { className: "error-text", text: "Could not load the monitoring history: " + describeError(e) }));
    }
  }

  load();
  return s;
}

function rank(name) {
  const i = TREND_HINTS.findIndex((h) => name.includes(h));
  return i < 0 ? TREND_HINTS.length : i;
}

// ---------- the dashboard ----------

// Every row's strip comes from one request (GET /api/v1/history, all services' hourly buckets),
// made at most every 30 s (the dashboard's refresh) and shared by the rows that ask meanwhile:
// a dashboard of hundreds of services costs one request per refresh, not one per row.
const STRIPS_TTL_MS = 30000;
const STRIPS_RETRY_MS = 5000;
let strips = null; // {at, promise: Promise<Map<service, buckets>>}

// The next row asks the server again (after a test, a save or a manual refresh).
export function invalidateStrips() {
  strips = null;
}

function allStrips() {
  if (strips && Date.now() - strips.at < STRIPS_TTL_MS) return strips.promise;
  const previous = strips;
  const promise = get("/api/v1/history?window=24h&bucket=1h")
    .then((h) => new Map(h.services.map((s) => [s.service, s.buckets])))
    .catch((e) => {
      // The rows keep their text and the last strips; the next render asks again.
      strips = previous && { at: 0, promise: previous.promise };
      if (previous) return previous.promise;
      throw e;
    });
  strips = { at: Date.now(), promise };
  return promise;
}

function loadRow(service, fill, retried) {
  allStrips()
    .then((byService) => {
      const buckets = byService.get(service);
      if (buckets) return fill(buckets);
      if (retried) return;
      // A service created since the strips were fetched: ask again once, when they are 5 s
      // old (rows added together share that one request).
      const age = strips ? Date.now() - strips.at : STRIPS_RETRY_MS;
      setTimeout(() => {
        if (strips && Date.now() - strips.at >= STRIPS_RETRY_MS) strips = null;
        loadRow(service, fill, true);
      }, Math.max(0, STRIPS_RETRY_MS - age));
    })
    .catch(() => {
      // The strip is extra; the row stays as it is.
    });
}

// The dashboard's Uptime column (added with dashboard.js' `addColumn`): a compact 24 h strip
// (one bar per hour) and the 30-day uptime from the status document.
export const uptimeColumn = {
  key: "uptime",
  label: "Uptime 30 d",
  className: "uptime-col",
  visible: () => featureOn("monitoring"),
  sort: (s) => (typeof s.uptime_30d === "number" ? s.uptime_30d : -1),
  cell: (s) => {
    const strip = el("span", { className: "uptime-strip-slot" });
    const cell = el("span", { className: "uptime-cell" }, strip, el("span", { className: "uptime-30d", text: percent(s.uptime_30d) }));
    loadRow(s.service, (buckets) => {
      clear(strip);
      strip.append(uptimeStrip(buckets, { width: 96, height: 16, bucket: "1h", compact: true, label: "Last 24 hours of " + s.service + ", one bar per hour" }));
    });
    return cell;
  },
};
