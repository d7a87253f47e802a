// The volunteer's notices on the home page (ui.md: below the four buttons, newest first): each
// notice of GET /volunteers/{id}/notices as one sentence in the page's language, with its date.
// noticesCard() answers at once and fills itself when the notices arrive, so the home page
// does not wait for them; "more" asks for the next page.
import * as api from "../api.js";
import { addWords, date, errorSentence, hours, lang, points, t } from "../i18n.js";
import { h } from "../ui.js";

const PAGE = 5;

addWords({
  zh: {
    "notices.title": "最新动态",
    "notices.more": "更多动态",
    "notices.none": "暂无动态",
    "notices.hours_approved": "已通过 {hours} {what}，获得 {points}",
    "notices.hours_approved.pending": "已通过 {hours} {what}，积分稍后到账",
    "notices.hours_rejected": "已驳回 {hours} {what}：{reason}",
    "notices.hours_revoked": "已撤销 {hours} {what}：{reason}",
    "notices.points_credited": "{kind} {points} 已到账",
    "notices.points_reversed": "撤销 {points}：{reason}",
    "notices.points_expiring": "{points}将于 {date} 过期，请尽快使用",
    "notices.redemption_ready": "{title} 已备好，可到服务中心领取",
    "notices.pickup_code": "领取码 {code}",
    "notices.pickup_day": "请于 {date} 前领取",
  },
  en: {
    "notices.title": "Notices",
    "notices.more": "More notices",
    "notices.none": "No notices yet",
    "notices.hours_approved": "{hours} of {what} approved: {points}",
    "notices.hours_approved.pending": "{hours} of {what} approved; the points are on their way",
    "notices.hours_rejected": "{hours} of {what} rejected: {reason}",
    "notices.hours_revoked": "{hours} of {what} revoked: {reason}",
    "notices.points_credited": "{points} credited ({kind})",
    "notices.points_reversed": "{points} reversed: {reason}",
    "notices.points_expiring": "{points} expire on {date}: use them before then",
    "notices.redemption_ready": "{title} is ready for pickup at the center",
    "notices.pickup_code": "pickup code {code}",
    "notices.pickup_day": "collect by {date}",
  },
});

// "为老服务" / "elder care": the category's word, in a sentence's lower case in English.
function serviceWords(notice) {
  const word = notice.category ? t(`cat.${notice.category}`) : (notice.activity_title || "");
  return lang() === "en" ? word.toLowerCase() : word;
}

function localDay(day) {
  return date(`${day}T12:00:00+08:00`);
}

function hoursSentence(notice) {
  const params = {
    hours: hours(notice.minutes), what: serviceWords(notice), reason: notice.reason || "",
    points: notice.points === null || notice.points === undefined ? "" : points(notice.points),
  };
  if (notice.kind === "hours_approved" && !params.points) {
    return t("notices.hours_approved.pending", params);
  }
  return t(`notices.${notice.kind}`, params);
}

const SENTENCES = {
  hours_approved: hoursSentence,
  hours_rejected: hoursSentence,
  hours_revoked: hoursSentence,
  points_credited: (n) => t("notices.points_credited", {
    points: points(n.points), kind: t(`kind.${n.ledger_kind}`) }),
  points_reversed: (n) => t("notices.points_reversed", {
    points: points(n.points), reason: n.reason || "" }),
  points_expiring: (n) => t("notices.points_expiring", {
    points: points(n.points), date: date(n.expires_at) }),
  redemption_ready: (n) => t("notices.redemption_ready", { title: n.reward_title || "" }),
};

// What follows the sentence in small type: the activity, the pickup code and day, the date.
function details(notice) {
  const parts = [];
  if (notice.kind.startsWith("hours_") && notice.activity_title) parts.push(notice.activity_title);
  if (notice.pickup_code) {
    parts.push(h("strong", { "data-pickup-code": notice.pickup_code },
      t("notices.pickup_code", { code: notice.pickup_code })));
  }
  if (notice.pickup_day) parts.push(t("notices.pickup_day", { date: localDay(notice.pickup_day) }));
  if (notice.kind !== "points_expiring") parts.push(date(notice.at));
  return parts.flatMap((part, index) => (index ? [" · ", part] : [part]));
}

export function noticeLine(notice) {
  const sentence = SENTENCES[notice.kind];
  if (!sentence) return null; // a kind this page does not know yet
  const warning = notice.kind === "points_expiring" ? "expiring" : null;
  return h("li", { "data-notice": notice.kind, class: warning },
    h("span", { class: "what" }, sentence(notice)),
    h("span", { class: "muted notice-detail" }, details(notice)));
}

// The notices card: a heading, the first page, and a button for the next one while any is left.
export function noticesCard(volunteerId) {
  const list = h("ul", { class: "list", "data-notices": "" });
  const status = h("p", { class: "muted", role: "status" });
  // Shown by style, not by the hidden attribute: the buttons' style sets their display.
  const more = h("button", {
    type: "button", style: "display: none", "data-action": "more-notices",
  }, t("notices.more"));
  let cursor = null;

  async function load() {
    more.disabled = true;
    const query = `limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    try {
      const page = await api.get(`/volunteers/${api.pathPart(volunteerId)}/notices?${query}`);
      list.append(...page.items.map(noticeLine).filter(Boolean));
      cursor = page.next_cursor;
      status.textContent = list.children.length || cursor ? "" : t("notices.none");
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      status.className = "notice-bad";
      status.textContent = errorSentence(error);
    }
    more.style.display = cursor ? "" : "none";
    more.disabled = false;
  }

  more.addEventListener("click", () => load());
  load();
  return h("section", { class: "card notices", "aria-label": t("notices.title") },
    h("h2", {}, t("notices.title")), list, status, more);
}
