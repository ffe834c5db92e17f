// opsdeck web UI — charts as inline SVG built from elements (no library, no inline style: the CSP
// allows neither; colours come from classes in app.css). This is the home for every chart:
// today a status strip and a latency sparkline of recent checks on the service page; uptime
// strips and metric charts belong here too.
//
// Every chart has a text alternative (role="img" + aria-label) and per-point <title>s, and the
// same data is always also shown as text next to it (charts reinforce, never replace, the table).

import { svg } from "./dom.js";
import { STATUS, statusKey, latency, absolute } from "./format.js";

// One bar per check, oldest left, newest right. Height and colour both encode the status
// (failed tall, unknown middle, connected short), so it reads without colour too.
// `checks`: [{checked_at, status, failure, latency_ms}] newest first (as the API answers).
export function statusStrip(checks, opts) {
  const o = opts || {};
  const list = checks.slice().reverse();
  const bar = 6;
  const gap = 2;
  const height = o.height || 32;
  const width = Math.max(list.length * (bar + gap) - gap, 1);
  const counts = { connected: 0, failed: 0, unknown: 0 };
  for (const c of list) counts[statusKey(c.status)] += 1;
  const label =
    o.label ||
    "Status of the last " + list.length + " checks, oldest first: " +
      counts.connected + " connected, " + counts.failed + " failed, " + counts.unknown + " unknown.";
  const root = svg("svg", {
    class: "chart strip",
    role: "img",
    "aria-label": label,
    viewBox: "0 0 " + width + " " + height,
    width,
    height,
    preserveAspectRatio: "none",
  });
  const h = { failed: height, unknown: Math.round(height * 0.65), connected: Math.round(height * 0.4) };
  list.forEach((c, i) => {
    const k = statusKey(c.status);
    root.append(
      svg(
        "rect",
        { class: "bar bar-" + k, x: i * (bar + gap), y: height - h[k], width: bar, height: h[k], rx: 1 },
        svg("title", {
          text: absolute(c.checked_at) + ": " + STATUS[k].label + (c.failure ? " (" + c.failure + ")" : "") + ", " + latency(c.latency_ms),
        })
      )
    );
  });
  return root;
}

// A latency line over the same checks, oldest left. Returns null with fewer than two points.
export function latencySparkline(checks, opts) {
  const o = opts || {};
  const pts = checks
    .slice()
    .reverse()
    .filter((c) => typeof c.latency_ms === "number");
  if (pts.length < 2) return null;
  const width = o.width || 280;
  const height = o.height || 48;
  const pad = 3;
  const max = Math.max(...pts.map((c) => c.latency_ms), 1);
  const min = Math.min(...pts.map((c) => c.latency_ms));
  const x = (i) => pad + (i * (width - 2 * pad)) / (pts.length - 1);
  const y = (v) => height - pad - ((v - 0) * (height - 2 * pad)) / max;
  const d = pts.map((c, i) => (i === 0 ? "M" : "L") + x(i).toFixed(1) + " " + y(c.latency_ms).toFixed(1)).join(" ");
  const sorted = pts.map((c) => c.latency_ms).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const root = svg("svg", {
    class: "chart sparkline",
    role: "img",
    "aria-label":
      "Latency of the last " + pts.length + " checks: from " + latency(min) + " to " + latency(max) + ", median " + latency(median) + ".",
    viewBox: "0 0 " + width + " " + height,
    width,
    height,
  });
  root.append(svg("path", { class: "line", d, fill: "none" }));
  pts.forEach((c, i) => {
    root.append(
      svg(
        "circle",
        { class: "dot dot-" + statusKey(c.status), cx: x(i).toFixed(1), cy: y(c.latency_ms).toFixed(1), r: 2 },
        svg("title", { text: absolute(c.checked_at) + ": " + latency(c.latency_ms) })
      )
    );
  });
  return root;
}

// ---------- monitoring: uptime strips, response time, metric trends ----------

// Bar kinds of an uptime strip, by what the bucket holds. Each kind differs in shape or stripes
// as well as colour: full solid bar = all up; full bar with sparse stripes = some failed; full
// bar with dense stripes = all failed; half-height bar = only unknown checks; a thin stub = no
// checks. The text legend and every bar's <title> say the same in words.
export const UPTIME_KINDS = {
  up: "all checks connected",
  partial: "some checks failed",
  down: "every decided check failed",
  unknown: "only unknown checks",
  none: "no checks",
};

