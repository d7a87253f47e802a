// The volunteer's pages (a phone, 360–430 px): the first screen (points, star level, hours,
// expiring points, four large buttons, notices), the statement with hours by month, the
// one-time code for a merchant, the catalog, on-site check-in, and the certificate.
import * as api from "../api.js";
import { barChart } from "../chart.js";
import {
  addWords, date, errorSentence, hours, lang, monthLabel, monthOf, points, t,
} from "../i18n.js";
import { noticesCard } from "./notices.js";
import { homeFor, route } from "../router.js";
import { scanButton } from "../scan.js";
import * as session from "../session.js";
import { field, form, h, onSubmit, saveAs } from "../ui.js";

addWords({
  zh: {
    "vol.title": "我的积分",
    "vol.available": "可用积分",
    "vol.reserved": "（另有 {n} 分处理中）",
    "vol.stars": "{stars} 星级志愿者",
    "vol.no_stars": "星级志愿者：服务满 100 小时可获一星",
    "vol.hours": "志愿服务时长 {hours}",
    "vol.expiring": "{points}将于 {date} 过期",
    "vol.tile.catalog": "兑换",
    "vol.tile.code": "兑换码",
    "vol.tile.check_in": "签到",
    "vol.tile.statement": "明细",
    "vol.certificate": "下载志愿服务证明",
    "vol.certificate.done": "证明已下载，编号 {code}",
    "vol.notices": "最新动态",
    "vol.more": "更多",
    "vol.more.services": "以服务换服务",
    "vol.more.redemptions": "我的兑换",
    "vol.more.give": "转赠积分",
    "vol.more.donate": "捐赠",
    "vol.my_number": "我的编号",
    "vol.my_number.explain": "家人给您转赠积分时，请把这个编号告诉对方。",
    "statement.title": "积分明细",
    "statement.chart": "每月志愿服务时长",
    "statement.expiring": "即将过期",
    "statement.entries": "明细",
    "statement.csv": "下载明细（CSV）",
    "statement.balance_after": "余额 {n}",
    "statement.hours_on": "服务 {hours} · {date}",
    "kind.earn": "获得",
    "kind.redeem": "兑换",
    "kind.refund": "退回",
    "kind.reversal": "撤销",
    "kind.expire": "过期",
    "kind.gift_out": "转赠",
    "kind.gift_in": "受赠",
    "kind.donate": "捐赠",
    "kind.grant": "社区基金资助",
    "kind.overflow": "超出存储上限",
    "code.title": "兑换码",
    "code.explain": "在爱心商家结账时出示，5 分钟内有效，只能使用一次。",
    "code.new": "生成兑换码",
    "code.again": "重新生成",
    "code.expires": "{time} 前有效",
    "code.expired": "兑换码已过期，请重新生成",
    "code.qr_alt": "兑换码 {code} 的二维码",
    "catalog.title": "爱心超市",
    "catalog.cost": "{points}",
    "catalog.stock": "剩余 {n}",
    "catalog.redeem": "兑换",
    "catalog.confirm": "确认兑换（{points}）",
    "catalog.done": "兑换成功，扣除 {points}",
    "catalog.pickup": "取货码 {code}",
    "catalog.service": "以服务换服务：选时间预约",
    "catalog.merchant": "爱心商家：结账时出示兑换码",
    "check_in.title": "活动签到",
    "check_in.explain": "输入活动现场显示的活动编号和签到码（或粘贴扫码得到的内容）。",
    "check_in.activity": "活动编号",
    "check_in.code": "签到码",
    "check_in.in": "签到",
    "check_in.out": "签退",
    "check_in.done_in": "签到成功",
    "check_in.done_out": "签退成功，服务时长待审核",
  },
  en: {
    "vol.title": "My points",
    "vol.available": "available",
    "vol.reserved": "({n} more being processed)",
    "vol.stars": "{stars} star volunteer",
    "vol.no_stars": "Star volunteer: the first star comes at 100 hours",
    "vol.hours": "Service hours: {hours}",
    "vol.expiring": "{points} expire on {date}",
    "vol.tile.catalog": "Redeem",
    "vol.tile.code": "One-time code",
    "vol.tile.check_in": "Check in",
    "vol.tile.statement": "Statement",
    "vol.certificate": "Download my service certificate",
    "vol.certificate.done": "Certificate downloaded, code {code}",
    "vol.notices": "Latest",
    "vol.more": "More",
    "vol.more.services": "Services between neighbours",
    "vol.more.redemptions": "My redemptions",
    "vol.more.give": "Give points",
    "vol.more.donate": "Donate",
    "vol.my_number": "My number",
    "vol.my_number.explain": "Give this number to family who want to give you points.",
    "statement.title": "Points statement",
    "statement.chart": "Service hours by month",
    "statement.expiring": "Expiring soon",
    "statement.entries": "Entries",
    "statement.csv": "Download the statement (CSV)",
    "statement.balance_after": "balance {n}",
    "statement.hours_on": "{hours} of service · {date}",
    "kind.earn": "Earned",
    "kind.redeem": "Redeemed",
    "kind.refund": "Refunded",
    "kind.reversal": "Reversed",
    "kind.expire": "Expired",
    "kind.gift_out": "Gifted",
    "kind.gift_in": "Received as a gift",
    "kind.donate": "Donated",
    "kind.grant": "Community fund grant",
    "kind.overflow": "Over the storage cap",
    "code.title": "One-time code",
    "code.explain": "Show it at a partner merchant's counter: valid 5 minutes, once.",
    "code.new": "Get a code",
    "code.again": "Get a new code",
    "code.expires": "Valid until {time}",
    "code.expired": "This code has expired; ask for a new one",
    "code.qr_alt": "QR code of the one-time code {code}",
    "catalog.title": "Love supermarket",
    "catalog.cost": "{points}",
    "catalog.stock": "{n} left",
    "catalog.redeem": "Redeem",
    "catalog.confirm": "Confirm ({points})",
    "catalog.done": "Redeemed: {points} taken",
    "catalog.pickup": "Pickup code {code}",
    "catalog.service": "Services between neighbours: pick a time to book",
    "catalog.merchant": "Partner merchant: show a one-time code at the counter",
    "check_in.title": "Activity check-in",
    "check_in.explain": "Type the activity number and the code shown on site (or paste what the scan read).",
    "check_in.activity": "Activity number",
    "check_in.code": "Check-in code",
    "check_in.in": "Check in",
    "check_in.out": "Check out",
    "check_in.done_in": "Checked in",
    "check_in.done_out": "Checked out; your hours wait for approval",
  },
});

