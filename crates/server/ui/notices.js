// opsdeck web UI — notices. Each view owns its notice area, so a message never follows the user
// to another screen; success notices fade after a few seconds, errors stay until dismissed.

import { el, clear } from "./dom.js";

const FADE_MS = 6000;

// A notice area for a view; put it right under the view's heading.
export function noticeArea() {
  return el("div", { className: "notices" });
}

// kind: "error" (stays, role=alert), "success" (fades, role=status), "info" (stays, role=status).
export function notify(area, message, kind) {
  const k = kind || "error";
  const close = el("button", { type: "button", className: "link dismiss", "aria-label": "Dismiss message", text: "×" });
  const n = el(
    "div",
    { className: "notice " + k, role: k === "error" ? "alert" : "status" },
    el("p", { text: message }),
    close
  );
  close.addEventListener("click", () => n.remove());
  // One message at a time per kind keeps the area short; the newest wins.
  for (const old of area.querySelectorAll(".notice." + k)) old.remove();
  area.append(n);
  if (k === "success") {
    setTimeout(() => n.classList.add("fading"), FADE_MS);
    setTimeout(() => n.remove(), FADE_MS + 800);
  }
  return n;
}

export function clearNotices(area) {
  clear(area);
}

// A notice for the next view (e.g. "Saved gh-main" shown on the dashboard after the wizard).
let pending = null;

export function flash(message, kind, extra) {
  pending = { message, kind: kind || "success", extra: extra || {} };
}

export function takeFlash() {
  const f = pending;
  pending = null;
  return f;
}
