// opsdeck web UI — the API client: the token, the one fetch wrapper, the caller's role and the
// caches every view shares (status document, providers).
//
// Rules kept here (the server's Content-Security-Policy enforces the first):
// - every call is a relative path under /api/v1 on this origin;
// - the token lives in sessionStorage (this tab, until it closes or "Sign out"), never in
//   localStorage or a cookie, and is sent only as `Authorization: Bearer`.

const TOKEN_KEY = "opsdeck.token";

let memoryToken = null;

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch (_) {
    return memoryToken;
  }
}

export function setToken(t) {
  memoryToken = t;
  try {
    sessionStorage.setItem(TOKEN_KEY, t);
  } catch (_) {
    // Storage disabled: the token then lives in memory for this page only.
  }
}

const resetHooks = [];

// Modules that keep data (forms with typed secrets, caches) register how to forget it.
export function onSignOut(fn) {
  resetHooks.push(fn);
}

export function clearToken() {
  memoryToken = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) {
    // nothing stored
  }
  session.role = null;
  statusCache.doc = null;
  statusCache.etag = null;
  providerCache.list = null;
  providerCache.byId.clear();
  for (const fn of resetHooks) fn();
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

let unauthorized = () => {};

// What to do when the server refuses the token (main.js signs out and shows the sign-in form).
export function setUnauthorizedHandler(fn) {
  unauthorized = fn;
}

export const enc = encodeURIComponent;

// `/api/v1/services/<name><tail>`, the name escaped.
export function servicePath(name, tail) {
  return "/api/v1/services/" + enc(name) + (tail || "");
}

// Calls the API on this origin. Returns {status, etag, body}; throws ApiError for an error answer
// (the server's {code, message, details}) or a network failure. `opts.signal` aborts it (a view
// that is left stops waiting; an aborted call throws an ApiError with code "aborted");
// `opts.headers` adds headers; a 401 signs out unless `opts.keepSession`.
export async function api(method, path, body, opts) {
  const o = opts || {};
  const t = token();
  if (!t) {
    unauthorized("Sign in with an API token first.");
    throw new ApiError(401, "unauthorized", "Sign in with an API token first.");
  }
  const headers = Object.assign({ Authorization: "Bearer " + t, Accept: "application/json" }, o.headers || {});
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (o.signal) init.signal = o.signal;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e && e.name === "AbortError") throw new ApiError(0, "aborted", "Cancelled.");
    throw new ApiError(0, "network", "Cannot reach opsdeckd: " + (e && e.message ? e.message : e));
  }
  const etag = resp.headers.get("ETag");
  if (resp.status === 304) return { status: 304, etag, body: null };
  let data = null;
  let text = "";
  try {
    text = await resp.text();
  } catch (e) {
    if (e && e.name === "AbortError") throw new ApiError(0, "aborted", "Cancelled.");
    throw new ApiError(0, "network", "The answer from opsdeckd was cut off.");
  }
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!resp.ok) {
    const code = data && typeof data.code === "string" ? data.code : "http_" + resp.status;
    const message =
      data && typeof data.message === "string"
        ? data.message
        : "The server answered " + resp.status + " " + resp.statusText + ".";
    const err = new ApiError(resp.status, code, message, data && data.details);
    if (resp.status === 401 && !o.keepSession) unauthorized("The token was refused (" + message + "). Sign in again.");
    throw err;
  }
  return { status: resp.status, etag, body: data };
}

// True for errors a view should not report: the user left (aborted) or was signed out (401).
export function isQuiet(e) {
  return e instanceof ApiError && (e.code === "aborted" || e.status === 401);
}

export function describeError(e) {
  if (e instanceof ApiError) {
    let s = e.message;
    if (e.status === 403 && e.code === "forbidden") s = "This token is read-only: an admin token is needed for that.";
    const extra = e.details
      .filter((d) => d && typeof d.message === "string" && !s.includes(d.message))
      .map((d) => (d.field ? d.field + ": " : "") + d.message);
    if (extra.length) s += " — " + extra.join("; ");
    return s;
  }
  return String(e && e.message ? e.message : e);
}

// ---------- the caller ----------

export const session = { role: null };

// Asks the server what the token may do; throws ApiError (401 for a refused token). The sign-in
// form passes `keepSession` so a refused token is its own error message, not a sign-out.
export async function loadSession(opts) {
  const r = await api("GET", "/api/v1/session", undefined, { keepSession: !!(opts && opts.keepSession) });
  const role = r.body && r.body.role === "admin" ? "admin" : "read";
  session.role = role;
  session.features = (r.body && r.body.features) || {};
  return role;
}

// Whether a run-time feature is on (GET /session says; an older server that does not is "on").
export function featureOn(name) {
  return !session.features || session.features[name] !== false;
}

export function isAdmin() {
  return session.role === "admin";
}

// ---------- shared caches ----------

const statusCache = { doc: null, etag: null, at: 0 };

// The status document (`GET /status`), revalidated with If-None-Match so an unchanged view costs
// a 304. `force` skips the validator.
export async function loadStatus(opts) {
  const o = opts || {};
  const headers = {};
  if (statusCache.etag && statusCache.doc && !o.force) headers["If-None-Match"] = statusCache.etag;
  const r = await api("GET", "/api/v1/status", undefined, { headers, signal: o.signal });
  if (r.status !== 304 && r.body) {
    statusCache.doc = r.body;
    statusCache.etag = r.etag;
  }
  statusCache.at = Date.now();
  return statusCache.doc;
}

export function cachedStatus() {
  return statusCache.doc;
}

const providerCache = { list: null, byId: new Map() };

// Every provider (`GET /providers`), fetched once per sign-in.
export async function providers(signal) {
  if (!providerCache.list) {
    const r = await api("GET", "/api/v1/providers", undefined, { signal });
    providerCache.list = Array.isArray(r.body) ? r.body : [];
  }
  return providerCache.list;
}

// One provider with its JSON Schema (`GET /providers/{id}`), fetched once per sign-in.
export async function provider(id, signal) {
  if (!providerCache.byId.has(id)) {
    const r = await api("GET", "/api/v1/providers/" + enc(id), undefined, { signal });
    providerCache.byId.set(id, r.body);
  }
  return providerCache.byId.get(id);
}

// ---------- actions several views share ----------

// Tests a stored service now (the result is stored); returns the report.
export async function testService(name, signal) {
  const r = await api("POST", servicePath(name, "/test"), undefined, { signal });
  return r.body;
}

// Reports seen in this tab, by service: the stored history holds no `details` (scopes, rate
// limit, expiry), so the service page shows those from the last test run here.
const lastReports = new Map();

export function rememberReport(name, report) {
  if (report && typeof report === "object") lastReports.set(name, report);
}

export function lastReport(name) {
  return lastReports.get(name) || null;
}

// A deleted service's report must not show up on a new service of the same name.
export function forgetReport(name) {
  lastReports.delete(name);
}

onSignOut(() => lastReports.clear());
