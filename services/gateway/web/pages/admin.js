// The admin's pages (a desk): communities (the list, create, open by number), a community's
// points scheme (the versions as a table, and a form for the next version that shows what 90
// minutes of each category would earn under it on a weekday and on a rest day), its centers
// with their staff logins, and its merchants with their logins; a login can be disabled.
import * as api from "../api.js";
import { addWords, CATEGORIES, date, errorSentence, t } from "../i18n.js";
import { go, homeFor, route } from "../router.js";
import { field, form, h, onSubmit, showError } from "../ui.js";

const PREVIEW_MINUTES = 90; // ui.md: the form shows what 90 minutes would earn
const PAGE_SIZE = 50;

addWords({
  zh: {
    "admin.communities": "社区",
    "admin.community.new": "新建社区",
    "admin.community.name": "社区名称",
    "admin.community.code": "社区代码",
    "admin.community.create": "创建社区",
    "admin.community.open": "打开社区",
    "admin.community.id": "社区编号",
    "admin.community.list": "全部社区",
    "admin.community.created_on": "创建于 {date}",
    "admin.more": "加载更多",
    "admin.center.list": "本社区的服务中心",
    "admin.center.staff": "工作人员账号",
    "admin.merchants": "爱心商家",
    "admin.merchant.list": "本社区的商家",
    "admin.merchant.name": "商家名称",
    "admin.merchant.address": "地址（可选）",
    "admin.merchant.create": "新建商家",
    "admin.merchant.created": "已创建商家 {name}",
    "admin.merchant.logins": "商家账号",
    "admin.login.username": "用户名",
    "admin.login.password": "初始密码（至少 8 位）",
    "admin.login.center": "所属服务中心",
    "admin.login.merchant": "所属商家",
    "admin.login.new_staff": "新建工作人员账号",
    "admin.login.new_merchant": "新建商家账号",
    "admin.login.create": "创建账号",
    "admin.login.created": "已创建账号 {username}",
    "admin.login.active": "正常",
    "admin.login.disabled": "已停用",
    "admin.login.disable": "停用 {username}",
    "admin.login.disabled_now": "账号 {username} 已停用，不能再登录",
    "admin.login.none_yet": "先新建一个服务中心",
    "admin.login.no_merchant_yet": "先新建一个商家",
    "role.center_staff": "工作人员",
    "role.merchant": "商家",
    "role.admin": "管理员",
    "error.username_taken": "该用户名已被使用，请换一个",
    "error.code_taken": "该社区代码已被使用，请换一个",
    "error.cannot_disable_self": "不能停用自己的账号",
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
    "admin.community.list": "All communities",
    "admin.community.created_on": "created {date}",
    "admin.more": "Show more",
    "admin.center.list": "This community's centers",
    "admin.center.staff": "Staff logins",
    "admin.merchants": "Merchants",
    "admin.merchant.list": "This community's merchants",
    "admin.merchant.name": "Merchant name",
    "admin.merchant.address": "Address (optional)",
    "admin.merchant.create": "Add a merchant",
    "admin.merchant.created": "Merchant {name} added",
    "admin.merchant.logins": "Merchant logins",
    "admin.login.username": "Username",
    "admin.login.password": "First password (8 characters or more)",
    "admin.login.center": "Center",
    "admin.login.merchant": "Merchant",
    "admin.login.new_staff": "New staff login",
    "admin.login.new_merchant": "New merchant login",
    "admin.login.create": "Create the login",
    "admin.login.created": "Login {username} created",
    "admin.login.active": "active",
    "admin.login.disabled": "disabled",
    "admin.login.disable": "Disable {username}",
    "admin.login.disabled_now": "Login {username} is disabled: it can no longer sign in",
    "admin.login.none_yet": "Create a center first",
    "admin.login.no_merchant_yet": "Add a merchant first",
    "role.center_staff": "staff",
    "role.merchant": "merchant",
    "role.admin": "administrator",
    "error.username_taken": "This username is taken; choose another",
    "error.code_taken": "This community code is taken; choose another",
    "error.cannot_disable_self": "You cannot disable your own login",
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

// --- lists from the API ----------------------------------------------------------------------

function page(titleKey, ...children) {
  return h("section", { class: "admin-page", "data-title": t(titleKey) }, ...children);
}

// A list the API pages: the first page now, a button for each next one.
async function pagedList(path, item, attrs = {}) {
  const list = h("ul", { class: "list", ...attrs });
  const more = h("button", { type: "button", hidden: true }, t("admin.more"));
  const empty = h("p", { class: "muted", hidden: true }, t("common.none"));
  let cursor = null;
  const load = async () => {
    const sep = path.includes("?") ? "&" : "?";
    const answer = await api.get(`${path}${sep}limit=${PAGE_SIZE}${cursor ? `&cursor=${cursor}` : ""}`);
    list.append(...await Promise.all(answer.items.map(item)));
    cursor = answer.next_cursor;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  };
  more.addEventListener("click", load);
  await load();
  return h("div", {}, list, empty, more);
}

// Every item of a list (a community's centers or merchants for a form's choice).
async function everything(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const answer = await api.get(`${path}${sep}limit=200${cursor ? `&cursor=${cursor}` : ""}`);
    items.push(...answer.items);
    cursor = answer.next_cursor;
  } while (cursor);
  return items;
}

// A refusal that concerns one field (a taken username or code) reads as its sentence next to
// that field too, not only under the form.
function sentenceAt(formEl, fieldName) {
  return (error) => {
    showError(formEl, error);
    const slot = formEl.querySelector(`[data-field-error="${fieldName}"]`);
    if (error.status === 409 && slot) {
      slot.textContent = errorSentence(error);
      formEl.querySelector(`[name="${fieldName}"]`)?.setAttribute("aria-invalid", "true");
      formEl.querySelector("[data-form-error]").textContent = ""; // said once, where it belongs
    }
  };
}

// onSubmit whose API refusals go through ``shown`` (e.g. sentenceAt).
function onSubmitShowing(formEl, shown, action) {
  onSubmit(formEl, async (data) => {
    try {
      await action(data);
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      shown(error);
    }
  });
}

function communitiesPage() {
  const createForm = form({ "aria-labelledby": "new-community" },
    field({ name: "name", label: t("admin.community.name") }),
    field({ name: "code", label: t("admin.community.code"), autocapitalize: "none", spellcheck: "false" }),
    h("button", { type: "submit", class: "primary" }, t("admin.community.create")));
  onSubmitShowing(createForm, sentenceAt(createForm, "code"), async (data) => {
    const community = await api.post("/communities", { name: data.get("name"), code: data.get("code") });
    go(`community/${api.pathPart(community.id)}`);
  });
  const openForm = form({ "aria-labelledby": "open-community" },
    field({ name: "id", label: t("admin.community.id"), autocapitalize: "none", spellcheck: "false" }),
    h("button", { type: "submit" }, t("admin.community.open")));
  onSubmit(openForm, async (data) => {
    const id = data.get("id").trim();
    await api.get(`/communities/${api.pathPart(id)}`); // refuses an unknown community
    go(`community/${api.pathPart(id)}`);
  });
  return pagedList("/communities", (c) => h("li", { "data-community": c.id },
    h("span", { class: "what" }, h("a", { href: `#/community/${api.pathPart(c.id)}` }, c.name),
      " ", h("span", { class: "muted" }, c.code)),
    h("span", { class: "muted" }, t("admin.community.created_on", { date: date(c.created_at) }))),
  { "data-communities": "" }).then((list) => page("admin.communities",
    h("h1", {}, t("admin.communities")),
    h("div", { class: "card" }, h("h2", { id: "new-community" }, t("admin.community.new")), createForm),
    h("div", { class: "card" }, h("h2", {}, t("admin.community.list")), list),
    h("div", { class: "card" }, h("h2", { id: "open-community" }, t("admin.community.open")), openForm)));
}

// --- a community's header and its pages --------------------------------------------------------

async function communityHeader(id, current) {
  const community = await api.get(`/communities/${api.pathPart(id)}`);
  const part = api.pathPart(id);
  const tabs = [["admin.scheme", `#/community/${part}`], ["admin.centers", `#/centers/${part}`],
    ["admin.merchants", `#/merchants/${part}`]];
  return [
    h("p", {}, h("a", { href: "#/communities" }, `← ${t("admin.communities")}`)),
    h("h1", {}, community.name, " ", h("span", { class: "muted" }, community.code)),
    h("p", { class: "muted" }, t("admin.community.id"), " ", h("code", {}, id)),
    h("nav", { class: "admin-tabs", "aria-label": community.name }, tabs.map(([key, href]) =>
      h("a", { href, class: "button", "aria-current": key === current ? "page" : null }, t(key)))),
  ];
}

function statusNote() {
  return h("p", { role: "status" });
}

function say(status, message) {
  status.className = "notice-ok";
  status.textContent = message;
}

// A choice of the community's centers or merchants, labelled, with its own error line.
function choice(name, label, items) {
  const id = `f-${name}-choice`;
  return h("div", { class: "field" }, h("label", { for: id }, label),
    h("select", { id, name, "aria-describedby": `${id}-error` },
      items.map((item) => h("option", { value: item.id }, item.name))),
    h("p", { class: "field-error", id: `${id}-error`, "data-field-error": name }));
}

// A login in a list: who, role, active or disabled, and a button to disable it.
function loginItem(user, onDisabled) {
  const state = h("span", { class: "badge", "data-state": user.disabled ? "disabled" : "active" },
    t(user.disabled ? "admin.login.disabled" : "admin.login.active"));
  const button = user.disabled ? null : h("button", { type: "button" },
    t("admin.login.disable", { username: user.username }));
  button?.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api.post(`/users/${api.pathPart(user.username)}/disable`, {});
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      button.disabled = false;
      onDisabled(null, error);
      return;
    }
    onDisabled(user);
  });
  return h("li", { "data-login": user.username },
    h("span", { class: "what" }, user.username, " ", h("span", { class: "muted" }, t(`role.${user.role}`)), state),
    button);
}