const EXPIRY_WARNING_DAYS = 60; // ui.md: the amber line when points expire within 60 days
const CHART_MONTHS = 6;
const STATEMENT_PAGE = 1000; // the API's largest page

// Shared with the volunteer's other pages (pages/volunteer_*.js).
export function me() {
  return api.pathPart(session.current().subject_id);
}

export function page(titleKey, ...children) {
  return h("section", { "data-title": t(titleKey) }, ...children);
}

export function backLink() {
  return h("p", {}, h("a", { href: "#/home" }, `← ${t("nav.back")}`));
}

function expiringSoon(balance) {
  const limit = Date.now() + EXPIRY_WARNING_DAYS * 86400000;
  return balance.expiring.filter((lot) => Date.parse(lot.expires_at) <= limit);
}

function expiringLine(lot) {
  return h("p", { class: "expiring", "data-expiring": lot.points },
    t("vol.expiring", { points: points(lot.points), date: date(lot.expires_at) }));
}

function entryLine(entry) {
  const rule = entry.rule || {};
  const detail = entry.kind === "earn" && rule.minutes
    ? t("statement.hours_on", { hours: hours(rule.minutes), date: date(`${rule.local_date}T12:00:00+08:00`) })
    : date(entry.at);
  const sign = entry.points > 0 ? "+" : "";
  return h("li", { "data-kind": entry.kind },
    h("span", { class: "what" },
      h("strong", {}, t(`kind.${entry.kind}`)), " ", h("span", { class: "muted" }, detail)),
    h("span", { class: `amount ${entry.points >= 0 ? "plus" : "minus"}` },
      `${sign}${entry.points}`));
}

// --- the first screen --------------------------------------------------------------------------

