// opsdeck web UI — incidents: the list (`#/incidents`, open and acknowledged first, then
// resolved ones) and one incident (`#/incidents/ID`): its title, cause, state, services, what
// the vendor's status page says, and the timeline, with Acknowledge / Resolve / Add note for
// admin tokens. Also `incidentPanel`, the open incident and MTTA / MTTR shown on a service page.

import { api, isAdmin, isQuiet, describeError, enc, servicePath, featureOn } from "../api.js";
import { el, clear, focus, busy } from "../dom.js";
import { absolute, timeEl, failureText } from "../format.js";
import { noticeArea, notify } from "../notices.js";
import * as router from "../router.js";

const STATES = {
  open: { text: "Open", mark: "●", className: "status-failed" },
  acknowledged: { text: "Acknowledged", mark: "◐", className: "status-unknown" },
  resolved: { text: "Resolved", mark: "✓", className: "status-connected" },
};

const CAUSES = {
  vendor_outage: "Vendor outage",
  credentials: "Credentials",
  network: "Network",
  rate_limit: "Rate limit",
  unknown: "Unknown",
};

const KINDS = {
  opened: "Opened",
  service_failed: "Service failed",
  service_recovered: "Service recovered",
  cause: "Cause",
  vendor_status: "Vendor status",
  deployment: "Deployment",
  notification: "Notification",
  acknowledged: "Acknowledged",
  note: "Note",
  resolved: "Resolved",
};

// The state in words with a mark, readable without colour.
export function stateBadge(state) {
  const s = STATES[state] || { text: String(state), mark: "?", className: "status-unknown" };
  return el("span", { className: "status " + s.className }, el("span", { className: "mark", "aria-hidden": "true", text: s.mark + " " }), s.text);
}

function causeText(cause) {
  return CAUSES[cause] || String(cause);
}

function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  const m = Math.round(s / 60);
  if (m < 120) return m + " min";
  return (m / 60).toFixed(1) + " h";
}

export function mount(root, route, ctx) {
  if (!featureOn("incidents")) {
    ctx.title("Incidents");
    root.append(el("h2", { tabindex: "-1", text: "Incidents" }), el("p", { text: "Incidents are turned off on this server ([features] incidents = false)." }));
    return;
  }
  if (route.params.id) return mountOne(root, route.params.id, ctx);
  return mountList(root, route, ctx);
}

function mountList(root, route, ctx) {
  ctx.title("Incidents");
  const area = noticeArea();
  const list = el("div", { id: "incident-list" }, el("p", { className: "muted", text: "Loading…" }));
  const chosen = STATES[route.query.get("state")] ? route.query.get("state") : "";
  const filters = el(
    "p",
    { className: "filters", id: "incident-filters" },
    [["", "All"], ["open", "Open"], ["acknowledged", "Acknowledged"], ["resolved", "Resolved"]].map(([value, label], i) => [
      i ? " · " : "",
      el("a", { href: router.href.incidents(value ? { state: value } : undefined), "aria-current": value === chosen ? "page" : undefined, text: label }),
    ])
  );
  root.append(
    el("h2", { id: "incidents-title", tabindex: "-1", text: "Incidents" }),
    el(
      "p",
      { className: "help" },
      "Failures that belong together — same provider or host, within minutes — form one incident, with what the evidence points to: the vendor, the credentials, the network or a rate limit."
    ),
    filters,
    area,
    list
  );

  async function load() {
    try {
      const q = "/api/v1/incidents?limit=200" + (chosen ? "&state=" + enc(chosen) : "");
      const r = await api("GET", q, undefined, { signal: ctx.signal });
      render(Array.isArray(r.body) ? r.body : []);
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not load the incidents: " + describeError(e), "error");
    }
  }

  function render(items) {
    clear(list);
    if (items.length === 0) {
      list.append(
        el("p", { id: "no-incidents", text: chosen ? "No " + STATES[chosen].text.toLowerCase() + " incidents." : "No incidents. opsdeck opens one when a service fails its checks several times in a row." })
      );
      return;
    }
    const tbody = el("tbody");
    for (const inc of items) {
      tbody.append(
        el(
          "tr",
          { "data-incident": String(inc.id) },
          el("th", { scope: "row", "data-label": "Incident" }, el("a", { href: router.href.incident(inc.id), text: "#" + inc.id + " " + inc.title })),
          el("td", { "data-label": "State" }, stateBadge(inc.state)),
          el("td", { "data-label": "Cause", text: causeText(inc.cause) }),
          el("td", { "data-label": "Services", text: (inc.services || []).map((s) => s.service).join(", ") }),
          el("td", { "data-label": "Opened" }, el("span", { title: absolute(inc.opened_at) }, timeEl(inc.opened_at)))
        )
      );
    }
    list.append(
      el(
        "div",
        { className: "table-wrap" },
        el(
          "table",
          { className: "list" },
          el("thead", {}, el("tr", {}, ["Incident", "State", "Cause", "Services", "Opened"].map((h) => el("th", { scope: "col", text: h })))),
          tbody
        )
      )
    );
  }

  load();
  const timer = setInterval(() => {
    if (!document.hidden) load();
  }, 30000);
  return () => clearInterval(timer);
}

