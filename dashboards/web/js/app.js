// The dashboard's shell: login, navigation, hash routing, and the live feed shared by the views.
// Views (js/views/*.js) export render(container, route, ctx) and return {onEvent, destroy}.
import { api, clearToken, LiveFeed, onUnauthenticated, setToken, token } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import * as fmt from "./format.js";
import * as account from "./views/account.js";
import * as bundle from "./views/bundle.js";
import * as flag from "./views/flag.js";
import * as flags from "./views/flags.js";
import * as hardware from "./views/hardware.js";
import * as location from "./views/location.js";
import * as locations from "./views/locations.js";
import * as node from "./views/node.js";
import * as overview from "./views/overview.js";

const ROUTES = [
  [/^\/?$/, overview, "overview"],
  [/^\/flags$/, flags, "flags"],
  [/^\/flag\/([^/]+)$/, flag, "flags"],
  [/^\/bundle\/([^/]+)$/, bundle, "flags"],
  [/^\/account\/([^/]+)$/, account, null],
  [/^\/hardware$/, hardware, "hardware"],
  [/^\/node\/([^/]+)$/, node, "hardware"],
  [/^\/locations$/, locations, "locations"],
  [/^\/location\/([^/]+)$/, location, "locations"],
];

const main = document.getElementById("main");
const state = { principal: null, view: null, feed: null, helloSeen: false };

function setLive(s) {
  const el = document.getElementById("live-state");
  el.className = `live live-${s}`;
  el.textContent = { live: "live", connecting: "connecting…", down: "reconnecting…" }[s] || s;
}

function onEvent(ev) {
  if (ev.type === "hello") {
    if (state.helloSeen && state.view && state.view.onEvent) state.view.onEvent({ type: "resync" });
    state.helloSeen = true;
    return;
  }
  if (state.view && state.view.onEvent) state.view.onEvent(ev);
}

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  return { path, query: new URLSearchParams(qs || "") };
}

async function route() {
  if (!state.principal) return;
  if (state.view && state.view.destroy) state.view.destroy();
  state.view = null;
  clear(main);
  const { path, query } = parseHash();
  for (const [re, mod, nav] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    document.querySelectorAll("[data-nav]").forEach((a) =>
      a.classList.toggle("active", a.dataset.nav === nav));
    const params = m.slice(1).map(decodeURIComponent);
    const ctx = {
      principal: state.principal,
      canAct: fmt.role(state.principal.role) === "analyst" || fmt.role(state.principal.role) === "admin",
      // Rewrites the address bar's query (filters) without re-rendering.
      setQuery(q) {
        const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v)).toString();
        window.history.replaceState(null, "", `#${path}${qs ? `?${qs}` : ""}`);
      },
    };
    try {
      state.view = (await mod.render(main, { params, query }, ctx)) || null;
    } catch (err) {
      clear(main).append(errorBox(err));
    }
    return;
  }
  main.append(h("div", { class: "empty" }, h("p", { class: "empty-title" }, "No such page"),
    h("p", {}, h("a", { href: "#/" }, "Back to the overview"))));
}

function showLogin(message) {
  if (state.feed) state.feed.stop();
  state.feed = null;
  state.principal = null;
  document.getElementById("topbar").hidden = true;
  document.getElementById("footer").hidden = true;
  const input = h("input", { id: "token-input", type: "password", autocomplete: "off",
    placeholder: "prov_…", "aria-label": "Access token", required: true });
  const form = h("form", { class: "login", id: "login-form" },
    h("h1", {}, "Provenance"),
    h("p", { class: "muted" }, "Compliance dashboard. Sign in with an access token."),
    message ? h("p", { class: "error-box", role: "alert", id: "login-error" }, message) : null,
    h("label", { for: "token-input" }, "Access token"), input,
    h("button", { type: "submit", id: "login-button" }, "Sign in"),
    h("p", { class: "hint" }, "On first start provd writes an admin token to ",
      h("code", {}, "<data-dir>/admin.token"), ". Admins issue tokens for others with ",
      h("code", {}, "provctl tokens issue NAME --role viewer|analyst|admin"), "."));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setToken(input.value);
    start();
  });
  clear(main).append(form);
  input.focus();
}

async function start() {
  if (!token()) return showLogin();
  let who;
  try {
    who = await api("/api/whoami");
  } catch (err) {
    clearToken();
    return showLogin(err.status === 401 ? "provd did not accept this token." : err.message);
  }
  state.principal = who;
  state.helloSeen = false;
  document.getElementById("topbar").hidden = false;
  document.getElementById("footer").hidden = false;
  document.getElementById("who").textContent = `${who.actor} · ${fmt.role(who.role)}`;
  state.feed = new LiveFeed(onEvent, setLive);
  state.feed.start();
  route();
}

onUnauthenticated(() => {
  if (!state.principal) return;
  clearToken();
  showLogin("Your session ended: provd no longer accepts the token. Sign in again.");
});

document.getElementById("sign-out").addEventListener("click", () => {
  clearToken();
  showLogin();
});
document.getElementById("account-lookup").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("account-lookup-input");
  const id = input.value.trim();
  if (id) window.location.hash = `#/account/${encodeURIComponent(id)}`;
  input.value = "";
});
window.addEventListener("hashchange", route);
start();
