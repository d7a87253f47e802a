// The web app's start: the header (language switch, sign-out), and each route's page in <main>.
// A role's pages live in pages/<role>.js and register their routes and words on import; a new
// role's pages are one more import below.
import * as api from "./api.js";
import { lang, setLang, t } from "./i18n.js";
import { go, resolve } from "./router.js";
import * as session from "./session.js";
import { errorPanel, h } from "./ui.js";
import "./pages/sign_in.js";
import "./pages/verify.js";
import "./pages/volunteer.js";
import "./pages/volunteer_book.js";
import "./pages/volunteer_give.js";
import "./pages/admin.js";
import "./pages/merchant.js";
import "./pages/center.js";

const main = document.getElementById("app");
const actions = document.getElementById("top-actions");
let rendering = 0;

function renderHeader() {
  document.getElementById("brand-name").textContent = t("app.name");
  const signedIn = session.current();
  actions.replaceChildren(...[
    h("button", {
      type: "button", lang: lang() === "zh" ? "en" : "zh-CN", "aria-label": t("lang.switch.label"),
      "data-action": "switch-language",
      onclick: () => { setLang(lang() === "zh" ? "en" : "zh"); render(); },
    }, t("lang.switch")),
    signedIn && h("button", { type: "button", "data-action": "sign-out", onclick: signOut },
      t("nav.sign_out"))].filter(Boolean));
}

async function signOut() {
  try {
    await api.signOut(); // the token stops working at the API too
  } catch {
    // Signed out here whatever the API said: an expired token is already out.
  }
  session.end();
  // A fresh start: nothing the pages kept in memory (a live code) outlives the session.
  location.assign("#/sign-in?signed-out");
  location.reload();
}

export async function render() {
  const turn = ++rendering;
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  renderHeader();
  const { route, params, redirect } = resolve();
  if (redirect) {
    go(redirect);
    return;
  }
  main.setAttribute("aria-busy", "true");
  let content;
  try {
    content = await route.render(params);
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error;
    content = errorPanel(error, render);
  }
  if (turn !== rendering) return; // a later navigation won
  main.replaceChildren(content);
  main.removeAttribute("aria-busy");
  main.dataset.page = route.pattern.split("/")[0];
  document.title = `${content.dataset.title || ""} · ${t("app.name")}`.replace(/^ · /, "");
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

api.onSessionEnded(() => go("sign-in?expired"));
window.addEventListener("hashchange", render);
render();
