// Center staff's pages (a desk computer, usable at 360 px too): the center's activities and a
// form for a new one; an activity's page with its sign-in code as a QR image for a screen, the
// attendance sheet (volunteers found by name or phone, minutes pre-filled from the activity's
// length) and its hours, approved one by one or all at once; a paper sheet's CSV checked row
// by row before it is written; the code rotated; the gift shelf and its pickups; the report.
import * as api from "../api.js";
import { barChart } from "../chart.js";
import { addWords, CATEGORIES, dateTime, errorSentence, hours, lang, points, t } from "../i18n.js";
import { homeFor, route } from "../router.js";
import * as session from "../session.js";
import { field, form, h, onSubmit, saveAs } from "../ui.js";

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
    "center.nav": "中心菜单",
    "center.pending": "待审核 {n} 条",
    "center.nav_gifts": "爱心超市",
    "center.nav_report": "服务报表",
    "center.rotate": "更换签到码",
    "center.rotated": "签到码已更换，旧码不再有效",
    "center.csv": "上传纸质登记表（CSV）",
    "center.csv_file": "CSV 文件（志愿者编号或手机号、分钟）",
    "center.csv_check": "检查",
    "center.csv_write": "写入",
    "center.csv_line": "行",
    "center.csv_who": "志愿者",
    "center.csv_minutes": "分钟",
    "center.csv_problem": "问题",
    "center.csv_ok": "可以写入",
    "center.csv_bad": "{n} 行有问题，请改正后重新上传；没有写入任何记录",
    "center.csv_clean": "全部 {n} 行无误，其中 {new} 行是新的：点“写入”登记",
    "center.csv_written": "已写入 {added} 条，{already} 条之前已登记",
    "error.csv_choose": "请先选择一个 CSV 文件",
    "sheet.no_volunteer": "本社区没有志愿者 {who}",
    "sheet.no_phone_volunteer": "本社区没有手机号为 {who} 的志愿者",
    "sheet.phone_shared": "手机号 {who} 对应多位志愿者，请填写志愿者编号",
    "sheet.no_who": "没有志愿者编号，也没有手机号",
    "sheet.no_minutes": "没有填写分钟数",
    "sheet.not_whole": "分钟数 {value} 不是整数",
    "sheet.out_of_range": "分钟数 {value} 不在 1 到 1440 之间",
    "sheet.twice": "这位志愿者已在第 {line} 行",
    "sheet.too_long": "{value} 分钟超过了活动时长（{longest} 分钟）",
    "sheet.logged_other": "这位志愿者已登记 {value} 分钟，请先驳回原记录",
    "sheet.bad_phone": "手机号 {value} 格式不对",
    "sheet.excel_number": "手机号被表格转成了数字，请把该列设为文本",
    "report.title": "服务报表",
    "report.from": "起始日期",
    "report.to": "截止日期",
    "report.show": "查看",
    "report.range": "{from} 至 {to}",
    "report.total_hours": "合计服务时长",
    "report.total_points": "合计积分",
    "report.hours_chart": "每月服务时长（小时）",
    "report.points_chart": "每月积分",
    "report.by_category": "按服务类别",
    "report.volunteers": "志愿者",
    "report.category": "类别",
    "report.name": "姓名",
    "report.time": "服务时长",
    "report.points": "积分",
    "report.csv": "下载 CSV",
    "report.hours_n": "{n} 小时",
    "gifts.title": "爱心超市",
    "gifts.shelf": "礼品",
    "gifts.stock": "库存 {n}",
    "gifts.cost": "{points} / 件",
    "gifts.new": "上架礼品",
    "gifts.name": "礼品名称",
    "gifts.cost_points": "所需积分",
    "gifts.stock_field": "库存数量",
    "gifts.pickup_days": "领取期限（天，可不填）",
    "gifts.add": "上架",
    "gifts.added": "已上架：{title}",
    "gifts.hand_over": "交付礼品",
    "gifts.code": "领取码（6 位数字）",
    "gifts.give": "交付",
    "gifts.given": "已交付：{title}（{name}）",
    "gifts.waiting": "待领取",
    "gifts.give_to": "交付 {title} 给 {name}",
    "gifts.until": "领取截止 {day}",
    "error.unknown_pickup_code": "没有找到这个领取码对应的礼品，请核对后重新输入",
    "error.pickup_code_format": "领取码是 6 位数字",
    "error.already_cancelled": "这份礼品已被取消，不能交付",
    "error.already_expired": "这份礼品已过领取期限，积分已退回",
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
    "center.nav": "Center menu",
    "center.pending": "{n} records pending",
    "center.nav_gifts": "Gift shelf",
    "center.nav_report": "Report",
    "center.rotate": "New sign-in code",
    "center.rotated": "The code was changed; the old one no longer works",
    "center.csv": "Upload a paper sheet (CSV)",
    "center.csv_file": "CSV file (volunteer id or phone, minutes)",
    "center.csv_check": "Check",
    "center.csv_write": "Write",
    "center.csv_line": "Line",
    "center.csv_who": "Volunteer",
    "center.csv_minutes": "Minutes",
    "center.csv_problem": "Problem",
    "center.csv_ok": "Ready",
    "center.csv_bad": "{n} rows have problems: fix them and upload again; nothing was written",
    "center.csv_clean": "All {n} rows are fine, {new} of them new: press Write to log them",
    "center.csv_written": "{added} written, {already} were logged already",
    "error.csv_choose": "Choose a CSV file first",
    "sheet.no_volunteer": "No volunteer {who} in this community",
    "sheet.no_phone_volunteer": "No volunteer with phone {who} in this community",
    "sheet.phone_shared": "Phone {who} belongs to several volunteers: give the volunteer id",
    "sheet.no_who": "No volunteer id and no phone number",
    "sheet.no_minutes": "No minutes",
    "sheet.not_whole": "Minutes {value} is not a whole number",
    "sheet.out_of_range": "Minutes {value} is not between 1 and 1440",
    "sheet.twice": "This volunteer is already on line {line}",
    "sheet.too_long": "{value} minutes is longer than the activity ({longest} minutes)",
    "sheet.logged_other": "This volunteer is logged with {value} minutes already: reject that record first",
    "sheet.bad_phone": "Phone {value} is not a phone number",
    "sheet.excel_number": "The spreadsheet turned the phone into a number: format the column as text",
    "report.title": "Report",
    "report.from": "From",
    "report.to": "To",
    "report.show": "Show",
    "report.range": "{from} to {to}",
    "report.total_hours": "Hours of service",
    "report.total_points": "Points earned",
    "report.hours_chart": "Hours of service by month",
    "report.points_chart": "Points by month",
    "report.by_category": "By category",
    "report.volunteers": "Volunteers",
    "report.category": "Category",
    "report.name": "Name",
    "report.time": "Time",
    "report.points": "Points",
    "report.csv": "Download CSV",
    "report.hours_n": "{n} h",
    "gifts.title": "Gift shelf",
    "gifts.shelf": "Gifts",
    "gifts.stock": "{n} in stock",
    "gifts.cost": "{points} each",
    "gifts.new": "Add a gift",
    "gifts.name": "Gift",
    "gifts.cost_points": "Points",
    "gifts.stock_field": "Stock",
    "gifts.pickup_days": "Days to collect (optional)",
    "gifts.add": "Add",
    "gifts.added": "Added: {title}",
    "gifts.hand_over": "Hand a gift over",
    "gifts.code": "Pickup code (6 digits)",
    "gifts.give": "Hand over",
    "gifts.given": "Handed over: {title} ({name})",
    "gifts.waiting": "Waiting for pickup",
    "gifts.give_to": "Hand {title} to {name}",
    "gifts.until": "Collect by {day}",
    "error.unknown_pickup_code": "No gift has this pickup code: check it and type it again",
    "error.pickup_code_format": "A pickup code is 6 digits",
    "error.already_cancelled": "This gift was cancelled: it cannot be handed over",
    "error.already_expired": "This gift was not collected in time: its points went back",
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

