// The admin's pages (a desk): communities (create, open), a community's centers (create) and
// its points scheme: the versions as a table, and a form for the next version that shows what
// 90 minutes of each category would earn under it on a weekday and on a rest day.
//
// The API has no list of communities, so the list is the ones this browser created or opened.
import * as api from "../api.js";
import { addWords, CATEGORIES, date, errorSentence, t } from "../i18n.js";
import { go, homeFor, route } from "../router.js";
import { field, form, h, onSubmit, showError } from "../ui.js";

const PREVIEW_MINUTES = 90; // ui.md: the form shows what 90 minutes would earn
const KNOWN_KEY = "timebank.admin.communities";

addWords({
  zh: {
    "admin.communities": "社区",
    "admin.community.new": "新建社区",
    "admin.community.name": "社区名称",
    "admin.community.code": "社区代码",
    "admin.community.create": "创建社区",
    "admin.community.open": "打开社区",
    "admin.community.id": "社区编号",
    "admin.community.known": "本机创建或打开过的社区",
    "admin.centers": "服务中心",
    "admin.center.name": "服务中心名称",
    "admin.center.address": "地址（可选）",
    "admin.center.create": "新建服务中心",
    "admin.center.created": "已创建服务中心 {name}（编号 {id}）",
    "admin.scheme": "积分规则",
    "admin.scheme.versions": "规则版本",
    "admin.scheme.defaults": "尚未发布版本，按默认规则计分",
    "admin.scheme.version": "版本",
    "admin.scheme.from": "生效日期",
    "admin.scheme.base": "每小时积分",
    "admin.scheme.weekend": "周末及节假日倍数",
    "admin.scheme.cap": "每日计分上限（分钟）",
    "admin.scheme.storage": "积分存储上限（可选）",
    "admin.scheme.min_minutes": "商家兑换所需服务分钟数（可选）",
    "admin.scheme.multipliers": "服务类别倍数",
    "admin.scheme.in_force": "现行",
    "admin.scheme.next": "发布新版本",
    "admin.scheme.publish": "发布",
    "admin.scheme.published": "已发布版本 {version}，{date} 起生效",
    "admin.scheme.preview": "按此版本，服务 90 分钟可得",
    "admin.scheme.weekday": "工作日",
    "admin.scheme.rest_day": "周末/节假日",
    "admin.scheme.category": "服务类别",
    "error.effective_from_in_past": "生效日期不能早于今天，请选择今天或以后的日期",
    "error.version_in_force": "该日期已有生效中的版本，请选择以后的日期",
  },
  en: {
    "admin.communities": "Communities",
    "admin.community.new": "New community",
    "admin.community.name": "Community name",
    "admin.community.code": "Community code",
    "admin.community.create": "Create the community",
    "admin.community.open": "Open a community",
    "admin.community.id": "Community number",
    "admin.community.known": "Communities created or opened here",
    "admin.centers": "Centers",
    "admin.center.name": "Center name",
    "admin.center.address": "Address (optional)",
    "admin.center.create": "Create a center",
    "admin.center.created": "Center {name} created (number {id})",
    "admin.scheme": "Points scheme",
    "admin.scheme.versions": "Versions",
    "admin.scheme.defaults": "No version yet: the default rules apply",
    "admin.scheme.version": "Version",
    "admin.scheme.from": "Effective from",
    "admin.scheme.base": "Points per hour",
    "admin.scheme.weekend": "Weekend and holiday multiplier",
    "admin.scheme.cap": "Daily cap (minutes)",
    "admin.scheme.storage": "Storage cap in points (optional)",
    "admin.scheme.min_minutes": "Service minutes before merchant redemptions (optional)",
    "admin.scheme.multipliers": "Category multipliers",
    "admin.scheme.in_force": "in force",
    "admin.scheme.next": "Publish a new version",
    "admin.scheme.publish": "Publish",
    "admin.scheme.published": "Version {version} published, in force from {date}",
    "admin.scheme.preview": "90 minutes under this version earn",
    "admin.scheme.weekday": "Weekday",
    "admin.scheme.rest_day": "Weekend / holiday",
    "admin.scheme.category": "Category",
    "error.effective_from_in_past": "The effective date cannot be in the past; pick today or later",
    "error.version_in_force": "A version is already in force on that date; pick a later one",
  },
});

