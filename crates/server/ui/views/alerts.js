// opsdeck web UI — alerts (`#/alerts`): what fires now and recently, the alert rules, the
// notification channels (with "Send test"), silences and budgets (with spent, forecast and the
// date the budget is reached). Lists for everyone; create, edit and delete for admins. Entries
// from the server's config file are read-only here, like provisioned services.
//
// It also adds an "Alerts" block to each service page (the service's alert states and recent
// alert history) through the service view's `registerSection`.

import { api, isAdmin, isQuiet, describeError, featureOn, enc } from "../api.js";
import { el, clear, focus, busy, confirmDialog } from "../dom.js";
import { timeEl } from "../format.js";
import { textField, checkField, setFieldError, clearFieldError } from "../forms.js";
import { noticeArea, notify } from "../notices.js";
import { registerSection } from "./service.js";

const CONDITIONS = {
  status: { label: "Status (failed)", fields: [["include_unknown", "bool", "Count unknown results as bad too"]] },
  latency: { label: "Latency above", fields: [["above_ms", "number", "Threshold in ms"]] },
  credential_expiry: { label: "Credentials expire within", fields: [["within_days", "number", "Days"]] },
  rate_limit: { label: "Rate-limit headroom below", fields: [["below_percent", "number", "Percent of the limit"]] },
  metric: {
    label: "Metric compared with a value",
    fields: [
      ["metric", "text", "Metric name, e.g. github_open_issues"],
      ["op", "text", "> or <"],
      ["value", "number", "Threshold"],
    ],
  },
  credential_expiry_forecast: { label: "Forecast: credentials expire within", fields: [["within_days", "number", "Days"]] },
  rate_limit_forecast: { label: "Forecast: quota runs out before its reset", fields: [["window", "text", "Readings used, e.g. 1h"]] },
  latency_trend: {
    label: "Forecast: p95 latency trending up",
    fields: [
      ["percent", "number", "Rise in percent, last 7 days over the 7 before"],
      ["min_checks", "number", "Connected checks needed in each window (default 20)"],
    ],
  },
};

const CHANNEL_KINDS = {
  webhook: [
    ["url", "secret", "Receiver URL (an https address); stored encrypted"],
    ["secret", "secret", "Signing secret, at least 16 characters; stored encrypted"],
  ],
  slack: [["webhook_url", "secret", "Slack incoming-webhook URL; stored encrypted"]],
  email: [
    ["smtp_url", "text", "smtp://host:587 (STARTTLS) or smtps://host:465"],
    ["username", "text", "SMTP user (optional)"],
    ["password", "secret", "SMTP password (optional); stored encrypted"],
    ["from", "text", "Sender address"],
    ["to", "list", "Recipients, comma-separated"],
  ],
};