async function homePage() {
  const [volunteer, balance] = await Promise.all([
    api.get(`/volunteers/${me()}`), api.get(`/volunteers/${me()}/balance`)]);
  const stars = volunteer.star_level
    ? t("vol.stars", { stars: "★".repeat(volunteer.star_level) }) : t("vol.no_stars");
  const certificateStatus = h("p", { role: "status" });
  const certificateButton = h("button", {
    type: "button", "data-action": "certificate",
    onclick: () => downloadCertificate(certificateButton, certificateStatus),
  }, t("vol.certificate"));
  return page("vol.title",
    h("div", { class: "card points" },
      h("h1", {}, volunteer.name),
      h("p", { class: "muted" }, t("vol.title"), " · ", t("vol.available")),
      h("p", { class: "big", "data-points": balance.available },
        String(balance.available), h("span", { class: "unit" }, lang() === "zh" ? "分" : "pts")),
      balance.reserved ? h("p", { class: "muted" }, t("vol.reserved", { n: balance.reserved })) : null,
      h("p", { class: "stars", "data-stars": volunteer.star_level }, stars),
      h("p", { "data-minutes": volunteer.approved_minutes },
        t("vol.hours", { hours: hours(volunteer.approved_minutes) })),
      expiringSoon(balance).map(expiringLine)),
    h("nav", { class: "tiles", "aria-label": t("vol.title") },
      h("a", { class: "button", href: "#/catalog" }, t("vol.tile.catalog")),
      h("a", { class: "button primary", href: "#/code" }, t("vol.tile.code")),
      h("a", { class: "button", href: "#/check-in" }, t("vol.tile.check_in")),
      h("a", { class: "button", href: "#/statement" }, t("vol.tile.statement"))),
    h("div", { class: "card" }, certificateButton, certificateStatus),
    noticesCard(session.current().subject_id),
    moreRow(volunteer));
}

// Below the notices: the volunteer's other pages, and the number family give points to.
function moreRow(volunteer) {
  return h("div", { class: "card more" },
    h("h2", {}, t("vol.more")),
    h("nav", { class: "more-links", "aria-label": t("vol.more") },
      h("a", { href: "#/services" }, t("vol.more.services")),
      h("a", { href: "#/redemptions" }, t("vol.more.redemptions")),
      h("a", { href: "#/give" }, t("vol.more.give")),
      h("a", { href: "#/donate" }, t("vol.more.donate"))),
    h("p", { class: "my-number" }, t("vol.my_number"), " ",
      h("code", { "data-volunteer-number": volunteer.id }, volunteer.id)),
    h("p", { class: "muted" }, t("vol.my_number.explain")));
}

async function downloadCertificate(button, status) {
  button.disabled = true;
  status.className = "";
  try {
    const { url, response } = await api.blobUrl(`/volunteers/${me()}/certificate.pdf`);
    const code = response.headers.get("X-Certificate-Code");
    saveAs(url, `certificate-${code}.pdf`);
    status.textContent = t("vol.certificate.done", { code });
  } catch (error) {
    if (!(error instanceof api.ApiError)) throw error;
    status.className = "notice-bad";
    status.textContent = errorSentence(error);
  } finally {
    button.disabled = false;
  }
}

// --- the statement and hours by month ----------------------------------------------------------

async function wholeStatement() {
  const items = [];
  let cursor = null;
  do {
    const answer = await api.get(`/volunteers/${me()}/statement?limit=${STATEMENT_PAGE}` +
      (cursor ? `&cursor=${cursor}` : ""));
    items.push(...answer.items);
    cursor = answer.next_cursor;
  } while (cursor);
  return items;
}

// Approved minutes by month of service, from the credits on the statement (each names its
// minutes and local date); a revocation's reversal takes its record's minutes back.
function minutesByMonth(entries) {
  const credits = new Map();
  for (const entry of entries) {
    if (entry.kind === "earn" && entry.ref?.type === "hours" && entry.rule?.minutes) {
      credits.set(entry.ref.id, { month: entry.rule.local_date.slice(0, 7), minutes: entry.rule.minutes });
    }
  }
  for (const entry of entries) {
    if (entry.kind === "reversal" && entry.ref?.type === "hours") credits.delete(entry.ref.id);
  }
  const months = new Map();
  for (const { month, minutes } of credits.values()) {
    months.set(month, (months.get(month) || 0) + minutes);
  }
  return months;
}

function lastMonths(count, newest) {
  const [year, month] = newest.split("-").map(Number);
  return Array.from({ length: count }, (_, i) => {
    const d = new Date(Date.UTC(year, month - 1 - (count - 1 - i), 1));
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
  });
}

function hoursChart(entries) {
  const byMonth = minutesByMonth(entries);
  const thisMonth = monthOf(new Date().toISOString());
  const newest = [...byMonth.keys(), thisMonth].sort().pop();
  const bars = lastMonths(CHART_MONTHS, newest).map((month) => {
    const minutes = byMonth.get(month) || 0;
    return {
      label: monthLabel(month), value: minutes, spoken: hours(minutes),
      valueText: minutes ? String(Math.floor(minutes / 60) || "<1") : "",
    };
  });
  return barChart(bars, t("statement.chart"));
}

