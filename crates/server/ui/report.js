// opsdeck web UI — a connection report as people read it: status and failure in words, the
// message and what to do, identity and latency, and the report's details (scopes, rate-limit
// headroom, credential expiry, sub-checks, provider facts). Used by the service page, the
// wizard's test step and the edit form.

import { el, richText } from "./dom.js";
import {
  statusBadge,
  failureText,
  latency,
  relative,
  absolute,
  day,
  daysFromNow,
  humanize,
  number,
  duration,
} from "./format.js";

// Warn about credentials that expire sooner than this.
const EXPIRY_WARN_DAYS = 14;

export function reportView(r) {
  const wrap = el("div", { className: "report-view" });
  const dl = el("dl", { className: "report" });
  const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
  row("Status", statusBadge(r.status));
  if (r.failure) row("Failure", el("span", {}, failureText(r.failure), " ", el("code", { className: "muted", text: r.failure })));
  row("Message", r.message ? el("span", {}, richText(r.message)) : "—");
  if (r.hint) row("What to do", el("span", {}, richText(r.hint)));
  if (r.identity) row("Identity", r.identity);
  row("Latency", latency(r.latency_ms));
  wrap.append(dl);
  const d = detailsView(r.details);
  if (d) wrap.append(el("h4", { text: "Details" }), d);
  return wrap;
}

// The details object as a list; null when it holds nothing.
export function detailsView(d) {
  if (!d || typeof d !== "object" || Object.keys(d).length === 0) return null;
  const wrap = el("div", { className: "details" });
  const dl = el("dl", { className: "report" });
  const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
  if (Array.isArray(d.scopes)) {
    row(
      "Scopes",
      d.scopes.length
        ? el("span", { className: "tags" }, d.scopes.map((x) => el("span", { className: "chip", text: x })))
        : "none (public data only)"
    );
  }
  if (d.rate_limit && typeof d.rate_limit === "object") row("Rate limit", rateLimit(d.rate_limit));
  if (d.token_expires_at) row("Credentials expire", expiry(d.token_expires_at));
  if (typeof d.retry_after_secs === "number") row("Retry after", duration(d.retry_after_secs));
  if (typeof d.http_status === "number") row("HTTP status", String(d.http_status));
  if (d.extra && typeof d.extra === "object") {
    for (const [k, v] of Object.entries(d.extra)) row(humanize(k), typeof v === "string" ? v : JSON.stringify(v));
  }
  if (dl.firstChild) wrap.append(dl);
  if (Array.isArray(d.checks) && d.checks.length) {
    wrap.append(
      el("h4", { text: "Sub-checks" }),
      el(
        "ul",
        { className: "subchecks" },
        d.checks.map((c) =>
          el(
            "li",
            {},
            statusBadge(c.status),
            " ",
            el("strong", { text: humanize(c.name || "") }),
            c.failure ? el("span", { className: "muted", text: " (" + failureText(c.failure) + ")" }) : null,
            c.message ? el("div", {}, richText(c.message)) : null
          )
        )
      )
    );
  }
  return wrap.firstChild ? wrap : null;
}

// "4,990 of 5,000 requests left (99.8 %) · core — resets in 42 minutes".
export function rateLimit(r) {
  const wrap = el("div", { className: "headroom" });
  if (typeof r.remaining === "number" && typeof r.limit === "number" && r.limit > 0) {
    const pct = Math.round((1000 * r.remaining) / r.limit) / 10;
    wrap.append(
      el("meter", {
        min: 0,
        max: r.limit,
        value: r.remaining,
        low: r.limit * 0.2,
        high: r.limit * 0.5,
        optimum: r.limit,
        "aria-hidden": "true",
      }),
      " " + number(r.remaining) + " of " + number(r.limit) + " requests left (" + number(pct) + "\u00a0%)"
    );
  } else if (typeof r.remaining === "number") {
    wrap.append(number(r.remaining) + " requests left");
  } else if (typeof r.limit === "number") {
    wrap.append("limit " + number(r.limit) + " requests");
  }
  if (r.resource) wrap.append(el("span", { className: "muted", text: " · " + r.resource }));
  if (r.reset_at) wrap.append(el("div", { className: "muted" }, "Resets " + relative(r.reset_at) + " (" + absolute(r.reset_at) + ")"));
  return wrap;
}

// "31 Jan 2027 (in 57 days)", marked when it is soon or past.
export function expiry(at) {
  const days = daysFromNow(at);
  const text = days < 0 ? "expired " + relative(at) : days === 0 ? "today" : "in " + days + (days === 1 ? " day" : " days");
  const soon = days < EXPIRY_WARN_DAYS;
  return el("span", { className: soon ? "warn" : "" }, day(at) + " (" + text + ")" + (soon ? " — renew them soon" : ""));
}