function list(text) {
  return String(text || "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function readOnlyBadge(item) {
  return item.provisioned ? el("span", { className: "tag", title: "Defined in the server's config file: change it there.", text: "from config file" }) : null;
}

// A small form built from field specs [[key, type, help]]: returns {element, read(), fill(obj), fields}.
function specForm(specs) {
  const fields = {};
  const element = el("div", { className: "schema-form" });
  for (const [key, type, help, dflt] of specs) {
    if (type === "bool") {
      const f = checkField(key, help, !!dflt);
      fields[key] = { type, f };
      element.append(f.wrap);
    } else {
      const f = textField(key, help, { autocomplete: "off", type: type === "secret" ? "password" : "text", name: key });
      fields[key] = { type, f };
      element.append(f.wrap);
    }
  }
  return {
    element,
    fields,
    read() {
      const out = {};
      for (const [key, { type, f }] of Object.entries(fields)) {
        if (type === "bool") {
          out[key] = f.input.checked;
          continue;
        }
        const v = f.input.value.trim();
        if (v === "") continue;
        if (type === "number") out[key] = Number(v);
        else if (type === "list") out[key] = list(v);
        else if (type === "numbers") out[key] = list(v).map(Number);
        else out[key] = v;
      }
      return out;
    },
    fill(obj) {
      for (const [key, { type, f }] of Object.entries(fields)) {
        const v = obj ? obj[key] : undefined;
        if (type === "bool") {
          if (v !== undefined) f.input.checked = !!v;
        }
        else if (type === "secret") {
          f.input.value = "";
          f.input.placeholder = v && v.set ? "set — leave empty to keep" : "";
        } else if (Array.isArray(v)) f.input.value = v.join(", ");
        else f.input.value = v === undefined || v === null ? "" : String(v);
      }
    },
    errors(details) {
      let first = null;
      for (const d of details || []) {
        const slot = fields[d.field];
        if (slot) {
          setFieldError(slot.f.input, slot.f.err, d.message);
          first = first || slot.f.input;
        }
      }
      return first;
    },
    clearErrors() {
      for (const { f } of Object.values(fields)) if (f.err) clearFieldError(f.input, f.err);
    },
  };
}

export function mount(root, route, ctx) {
  ctx.title("Alerts");
  const area = noticeArea();
  const admin = isAdmin();
  root.append(el("h2", { id: "alerts-title", tabindex: "-1", text: "Alerts" }), area);
  if (!featureOn("alerts") && !featureOn("cost_alerts")) {
    root.append(el("p", { id: "alerts-off", text: "Alerts are turned off on this server ([features] alerts = false)." }));
    return;
  }
  root.append(
    el(
      "p",
      { className: "help" },
      "A rule watches every check result of the services it names and notifies its channels when the condition holds for failure_threshold results in a row, and again when it has cleared for success_threshold. Silences keep quiet without losing the record; budgets warn on month-to-date and forecast spend."
    )
  );
  const sections = {};
  for (const [id, title] of [
    ["recent", "Recent alerts"],
    ["rules", "Rules"],
    ["channels", "Channels"],
    ["silences", "Silences"],
    ["budgets", "Budgets"],
  ]) {
    if (id === "budgets" && !featureOn("cost_alerts")) continue;
    if (id !== "budgets" && id !== "channels" && !featureOn("alerts")) continue;
    const body = el("div", {}, el("p", { className: "muted", text: "Loading…" }));
    const section = el("section", { id: "alerts-" + id, className: "panel", "aria-labelledby": id + "-title" }, el("h3", { id: id + "-title", text: title }), body);
    sections[id] = body;
    root.append(section);
  }

  const load = async (path) => (await api("GET", path, undefined, { signal: ctx.signal })).body || [];
  const fail = (what, e) => {
    if (!isQuiet(e)) notify(area, what + ": " + describeError(e), "error");
  };

  // ----- recent -----
  async function renderRecent() {
    if (!sections.recent) return;
    let rows;
    try {
      rows = await load("/api/v1/alerts/history?limit=50");
    } catch (e) {
      fail("Could not read the alert history", e);
      return;
    }
    clear(sections.recent);
    sections.recent.append(historyTable(rows, "alert-history"));
  }

  // ----- generic definitions (rules, silences, budgets) -----
  function definitionSection(kind, path, specsFor, describe) {
    const body = sections[kind];
    if (!body) return () => {};
    let editing = null;
    const formArea = el("div");
    async function render() {
      let items;
      try {
        items = await load(path);
      } catch (e) {
        fail("Could not read the " + kind, e);
        return;
      }
      clear(body);
      if (items.length === 0) body.append(el("p", { className: "muted", text: "None yet." }));
      else {
        const tbody = el("tbody");
        for (const it of items) {
          const actions = el("td", { className: "actions-col" });
          if (admin && !it.provisioned) {
            const edit = el("button", { type: "button", className: "small secondary", "aria-label": "Edit " + it.name, text: "Edit" });
            edit.addEventListener("click", () => openForm(it));
            const del = el("button", { type: "button", className: "small danger", "aria-label": "Delete " + it.name, text: "Delete" });
            del.addEventListener("click", () => remove(it, del));
            actions.append(edit, " ", del);
          }
          tbody.append(
            el("tr", {}, el("th", { scope: "row", "data-label": "Name" }, it.name, " ", readOnlyBadge(it) || ""), el("td", { "data-label": "What" }, ...describe(it)), actions)
          );
        }
        body.append(
          el(
            "div",
            { className: "table-wrap" },
            el("table", { id: kind + "-table" }, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "What" }), el("th", { scope: "col" }, el("span", { className: "visually-hidden", text: "Actions" })))), tbody)
          )
        );
      }
      if (admin) {
        const add = el("button", { type: "button", id: kind + "-add", text: "New " + kind.replace(/s$/, "") });
        add.addEventListener("click", () => openForm(null));
        body.append(el("div", { className: "actions" }, add), formArea);
      }
    }
    function openForm(item) {
      editing = item;
      clear(formArea);
      const nameF = textField("name", "Letters, digits, '-', '_' or '.'.", { autocomplete: "off", name: "name" });
      if (item) {
        nameF.input.value = item.name;
        nameF.input.readOnly = true;
      }
      const specs = specsFor(item);
      const dyn = el("div");
      let form = null;
      const rebuild = () => {
        clear(dyn);
        form = specForm(specs.fields());
        if (item) form.fill(item);
        dyn.append(form.element);
      };
      if (specs.selector) {
        specs.selector.addEventListener("change", rebuild);
      }
      rebuild();
      const save = el("button", { type: "submit", id: kind + "-save", text: item ? "Save" : "Create" });
      const cancel = el("button", { type: "button", className: "secondary", text: "Cancel" });
      cancel.addEventListener("click", () => clear(formArea));
      const f = el("form", { id: kind + "-form", novalidate: true, autocomplete: "off" }, nameF.wrap, specs.selectorWrap || "", dyn, el("div", { className: "actions" }, save, cancel));
      formArea.append(f);
      focus(nameF.input);
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        form.clearErrors();
        clearFieldError(nameF.input, nameF.err);
        const payload = Object.assign(specs.extra ? specs.extra() : {}, form.read());
        busy(save, "Saving…", async () => {
          try {
            if (editing) {
              payload.version = editing.version;
              await api("PUT", path + "/" + enc(editing.name), payload, { signal: ctx.signal });
            } else {
              payload.name = nameF.input.value.trim();
              await api("POST", path, payload, { signal: ctx.signal });
            }
            notify(area, "Saved “" + (editing ? editing.name : payload.name) + "”.", "success");
            clear(formArea);
            await render();
          } catch (e) {
            if (isQuiet(e)) return;
            const first = form.errors(e.details);
            const nameErr = (e.details || []).find((d) => d.field === "name");
            if (nameErr) setFieldError(nameF.input, nameF.err, nameErr.message);
            if (first) focus(first);
            notify(area, "Could not save: " + describeError(e), "error");
          }
        });
      });
    }
    async function remove(it, button) {
      const yes = await confirmDialog({ title: "Delete “" + it.name + "”?", body: ["This cannot be undone."], confirmLabel: "Delete " + it.name, danger: true, returnFocus: button });
      if (!yes) return;
      try {
        await api("DELETE", path + "/" + enc(it.name), undefined, { signal: ctx.signal });
        notify(area, "Deleted “" + it.name + "”.", "success");
        await render();
      } catch (e) {
        fail("Could not delete", e);
      }
    }
    return render;
  }

  const scopeSpecs = [
    ["services", "list", "Service-name globs, comma-separated (* for all)"],
    ["tags", "list", "Tags (optional)"],
    ["providers", "list", "Providers (optional)"],
  ];

  const renderRules = definitionSection(
    "rules",
    "/api/v1/alerts",
    (item) => {
      const id = "condition-select";
      const select = el("select", { id, name: "condition" });
      for (const [k, c] of Object.entries(CONDITIONS)) select.append(el("option", { value: k, text: c.label }));
      if (item && item.condition) select.value = item.condition;
      return {
        selector: select,
        selectorWrap: el("div", { className: "field" }, el("label", { for: id, text: "condition" }), select),
        fields: () =>
          CONDITIONS[select.value].fields.concat(scopeSpecs, [
            ["failure_threshold", "number", "Bad results in a row that fire (default 3 for status/latency, else 1)"],
            ["success_threshold", "number", "Good results in a row that resolve"],
            ["remind_every", "text", "Repeat while firing, e.g. 4h (optional)"],
            ["send_resolved", "bool", "Notify when it resolves", true],
            ["channels", "list", "Channel names, comma-separated"],
          ]),
        extra: () => ({ condition: select.value, channels: [] }),
      };
    },
    (it) => [CONDITIONS[it.condition] ? CONDITIONS[it.condition].label : it.condition, " · ", (it.services || it.tags || it.providers || []).join(", "), " → ", (it.channels || []).join(", ") || "no channel"]
  );

  const renderSilences = definitionSection(
    "silences",
    "/api/v1/silences",
    () => ({
      fields: () =>
        scopeSpecs.concat([
          ["from", "text", "Start, RFC 3339 UTC (optional)"],
          ["until", "text", "End, RFC 3339 UTC, e.g. 2026-12-24T06:00:00Z"],
          ["reason", "text", "Why"],
        ]),
    }),
    (it) => [(it.services || it.tags || it.providers || []).join(", "), " · until ", it.until || "(weekly)", " · ", it.reason || ""]
  );

  const renderBudgets = definitionSection(
    "budgets",
    "/api/v1/budgets",
    () => ({
      fields: () =>
        [["category", "text", "A category, e.g. ai (or use services/tags/providers)"]].concat(scopeSpecs, [
          ["monthly_limit", "number", "Limit per UTC month"],
          ["currency", "text", "e.g. USD"],
          ["thresholds", "numbers", "Percent of actual spend, e.g. 50, 80, 100"],
          ["forecast_thresholds", "numbers", "Percent of the month-end forecast, e.g. 100"],
          ["channels", "list", "Channel names"],
        ]),
      extra: () => ({}),
    }),
    (it) => budgetSummary(it)
  );

  // ----- channels -----
  const channelForm = el("div");
  async function renderChannels() {
    const body = sections.channels;
    if (!body) return;
    let items;
    try {
      items = await load("/api/v1/channels");
    } catch (e) {
      fail("Could not read the channels", e);
      return;
    }
    clear(body);
    if (items.length === 0) body.append(el("p", { className: "muted", text: "No channel yet: add a webhook, Slack or email channel, then name it in a rule." }));
    else {
      const tbody = el("tbody");
      for (const c of items) {
        const actions = el("td", { className: "actions-col" });
        const result = el("span", { className: "muted", role: "status" });
        if (admin) {
          const test = el("button", { type: "button", className: "small", "aria-label": "Send a test notification to " + c.name, "data-channel": c.name, text: "Send test" });
          test.addEventListener("click", () =>
            busy(test, "Sending…", async () => {
              try {
                const r = (await api("POST", "/api/v1/channels/" + enc(c.name) + "/test", undefined, { signal: ctx.signal })).body;
                result.textContent = (r.ok ? "Sent. " : "Failed: ") + r.message;
                result.className = r.ok ? "ok-text" : "error-text";
              } catch (e) {
                fail("Could not send the test", e);
              }
            })
          );
          actions.append(test);
          if (!c.provisioned) {
            const edit = el("button", { type: "button", className: "small secondary", "aria-label": "Edit " + c.name, text: "Edit" });
            edit.addEventListener("click", () => openChannel(c));
            const del = el("button", { type: "button", className: "small danger", "aria-label": "Delete " + c.name, text: "Delete" });
            del.addEventListener("click", async () => {
              const yes = await confirmDialog({ title: "Delete “" + c.name + "”?", body: ["Rules that name it stop notifying it."], confirmLabel: "Delete " + c.name, danger: true, returnFocus: del });
              if (!yes) return;
              try {
                await api("DELETE", "/api/v1/channels/" + enc(c.name), undefined, { signal: ctx.signal });
                await renderChannels();
              } catch (e) {
                fail("Could not delete", e);
              }
            });
            actions.append(" ", edit, " ", del);
          }
        }
        tbody.append(
          el(
            "tr",
            {},
            el("th", { scope: "row", "data-label": "Name" }, c.name, " ", readOnlyBadge(c) || ""),
            el("td", { "data-label": "Kind", text: c.kind }),
            el("td", { "data-label": "Destination", text: c.destination }),
            el("td", { "data-label": "Test" }, result),
            actions
          )
        );
      }
      body.append(
        el(
          "div",
          { className: "table-wrap" },
          el(
            "table",
            { id: "channels-table" },
            el("thead", {}, el("tr", {}, ...["Name", "Kind", "Destination", "Test"].map((t) => el("th", { scope: "col", text: t })), el("th", { scope: "col" }, el("span", { className: "visually-hidden", text: "Actions" })))),
            tbody
          )
        )
      );
    }
    if (admin) {
      const add = el("button", { type: "button", id: "channels-add", text: "New channel" });
      add.addEventListener("click", () => openChannel(null));
      body.append(el("div", { className: "actions" }, add), channelForm);
    }
  }

  function openChannel(item) {
    clear(channelForm);
    const nameF = textField("name", "Letters, digits, '-', '_' or '.'.", { autocomplete: "off", name: "name" });
    const kindSel = el("select", { id: "channel-kind", name: "kind" });
    for (const k of Object.keys(CHANNEL_KINDS)) kindSel.append(el("option", { value: k, text: k }));
    if (item) {
      nameF.input.value = item.name;
      nameF.input.readOnly = true;
      kindSel.value = item.kind;
    }
    const dyn = el("div");
    let form = null;
    const rebuild = () => {
      clear(dyn);
      form = specForm(CHANNEL_KINDS[kindSel.value]);
      if (item && item.kind === kindSel.value) form.fill(item.config);
      dyn.append(form.element);
    };
    kindSel.addEventListener("change", rebuild);
    rebuild();
    const save = el("button", { type: "submit", id: "channel-save", text: item ? "Save" : "Create" });
    const cancel = el("button", { type: "button", className: "secondary", text: "Cancel" });
    cancel.addEventListener("click", () => clear(channelForm));
    const f = el("form", { id: "channel-form", novalidate: true, autocomplete: "off" }, nameF.wrap, el("div", { className: "field" }, el("label", { for: "channel-kind", text: "kind" }), kindSel), dyn, el("div", { className: "actions" }, save, cancel));
    channelForm.append(f);
    focus(nameF.input);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      form.clearErrors();
      const payload = Object.assign({ kind: kindSel.value }, form.read());
      busy(save, "Saving…", async () => {
        try {
          if (item) {
            payload.version = item.version;
            await api("PATCH", "/api/v1/channels/" + enc(item.name), payload, { signal: ctx.signal });
          } else {
            payload.name = nameF.input.value.trim();
            await api("POST", "/api/v1/channels", payload, { signal: ctx.signal });
          }
          notify(area, "Saved channel “" + (item ? item.name : payload.name) + "”.", "success");
          clear(channelForm);
          await renderChannels();
        } catch (e) {
          if (isQuiet(e)) return;
          const first = form.errors(e.details);
          if (first) focus(first);
          notify(area, "Could not save the channel: " + describeError(e), "error");
        }
      });
    });
  }

  renderRecent();
  renderRules();
  renderChannels();
  renderSilences();
  renderBudgets();
}