export function uptimeKind(b) {
  if (!b || !b.checks) return "none";
  if (b.uptime === null || b.uptime === undefined) return "unknown";
  if (b.uptime >= 1) return "up";
  if (b.uptime <= 0) return "down";
  return "partial";
}

export function percent(u, digits) {
  if (u === null || u === undefined) return "no data";
  const d = typeof digits === "number" ? digits : 2;
  const p = u * 100;
  // 99.996 % must not read as 100 %.
  const s = p >= 100 ? "100" : p.toFixed(d).replace(/\.?0+$/, "");
  return s + " %";
}

function bucketLabel(b, width) {
  const start = new Date(b.start);
  if (!b.start || Number.isNaN(start.getTime())) return UPTIME_KINDS[uptimeKind(b)];
  const when =
    width === "1d"
      ? start.toISOString().slice(0, 10)
      : start.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  if (!b.checks) return when + ": no checks";
  const parts = [when + ": uptime " + percent(b.uptime), b.checks + (b.checks === 1 ? " check" : " checks")];
  if (b.failed) parts.push(b.failed + " failed");
  if (b.unknown) parts.push(b.unknown + " unknown");
  return parts.join(", ");
}

// An uptime strip: one bar per history bucket (`buckets` oldest first, as the history API
// answers). `opts`: {width, height, bucket ("15m" | "1h" | "1d"), label, compact}.
export function uptimeStrip(buckets, opts) {
  const o = opts || {};
  const n = Math.max(buckets.length, 1);
  const width = o.width || 540;
  const height = o.height || 34;
  const step = width / n;
  const gap = step > 4 ? 1 : 0;
  const counts = { up: 0, partial: 0, down: 0, unknown: 0, none: 0 };
  for (const b of buckets) counts[uptimeKind(b)] += 1;
  const label =
    o.label ||
    buckets.length + " bars, oldest first: " +
      counts.up + " all up, " + counts.partial + " with failures, " + counts.down + " down, " +
      counts.unknown + " only unknown, " + counts.none + " without checks.";
  const root = svg("svg", {
    class: "chart uptime-strip" + (o.compact ? " compact" : ""),
    role: "img",
    "aria-label": label,
    viewBox: "0 0 " + width + " " + height,
    width,
    height,
    preserveAspectRatio: "none",
  });
  buckets.forEach((b, i) => {
    const k = uptimeKind(b);
    const x = i * step;
    const w = Math.max(step - gap, 0.5);
    let h = height;
    if (k === "none") h = Math.max(2, Math.round(height * 0.12));
    if (k === "unknown") h = Math.round(height * 0.5);
    const g = svg("g", { class: "ubar-group", "data-kind": k }, svg("title", { text: bucketLabel(b, o.bucket) }));
    g.append(svg("rect", { class: "ubar ubar-" + k, x: x.toFixed(2), y: height - h, width: w.toFixed(2), height: h }));
    // Stripes make failures visible without colour: sparse on a bar with some failures, dense
    // on a bar where every decided check failed.
    const every = { partial: 6, down: 3 }[k];
    if (every) {
      for (let yy = 1; yy < h; yy += every) {
        g.append(svg("rect", { class: "stripe stripe-" + k, x: x.toFixed(2), y: yy, width: w.toFixed(2), height: 1.2 }));
      }
    }
    root.append(g);
  });
  return root;
}

// The legend of uptime strips, in words with a sample of each pattern.
export function uptimeLegend() {
  const items = [];
  const sample = { up: 1, partial: 0.5, down: 0, unknown: null, none: null };
  for (const k of ["up", "partial", "down", "unknown", "none"]) {
    const s = uptimeStrip([{ checks: k === "none" ? 0 : 1, uptime: sample[k] }], { width: 10, height: 14, label: UPTIME_KINDS[k] });
    s.setAttribute("aria-hidden", "true");
    items.push(s, document.createTextNode(" " + UPTIME_KINDS[k] + " \u00a0"));
  }
  return items;
}

