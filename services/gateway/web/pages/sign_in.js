// Sign-in with the API's own tokens (POST /api/v1/auth/token), and the placeholder page of the
// roles whose pages are still to come.
import * as api from "../api.js";
import { t } from "../i18n.js";
import { currentPath, go, home, route } from "../router.js";
import * as session from "../session.js";
import { field, form, h, onSubmit } from "../ui.js";

function signInPage() {
  const note = currentPath().split("?")[1];
  const signInForm = form({ "aria-labelledby": "sign-in-title" },
    field({ name: "username", label: t("sign_in.username"), autocomplete: "username",
      autocapitalize: "none", spellcheck: "false" }),
    field({ name: "password", label: t("sign_in.password"), type: "password",
      autocomplete: "current-password" }),
    h("button", { type: "submit", class: "primary" }, t("sign_in.submit")));
  onSubmit(signInForm, async (data) => {
    session.begin(await api.signIn(data.get("username"), data.get("password")));
    go(home());
  });
  const notice = { expired: "sign_in.expired", "signed-out": "sign_in.signed_out" }[note];
  return h("section", { class: "card", "data-title": t("sign_in.title") },
    h("h1", { id: "sign-in-title" }, t("sign_in.title")),
    notice ? h("p", { class: "muted", role: "status" }, t(notice)) : null,
    signInForm,
    h("p", {}, h("a", { href: "#/verify" }, t("sign_in.verify_link"))));
}

route("sign-in", signInPage, { public: true });
route("soon", () => h("section", { class: "card" }, h("p", {}, t("role.soon"))));