function centerNav() {
  return [h("nav", { class: "center-nav", "aria-label": t("center.nav") },
    h("a", { href: "#/activities" }, t("center.title")),
    h("a", { href: "#/gifts" }, t("center.nav_gifts")),
    h("a", { href: "#/report" }, t("center.nav_report"))), pendingBadge()];
}

// The header's count of the center's records waiting for a decision, across its activities
// (GET /centers/{id}/pending), so nothing waits forgotten.
function pendingBadge() {
  const badge = h("p", { class: "pending-count", "data-pending-count": "", "aria-live": "polite" });
  showPending([badge]);
  return badge;
}

async function showPending(badges) {
  if (!badges.length) return; // another page by now
  try {
    const answer = await api.get(`/centers/${api.pathPart(claims().ctr)}/pending`);
    for (const badge of badges) {
      badge.dataset.pendingCount = String(answer.pending);
      badge.textContent = t("center.pending", { n: answer.pending });
    }
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error; // the count waits for the next change
  }
}

// After a sheet or a decision: an activity's approval at once is followed moments after its
// answer, so the count is read again a little later too.
function refreshPending() {
  const badges = () => [...document.querySelectorAll("[data-pending-count]")];
  showPending(badges());
  setTimeout(() => showPending(badges()), 1500);
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
  return page(t("center.title"), centerNav(),
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

// The code and its QR image; "rotate" makes a new code at once (a leaked code stops working).
async function signInCode(activityId) {
  const card = h("div", { class: "card code" });
  const status = h("p", { role: "status" });
  const path = `/activities/${api.pathPart(activityId)}/sign-in-code`;
  const show = async (code) => {
    const { url } = await api.blobUrl(code.qr_svg_url);
    const rotate = h("button", { type: "button", "data-action": "rotate-code", onclick: async () => {
      rotate.disabled = true;
      try {
        await show(await api.post(`${path}/rotate`));
        status.className = "notice-ok";
        status.textContent = t("center.rotated");
      } catch (error) {
        if (!(error instanceof api.ApiError)) throw error;
        status.className = "notice-bad";
        status.textContent = errorSentence(error);
        rotate.disabled = false;
      }
    } }, t("center.rotate"));
    status.textContent = "";
    card.replaceChildren(
      h("h2", {}, t("center.code")),
      h("p", { class: "muted" }, t("center.code_explain")),
      h("p", { class: "value", "data-sign-in-code": code.code }, code.code),
      h("img", { src: url, alt: t("center.code_alt", { code: code.code }), width: 240, height: 240 }),
      h("p", {}, rotate), status);
  };
  await show(await api.get(path));
  return card;
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
    refreshPending();
  };
  await refresh();
  return { card, refresh };
}

// --- a paper sheet as CSV: checked row by row (the API's dry run), written only when clean ------

// The API's reason for a bad line (English, from services/volunteer) in the page's language.
const SHEET_REASONS = [
  [/^no volunteer with phone (\S+) in this community$/, (m) => t("sheet.no_phone_volunteer", { who: m[1] })],
  [/^no volunteer (\S+) in this community$/, (m) => t("sheet.no_volunteer", { who: m[1] })],
  [/^phone (\S+) belongs to \d+ volunteers/, (m) => t("sheet.phone_shared", { who: m[1] })],
  [/^no volunteer id and no phone number$/, () => t("sheet.no_who")],
  [/^no minutes$/, () => t("sheet.no_minutes")],
  [/^minutes '(.*)' is not a whole number/, (m) => t("sheet.not_whole", { value: m[1] })],
  [/^minutes (\d+) is not between/, (m) => t("sheet.out_of_range", { value: m[1] })],
  [/^volunteer \S+ is already on line (\d+)$/, (m) => t("sheet.twice", { line: m[1] })],
  [/^(\d+) minutes is longer than the activity \((\d+) minutes\)$/,
    (m) => t("sheet.too_long", { value: m[1], longest: m[2] })],
  [/^volunteer \S+ is already logged on this activity with (\d+) minutes/,
    (m) => t("sheet.logged_other", { value: m[1] })],
  [/^phone '(.*)' was turned into a number/, () => t("sheet.excel_number")],
  [/^phone '(.*)' is not a phone number$/, (m) => t("sheet.bad_phone", { value: m[1] })],
];

function sheetReason(reason) {
  for (const [pattern, render] of SHEET_REASONS) {
    const match = pattern.exec(reason);
    if (match) return render(match);
  }
  return reason;
}

// The file's bytes sent as text/csv (api.js sends JSON): the API reads UTF-8 or GB18030 (what
// Excel writes on Chinese Windows) itself. The same token; errors as ApiError.
async function postSheet(activityId, bytes, dryRun) {
  const response = await fetch(`/api/v1/activities/${api.pathPart(activityId)}/hours.csv` +
    (dryRun ? "?dry_run=true" : ""), {
    method: "POST", cache: "no-store", body: bytes,
    headers: { Authorization: `Bearer ${session.current().token}`,
      "Content-Type": "text/csv", "Idempotency-Key": api.newKey() },
  }).catch(() => { throw new api.ApiError(0, null); });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new api.ApiError(response.status, body, response.headers.get("Retry-After"));
  return body;
}

// The file as text, to show a line the API could not read as it stands in the file.
function sheetText(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("gb18030").decode(bytes);
  }
}