function budgetSummary(it) {
  const s = it.status;
  const parts = [(it.category ? "category " + it.category : (it.services || it.tags || it.providers || []).join(", ")) + " · limit " + it.monthly_limit + " " + it.currency];
  if (s) {
    parts.push(el("br"), "Spent " + s.spent + " " + s.currency + " in " + s.month);
    const noForecast = Array.isArray(s.counted) && s.counted.length === 0 ? "none (no service's cost is counted yet)" : "not yet (first two days of the month)";
    parts.push(" · forecast " + (s.forecast === null || s.forecast === undefined ? noForecast : s.forecast + " " + s.currency));
    parts.push(" · reached " + (s.reach_date || "not this month at the current rate"));
    if (Array.isArray(s.not_counted) && s.not_counted.length > 0) {
      parts.push(el("br"), el("span", { className: "warn", text: "Not counted: " + s.not_counted.map((n) => n.service + " (" + n.reason + ")").join("; ") }));
    }
  }
  return parts;
}

function historyTable(rows, id) {
  if (rows.length === 0) return el("p", { className: "muted", text: "Nothing has fired." });
  const tbody = el("tbody");
  for (const h of rows) {
    const what = h.event === "alert.firing" ? "Firing" : h.event === "alert.resolved" ? "Resolved" : h.event === "alert.reminder" ? "Still firing" : h.event === "budget.threshold" ? "Budget" : h.event;
    tbody.append(
      el(
        "tr",
        {},
        el("td", { "data-label": "When" }, timeEl(h.at)),
        el("td", { "data-label": "Event" }, el("span", { className: "tag", text: what })),
        el("td", { "data-label": "Alert", text: h.alert + (h.service ? " · " + h.service : "") }),
        el("td", { "data-label": "Message", text: h.message }),
        el("td", { "data-label": "Sent", text: h.notified ? "sent" : "not sent" + (h.suppressed ? " (" + h.suppressed + ")" : "") })
      )
    );
  }
  return el(
    "div",
    { className: "table-wrap" },
    el("table", { id }, el("thead", {}, el("tr", {}, ...["When", "Event", "Alert", "Message", "Notified"].map((t) => el("th", { scope: "col", text: t })))), tbody)
  );
}