// The logins of a center or a merchant, as a list under it.
async function loginsOf(query, onDisabled) {
  return pagedList(`/users?${query}`, (user) => loginItem(user, onDisabled));
}

function loginForm({ headingId, headingKey, ownerField, ownerKey, owners, role, noneKey, onCreated }) {
  const heading = t(headingKey);
  if (!owners.length) {
    return h("div", { class: "card" }, h("h2", { id: headingId }, heading), h("p", { class: "muted" }, t(noneKey)));
  }
  const status = statusNote();
  const formEl = form({ "aria-labelledby": headingId },
    choice(ownerField, t(ownerKey), owners),
    field({ name: "username", label: t("admin.login.username"), autocapitalize: "none", spellcheck: "false",
      autocomplete: "off" }),
    field({ name: "password", label: t("admin.login.password"), type: "password", autocomplete: "new-password" }),
    h("button", { type: "submit", class: "primary" }, t("admin.login.create")));
  onSubmitShowing(formEl, sentenceAt(formEl, "username"), async (data) => {
    status.textContent = "";
    const user = await api.post("/users", { username: data.get("username"), password: data.get("password"),
      role, [ownerField]: data.get(ownerField) });
    await onCreated(t("admin.login.created", { username: user.username }));
  });
  return h("div", { class: "card" }, h("h2", { id: headingId }, heading), formEl, status);
}

