// opsdeck web UI — the dashboard: every service with its last result, built to stay usable with
// hundreds of services: a search box, filters by status (the summary counts), provider,
// category and tag, sortable columns, all kept in the URL (`#/?status=failed&tag=prod`) so a
// filtered view can be shared. Refreshes every 30 s with If-None-Match (a 304 when unchanged).
//
// Extension point: `addColumn({key, label, cell(svc), sort?(svc)})` adds a column (before the
// actions column), e.g. the uptime column of the monitoring work.

import {
  api,
  isAdmin,
  isQuiet,
  describeError,
  loadStatus,
  cachedStatus,
  providers as loadProviders,
  testService,
  rememberReport,
  loadOpenIncidents,
  openIncidentOf,
} from "../api.js";
import { el, clear, focus, richText } from "../dom.js";
import { statusBadge, statusKey, failureText, latency, timeEl, categoryText, STATUS, CATEGORY_ORDER } from "../format.js";
import { noticeArea, notify, takeFlash } from "../notices.js";
import * as router from "../router.js";
import { uptimeColumn, invalidateStrips } from "./history.js";

const REFRESH_MS = 30000;

// Column definitions. `sort` gives the value a column sorts by; `cell` renders it.
export const columns = [
  {
    key: "name",
    label: "Name",
    sort: (s) => s.service.toLowerCase(),
    cell: (s) => {
      const cell = el(
        "th",
        { scope: "row", className: "name" },
        el("a", { href: router.href.service(s.service), text: s.service })
      );
      if (s.enabled === false) cell.append(" ", el("span", { className: "tag", text: "disabled" }));
      const inc = openIncidentOf(s.service);
      if (inc) {
        cell.append(
          " ",
          el("a", { className: "tag incident-badge", href: router.href.incident(inc.id), title: inc.title, text: "⚠ incident #" + inc.id })
        );
      }
      if (Array.isArray(s.tags) && s.tags.length) {
        cell.append(el("span", { className: "tags" }, s.tags.map((t) => el("span", { className: "chip", text: t }))));
      }
      return cell;
    },
  },
  { key: "provider", label: "Provider", sort: (s, c) => providerName(s.provider, c).toLowerCase(), cell: (s, c) => providerName(s.provider, c) },
  { key: "status", label: "Status", sort: (s) => STATUS[statusKey(s.status)].order, cell: (s) => statusBadge(s.status) },
  {
    key: "failure",
    label: "Failure",
    sort: (s) => s.failure || "",
    cell: (s) => (s.failure ? el("span", { title: s.failure, text: failureText(s.failure) }) : el("span", { className: "muted", text: "—" })),
  },
  {
    key: "message",
    label: "Message",
    className: "message",
    cell: (s) => el("span", { className: "one-line", title: s.message || "" }, richText(s.message || "")),
  },
  { key: "latency", label: "Latency", className: "num", sort: (s) => (typeof s.latency_ms === "number" ? s.latency_ms : -1), cell: (s) => latency(s.latency_ms) },
  { key: "checked", label: "Last checked", sort: (s) => (s.checked_at ? Date.parse(s.checked_at) : 0), cell: (s) => timeEl(s.checked_at) },
];

// Adds a column before the actions column (or at `index`).
export function addColumn(col, index) {
  if (typeof index === "number") columns.splice(index, 0, col);
  else columns.push(col);
}

// Monitoring: a compact 24 h strip and the 30-day uptime (hidden when the feature is off).
addColumn(uptimeColumn);

// Columns shown now (a column may hide itself, e.g. when its feature is off).
function shownColumns() {
  return columns.filter((c) => !c.visible || c.visible());
}

function providerName(id, ctx) {
  const p = ctx && ctx.providers ? ctx.providers.get(id) : null;
  return p ? p.name : id;
}

