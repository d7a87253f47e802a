// A small router on the URL's #fragment ("#/verify/ABCD"): the gateway serves one page at /,
// and a reload or a shared link opens the same screen.
//
//   route("verify/:code", render, { public: true })   anyone
//   route("home", render, { roles: ["volunteer"] })   signed in with one of these roles
//   homeFor("volunteer", "home")                      where a role lands after sign-in
//
// render(params) returns an element (or a promise of one) and may set the page's title.
import * as session from "./session.js";

const routes = [];
const homes = {};

export function route(pattern, render, { roles = null, public: isPublic = false } = {}) {
  const names = [];
  const regex = new RegExp("^" + pattern.replace(/:(\w+)/g, (_, name) => {
    names.push(name);
    return "([^/]+)";
  }) + "$");
  routes.push({ pattern, regex, names, render, roles, isPublic });
}

export function homeFor(role, path) {
  homes[role] = path;
}

export function home() {
  const signedIn = session.current();
  if (!signedIn) return "sign-in";
  return homes[signedIn.role] || "soon";
}

export function go(path) {
  const hash = `#/${path}`;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

export function currentPath() {
  return location.hash.replace(/^#\/?/, "");
}

// The route for the current URL and its parameters, or a redirect (sign-in, the role's home).
export function resolve() {
  const path = currentPath().split("?")[0];
  if (!path) return { redirect: home() };
  for (const r of routes) {
    const match = r.regex.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(r.names.map((name, i) => [name, decodeURIComponent(match[i + 1])]));
    if (r.isPublic) return { route: r, params };
    const signedIn = session.current();
    if (!signedIn) return { redirect: "sign-in" };
    if (r.roles && !r.roles.includes(signedIn.role)) return { redirect: home() };
    return { route: r, params };
  }
  return { redirect: home() };
}