async function statementPage() {
  const [balance, entries] = await Promise.all([
    api.get(`/volunteers/${me()}/balance`), wholeStatement()]);
  const csvButton = h("button", {
    type: "button", "data-action": "statement-csv",
    onclick: async () => saveAs((await api.blobUrl(`/volunteers/${me()}/statement?format=csv&limit=${STATEMENT_PAGE}`)).url,
      "statement.csv"),
  }, t("statement.csv"));
  return page("statement.title", backLink(),
    h("h1", {}, t("statement.title")),
    h("div", { class: "card" }, h("h2", {}, t("statement.chart")), hoursChart(entries)),
    balance.expiring.length ? h("div", { class: "card" },
      h("h2", {}, t("statement.expiring")), balance.expiring.map(expiringLine)) : null,
    h("div", { class: "card" },
      h("h2", {}, t("statement.entries")),
      entries.length ? h("ul", { class: "list", "data-statement": "" }, entries.map(entryLine))
        : h("p", { class: "muted" }, t("common.none")),
      csvButton));
}

// --- the one-time code for a merchant ----------------------------------------------------------

// The code last asked for, kept while it is valid so that a re-render (a language switch, a
// visit to another page and back) shows it again instead of asking for another.
let lastCode = null;

function showCode(shown, { code, url }) {
  const time = new Date(code.expires_at).toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en",
    { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
  const expiry = h("p", { class: "muted" }, t("code.expires", { time }));
  shown.replaceChildren(
    h("p", { class: "value", "data-code": code.code }, code.code),
    h("img", { src: url, alt: t("code.qr_alt", { code: code.code }), width: 240, height: 240 }),
    expiry);
  clearTimeout(showCode.timer);
  showCode.timer = setTimeout(() => {
    expiry.className = "notice-bad";
    expiry.textContent = t("code.expired");
  }, Math.max(0, Date.parse(code.expires_at) - Date.now()));
}

function codePage() {
  const shown = h("div", { class: "code", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "primary", "data-action": "new-code" }, t("code.new"));
  const mine = lastCode && lastCode.code.volunteer_id === session.current().subject_id;
  if (mine && Date.parse(lastCode.code.expires_at) > Date.now()) {
    showCode(shown, lastCode);
    button.textContent = t("code.again");
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const code = await api.post(`/volunteers/${me()}/redeem-codes`);
      const { url } = await api.blobUrl(code.qr_svg_url);
      if (lastCode) URL.revokeObjectURL(lastCode.url);
      lastCode = { code, url };
      showCode(shown, lastCode);
      button.textContent = t("code.again");
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      shown.replaceChildren(h("p", { class: "notice-bad", role: "alert" }, errorSentence(error)));
    } finally {
      button.disabled = false;
    }
  });
  return page("code.title", backLink(),
    h("h1", {}, t("code.title")),
    h("div", { class: "card code" }, h("p", { class: "muted" }, t("code.explain")), shown, button));
}

// --- the catalog -------------------------------------------------------------------------------

function rewardItem(reward, balance, onRedeemed) {
  const status = h("p", { role: "status" });
  const actions = h("div", {});
  const cost = points(reward.cost_points);
  const redeem = async (button) => {
    button.disabled = true;
    try {
      const done = await api.post("/redemptions", {
        reward_id: reward.id, volunteer_id: session.current().subject_id, quantity: 1 });
      status.className = "notice-ok";
      status.textContent = [t("catalog.done", { points: points(done.points ?? reward.cost_points) }),
        done.pickup_code ? t("catalog.pickup", { code: done.pickup_code }) : ""].join(" · ");
      actions.replaceChildren();
      await onRedeemed();
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      status.className = "notice-bad";
      status.setAttribute("role", "alert");
      status.textContent = await refusalSentence(error, reward.cost_points);
      button.disabled = false;
    }
  };
  if (reward.kind === "gift") {
    actions.append(h("button", {
      type: "button", "data-action": "redeem",
      onclick: (event) => {
        const confirm = h("button", { type: "button", class: "primary", "data-action": "confirm-redeem",
          onclick: () => redeem(confirm) }, t("catalog.confirm", { points: cost }));
        event.target.replaceWith(confirm);
        confirm.focus();
      },
    }, t("catalog.redeem")));
  } else {
    actions.append(reward.kind === "service"
      ? h("a", { href: "#/services", "data-action": "book" }, t("catalog.service"))
      : h("p", { class: "muted" }, t("catalog.merchant")));
  }
  return h("li", { "data-reward": reward.id, class: "reward" },
    h("span", { class: "what" }, h("strong", {}, reward.title), h("br"),
      h("span", { class: "muted" }, reward.stock !== undefined && reward.stock !== null
        ? t("catalog.stock", { n: reward.stock }) : ""), actions, status),
    h("span", { class: `amount ${reward.cost_points > balance.available ? "minus" : ""}` }, cost));
}