function checkTable(answer, text, who) {
  const lines = text.split(/\r\n|\n|\r/);
  const byLine = new Map(answer.rows.map((row) => [row.line, { row, problems: [] }]));
  for (const problem of answer.problems) {
    if (!byLine.has(problem.line)) byLine.set(problem.line, { row: null, problems: [] });
    byLine.get(problem.line).problems.push(sheetReason(problem.reason));
  }
  const ordered = [...byLine.entries()].sort((a, b) => a[0] - b[0]);
  return h("div", { class: "table-wrap" }, h("table", { class: "sheet-check", "data-sheet-check": "" },
    h("thead", {}, h("tr", {}, ["center.csv_line", "center.csv_who", "center.csv_minutes",
      "center.csv_problem"].map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, ordered.map(([line, { row, problems }]) => h("tr", {
      "data-line": line, "data-bad": problems.length ? "true" : "false" },
    h("td", {}, String(line)),
    h("td", {}, row ? (who.get(row.volunteer_id) || row.volunteer_id || row.phone) : (lines[line - 1] || "")),
    h("td", {}, row ? String(row.minutes) : ""),
    h("td", { class: problems.length ? "notice-bad" : "notice-ok" },
      problems.length ? problems.join("；") : t("center.csv_ok")))))));
}

function csvCard(activity, onWritten) {
  const result = h("div", { "aria-live": "polite" });
  const status = h("p", { role: "status" });
  const writeSlot = h("p", {}); // the write button stands here only after a clean check
  let checkedBytes = null;
  const write = h("button", { type: "button", class: "primary", "data-action": "write-sheet",
    onclick: async () => {
      write.disabled = true;
      try {
        const answer = await postSheet(activity.id, checkedBytes, false);
        status.className = "notice-ok";
        status.textContent = t("center.csv_written", { added: answer.added, already: answer.already_logged });
        writeSlot.replaceChildren();
        result.replaceChildren();
        await onWritten();
      } catch (error) {
        if (!(error instanceof api.ApiError)) throw error;
        status.className = "notice-bad";
        status.textContent = errorSentence(error);
      } finally {
        write.disabled = false;
      }
    } }, t("center.csv_write"));
  const upload = form({ "aria-labelledby": "csv-title" },
    field({ name: "_body", label: t("center.csv_file"), type: "file", accept: ".csv,text/csv" }),
    h("button", { type: "submit" }, t("center.csv_check")));
  onSubmit(upload, async () => {
    writeSlot.replaceChildren();
    status.textContent = "";
    result.replaceChildren();
    const file = upload.querySelector("input[type=file]").files[0];
    if (!file) throw new api.ApiError(422, { error: { code: "csv_choose", message: "no file" } });
    const bytes = await file.arrayBuffer();
    const answer = await postSheet(activity.id, bytes, true);
    const ids = [...new Set(answer.rows.map((row) => row.volunteer_id).filter(Boolean))];
    const known = await Promise.all(ids.map((id) => nameOf(id)));
    const who = new Map(ids.map((id, i) => [id, known[i] === id ? null : known[i]]));
    result.replaceChildren(checkTable(answer, sheetText(bytes), who));
    const bad = new Set(answer.problems.map((p) => p.line)).size;
    status.className = bad ? "notice-bad" : "notice-ok";
    status.textContent = bad ? t("center.csv_bad", { n: bad })
      : t("center.csv_clean", { n: answer.rows.length, new: answer.new });
    checkedBytes = bytes;
    if (!bad) writeSlot.replaceChildren(write);
  });
  return h("div", { class: "card" },
    h("h2", { id: "csv-title" }, t("center.csv")), upload, result, status, writeSlot);
}

async function activityPage({ id }) {
  const activity = await findActivity(id);
  const [code, records] = await Promise.all([signInCode(id), recordsCard(activity)]);
  return page(activity.title,
    h("p", {}, h("a", { href: "#/activities" }, `← ${t("center.back")}`)),
    pendingBadge(),
    h("h1", {}, activity.title),
    h("p", { class: "muted" }, `${t(`cat.${activity.category}`)} · ${when(activity)}`),
    sheetCard(activity, records.refresh),
    csvCard(activity, records.refresh),
    records.card,
    code);
}

// --- the gift shelf (爱心超市) and its pickups ------------------------------------------------------

const optionalNumber = (value) => (String(value).trim() === "" ? null : Number(value));

async function giftsCard() {
  const answer = await api.get(`/rewards?community_id=${api.pathPart(claims().com)}&kind=gift&limit=${LIST_PAGE}`);
  const mine = answer.items.filter((gift) => gift.center_id === claims().ctr);
  return h("div", { class: "card", "data-gifts": "" }, h("h2", {}, t("gifts.shelf")),
    mine.length ? h("ul", { class: "list" }, mine.map((gift) => h("li", { "data-gift": gift.id },
      h("span", { class: "what" }, h("strong", {}, gift.title), h("br"),
        h("span", { class: "muted" }, t("gifts.cost", { points: points(gift.cost_points) }))),
      h("span", { "data-stock": gift.stock ?? "" }, gift.stock === null || gift.stock === undefined
        ? "" : t("gifts.stock", { n: gift.stock })))))
      : h("p", { class: "muted" }, t("common.none")));
}

function newGiftForm(status, onAdded) {
  const giftForm = form({ "aria-labelledby": "new-gift-title" },
    field({ name: "title", label: t("gifts.name") }),
    field({ name: "cost_points", label: t("gifts.cost_points"), type: "number", min: 1, inputmode: "numeric" }),
    field({ name: "stock", label: t("gifts.stock_field"), type: "number", min: 0, inputmode: "numeric" }),
    field({ name: "pickup_days", label: t("gifts.pickup_days"), type: "number", min: 1, inputmode: "numeric" }),
    h("button", { type: "submit", class: "primary" }, t("gifts.add")));
  onSubmit(giftForm, async (data) => {
    const gift = await api.post("/rewards", {
      kind: "gift", title: data.get("title").trim(), center_id: claims().ctr,
      cost_points: optionalNumber(data.get("cost_points")), stock: optionalNumber(data.get("stock")),
      pickup_days: optionalNumber(data.get("pickup_days")),
    });
    giftForm.reset();
    status.set("notice-ok", t("gifts.added", { title: gift.title }));
    await onAdded();
  });
  return h("div", { class: "card" }, h("h2", { id: "new-gift-title" }, t("gifts.new")), giftForm);
}

// A pickup's sentence once handed over; a refusal (unknown code, cancelled, expired) as one.
function pickupDone(status, handed) {
  return nameOf(handed.volunteer_id).then((name) =>
    status.set("notice-ok", t("gifts.given", { title: handed.reward_title, name })));
}

function handOverForm(status) {
  const codeForm = form({ "aria-labelledby": "hand-over-title" },
    field({ name: "pickup_code", label: t("gifts.code"), inputmode: "numeric", autocomplete: "off",
      maxlength: 6 }),
    h("button", { type: "submit", class: "primary" }, t("gifts.give")));
  onSubmit(codeForm, async (data) => {
    const code = data.get("pickup_code").replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(code)) {
      throw new api.ApiError(400, { error: { code: "pickup_code_format",
        fields: { pickup_code: [t("error.pickup_code_format")] } } });
    }
    try {
      const handed = await api.post(`/centers/${api.pathPart(claims().ctr)}/pickups`, { pickup_code: code });
      codeForm.reset();
      document.querySelector(`[data-pickup="${CSS.escape(handed.id)}"]`)?.remove();
      await pickupDone(status, handed);
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      // The API's field words are English; the sentence of its code says it in the page's language.
      throw new api.ApiError(error.status, { error: { code: error.code, message: error.message } });
    }
  });
  return h("div", { class: "card" }, h("h2", { id: "hand-over-title" }, t("gifts.hand_over")), codeForm);
}