function vendorBlock(v) {
  if (!v) return null;
  const box = el("div", { id: "vendor-status", className: "vendor-status" });
  box.append(el("p", {}, el("strong", { text: "Vendor status: " }), v.description || ""));
  const incidents = Array.isArray(v.incidents) ? v.incidents : [];
  if (incidents.length) {
    const ul = el("ul");
    for (const i of incidents) {
      const li = el("li", {}, i.name + " (" + i.status + ")");
      if (i.shortlink && /^https?:\/\//.test(i.shortlink)) li.append(" — ", el("a", { href: i.shortlink, rel: "noopener noreferrer", target: "_blank", text: i.shortlink }));
      ul.append(li);
    }
    box.append(ul);
  }
  const comps = Array.isArray(v.components) ? v.components : [];
  if (comps.length) {
    box.append(el("p", { className: "small", text: comps.slice(0, 5).map((c) => c.name + ": " + String(c.status).replace(/_/g, " ")).join(" · ") }));
  }
  return box;
}

function mountOne(root, id, ctx) {
  ctx.title("Incident #" + id);
  const admin = isAdmin();
  const area = noticeArea();
  const title = el("h2", { id: "incident-title", tabindex: "-1", text: "Incident #" + id });
  const body = el("div", {}, el("p", { className: "muted", text: "Loading…" }));
  root.append(el("p", { className: "crumbs" }, el("a", { href: router.href.incidents(), text: "← All incidents" })), title, area, body);

  async function load() {
    try {
      const r = await api("GET", "/api/v1/incidents/" + enc(id), undefined, { signal: ctx.signal });
      render(r.body);
    } catch (e) {
      if (isQuiet(e)) return;
      clear(body);
      notify(area, "Could not load incident #" + id + ": " + describeError(e), "error");
    }
  }

  async function act(button, label, path, payload, done) {
    await busy(button, label, async () => {
      try {
        const r = await api("POST", "/api/v1/incidents/" + enc(id) + path, payload || {}, { signal: ctx.signal });
        render(r.body);
        notify(area, done, "success");
      } catch (e) {
        if (!isQuiet(e)) notify(area, describeError(e), "error");
      }
    });
  }

  function render(inc) {
    clear(body);
    title.textContent = "#" + inc.id + " " + inc.title;
    ctx.title("Incident #" + inc.id);
    const dl = el("dl", { className: "report" });
    const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
    row("State", stateBadge(inc.state));
    row("Cause", el("span", { id: "incident-cause", text: causeText(inc.cause) }));
    row("Opened", el("span", {}, absolute(inc.opened_at), " (", timeEl(inc.opened_at), ")"));
    if (inc.acknowledged_at) row("Acknowledged", absolute(inc.acknowledged_at));
    if (inc.resolved_at) row("Resolved", absolute(inc.resolved_at));
    const summary = el("section", { className: "panel", "aria-labelledby": "summary-title" }, el("h3", { id: "summary-title", text: "Summary" }), dl);
    const vendor = vendorBlock(inc.vendor_status);
    if (vendor) summary.append(vendor);

    const services = el("ul", { id: "incident-services" });
    for (const s of inc.services || []) {
      services.append(
        el(
          "li",
          {},
          el("a", { href: router.href.service(s.service), text: s.service }),
          " (" + s.provider_name + ") — ",
          s.recovered_at ? "recovered " + absolute(s.recovered_at) : failureText(s.failure) || "failing"
        )
      );
    }
    const servicesBox = el("section", { className: "panel", "aria-labelledby": "services-title" }, el("h3", { id: "services-title", text: "Services" }), services);

    const timeline = el("ol", { id: "incident-timeline", className: "timeline" });
    for (const e of inc.timeline || []) {
      const label = KINDS[e.kind] || e.kind;
      // Some entries say what they are already ("Opened: …", "Cause: …").
      const text = String(e.text || "");
      const said = text.toLowerCase().startsWith(label.toLowerCase() + ":");
      timeline.append(
        el(
          "li",
          { "data-kind": e.kind },
          el("span", { className: "muted small", text: absolute(e.at) + " · " }),
          said ? el("strong", { text: text.slice(0, label.length + 1) + " " }) : el("strong", { text: label + ": " }),
          said ? text.slice(label.length + 1).trim() : text
        )
      );
    }
    const timelineBox = el("section", { className: "panel", "aria-labelledby": "timeline-title" }, el("h3", { id: "timeline-title", text: "Timeline" }), timeline);

    body.append(summary, servicesBox);
    if (admin) {
      const actions = el("div", { className: "actions", id: "incident-actions" });
      if (inc.state === "open") {
        const ack = el("button", { type: "button", id: "incident-ack", text: "Acknowledge" });
        ack.addEventListener("click", () => act(ack, "Acknowledging…", "/ack", undefined, "Acknowledged: the timeline says so."));
        actions.append(ack);
      }
      if (inc.state !== "resolved") {
        const res = el("button", { type: "button", id: "incident-resolve", className: "secondary", text: "Resolve" });
        res.addEventListener("click", () => act(res, "Resolving…", "/resolve", undefined, "Resolved."));
        actions.append(res);
      }
      const noteInput = el("textarea", { id: "incident-note", rows: "2", maxlength: "4000", "aria-label": "Note" });
      const noteBtn = el("button", { type: "submit", id: "incident-note-add", className: "secondary", text: "Add note" });
      const form = el("form", { id: "note-form", novalidate: true }, el("label", { for: "incident-note", text: "Note for the timeline" }), noteInput, el("div", { className: "actions" }, noteBtn));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const text = noteInput.value.trim();
        if (!text) {
          notify(area, "Write the note first.", "error");
          focus(noteInput);
          return;
        }
        act(noteBtn, "Adding…", "/notes", { text }, "Note added to the timeline.");
      });
      body.append(el("section", { className: "panel", "aria-label": "Actions" }, actions, form));
    }
    body.append(timelineBox);
  }

  load();
}