// --- communities this browser knows ------------------------------------------------------------

function knownCommunities() {
  try {
    return JSON.parse(localStorage.getItem(KNOWN_KEY)) || [];
  } catch {
    return [];
  }
}

function remember(community) {
  const others = knownCommunities().filter((c) => c.id !== community.id);
  localStorage.setItem(KNOWN_KEY, JSON.stringify([community, ...others]));
}

function page(titleKey, ...children) {
  return h("section", { class: "admin-page", "data-title": t(titleKey) }, ...children);
}

function communitiesPage() {
  const createForm = form({ "aria-labelledby": "new-community" },
    field({ name: "name", label: t("admin.community.name") }),
    field({ name: "code", label: t("admin.community.code"), autocapitalize: "none", spellcheck: "false" }),
    h("button", { type: "submit", class: "primary" }, t("admin.community.create")));
  onSubmit(createForm, async (data) => {
    const community = await api.post("/communities", { name: data.get("name"), code: data.get("code") });
    remember({ id: community.id, name: community.name, code: community.code });
    go(`community/${api.pathPart(community.id)}`);
  });
  const openForm = form({ "aria-labelledby": "open-community" },
    field({ name: "id", label: t("admin.community.id"), autocapitalize: "none", spellcheck: "false" }),
    h("button", { type: "submit" }, t("admin.community.open")));
  onSubmit(openForm, async (data) => {
    const id = data.get("id").trim();
    await api.get(`/communities/${api.pathPart(id)}/scheme`); // refuses an unknown community
    remember({ id, name: id, code: "" });
    go(`community/${api.pathPart(id)}`);
  });
  const known = knownCommunities();
  return page("admin.communities",
    h("h1", {}, t("admin.communities")),
    h("div", { class: "card" }, h("h2", {}, t("admin.community.known")), known.length
      ? h("ul", { class: "list", "data-communities": "" }, known.map((c) => h("li", { "data-community": c.id },
        h("span", { class: "what" }, h("a", { href: `#/community/${api.pathPart(c.id)}` }, c.name),
          " ", h("span", { class: "muted" }, c.code)))))
      : h("p", { class: "muted" }, t("common.none"))),
    h("div", { class: "card" }, h("h2", { id: "new-community" }, t("admin.community.new")), createForm),
    h("div", { class: "card" }, h("h2", { id: "open-community" }, t("admin.community.open")), openForm));
}

// --- one community: its centers and its points scheme ------------------------------------------

function centerForm(communityId) {
  const status = h("p", { role: "status" });
  const centerCreate = form({ "aria-labelledby": "new-center" },
    field({ name: "name", label: t("admin.center.name") }),
    field({ name: "address", label: t("admin.center.address") }),
    h("button", { type: "submit" }, t("admin.center.create")));
  onSubmit(centerCreate, async (data) => {
    status.textContent = "";
    const body = { community_id: communityId, name: data.get("name") };
    if (data.get("address").trim()) body.address = data.get("address");
    const center = await api.post("/centers", body);
    status.className = "notice-ok";
    status.textContent = t("admin.center.created", { name: center.name, id: center.id });
    centerCreate.reset();
  });
  return h("div", { class: "card" }, h("h2", { id: "new-center" }, t("admin.center.create")),
    centerCreate, status);
}

function showDate(localDate) {
  return localDate ? date(`${localDate}T12:00:00+08:00`) : "—";
}

// Versions by effective date, the one taking effect last first.
function newestFirst(versions) {
  return [...versions].sort((a, b) => (a.effective_from < b.effective_from ? 1 : -1));
}