// The service page's "Alerts" block: the rules firing for it, and its recent alert history.
registerSection(({ name, signal }) => {
  if (!featureOn("alerts")) return null;
  const box = el("div", { id: "service-alerts" }, el("h4", { id: "service-alerts-title", text: "Alerts" }), el("p", { className: "muted", text: "Loading…" }));
  (async () => {
    try {
      const states = (await api("GET", "/api/v1/alerts/states?service=" + enc(name), undefined, { signal })).body || [];
      const hist = (await api("GET", "/api/v1/alerts/history?service=" + enc(name) + "&limit=10", undefined, { signal })).body || [];
      clear(box);
      box.append(el("h4", { id: "service-alerts-title", text: "Alerts" }));
      const firing = states.filter((s) => s.firing);
      box.append(
        el("p", { id: "service-alert-state", text: firing.length === 0 ? "No alert is firing for this service." : "Firing: " + firing.map((s) => s.alert + (s.message ? " — " + s.message : "")).join("; ") })
      );
      box.append(historyTable(hist, "service-alert-history"));
    } catch (e) {
      if (isQuiet(e)) return;
      clear(box);
      box.append(el("h4", { text: "Alerts" }), el("p", { className: "error-text", text: "Could not read the alerts: " + describeError(e) }));
    }
  })();
  return box;
});