// A refusal as one sentence; too few points says how many more ``cost`` needs.
export async function refusalSentence(error, cost) {
  if (error.code !== "insufficient_points") return errorSentence(error);
  const { available } = await api.get(`/volunteers/${me()}/balance`);
  return t("error.insufficient_points.short", { n: Math.max(1, cost - available) });
}

// "可用积分 46 分", and a way to show the balance again after points moved.
export async function availableLine(balance = null) {
  const { available } = balance || await api.get(`/volunteers/${me()}/balance`);
  const shown = h("strong", { "data-available": available }, points(available));
  const refresh = async () => {
    const now = await api.get(`/volunteers/${me()}/balance`);
    shown.dataset.available = now.available;
    shown.textContent = points(now.available);
  };
  return { line: h("p", {}, t("vol.available"), " ", shown), refresh };
}

async function catalogPage() {
  const [rewards, balance] = await Promise.all([
    api.get("/rewards?limit=100"), api.get(`/volunteers/${me()}/balance`)]);
  const available = await availableLine(balance);
  return page("catalog.title", backLink(),
    h("h1", {}, t("catalog.title")),
    available.line,
    h("div", { class: "card" }, rewards.items.length
      ? h("ul", { class: "list" }, rewards.items.map((reward) => rewardItem(reward, balance, available.refresh)))
      : h("p", { class: "muted" }, t("common.none"))));
}

// --- on-site check-in and check-out ------------------------------------------------------------

// What a scan of the center's QR code reads ("timebank:check-in?activity=…&code=…"), pasted
// into the code field, fills both fields.
function scanned(activity, code) {
  const match = /^timebank:check-in\?(.*)$/.exec(code.trim());
  if (!match) return { activity: activity.trim(), code: code.trim() };
  const query = new URLSearchParams(match[1]);
  return { activity: query.get("activity") || activity.trim(), code: query.get("code") || "" };
}

function checkInPage() {
  const status = h("p", { role: "status" });
  const checkInForm = form({ "aria-labelledby": "check-in-title" },
    field({ name: "activity", label: t("check_in.activity"), autocapitalize: "none", spellcheck: "false" }),
    field({ name: "code", label: t("check_in.code"), autocapitalize: "characters", spellcheck: "false" }),
    h("div", { class: "tiles" },
      h("button", { type: "submit", class: "primary", value: "check-in" }, t("check_in.in")),
      h("button", { type: "submit", value: "check-out" }, t("check_in.out"))));
  let step = "check-in";
  checkInForm.addEventListener("click", (event) => {
    if (event.target.type === "submit") step = event.target.value;
  });
  onSubmit(checkInForm, async (data) => {
    const { activity, code } = scanned(data.get("activity"), data.get("code"));
    status.textContent = "";
    if (!activity) {
      throw new api.ApiError(400, { error: { fields: { activity: ["Missing data for required field."] } } });
    }
    await api.post(`/activities/${api.pathPart(activity)}/${step}`, { code });
    status.className = "notice-ok";
    status.textContent = t(step === "check-in" ? "check_in.done_in" : "check_in.done_out");
  });
  return page("check_in.title", backLink(),
    h("h1", { id: "check-in-title" }, t("check_in.title")),
    h("div", { class: "card" }, h("p", { class: "muted" }, t("check_in.explain")),
      scanButton((text) => { // the activity's sign-in QR fills both fields
        const read = scanned(checkInForm.elements.activity.value, text);
        checkInForm.elements.activity.value = read.activity;
        checkInForm.elements.code.value = read.code;
      }), checkInForm, status));
}

const VOLUNTEER = { roles: ["volunteer"] };
route("home", homePage, VOLUNTEER);
route("statement", statementPage, VOLUNTEER);
route("code", codePage, VOLUNTEER);
route("catalog", catalogPage, VOLUNTEER);
route("check-in", checkInPage, VOLUNTEER);
homeFor("volunteer", "home");

