// opsdeck web UI — how values read: statuses, failure kinds, durations, dates, metric values with
// their units, and human labels for config keys.

import { el } from "./dom.js";

export const STATUS = {
  connected: { label: "Connected", mark: "✓", order: 2 },
  failed: { label: "Failed", mark: "✗", order: 0 },
  unknown: { label: "Unknown", mark: "?", order: 1 },
};

export function statusKey(status) {
  return Object.prototype.hasOwnProperty.call(STATUS, status) ? status : "unknown";
}

// Status as text plus a mark; colour only reinforces it.
export function statusBadge(status) {
  const known = statusKey(status);
  const s = STATUS[known];
  return el(
    "span",
    { className: "status status-" + known },
    el("span", { className: "mark", "aria-hidden": "true", text: s.mark }),
    " " + (known === status ? s.label : String(status || "Unknown"))
  );
}

const FAILURES = {
  invalid_credentials: "Invalid credentials",
  permission_denied: "Missing permission",
  not_found: "Not found",
  rate_limited: "Rate limited",
  timeout: "Timed out",
  unreachable: "Unreachable",
  provider_error: "Provider error",
  invalid_response: "Unexpected response",
  invalid_config: "Invalid configuration",
  rejected: "Rejected by the vendor",
};

// A failure kind in words ("invalid_credentials" → "Invalid credentials").
export function failureText(kind) {
  if (!kind) return "";
  return FAILURES[kind] || humanize(String(kind));
}

export function latency(ms) {
  if (typeof ms !== "number") return "—";
  if (ms < 1000) return ms + " ms";
  return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
}

const rtf =
  typeof Intl !== "undefined" && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;

// "3 minutes ago", "in 2 days".
export function relative(when) {
  const t = typeof when === "number" ? when : Date.parse(when);
  if (Number.isNaN(t)) return String(when);
  const diff = (t - Date.now()) / 1000;
  const abs = Math.abs(diff);
  if (abs < 45) return rtf ? rtf.format(0, "second") : "now";
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, secs] of units) {
    if (abs >= secs) {
      const n = Math.round(diff / secs);
      return rtf ? rtf.format(n, unit) : n + " " + unit + "(s)";
    }
  }
  return rtf ? rtf.format(Math.round(diff / 60), "minute") : "now";
}

const dateFmt =
  typeof Intl !== "undefined"
    ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" })
    : null;
const dayFmt = typeof Intl !== "undefined" ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }) : null;

export function absolute(when) {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return String(when);
  return dateFmt ? dateFmt.format(d) : d.toLocaleString();
}

export function day(when) {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return String(when);
  return dayFmt ? dayFmt.format(d) : d.toLocaleDateString();
}

// A <time> that reads relative ("5 minutes ago") with the exact date as its title.
export function timeEl(iso, opts) {
  if (!iso) return el("span", { className: "muted", text: (opts && opts.never) || "never" });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return el("span", { text: String(iso) });
  return el("time", { datetime: d.toISOString(), title: absolute(iso), text: relative(iso) });
}

// "12 days" style count of whole days from now (negative in the past).
export function daysFromNow(when) {
  const t = typeof when === "number" ? when : Date.parse(when);
  return Math.floor((t - Date.now()) / 86400000);
}

const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function number(v) {
  return typeof v === "number" && Number.isFinite(v) ? nf.format(v) : String(v);
}

// Seconds as "2 h 5 min", "45 s", "3 d 4 h".
export function duration(secs) {
  if (typeof secs !== "number" || !Number.isFinite(secs)) return String(secs);
  const s = Math.abs(secs);
  if (s < 1) return nf.format(secs * 1000) + " ms";
  if (s < 60) return nf.format(secs) + " s";
  const parts = [];
  let rest = Math.round(s);
  for (const [unit, n] of [
    ["d", 86400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ]) {
    if (rest >= n && parts.length < 2) {
      parts.push(Math.floor(rest / n) + " " + unit);
      rest %= n;
    } else if (parts.length) break;
  }
  return (secs < 0 ? "−" : "") + parts.join(" ");
}

export function bytes(v) {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let n = v;
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return nf.format(n) + " " + units[i];
}

function money(v, code) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: code.toUpperCase() }).format(v);
  } catch (_) {
    return nf.format(v) + " " + code.toUpperCase();
  }
}

// A metric value with its unit, as people read it: money with its currency, counts grouped,
// durations in units, timestamps as dates. Returns {text, title} (title: the exact value).
export function metricValue(value, unit) {
  const u = String(unit || "");
  const exact = String(value) + (u ? " " + u : "");
  if (typeof value !== "number" || !Number.isFinite(value)) return { text: String(value), title: exact };
  let text;
  if (u === "count" || u === "") text = number(value);
  else if (u === "tokens") text = number(value) + " tokens";
  else if (u === "requests") text = number(value) + " requests";
  else if (u === "seconds") text = duration(value);
  else if (u === "milliseconds") text = value < 1000 ? number(value) + " ms" : duration(value / 1000);
  else if (u === "bytes") text = bytes(value);
  else if (u === "percent") text = number(value) + "\u00a0%";
  else if (u === "ratio") text = nf.format(value * 100) + "\u00a0%";
  else if (u === "timestamp") {
    const ms = value * 1000;
    return { text: absolute(ms) + " (" + relative(ms) + ")", title: new Date(ms).toISOString() };
  } else if (/^[a-z]{3}_minor$/.test(u)) text = money(value / 100, u.slice(0, 3));
  else if (/^[a-z]{3}$/.test(u)) text = money(value, u);
  else text = number(value) + " " + u;
  return { text, title: exact };
}

const WORDS = {
  url: "URL",
  id: "ID",
  api: "API",
  aws: "AWS",
  jql: "JQL",
  mrr: "MRR",
  ai: "AI",
  sso: "SSO",
  ci: "CI",
  http: "HTTP",
  https: "HTTPS",
  io: "I/O",
  sla: "SLA",
};

// A config key or metric suffix as a label: "base_url" → "Base URL", "max_repos" → "Max repos".
export function humanize(key) {
  const words = String(key)
    .split(/[_\s.-]+/)
    .filter((w) => w !== "");
  return words
    .map((w, i) => {
      const lw = w.toLowerCase();
      if (WORDS[lw]) return WORDS[lw];
      return i === 0 ? lw.charAt(0).toUpperCase() + lw.slice(1) : lw;
    })
    .join(" ");
}

const CATEGORIES = {
  development: "Development",
  project_management: "Project management",
  ai: "AI",
  infrastructure: "Infrastructure",
  observability: "Observability",
  billing: "Billing",
  other: "Other",
};

export const CATEGORY_ORDER = Object.keys(CATEGORIES);

export function categoryText(c) {
  return CATEGORIES[c] || humanize(c || "other");
}

// "Every 5 minutes" for an interval in seconds; null = the server's default.
export function intervalText(secs) {
  if (secs === null || secs === undefined) return "Server default";
  return "Every " + duration(secs);
}

// The first sentence of a description, for one-line places.
export function firstSentence(text) {
  const s = String(text || "");
  const m = /^(.+?[.!?])(\s|$)/.exec(s);
  return m ? m[1] : s;
}
