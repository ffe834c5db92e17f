// opsdeck web UI — hash routes, so every screen has a URL that can be bookmarked, shared and
// reloaded without any server-side routing:
//   #/                      dashboard (filters as query: ?q=&status=&provider=&category=&tag=&sort=&dir=)
//   #/services/NAME         service page
//   #/services/NAME/edit    edit form
//   #/new                   add-service wizard
//   #/tokens                API tokens (admins)
//   #/incidents             incidents (open first)
//   #/incidents/ID          one incident with its timeline
//   #/alerts                alerts: recent, rules, channels, silences, budgets

export function current() {
  return parse(location.hash);
}

export function parse(hash) {
  const raw = String(hash || "").replace(/^#/, "");
  const [pathPart, queryPart] = raw.split("?", 2);
  const segments = (pathPart || "/")
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch (_) {
        return s;
      }
    });
  const query = new URLSearchParams(queryPart || "");
  if (segments.length === 0) return { name: "dashboard", params: {}, query };
  if (segments[0] === "services" && segments.length === 2) return { name: "service", params: { name: segments[1] }, query };
  if (segments[0] === "services" && segments.length === 3 && segments[2] === "edit") {
    return { name: "edit", params: { name: segments[1] }, query };
  }
  if (segments[0] === "new" && segments.length === 1) return { name: "wizard", params: {}, query };
  if (segments[0] === "tokens" && segments.length === 1) return { name: "tokens", params: {}, query };
  if (segments[0] === "incidents" && segments.length === 1) return { name: "incidents", params: {}, query };
  if (segments[0] === "incidents" && segments.length === 2) return { name: "incidents", params: { id: segments[1] }, query };
  if (segments[0] === "alerts" && segments.length === 1) return { name: "alerts", params: {}, query };
  return { name: "notfound", params: {}, query };
}

// Hrefs for the routes.
export const href = {
  dashboard: (query) => "#/" + queryString(query),
  service: (name) => "#/services/" + encodeURIComponent(name),
  edit: (name) => "#/services/" + encodeURIComponent(name) + "/edit",
  wizard: () => "#/new",
  tokens: () => "#/tokens",
  incidents: (query) => "#/incidents" + queryString(query),
  incident: (id) => "#/incidents/" + encodeURIComponent(id),
  alerts: () => "#/alerts",
};

function queryString(query) {
  if (!query) return "";
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

// Goes to a route (a new history entry; the hashchange listener renders it).
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

// Updates the URL of the current screen (e.g. the dashboard's filters) without a new history
// entry and without re-rendering.
export function replace(hash) {
  history.replaceState(history.state, "", hash);
}
