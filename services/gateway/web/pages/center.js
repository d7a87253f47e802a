// Center staff's pages (a desk computer, usable at 360 px too): the center's activities and a
// form for a new one; an activity's page with its sign-in code as a QR image for a screen, the
// attendance sheet (volunteers found by name or phone, minutes pre-filled from the activity's
// length) and its hours, approved one by one or all at once.
import * as api from "../api.js";
import { addWords, CATEGORIES, dateTime, errorSentence, hours, t } from "../i18n.js";
import { homeFor, route } from "../router.js";
import * as session from "../session.js";
import { field, form, h, onSubmit } from "../ui.js";

addWords({
  zh: {
    "center.title": "活动",
    "center.new": "发布活动",
    "center.activity_title": "活动名称",
    "center.category": "服务类别",
    "center.starts_at": "开始时间",
    "center.ends_at": "结束时间",
    "center.create": "发布",
    "center.back": "返回活动列表",
    "center.when": "{from} – {to}",
    "center.code": "签到码",
    "center.code_explain": "放在现场屏幕上，志愿者扫码或输入签到码签到、签退。",
    "center.code_alt": "活动签到二维码，签到码 {code}",
    "center.sheet": "服务时长登记",
    "center.find": "找志愿者（姓名或手机号）",
    "center.search": "查找",
    "center.add": "加入",
    "center.remove": "移除 {name}",
    "center.minutes_of": "{name} 的服务时长（分钟）",
    "center.no_match": "没有找到这位志愿者",
    "center.submit_sheet": "提交登记",
    "center.logged": "已登记 {n} 条服务记录，待审核",
    "center.hours": "服务记录",
    "center.approve": "通过",
    "center.reject": "驳回",
    "center.reject_reason": "活动负责人驳回",
    "center.approve_all": "全部通过",
    "center.approved_n": "已通过 {n} 条",
    "status.pending": "待审核",
    "status.approved": "已通过",
    "status.rejected": "已驳回",
    "status.revoked": "已撤销",
    "error.sheet_empty": "请先查找并加入志愿者",
  },
  en: {
    "center.title": "Activities",
    "center.new": "New activity",
    "center.activity_title": "Title",
    "center.category": "Category",
    "center.starts_at": "Starts",
    "center.ends_at": "Ends",
    "center.create": "Publish",
    "center.back": "Back to activities",
    "center.when": "{from} – {to}",
    "center.code": "Sign-in code",
    "center.code_explain": "Put it on a screen on site: volunteers scan it or type the code to check in and out.",
    "center.code_alt": "The activity's sign-in QR code, code {code}",
    "center.sheet": "Attendance sheet",
    "center.find": "Find a volunteer (name or phone)",
    "center.search": "Find",
    "center.add": "Add",
    "center.remove": "Remove {name}",
    "center.minutes_of": "Minutes of service for {name}",
    "center.no_match": "No volunteer found",
    "center.submit_sheet": "Log the sheet",
    "center.logged": "{n} records logged, waiting for approval",
    "center.hours": "Hours records",
    "center.approve": "Approve",
    "center.reject": "Reject",
    "center.reject_reason": "Rejected by the activity's organiser",
    "center.approve_all": "Approve all",
    "center.approved_n": "{n} approved",
    "status.pending": "Pending",
    "status.approved": "Approved",
    "status.rejected": "Rejected",
    "status.revoked": "Revoked",
    "error.sheet_empty": "Find and add volunteers first",
  },
});

const LIST_PAGE = 200; // the API's largest page
const ZONE_OFFSET = "+08:00"; // the community's zone (i18n.js): a desk's local time is read there

// What the staff's token says about them (its center and community), read from its payload.
function claims() {
  const payload = session.current().token.split(".")[1] || "";
  try {
    return JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

function page(title, ...children) {
  return h("section", { "data-title": title }, ...children);
}

function selectField({ name, label, options }) {
  const id = `f-${name}-select`;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, name, "aria-describedby": `${id}-error` },
      options.map(([value, text]) => h("option", { value }, text))),
    h("p", { class: "field-error", id: `${id}-error`, "data-field-error": name }));
}