async function waitingCard(status) {
  const answer = await api.get(`/centers/${api.pathPart(claims().ctr)}/pickups?limit=50`);
  const who = await Promise.all(answer.items.map((item) => nameOf(item.volunteer_id)));
  return h("div", { class: "card", "data-pickups": "" }, h("h2", {}, t("gifts.waiting")),
    answer.items.length ? h("ul", { class: "list" }, answer.items.map((item, i) => h("li", {
      "data-pickup": item.id },
    h("span", { class: "what" }, h("strong", {}, item.reward_title), " ", who[i], h("br"),
      h("span", { class: "muted" }, item.pickup_day ? t("gifts.until", { day: item.pickup_day }) : dateTime(item.created_at))),
    h("button", { type: "button", "data-action": "hand-over",
      "aria-label": t("gifts.give_to", { title: item.reward_title, name: who[i] }),
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          await pickupDone(status, await api.post(`/redemptions/${api.pathPart(item.id)}/fulfill`));
          event.target.closest("li").remove();
        } catch (error) {
          if (!(error instanceof api.ApiError)) throw error;
          status.set("notice-bad", errorSentence(error));
          event.target.disabled = false;
        }
      } }, t("gifts.give")))))
      : h("p", { class: "muted" }, t("common.none")));
}

async function giftsPage() {
  const line = h("p", { role: "status", "data-gifts-status": "" });
  const status = { set: (className, text) => { line.className = className; line.textContent = text; } };
  const shelf = h("div", {});
  const [gifts, waiting] = await Promise.all([giftsCard(), waitingCard(status)]);
  shelf.replaceChildren(gifts);
  const refreshShelf = async () => shelf.replaceChildren(await giftsCard());
  return page(t("gifts.title"), centerNav(),
    h("h1", {}, t("gifts.title")),
    handOverForm(status), line, waiting, shelf, newGiftForm(status, refreshShelf));
}