// Re-renders the page with a message at its top (after a create or a disable).
function refresher(render, holder) {
  return async (message, error) => {
    const fresh = await render();
    holder.replaceChildren(...fresh.childNodes);
    const note = holder.querySelector("[data-page-status]");
    if (error) {
      note.className = "notice-bad";
      note.textContent = errorSentence(error);
    } else if (message) {
      say(note, message);
    }
  };
}

function ownerCard(owner, details, logins, headingKey) {
  return h("li", { "data-owner": owner.id },
    h("div", { class: "what" }, h("h3", {}, owner.name), details,
      h("h4", {}, t(headingKey)), logins));
}

// A community's centers or merchants, each with its logins, the form for a new one and the
// form for a new login of one of them; the page renders again after each change.
async function ownersPage(id, kind) {
  const holder = page(kind.titleKey);
  const render = async () => {
    const refresh = refresher(render, holder);
    const disabled = (user, error) =>
      refresh(user && t("admin.login.disabled_now", { username: user.username }), error);
    const owners = await everything(kind.listPath(api.pathPart(id)));
    const cards = await Promise.all(owners.map(async (owner) => ownerCard(owner,
      owner.address ? h("p", { class: "muted" }, owner.address) : null,
      await loginsOf(`${kind.ownerField}=${api.pathPart(owner.id)}`, disabled), kind.loginsKey)));
    return h("div", {}, ...await communityHeader(id, kind.titleKey),
      h("p", { "data-page-status": "", role: "status" }),
      h("div", { class: "card" }, h("h2", {}, t(kind.listKey)), cards.length
        ? h("ul", { class: "list owners", [kind.listAttr]: "" }, cards)
        : h("p", { class: "muted" }, t("common.none"))),
      ownerForm(id, kind, refresh),
      loginForm({ ...kind.login, owners, ownerField: kind.ownerField, onCreated: refresh }));
  };
  holder.append(...(await render()).childNodes);
  return holder;
}