// A nested field error of the API ({entries: {"0": {minutes: [...]}}}) as flat names
// ("entries.0.minutes") that the sheet's inputs carry.
function flatFields(fields, prefix = "") {
  const flat = {};
  for (const [name, value] of Object.entries(fields || {})) {
    const key = prefix + name;
    if (Array.isArray(value)) flat[key] = value.filter((m) => typeof m === "string");
    else if (value && typeof value === "object") Object.assign(flat, flatFields(value, `${key}.`));
  }
  return flat;
}

async function withFlatErrors(action) {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error;
    throw new api.ApiError(error.status,
      { error: { code: error.code, message: error.message, fields: flatFields(error.fields) } },
      error.retryAfter);
  }
}

function when(activity) {
  return t("center.when", { from: dateTime(activity.starts_at), to: dateTime(activity.ends_at) });
}

// --- the activities ----------------------------------------------------------------------------

function newActivityForm() {
  const activityForm = form({ "aria-labelledby": "new-activity-title" },
    field({ name: "title", label: t("center.activity_title") }),
    selectField({ name: "category", label: t("center.category"),
      options: CATEGORIES.map((c) => [c, t(`cat.${c}`)]) }),
    field({ name: "starts_at", label: t("center.starts_at"), type: "datetime-local" }),
    field({ name: "ends_at", label: t("center.ends_at"), type: "datetime-local" }),
    h("button", { type: "submit", class: "primary" }, t("center.create")));
  const moment = (value) => (value ? `${value.length === 16 ? `${value}:00` : value}${ZONE_OFFSET}` : "");
  onSubmit(activityForm, async (data) => {
    const created = await api.post("/activities", {
      center_id: claims().ctr, title: data.get("title").trim(), category: data.get("category"),
      starts_at: moment(data.get("starts_at")), ends_at: moment(data.get("ends_at")),
    });
    location.hash = `#/activity/${api.pathPart(created.id)}`;
  });
  return h("div", { class: "card" },
    h("h2", { id: "new-activity-title" }, t("center.new")), activityForm);
}

async function activitiesPage() {
  const answer = await api.get(`/activities?center_id=${api.pathPart(claims().ctr)}&limit=${LIST_PAGE}`);
  return page(t("center.title"),
    h("h1", {}, t("center.title")),
    h("div", { class: "card" }, answer.items.length
      ? h("ul", { class: "list", "data-activities": "" }, answer.items.map((activity) =>
        h("li", { "data-activity": activity.id },
          h("span", { class: "what" },
            h("a", { href: `#/activity/${api.pathPart(activity.id)}` }, activity.title), h("br"),
            h("span", { class: "muted" }, `${t(`cat.${activity.category}`)} · ${when(activity)}`)))))
      : h("p", { class: "muted" }, t("common.none"))),
    newActivityForm());
}

// --- one activity ------------------------------------------------------------------------------