// --- the center's report ------------------------------------------------------------------------

function monthLabel(month) {
  const [year, number] = month.split("-");
  return lang() === "zh" ? `${Number(number)}月` : `${year.slice(2)}-${number}`;
}

function monthCharts(byMonth) {
  const hoursOf = (minutes) => Math.round(minutes / 6) / 10; // one decimal: 90 minutes = 1.5
  return [
    barChart(byMonth.map((m) => ({ label: monthLabel(m.month), value: m.approved_minutes,
      valueText: String(hoursOf(m.approved_minutes)), spoken: hours(m.approved_minutes) })),
    t("report.hours_chart")),
    barChart(byMonth.map((m) => ({ label: monthLabel(m.month), value: m.points,
      valueText: String(m.points), spoken: points(m.points) })), t("report.points_chart")),
  ].map((chart, i) => h("figure", { class: "report-chart", "data-chart": i ? "points" : "hours" },
    h("figcaption", {}, t(i ? "report.points_chart" : "report.hours_chart")), chart));
}

function reportTable(rows, nameHeader, nameOfRow) {
  if (!rows.length) return h("p", { class: "muted" }, t("common.none"));
  return h("div", { class: "table-wrap" }, h("table", { class: "report-table" },
    h("thead", {}, h("tr", {}, [nameHeader, t("report.time"), t("report.points")].map((text) =>
      h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows.map((row) => h("tr", {},
      h("td", {}, nameOfRow(row)), h("td", {}, hours(row.approved_minutes)),
      h("td", {}, points(row.points)))))));
}

async function reportPage() {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const range = ["from", "to"].filter((k) => query.get(k)).map((k) => `${k}=${encodeURIComponent(query.get(k))}`);
  const path = `/centers/${api.pathPart(claims().ctr)}/report`;
  const report = await api.get(`${path}${range.length ? `?${range.join("&")}` : ""}`);
  const rangeForm = form({ class: "report-range", "aria-label": t("report.title") },
    field({ name: "from", label: t("report.from"), type: "date", value: report.from }),
    field({ name: "to", label: t("report.to"), type: "date", value: report.to }),
    h("button", { type: "submit" }, t("report.show")));
  onSubmit(rangeForm, async (data) => {
    const wanted = `report?from=${encodeURIComponent(data.get("from"))}&to=${encodeURIComponent(data.get("to"))}`;
    const answer = await api.get(`${path}?${wanted.split("?")[1]}`); // a bad range: its sentence here
    if (answer) location.hash = `#/${wanted}`;
  });
  const download = h("button", { type: "button", "data-action": "download-report", onclick: async () => {
    saveAs((await api.blobUrl(`${path}?from=${report.from}&to=${report.to}&format=csv`)).url,
      `report-${report.from}-${report.to}.csv`);
  } }, t("report.csv"));
  return page(t("report.title"), centerNav(),
    h("h1", {}, t("report.title")),
    h("p", { class: "muted" }, `${report.center_name} · ${t("report.range", { from: report.from, to: report.to })}`),
    h("div", { class: "card" }, rangeForm),
    h("div", { class: "card report-totals" },
      h("p", {}, t("report.total_hours"), h("br"),
        h("strong", { class: "value", "data-total-minutes": report.approved_minutes }, hours(report.approved_minutes))),
      h("p", {}, t("report.total_points"), h("br"),
        h("strong", { class: "value", "data-total-points": report.points }, points(report.points))),
      h("p", {}, download)),
    h("div", { class: "card" }, monthCharts(report.by_month)),
    h("div", { class: "card" }, h("h2", {}, t("report.by_category")),
      reportTable(report.by_category, t("report.category"), (c) => (CATEGORIES.includes(c.category)
        ? t(`cat.${c.category}`) : c.name))),
    h("div", { class: "card", "data-report-volunteers": "" }, h("h2", {}, t("report.volunteers")),
      reportTable(report.volunteers, t("report.name"), (v) => v.name || v.volunteer_id)));
}

const STAFF = { roles: ["center_staff"] };
route("activities", activitiesPage, STAFF);
route("activity/:id", activityPage, STAFF);
route("report", reportPage, STAFF);
route("gifts", giftsPage, STAFF);
homeFor("center_staff", "activities");
