// opsdeck web UI — the entry module: the header (navigation, role, sign out), the router that
// mounts one view at a time, and sign-in / sign-out.
//
// A view module exports `mount(root, route, ctx)`: it renders into `root` (its heading first, so
// focus can move there), loads what it needs with `ctx.signal` (aborted when the user leaves) and
// may return a cleanup function (timers).

import { token, clearToken, setUnauthorizedHandler, loadSession, session, isAdmin, featureOn, describeError } from "./api.js";
import * as router from "./router.js";
import { $, el, clear, focus } from "./dom.js";
import { noticeArea, notify } from "./notices.js";
import * as login from "./views/login.js";
import * as dashboard from "./views/dashboard.js";
import * as service from "./views/service.js";
import * as wizard from "./views/wizard.js";
import * as edit from "./views/edit.js";
import * as tokens from "./views/tokens.js";
import * as incidents from "./views/incidents.js";
import * as alerts from "./views/alerts.js";

const VIEWS = { dashboard, service, wizard, edit, tokens, incidents, alerts, notfound: { mount: notFound } };
const NAV = { dashboard: "nav-dashboard", incidents: "nav-incidents", wizard: "nav-add", tokens: "nav-tokens", alerts: "nav-alerts" };

let active = null;
let moveFocus = false;

function teardown() {
  if (!active) return;
  active.controller.abort();
  if (typeof active.cleanup === "function") active.cleanup();
  active = null;
}

function updateNav(routeName) {
  $("nav").hidden = false;
  for (const li of document.querySelectorAll("#nav [data-admin]")) li.hidden = !isAdmin();
  for (const li of document.querySelectorAll("#nav [data-feature]")) li.hidden = !featureOn(li.getAttribute("data-feature"));
  $("nav-alerts").parentElement.hidden = !featureOn("alerts") && !featureOn("cost_alerts");
  for (const [name, id] of Object.entries(NAV)) {
    if (name === routeName) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  const role = $("role");
  role.textContent = isAdmin() ? "Admin" : "Read-only";
  role.className = "role role-" + (isAdmin() ? "admin" : "read");
  role.title = isAdmin()
    ? "Signed in with an admin token: you can change services and tokens."
    : "Signed in with a read-only token: you can look, not change or test.";
}

function render() {
  teardown();
  const main = $("main");
  clear(main);
  if (!token()) {
    showLogin();
    return;
  }
  if (!session.role) {
    boot();
    return;
  }
  const route = router.current();
  updateNav(route.name);
  const controller = new AbortController();
  const root = el("div", { className: "view view-" + route.name });
  main.append(root);
  const view = VIEWS[route.name] || VIEWS.notfound;
  const ctx = {
    signal: controller.signal,
    title(text) {
      document.title = text ? text + " · opsdeck" : "opsdeck";
    },
  };
  ctx.title("");
  const cleanup = view.mount(root, route, ctx);
  active = { controller, cleanup };
  if (moveFocus) {
    moveFocus = false;
    focus(root.querySelector("h2"));
  }
}

function showLogin(message) {
  teardown();
  $("nav").hidden = true;
  const main = $("main");
  clear(main);
  const root = el("div", { className: "view view-login" });
  main.append(root);
  document.title = "Sign in · opsdeck";
  login.mount(root, message, () => {
    moveFocus = true;
    render();
  });
}

// Asks the server for the token's role, then renders the route.
async function boot() {
  const main = $("main");
  clear(main);
  main.append(el("p", { className: "muted", text: "Loading…" }));
  try {
    await loadSession();
    render();
  } catch (e) {
    if (!token()) return; // refused: the unauthorized handler showed the sign-in form
    clear(main);
    const area = noticeArea();
    const retry = el("button", { type: "button", text: "Try again" });
    retry.addEventListener("click", () => boot());
    main.append(el("div", { className: "view" }, el("h2", { text: "opsdeck" }), area, retry));
    notify(area, "Could not reach opsdeckd: " + describeError(e), "error");
  }
}

function signOut(message) {
  clearToken();
  showLogin(message);
}

function notFound(root, route, ctx) {
  ctx.title("Not found");
  root.append(
    el("h2", { tabindex: "-1", text: "Page not found" }),
    el("p", {}, "There is no page at this address. ", el("a", { href: router.href.dashboard(), text: "Go to the dashboard" }), ".")
  );
}

function init() {
  setUnauthorizedHandler((message) => {
    if (token()) signOut(message);
  });
  $("sign-out").addEventListener("click", () => signOut());
  // The skip link would otherwise change the hash (our routes live there).
  document.querySelector(".skip-link").addEventListener("click", (ev) => {
    ev.preventDefault();
    focus($("main").querySelector("h2") || $("main"));
  });
  window.addEventListener("hashchange", () => {
    // Only "#/…" hashes are routes.
    if (location.hash && !location.hash.startsWith("#/")) return;
    moveFocus = true;
    render();
  });
  if (token()) boot();
  else showLogin();
}

init();