const SORTS = [
  ["status", "asc", "Status (failed first)"],
  ["name", "asc", "Name (A–Z)"],
  ["name", "desc", "Name (Z–A)"],
  ["provider", "asc", "Provider"],
  ["latency", "desc", "Latency (slowest first)"],
  ["checked", "desc", "Last checked (newest first)"],
  ["checked", "asc", "Last checked (oldest first)"],
];

export function mount(root, route, ctx) {
  ctx.title("Dashboard");
  const q = route.query;
  const state = {
    q: q.get("q") || "",
    status: q.get("status") || "",
    provider: q.get("provider") || "",
    category: q.get("category") || "",
    tag: q.get("tag") || "",
    sort: q.get("sort") || "name",
    dir: q.get("dir") === "desc" ? "desc" : "asc",
    providers: new Map(),
    testing: new Set(),
    fresh: null,
    updated: null,
  };
  const admin = isAdmin();
  const area = noticeArea();

  // ----- header -----
  const summary = el("div", { className: "summary", role: "group", "aria-label": "Show services by status" });
  const refreshBtn = el("button", { type: "button", className: "secondary", text: "Refresh" });
  const actions = el("div", { className: "actions" }, refreshBtn);
  let testAllBtn = null;
  if (admin) {
    testAllBtn = el("button", { type: "button", className: "secondary", text: "Test all" });
    actions.append(testAllBtn, el("a", { className: "button", href: router.href.wizard(), text: "Add service" }));
  }

  // ----- filters -----
  const search = el("input", { type: "search", id: "filter-q", placeholder: "Name, message, identity, tag…", value: state.q, spellcheck: "false" });
  const providerSel = el("select", { id: "filter-provider" });
  const categorySel = el("select", { id: "filter-category" });
  const tagSel = el("select", { id: "filter-tag" });
  const sortSel = el("select", { id: "filter-sort" });
  for (const [key, dir, label] of SORTS) sortSel.append(el("option", { value: key + ":" + dir, text: label }));
  const clearBtn = el("button", { type: "button", className: "secondary", text: "Clear filters" });
  const labelled = (id, label, control) => el("div", { className: "filter" }, el("label", { for: id, text: label }), control);
  const filterForm = el(
    "form",
    { className: "filters", role: "search", "aria-label": "Filter services" },
    labelled("filter-q", "Search", search),
    labelled("filter-provider", "Provider", providerSel),
    labelled("filter-category", "Category", categorySel),
    labelled("filter-tag", "Tag", tagSel),
    labelled("filter-sort", "Sort by", sortSel),
    el("div", { className: "filter filter-clear" }, clearBtn)
  );
  filterForm.addEventListener("submit", (ev) => ev.preventDefault());
  // On a phone the filters fold away (open when a shared URL carries one); on wider screens the
  // summary line is hidden and they are always open.
  const filters = el("details", { className: "filter-box" }, el("summary", { text: "Search and filters" }), filterForm);
  filters.open =
    window.matchMedia("(min-width: 721px)").matches || !!(state.q || state.provider || state.category || state.tag);

  const count = el("p", { className: "muted count", "aria-live": "polite" });
  const thead = el("thead");
  const tbody = el("tbody");
  const table = el(
    "table",
    { id: "services" },
    el("caption", { className: "visually-hidden", text: "Every service with the result of its last check" }),
    thead,
    tbody
  );
  const empty = el("div", { className: "empty", hidden: true });

  root.append(
    el("div", { className: "section-head" }, el("h2", { id: "dashboard-title", tabindex: "-1", text: "Services" }), actions),
    area,
    summary,
    filters,
    count,
    el("div", { className: "table-wrap" }, table),
    empty
  );

  const f = takeFlash();
  if (f) {
    notify(area, f.message, f.kind);
    if (f.extra && f.extra.service) state.fresh = f.extra.service;
  }

  // ----- behaviour -----
  const syncUrl = () => {
    router.replace(
      router.href.dashboard({
        q: state.q,
        status: state.status,
        provider: state.provider,
        category: state.category,
        tag: state.tag,
        sort: state.sort === "name" && state.dir === "asc" ? "" : state.sort,
        dir: state.sort === "name" && state.dir === "asc" ? "" : state.dir,
      })
    );
  };
  const update = () => {
    syncUrl();
    render();
  };
  const onSearch = () => {
    if (state.q === search.value) return;
    state.q = search.value;
    update();
  };
  search.addEventListener("input", onSearch);
  search.addEventListener("change", onSearch);
  providerSel.addEventListener("change", () => {
    state.provider = providerSel.value;
    update();
  });
  categorySel.addEventListener("change", () => {
    state.category = categorySel.value;
    update();
  });
  tagSel.addEventListener("change", () => {
    state.tag = tagSel.value;
    update();
  });
  sortSel.addEventListener("change", () => {
    const [s, d] = sortSel.value.split(":");
    state.sort = s;
    state.dir = d;
    update();
  });
  clearBtn.addEventListener("click", () => {
    Object.assign(state, { q: "", status: "", provider: "", category: "", tag: "" });
    search.value = "";
    update();
    focus(search);
  });
  refreshBtn.addEventListener("click", () => refresh(true));
  if (testAllBtn) testAllBtn.addEventListener("click", () => testAll());

  function services() {
    const doc = cachedStatus();
    return doc && Array.isArray(doc.services) ? doc.services : [];
  }

  function matches(s) {
    if (state.status && statusKey(s.status) !== state.status) return false;
    if (state.provider && s.provider !== state.provider) return false;
    if (state.category) {
      const p = state.providers.get(s.provider);
      if (!p || p.category !== state.category) return false;
    }
    if (state.tag && !(Array.isArray(s.tags) && s.tags.includes(state.tag))) return false;
    if (state.q) {
      const needle = state.q.trim().toLowerCase();
      const hay = [s.service, s.provider, providerName(s.provider, state), s.message, s.identity, s.failure, failureText(s.failure)]
        .concat(Array.isArray(s.tags) ? s.tags : [])
        .filter(Boolean)
        .join("\n")
        .toLowerCase();
      if (!needle.split(/\s+/).every((w) => hay.includes(w))) return false;
    }
    return true;
  }

  function options(select, values, allLabel, current) {
    // Rebuilt only when the choices change, so a refresh does not disturb an open select.
    const key = JSON.stringify([values, current]);
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    clear(select);
    select.append(el("option", { value: "", text: allLabel }));
    for (const [value, label] of values) select.append(el("option", { value, text: label }));
    // A value from a shared URL that no service has is still shown, so the filter is visible.
    if (current && !values.some(([v]) => v === current)) select.append(el("option", { value: current, text: current }));
    select.value = current;
  }

  function renderSummary(all) {
    const counts = { connected: 0, failed: 0, unknown: 0 };
    for (const s of all) counts[statusKey(s.status)] += 1;
    clear(summary);
    const btn = (status, label, n, mark) => {
      const b = el(
        "button",
        {
          type: "button",
          className: "count-button" + (status ? " status-" + status : ""),
          "aria-pressed": state.status === status ? "true" : "false",
          "data-status": status || "all",
        },
        mark ? el("span", { className: "mark", "aria-hidden": "true", text: mark }) : null,
        mark ? " " : null,
        el("span", { className: "n", text: String(n) }),
        " " + label
      );
      b.addEventListener("click", () => {
        state.status = state.status === status ? "" : status;
        update();
        const again = summary.querySelector("[data-status='" + (state.status || "all") + "']");
        if (again) again.focus();
      });
      return b;
    };
    summary.append(
      btn("", "all", all.length, null),
      btn("connected", "connected", counts.connected, STATUS.connected.mark),
      btn("failed", "failed", counts.failed, STATUS.failed.mark),
      btn("unknown", "unknown", counts.unknown, STATUS.unknown.mark)
    );
  }

  function renderHead() {
    clear(thead);
    const tr = el("tr");
    for (const c of shownColumns()) {
      const th = el("th", { scope: "col", className: c.className || "" });
      if (c.sort) {
        const active = state.sort === c.key;
        th.setAttribute("aria-sort", active ? (state.dir === "asc" ? "ascending" : "descending") : "none");
        const b = el(
          "button",
          { type: "button", className: "sort", "data-sort": c.key },
          c.label,
          el("span", { className: "arrow", "aria-hidden": "true", text: active ? (state.dir === "asc" ? " ▲" : " ▼") : "" })
        );
        b.addEventListener("click", () => {
          if (state.sort === c.key) state.dir = state.dir === "asc" ? "desc" : "asc";
          else {
            state.sort = c.key;
            state.dir = c.key === "latency" || c.key === "checked" ? "desc" : "asc";
          }
          update();
          const again = thead.querySelector("[data-sort='" + c.key + "']");
          if (again) again.focus();
        });
        th.append(b);
      } else th.textContent = c.label;
      tr.append(th);
    }
    if (admin) tr.append(el("th", { scope: "col", className: "actions-col" }, el("span", { className: "visually-hidden", text: "Actions" })));
    thead.append(tr);
  }

  function render() {
    const all = services();
    // Filter choices come from what exists, so every option finds something.
    const provIds = [...new Set(all.map((s) => s.provider))].sort();
    options(providerSel, provIds.map((id) => [id, providerName(id, state)]), "All providers", state.provider);
    const cats = new Set();
    for (const id of provIds) {
      const p = state.providers.get(id);
      if (p) cats.add(p.category);
    }
    options(
      categorySel,
      CATEGORY_ORDER.filter((c) => cats.has(c)).map((c) => [c, categoryText(c)]),
      "All categories",
      state.category
    );
    const tags = [...new Set(all.flatMap((s) => (Array.isArray(s.tags) ? s.tags : [])))].sort();
    options(tagSel, tags.map((t) => [t, t]), "All tags", state.tag);
    const sortValue = state.sort + ":" + state.dir;
    if (![...sortSel.options].some((o) => o.value === sortValue)) {
      sortSel.append(el("option", { value: sortValue, text: "Custom" }));
    }
    sortSel.value = sortValue;
    renderSummary(all);
    renderHead();

    const col = columns.find((c) => c.key === state.sort && c.sort) || columns[0];
    const dir = state.dir === "desc" ? -1 : 1;
    const shown = all.filter(matches).sort((a, b) => {
      const x = col.sort(a, state);
      const y = col.sort(b, state);
      if (x < y) return -dir;
      if (x > y) return dir;
      return a.service.localeCompare(b.service);
    });

    const focused = document.activeElement;
    const focusKey = focused && tbody.contains(focused) ? focused.getAttribute("data-focus") : null;
    clear(tbody);
    const frag = document.createDocumentFragment();
    for (const s of shown) frag.append(row(s));
    tbody.append(frag);
    if (focusKey) {
      const again = tbody.querySelector("[data-focus='" + CSS.escape(focusKey) + "']");
      if (again) again.focus();
    }

    const loaded = cachedStatus() !== null;
    table.hidden = shown.length === 0;
    empty.hidden = !loaded || shown.length > 0;
    clear(empty);
    if (loaded && all.length === 0) {
      empty.append(el("p", { text: "No services yet." }));
      if (admin) empty.append(el("p", {}, el("a", { className: "button", href: router.href.wizard(), text: "Add your first service" })));
      else empty.append(el("p", { className: "muted", text: "An admin can add services; this token is read-only." }));
    } else if (loaded && shown.length === 0) {
      const again = el("button", { type: "button", className: "secondary", text: "Clear filters" });
      again.addEventListener("click", () => clearBtn.click());
      empty.append(el("p", { text: "No service matches these filters." }), again);
    }
    const when = state.updated ? " · updated " + state.updated.toLocaleTimeString() + ", refreshes every 30 s" : "";
    count.textContent = loaded
      ? (shown.length === all.length ? all.length + " services" : "Showing " + shown.length + " of " + all.length + " services") + when
      : "Loading…";
  }

  function row(s) {
    const tr = el("tr", { className: "row-" + statusKey(s.status) + (state.fresh === s.service ? " fresh" : ""), "data-service": s.service });
    for (const c of shownColumns()) {
      let cell = c.cell(s, state);
      if (!(cell instanceof HTMLTableCellElement)) cell = el("td", {}, cell);
      if (c.className) cell.classList.add(c.className);
      cell.setAttribute("data-label", c.label);
      tr.append(cell);
    }
    if (admin) {
      const b = el("button", {
        type: "button",
        className: "small secondary",
        "aria-label": "Test " + s.service,
        "data-focus": "test:" + s.service,
        text: state.testing.has(s.service) ? "Testing…" : "Test",
      });
      b.disabled = state.testing.has(s.service);
      b.addEventListener("click", () => testOne(s.service));
      tr.append(el("td", { className: "actions-col" }, b));
    }
    return tr;
  }

  async function refresh(force) {
    // After a test, a save or a click on Refresh the strips are asked for again too.
    if (force) invalidateStrips();
    try {
      await loadStatus({ force, signal: ctx.signal });
      // The open-incident badges; a failure here must not hide the status.
      await loadOpenIncidents(ctx.signal).catch((e) => {
        if (isQuiet(e)) throw e;
      });
      state.updated = new Date();
      render();
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Could not load the status: " + describeError(e), "error");
    }
  }

  async function testOne(name) {
    state.testing.add(name);
    render();
    try {
      const r = await testService(name, ctx.signal);
      rememberReport(name, r);
      const ok = r.status === "connected";
      notify(
        area,
        name + ": " + (ok ? "connected" : failureText(r.failure) || r.status) + (r.message ? " — " + r.message : ""),
        ok ? "success" : "error"
      );
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Test of " + name + " failed: " + describeError(e), "error");
    } finally {
      state.testing.delete(name);
    }
    await refresh(true);
  }

  async function testAll() {
    testAllBtn.disabled = true;
    testAllBtn.textContent = "Testing…";
    try {
      const r = await api("POST", "/api/v1/test-all", undefined, { signal: ctx.signal });
      const reports = Array.isArray(r.body) ? r.body : [];
      for (const rep of reports) rememberReport(rep.service, rep);
      const ok = reports.filter((x) => x.status === "connected").length;
      notify(
        area,
        "Tested " + reports.length + " service(s): " + ok + " connected, " + (reports.length - ok) + " not connected.",
        ok === reports.length ? "success" : "error"
      );
    } catch (e) {
      if (!isQuiet(e)) notify(area, "Test all failed: " + describeError(e), "error");
    } finally {
      testAllBtn.disabled = false;
      testAllBtn.textContent = "Test all";
    }
    await refresh(true);
  }

  // First paint from the cache (instant when coming back from a service page), then fresh data.
  render();
  loadProviders(ctx.signal)
    .then((list) => {
      for (const p of list) state.providers.set(p.id, p);
      render();
    })
    .catch((e) => {
      if (!isQuiet(e)) notify(area, "Could not list providers: " + describeError(e), "error");
    });
  refresh(state.fresh !== null);
  if (state.fresh) {
    const fresh = state.fresh;
    setTimeout(() => {
      const tr = tbody.querySelector("tr.fresh");
      if (tr) tr.scrollIntoView({ block: "nearest" });
      if (state.fresh === fresh) state.fresh = null;
    }, 4000);
  }

  const timer = setInterval(() => {
    if (!document.hidden) refresh(false);
  }, REFRESH_MS);
  const onVisible = () => {
    if (!document.hidden) refresh(false);
  };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