const CENTERS = {
  titleKey: "admin.centers", listKey: "admin.center.list", listAttr: "data-centers",
  listPath: (part) => `/communities/${part}/centers`, ownerField: "center_id",
  loginsKey: "admin.center.staff",
  create: { headingId: "new-center", nameKey: "admin.center.name", addressKey: "admin.center.address",
    createKey: "admin.center.create", createdKey: "admin.center.created", path: "/centers" },
  login: { headingId: "new-staff", headingKey: "admin.login.new_staff", ownerKey: "admin.login.center",
    role: "center_staff", noneKey: "admin.login.none_yet" },
};

const MERCHANTS = {
  titleKey: "admin.merchants", listKey: "admin.merchant.list", listAttr: "data-merchants",
  listPath: (part) => `/merchants?community_id=${part}`, ownerField: "merchant_id",
  loginsKey: "admin.merchant.logins",
  create: { headingId: "new-merchant", nameKey: "admin.merchant.name", addressKey: "admin.merchant.address",
    createKey: "admin.merchant.create", createdKey: "admin.merchant.created", path: "/merchants" },
  login: { headingId: "new-merchant-login", headingKey: "admin.login.new_merchant",
    ownerKey: "admin.login.merchant", role: "merchant", noneKey: "admin.login.no_merchant_yet" },
};

// The form for a new center or merchant: a name and an optional address.
function ownerForm(communityId, kind, onCreated) {
  const { headingId, nameKey, addressKey, createKey, createdKey, path } = kind.create;
  const formEl = form({ "aria-labelledby": headingId },
    field({ name: "name", label: t(nameKey) }),
    field({ name: "address", label: t(addressKey) }),
    h("button", { type: "submit", class: "primary" }, t(createKey)));
  onSubmit(formEl, async (data) => {
    const body = { community_id: communityId, name: data.get("name") };
    if (data.get("address").trim()) body.address = data.get("address");
    const created = await api.post(path, body);
    await onCreated(t(createdKey, { name: created.name, id: created.id }));
  });
  return h("div", { class: "card" }, h("h2", { id: headingId }, t(createKey)), formEl);
}

// --- one community: its points scheme ---------------------------------------------------------

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
  const versions = h("div", { class: "card", "aria-live": "polite" },
    h("h2", {}, t("admin.scheme.versions")), versionsTable(scheme));
  const onPublished = async (message) => {
    const now = await api.get(`/communities/${api.pathPart(id)}/scheme`);
    versions.replaceChildren(h("h2", {}, t("admin.scheme.versions")),
      h("p", { class: "notice-ok", role: "status" }, message), versionsTable(now));
  };
  return page("admin.scheme",
    ...await communityHeader(id, "admin.scheme"),
    h("h2", {}, t("admin.scheme")),
    versions,
    schemeForm(id, scheme, onPublished));
}

const ADMIN = { roles: ["admin"] };
route("communities", communitiesPage, ADMIN);
route("community/:id", communityPage, ADMIN);
route("centers/:id", ({ id }) => ownersPage(id, CENTERS), ADMIN);
route("merchants/:id", ({ id }) => ownersPage(id, MERCHANTS), ADMIN);
homeFor("admin", "communities");