async function findActivity(activityId) {
  let cursor = null;
  do {
    const answer = await api.get(`/activities?center_id=${api.pathPart(claims().ctr)}` +
      `&limit=${LIST_PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
    const found = answer.items.find((activity) => activity.id === activityId);
    if (found) return found;
    cursor = answer.next_cursor;
  } while (cursor);
  throw new api.ApiError(404, { error: { code: "not_found" } });
}

async function signInCode(activityId) {
  const code = await api.get(`/activities/${api.pathPart(activityId)}/sign-in-code`);
  const { url } = await api.blobUrl(code.qr_svg_url);
  return h("div", { class: "card code" },
    h("h2", {}, t("center.code")),
    h("p", { class: "muted" }, t("center.code_explain")),
    h("p", { class: "value", "data-sign-in-code": code.code }, code.code),
    h("img", { src: url, alt: t("center.code_alt", { code: code.code }), width: 240, height: 240 }));
}

// A namesake is told apart by the phone's first three and last four digits.
function maskedPhone(volunteer) {
  const phone = volunteer.phone || "";
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : phone;
}

const names = new Map(); // volunteer id -> name, for the records (they carry only the id)

async function nameOf(volunteerId) {
  if (!names.has(volunteerId)) {
    names.set(volunteerId, api.get(`/volunteers/${api.pathPart(volunteerId)}`)
      .then((v) => v.name, () => volunteerId));
  }
  return names.get(volunteerId);
}

function sheetCard(activity, onLogged) {
  const length = Math.round((Date.parse(activity.ends_at) - Date.parse(activity.starts_at)) / 60000);
  const preset = Math.min(Math.max(length, 1), 24 * 60);
  const rows = h("ul", { class: "list sheet", "data-sheet": "" });
  const status = h("p", { role: "status" });
  const found = h("ul", { class: "list", "aria-live": "polite" });

  const addRow = (volunteer) => {
    if (rows.querySelector(`[data-volunteer="${CSS.escape(volunteer.id)}"]`)) return;
    const row = h("li", { "data-volunteer": volunteer.id },
      h("span", { class: "what" }, h("strong", {}, volunteer.name), h("br"),
        h("span", { class: "muted" }, maskedPhone(volunteer))),
      h("span", { class: "sheet-minutes" }));
    const index = rows.children.length;
    const minutes = field({ name: `entries.${index}.minutes`, label: t("center.minutes_of", { name: volunteer.name }),
      type: "number", value: String(preset), min: 1, max: 24 * 60, inputmode: "numeric" });
    row.querySelector(".sheet-minutes").append(minutes,
      h("button", { type: "button", class: "link", "data-action": "remove-row",
        "aria-label": t("center.remove", { name: volunteer.name }),
        onclick: () => { row.remove(); renumber(); } }, "✕"));
    rows.append(row);
  };
  // Each row's minutes input is named after its place in the entries the API answers about.
  const renumber = () => [...rows.children].forEach((row, i) => {
    row.querySelector("input").name = `entries.${i}.minutes`;
    row.querySelector("[data-field-error]").dataset.fieldError = `entries.${i}.minutes`;
  });

  const searchForm = form({ role: "search", class: "search" },
    field({ name: "q", label: t("center.find"), type: "search", autocomplete: "off" }),
    h("button", { type: "submit" }, t("center.search")));
  onSubmit(searchForm, async (data) => {
    const answer = await api.get(`/volunteers?community_id=${api.pathPart(activity.community_id)}` +
      `&q=${encodeURIComponent(data.get("q").trim())}&limit=20`);
    answer.items.forEach((v) => names.set(v.id, Promise.resolve(v.name)));
    found.replaceChildren(...(answer.items.length ? answer.items.map((volunteer) =>
      h("li", { "data-found": volunteer.id },
        h("span", { class: "what" }, volunteer.name, " ", h("span", { class: "muted" }, maskedPhone(volunteer))),
        h("button", { type: "button", "data-action": "add-row",
          "aria-label": `${t("center.add")} ${volunteer.name}`,
          onclick: () => addRow(volunteer) }, t("center.add"))))
      : [h("li", { class: "muted" }, t("center.no_match"))]));
  });

  const sheetForm = form({ "aria-labelledby": "sheet-title" }, rows,
    h("button", { type: "submit", class: "primary", "data-action": "submit-sheet" }, t("center.submit_sheet")));
  onSubmit(sheetForm, async () => {
    status.textContent = "";
    const entries = [...rows.children].map((row) => ({
      volunteer_id: row.dataset.volunteer, minutes: Number(row.querySelector("input").value),
    }));
    if (!entries.length) {
      throw new api.ApiError(422, { error: { code: "sheet_empty", message: "no rows" } });
    }
    const answer = await withFlatErrors(() => api.post(
      `/activities/${api.pathPart(activity.id)}/hours`, { entries }));
    rows.replaceChildren();
    found.replaceChildren();
    status.className = "notice-ok";
    status.textContent = t("center.logged", { n: answer.records.length });
    await onLogged();
  });
  return h("div", { class: "card" },
    h("h2", { id: "sheet-title" }, t("center.sheet")), searchForm, found, sheetForm, status);
}

function decide(record, verb, status, onDone) {
  return async (event) => {
    const button = event.target;
    button.disabled = true;
    try {
      const body = verb === "reject" ? { reason: t("center.reject_reason") } : {};
      await api.post(`/hours/${api.pathPart(record.id)}/${verb}`, body);
      await onDone();
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      status.className = "notice-bad";
      status.textContent = errorSentence(error);
      button.disabled = false;
    }
  };
}

async function recordsCard(activity) {
  const card = h("div", { class: "card", "data-records": "" });
  const status = h("p", { role: "status" });
  const refresh = async () => {
    const items = [];
    let cursor = null;
    do {
      const answer = await api.get(`/activities/${api.pathPart(activity.id)}/hours?limit=${LIST_PAGE}` +
        (cursor ? `&cursor=${cursor}` : ""));
      items.push(...answer.items);
      cursor = answer.next_cursor;
    } while (cursor);
    const who = await Promise.all(items.map((record) => nameOf(record.volunteer_id)));
    const pending = items.filter((record) => record.status === "pending").length;
    const approveAll = h("button", {
      type: "button", class: "primary", "data-action": "approve-all", disabled: !pending,
      onclick: async () => {
        approveAll.disabled = true;
        try {
          const answer = await api.post(`/activities/${api.pathPart(activity.id)}/approve`);
          await refresh();
          status.className = "notice-ok";
          status.textContent = t("center.approved_n", { n: answer.approved });
        } catch (error) {
          if (!(error instanceof api.ApiError)) throw error;
          status.className = "notice-bad";
          status.textContent = errorSentence(error);
          approveAll.disabled = false;
        }
      },
    }, t("center.approve_all"));
    card.replaceChildren(
      h("h2", {}, t("center.hours")),
      items.length ? h("ul", { class: "list" }, items.map((record, i) => h("li", {
        "data-record": record.id, "data-status": record.status },
      h("span", { class: "what" }, h("strong", {}, who[i]), " ",
        h("span", { class: "muted" }, hours(record.minutes))),
      h("span", { class: "record-actions" },
        h("span", { class: `status-${record.status}` }, t(`status.${record.status}`)),
        record.status === "pending" ? [
          h("button", { type: "button", "data-action": "approve",
            "aria-label": `${t("center.approve")} ${who[i]}`,
            onclick: decide(record, "approve", status, refresh) }, t("center.approve")),
          h("button", { type: "button", "data-action": "reject",
            "aria-label": `${t("center.reject")} ${who[i]}`,
            onclick: decide(record, "reject", status, refresh) }, t("center.reject"))] : null))))
        : h("p", { class: "muted" }, t("common.none")),
      approveAll, status);
  };
  await refresh();
  return { card, refresh };
}

async function activityPage({ id }) {
  const activity = await findActivity(id);
  const [code, records] = await Promise.all([signInCode(id), recordsCard(activity)]);
  return page(activity.title,
    h("p", {}, h("a", { href: "#/activities" }, `← ${t("center.back")}`)),
    h("h1", {}, activity.title),
    h("p", { class: "muted" }, `${t(`cat.${activity.category}`)} · ${when(activity)}`),
    sheetCard(activity, records.refresh),
    records.card,
    code);
}

const STAFF = { roles: ["center_staff"] };
route("activities", activitiesPage, STAFF);
route("activity/:id", activityPage, STAFF);
homeFor("center_staff", "activities");