// The service page's incident block: the open incident (a banner linking to it), MTTA / MTTR
// over 30 days, and what the vendor said when the latest check failed. Null when incidents are
// off.
export function incidentPanel(name, signal) {
  if (!featureOn("incidents")) return null;
  const box = el("section", { id: "service-incidents", className: "panel", "aria-labelledby": "service-incidents-title" });
  box.append(el("h3", { id: "service-incidents-title", text: "Incidents" }), el("p", { className: "muted", text: "Loading…" }));
  api("GET", servicePath(name, "/incidents"), undefined, { signal })
    .then((r) => {
      const v = r.body || {};
      clear(box);
      box.append(el("h3", { id: "service-incidents-title", text: "Incidents" }));
      if (v.open_incident) {
        box.append(
          el(
            "div",
            { id: "open-incident", className: "notice error", role: "status" },
            el("p", {}, el("strong", { text: "Open incident: " }), el("a", { href: router.href.incident(v.open_incident.id), text: "#" + v.open_incident.id + " " + v.open_incident.title }))
          )
        );
      }
      const vendor = vendorBlock(v.vendor_status);
      if (vendor) box.append(vendor);
      box.append(
        el(
          "p",
          { className: "small" },
          "Last " + v.window_days + " days: " + v.incidents + " incident" + (v.incidents === 1 ? "" : "s") + " · MTTA " + duration(v.mtta_ms) + " · MTTR " + duration(v.mttr_ms)
        )
      );
    })
    .catch((e) => {
      if (isQuiet(e)) return;
      clear(box);
      box.append(el("h3", { id: "service-incidents-title", text: "Incidents" }), el("p", { className: "error-text", text: "Could not load the incidents: " + describeError(e) }));
    });
  return box;
}