function versionsTable(scheme) {
  if (!scheme.versions.length) return h("p", { class: "muted" }, t("admin.scheme.defaults"));
  const header = ["admin.scheme.version", "admin.scheme.from", "admin.scheme.base",
    "admin.scheme.multipliers", "admin.scheme.weekend", "admin.scheme.cap"];
  return h("div", { class: "versions-wrap" }, h("table", { class: "versions wide", "data-versions": "" },
    h("thead", {}, h("tr", {}, header.map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, newestFirst(scheme.versions).map((v) => h("tr", { "data-version": v.version },
      h("td", {}, v.version, v.version === scheme.current.version
        ? h("span", { class: "badge" }, t("admin.scheme.in_force")) : null),
      h("td", {}, showDate(v.effective_from)),
      h("td", {}, String(v.base_points_per_hour)),
      h("td", {}, CATEGORIES.map((c) => `${t(`cat.${c}`)} ×${v.category_multipliers[c]}`).join("，")),
      h("td", {}, `×${v.weekend_holiday_multiplier}`),
      h("td", {}, String(v.daily_cap_minutes)))))));
}

function tomorrow() {
  const day = new Date(Date.now() + 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(day);
}

// What the form's values send: whole numbers as numbers (the API wants them strict), anything
// else as typed so that the API names what is wrong with it; an empty field is left out (the
// API calls a required one missing). An empty category is sent empty: left out it would
// silently fall back to the default multiplier.
function typed(text) {
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

function schemeBody(data) {
  const body = Object.fromEntries(["effective_from", "base_points_per_hour",
    "weekend_holiday_multiplier", "daily_cap_minutes", "storage_cap_points",
    "min_minutes_for_merchants"].map((name) => [name, typed(data.get(name))]));
  body.effective_from = data.get("effective_from") || undefined; // a date stays a string
  body.category_multipliers = Object.fromEntries(CATEGORIES.map((c) =>
    [c, data.get(`category_multipliers.${c}`).trim()]));
  return body;
}

// The API names a category's error under category_multipliers.<category>.value: flattened to
// the input's own name so that it stands next to that input.
function flatFields(fields) {
  const flat = {};
  for (const [name, messages] of Object.entries(fields || {})) {
    if (Array.isArray(messages)) {
      flat[name] = messages;
      continue;
    }
    for (const [key, nested] of Object.entries(messages)) {
      const list = Array.isArray(nested) ? nested : Object.values(nested).flat();
      flat[CATEGORIES.includes(key) ? `${name}.${key}` : name] = list;
    }
  }
  return flat;
}

// Points for 90 minutes as the points service credits them: floor of the exact product.
function previewPoints(base, multiplier, restDay) {
  const exact = (PREVIEW_MINUTES / 60) * base * multiplier * restDay;
  return exact >= 0 && Number.isFinite(exact) ? Math.floor(exact + 1e-9) : "—"; // NaN too
}

function previewTable(formEl) {
  const body = h("tbody", {});
  const update = () => {
    const data = new FormData(formEl);
    const base = Number(data.get("base_points_per_hour"));
    const weekend = Number(data.get("weekend_holiday_multiplier"));
    body.replaceChildren(...CATEGORIES.map((c) => {
      const multiplier = Number(data.get(`category_multipliers.${c}`));
      return h("tr", { "data-preview": c }, h("th", { scope: "row" }, t(`cat.${c}`)),
        h("td", {}, String(previewPoints(base, multiplier, 1))),
        h("td", {}, String(previewPoints(base, multiplier, weekend))));
    }));
  };
  formEl.addEventListener("input", update);
  update();
  return h("div", { class: "versions-wrap" }, h("table", { class: "versions" },
    h("caption", {}, t("admin.scheme.preview")),
    h("thead", {}, h("tr", {}, ["admin.scheme.category", "admin.scheme.weekday", "admin.scheme.rest_day"]
      .map((key) => h("th", { scope: "col" }, t(key))))), body));
}

function schemeForm(communityId, scheme, onPublished) {
  const start = scheme.versions.length ? newestFirst(scheme.versions)[0] : scheme.current;
  const status = h("p", { role: "status" });
  const numeric = { inputmode: "decimal" };
  const publishForm = form({ "aria-labelledby": "next-version" },
    field({ name: "effective_from", label: t("admin.scheme.from"), type: "date", value: tomorrow() }),
    field({ name: "base_points_per_hour", label: t("admin.scheme.base"), inputmode: "numeric",
      value: start.base_points_per_hour }),
    h("fieldset", {}, h("legend", {}, t("admin.scheme.multipliers")),
      h("p", { class: "field-error", "data-field-error": "category_multipliers" }),
      CATEGORIES.map((c) => field({ name: `category_multipliers.${c}`, label: t(`cat.${c}`),
        value: start.category_multipliers[c], ...numeric }))),
    field({ name: "weekend_holiday_multiplier", label: t("admin.scheme.weekend"),
      value: start.weekend_holiday_multiplier, ...numeric }),
    field({ name: "daily_cap_minutes", label: t("admin.scheme.cap"), inputmode: "numeric",
      value: start.daily_cap_minutes }),
    field({ name: "storage_cap_points", label: t("admin.scheme.storage"), inputmode: "numeric",
      value: start.storage_cap_points ?? "" }),
    field({ name: "min_minutes_for_merchants", label: t("admin.scheme.min_minutes"), inputmode: "numeric",
      value: start.min_minutes_for_merchants ?? "" }),
    h("button", { type: "submit", class: "primary" }, t("admin.scheme.publish")));
  publishForm.insertBefore(previewTable(publishForm), publishForm.querySelector("button[type=submit]"));
  onSubmit(publishForm, async (data) => {
    status.textContent = "";
    let published;
    try {
      published = await api.post(`/communities/${api.pathPart(communityId)}/scheme`, schemeBody(data));
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      error.fields = flatFields(error.fields);
      showError(publishForm, error);
      // A rule the date breaks (422) reads as its sentence next to the date too, not as a typo.
      if (error.status === 422) {
        publishForm.querySelectorAll("[data-field-error]").forEach((slot) => {
          if (slot.textContent) slot.textContent = errorSentence(error);
        });
      }
      return;
    }
    await onPublished(t("admin.scheme.published", {
      version: published.version, date: showDate(published.effective_from) }));
  });
  return h("div", { class: "card" }, h("h2", { id: "next-version" }, t("admin.scheme.next")),
    publishForm, status);
}

async function communityPage({ id }) {
  const scheme = await api.get(`/communities/${api.pathPart(id)}/scheme`);
  const known = knownCommunities().find((c) => c.id === id) || { id, name: id, code: "" };
  const versions = h("div", { class: "card", "aria-live": "polite" },
    h("h2", {}, t("admin.scheme.versions")), versionsTable(scheme));
  const onPublished = async (message) => {
    const now = await api.get(`/communities/${api.pathPart(id)}/scheme`);
    versions.replaceChildren(h("h2", {}, t("admin.scheme.versions")),
      h("p", { class: "notice-ok", role: "status" }, message), versionsTable(now));
  };
  return page("admin.scheme",
    h("p", {}, h("a", { href: "#/communities" }, `← ${t("admin.communities")}`)),
    h("h1", {}, known.name, " ", h("span", { class: "muted" }, known.code)),
    h("p", { class: "muted" }, t("admin.community.id"), " ", h("code", {}, id)),
    h("h2", {}, t("admin.scheme")),
    versions,
    schemeForm(id, scheme, onPublished),
    h("h2", {}, t("admin.centers")),
    centerForm(id));
}

const ADMIN = { roles: ["admin"] };
route("communities", communitiesPage, ADMIN);
route("community/:id", communityPage, ADMIN);
homeFor("admin", "communities");