function linePath(points, x, y) {
  // Breaks the line where a value is missing, so a gap never looks like a straight trend.
  let d = "";
  let pen = false;
  points.forEach((v, i) => {
    if (v === null || v === undefined) {
      pen = false;
      return;
    }
    d += (pen ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
    pen = true;
  });
  return d.trim();
}

// Response time p50 and p95 over history buckets (oldest first). p95 is dashed, p50 solid, so
// the two read apart without colour. Returns null without any latency.
export function responseTimeChart(buckets, opts) {
  const o = opts || {};
  const p50 = buckets.map((b) => (b.latency_ms ? b.latency_ms.p50 : null));
  const p95 = buckets.map((b) => (b.latency_ms ? b.latency_ms.p95 : null));
  const known = p95.concat(p50).filter((v) => typeof v === "number");
  if (!known.length) return null;
  const width = o.width || 540;
  const height = o.height || 90;
  const padL = 44;
  const pad = 6;
  const max = Math.max(...known, 1);
  const n = Math.max(buckets.length - 1, 1);
  const x = (i) => padL + (i * (width - padL - pad)) / n;
  const y = (v) => height - pad - (v * (height - 2 * pad)) / max;
  const med = known.slice().sort((a, b) => a - b);
  const root = svg("svg", {
    class: "chart response-time",
    role: "img",
    "aria-label":
      "Response time of connected checks, " + buckets.length + " buckets: p95 up to " + latency(Math.max(...p95.filter((v) => typeof v === "number"), 0)) +
      ", p50 typically " + latency(med[Math.floor(med.length / 2)]) + ".",
    viewBox: "0 0 " + width + " " + height,
    width,
    height,
  });
  root.append(
    svg("line", { class: "axis", x1: padL, y1: height - pad, x2: width - pad, y2: height - pad }),
    svg("text", { class: "axis-label", x: padL - 4, y: pad + 8, "text-anchor": "end", text: latency(max) }),
    svg("text", { class: "axis-label", x: padL - 4, y: height - pad, "text-anchor": "end", text: "0" }),
    svg("path", { class: "line p95", d: linePath(p95, x, y), fill: "none", "stroke-dasharray": "5 3" }),
    svg("path", { class: "line p50", d: linePath(p50, x, y), fill: "none" })
  );
  buckets.forEach((b, i) => {
    if (typeof p95[i] !== "number") return;
    root.append(
      svg(
        "circle",
        { class: "pt", cx: x(i).toFixed(1), cy: y(p95[i]).toFixed(1), r: 1.6 },
        svg("title", { text: bucketLabel(b, o.bucket) + " — p50 " + latency(p50[i]) + ", p95 " + latency(p95[i]) })
      )
    );
  });
  return root;
}

// A metric's trend: `points` [{start, value, min, max}] oldest first; `fmt(v)` renders a value.
export function trendChart(points, opts) {
  const o = opts || {};
  const vals = points.map((p) => p.value).filter((v) => typeof v === "number");
  if (!vals.length) return null;
  const width = o.width || 260;
  const height = o.height || 60;
  const pad = 5;
  const fmt = o.fmt || ((v) => String(v));
  const lo = Math.min(...vals, 0);
  const hi = Math.max(...vals, lo + 1e-9);
  const n = Math.max(points.length - 1, 1);
  const x = (i) => pad + (i * (width - 2 * pad)) / n;
  const y = (v) => height - pad - ((v - lo) * (height - 2 * pad)) / (hi - lo || 1);
  const first = vals[0];
  const last = vals[vals.length - 1];
  const root = svg("svg", {
    class: "chart trend",
    role: "img",
    "aria-label": (o.label || "Trend") + ": " + points.length + " points, from " + fmt(first) + " to " + fmt(last) + ", highest " + fmt(hi) + ".",
    viewBox: "0 0 " + width + " " + height,
    width,
    height,
  });
  root.append(svg("path", { class: "line", d: linePath(points.map((p) => p.value), x, y), fill: "none" }));
  points.forEach((p, i) => {
    root.append(
      svg("circle", { class: "pt", cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 2 }, svg("title", { text: String(p.start).slice(0, 10) + ": " + fmt(p.value) }))
    );
  });
  return root;
}
