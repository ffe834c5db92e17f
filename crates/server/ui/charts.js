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
