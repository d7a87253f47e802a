// The partner merchant's pages (a phone or tablet at the counter): the till (the volunteer's
// one-time code, the offer, confirm; the result in large type), today's redemptions at this till
// with their void button, and the settlement statement (JSON shown, CSV download).
import * as api from "../api.js";
import { addWords, dateTime, errorSentence, points, t } from "../i18n.js";
import { homeFor, route } from "../router.js";
import { scanButton } from "../scan.js";
import * as session from "../session.js";
import { field, form, h, onSubmit, saveAs } from "../ui.js";

addWords({
  zh: {
    "till.title": "爱心商家 · 核销",
    "till.code": "兑换码",
    "till.code_hint": "输入志愿者出示的兑换码，或粘贴扫码得到的内容",
    "till.offer": "兑换项目",
    "till.offer_option": "{title}（{points}）",
    "till.no_offers": "还没有兑换项目，请先在后台添加",
    "till.confirm": "确认核销",
    "till.done": "核销成功",
    "till.done_points": "扣除 {points} · {title}",
    "till.refused": "未能核销",
    "till.today": "今日核销",
    "till.today_note": "本店今天核销的记录；24 小时内可撤销。",
    "till.void": "撤销",
    "till.voided": "已撤销，积分已退回",
    "till.statement": "结算对账单",
    "statement.m.title": "结算对账单",
    "statement.m.period": "{from} 至 {to}",
    "statement.m.day": "日期",
    "statement.m.offer": "项目",
    "statement.m.redeemed": "核销",
    "statement.m.voided": "撤销",
    "statement.m.owed": "应结",
    "statement.m.total": "本期合计：核销 {redeemed} 笔，撤销 {voided} 笔，应结 {owed}",
    "statement.m.total_owed": "累计应结 {owed}",
    "statement.m.csv": "下载对账单（CSV）",
    "statement.m.back": "返回核销",
    "error.invalid_code": "兑换码无效，请让志愿者重新出示",
    "error.code_mismatch": "该兑换码属于另一位志愿者，请核对后重试",
    "error.void_window_passed": "已超过 24 小时，不能撤销",
    "error.not_completed": "该记录未完成核销，无需撤销",
  },
  en: {
    "till.title": "Partner merchant · till",
    "till.code": "One-time code",
    "till.code_hint": "Type the code the volunteer shows, or paste what the scanner read",
    "till.offer": "Offer",
    "till.offer_option": "{title} ({points})",
    "till.no_offers": "No offers yet; add one first",
    "till.confirm": "Confirm",
    "till.done": "Redeemed",
    "till.done_points": "{points} taken · {title}",
    "till.refused": "Not redeemed",
    "till.today": "Today's redemptions",
    "till.today_note": "Redeemed at this shop today; each can be voided within 24 hours.",
    "till.void": "Void",
    "till.voided": "Voided; the points went back",
    "till.statement": "Settlement statement",
    "statement.m.title": "Settlement statement",
    "statement.m.period": "{from} to {to}",
    "statement.m.day": "Day",
    "statement.m.offer": "Offer",
    "statement.m.redeemed": "Redeemed",
    "statement.m.voided": "Voided",
    "statement.m.owed": "Owed",
    "statement.m.total": "This period: {redeemed} redeemed, {voided} voided, {owed} owed",
    "statement.m.total_owed": "Owed in all: {owed}",
    "statement.m.csv": "Download the statement (CSV)",
    "statement.m.back": "Back to the till",
    "error.invalid_code": "This code is not valid; ask the volunteer to show it again",
    "error.code_mismatch": "This code belongs to another volunteer; check and try again",
    "error.void_window_passed": "More than 24 hours have passed; it can no longer be voided",
    "error.not_completed": "This redemption did not complete; there is nothing to void",
  },
});


function me() {
  return session.current().subject_id;
}

function page(titleKey, ...children) {
  return h("section", { "data-title": t(titleKey) }, ...children);
}

// --- today's redemptions at this till ------------------------------------------------------------

// The merchant's redemptions of today (its community's day) from the API, newest first; each
// can be voided until the API's voidable_until.
function todayLine(item, onChange) {
  const status = h("p", { role: "status" });
  const voided = item.status === "cancelled";
  const voidable = item.voidable_until && Date.now() < Date.parse(item.voidable_until);
  const button = voidable ? h("button", {
    type: "button", "data-action": "void",
    onclick: async () => {
      button.disabled = true;
      try {
        await api.post(`/redemptions/${api.pathPart(item.id)}/cancel`);
        await onChange();
      } catch (error) {
        if (!(error instanceof api.ApiError)) throw error;
        status.className = "notice-bad";
        status.textContent = errorSentence(error);
        button.disabled = false;
      }
    },
  }, t("till.void")) : null;
  return h("li", { "data-redemption": item.id, "data-voided": String(voided) },
    h("span", { class: "what" }, h("strong", {}, item.title), " ",
      item.volunteer_name ? h("span", { "data-volunteer-name": "" }, item.volunteer_name, " ")
        : null,
      h("span", { class: "muted" }, dateTime(item.created_at)),
      voided ? h("p", { class: "muted" }, t("till.voided")) : null, button, status),
    h("span", { class: `amount ${voided ? "" : "plus"}` }, points(item.points)));
}

const TODAY_PAGE = 200; // the API's largest page: a till's day fits

function todayList() {
  const box = h("div", { class: "card", "data-today": "" });
  const draw = async () => {
    const day = await api.get(`/merchants/${api.pathPart(me())}/redemptions?limit=${TODAY_PAGE}`);
    box.replaceChildren(h("h2", {}, t("till.today")),
      h("p", { class: "muted" }, t("till.today_note")),
      day.items.length ? h("ul", { class: "list" }, day.items.map((item) => todayLine(item, draw)))
        : h("p", { class: "muted" }, t("common.none")));
  };
  return { box, draw };
}

// --- the till ----------------------------------------------------------------------------------

// What a scan of the volunteer's QR code reads ("timebank:redeem?code=…&volunteer=…"), pasted or
// typed into the code field: the code, and the volunteer it is bound to for the API to check.
function scanned(text) {
  const match = /^timebank:redeem\?(.*)$/.exec(text.trim());
  if (!match) return { code: text.trim().replace(/\s+/g, "") };
  const query = new URLSearchParams(match[1]);
  return { code: query.get("code") || "", volunteer_id: query.get("volunteer") || undefined };
}

// A refusal in one sentence; "not enough points" says how many are missing, as the API does.
function refusal(error) {
  const missing = /(\d+) more needed/.exec(error.message || "");
  if (error.code === "insufficient_points" && missing) {
    return t("error.insufficient_points.short", { n: missing[1] });
  }
  return errorSentence(error);
}

function offerPicker(offers) {
  const id = "till-offer";
  return h("div", { class: "field" },
    h("label", { for: id }, t("till.offer")),
    h("select", { id, name: "reward_id", "aria-describedby": `${id}-error` },
      offers.map((offer) => h("option", { value: offer.id },
        t("till.offer_option", { title: offer.title, points: points(offer.cost_points) })))),
    h("p", { class: "field-error", id: `${id}-error`, "data-field-error": "reward_id" }));
}

async function tillPage() {
  const rewards = await api.get("/rewards?kind=merchant_offer&limit=100");
  const offers = rewards.items.filter((reward) => reward.merchant_id === me());
  const result = h("div", { class: "till-result", "aria-live": "assertive", "data-result": "" });
  const today = todayList();
  await today.draw();
  const codeField = field({ name: "code", label: t("till.code"), autocomplete: "off",
    autocapitalize: "characters", spellcheck: "false", inputmode: "text",
    enterkeyhint: "go" });
  codeField.append(h("p", { class: "muted" }, t("till.code_hint")));
  const codeInput = codeField.querySelector("input");
  // A scan shows the code alone; the volunteer it is bound to goes with it until the code is
  // typed over.
  let scannedVolunteer;
  codeInput.addEventListener("input", () => { scannedVolunteer = undefined; });
  const scan = scanButton((text) => {
    const read = scanned(text);
    codeInput.value = read.code;
    scannedVolunteer = read.volunteer_id;
  });
  const tillForm = form({ "aria-labelledby": "till-title" }, codeField, scan,
    offers.length ? offerPicker(offers) : h("p", { class: "notice-bad" }, t("till.no_offers")),
    h("button", { type: "submit", class: "primary big-button", disabled: !offers.length },
      t("till.confirm")));
  onSubmit(tillForm, async (data) => {
    result.replaceChildren();
    result.className = "till-result";
    result.dataset.result = "";
    const offer = offers.find((o) => o.id === data.get("reward_id"));
    const body = { volunteer_id: scannedVolunteer, ...scanned(data.get("code") || ""),
      reward_id: data.get("reward_id") };
    let done;
    try {
      done = await api.post("/merchant/redemptions", body);
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      if (error.status === 400) throw error; // a field's fault: shown next to its field
      result.className = "till-result bad";
      result.dataset.result = "refused";
      result.replaceChildren(h("p", { class: "verdict" }, t("till.refused")),
        h("p", { class: "reason", role: "alert" }, refusal(error)));
      return;
    }
    await today.draw();
    result.className = "till-result ok";
    result.dataset.result = "completed";
    result.dataset.points = done.points;
    // ui.md: the volunteer's masked name (the API never gives the till more), large.
    result.replaceChildren(h("p", { class: "verdict" }, t("till.done")),
      done.volunteer_name ? h("p", { class: "who", "data-volunteer-name": "" }, done.volunteer_name)
        : null,
      h("p", { class: "reason", role: "status" },
        t("till.done_points", { points: points(done.points), title: offer.title })));
    codeInput.value = "";
    scannedVolunteer = undefined;
  });
  // ui.md: the keyboard already open; after the app has focused <main> for the new page.
  setTimeout(() => tillForm.querySelector("[name=code]").focus(), 0);
  return page("till.title",
    h("h1", { id: "till-title" }, t("till.title")),
    h("div", { class: "card" }, tillForm),
    result,
    today.box,
    h("p", {}, h("a", { class: "button", href: "#/merchant-statement" }, t("till.statement"))));
}

// --- the settlement statement ------------------------------------------------------------------

function statementTable(statement) {
  const cell = (tag, text) => h(tag, {}, String(text));
  return h("div", { class: "table-wrap" }, h("table", { class: "statement-table" },
    h("thead", {}, h("tr", {}, ["day", "offer", "redeemed", "voided", "owed"].map(
      (key) => cell("th", t(`statement.m.${key}`))))),
    h("tbody", {}, statement.items.map((row) => h("tr", { "data-row": row.reward_id },
      cell("td", row.day), cell("td", row.title || row.reward_id), cell("td", row.redeemed),
      cell("td", row.voided), cell("td", row.owed_points))))));
}

async function statementPage() {
  const path = `/merchants/${api.pathPart(me())}/statement`;
  const statement = await api.get(path);
  const csvButton = h("button", {
    type: "button", "data-action": "statement-csv",
    onclick: async () => saveAs((await api.blobUrl(`${path}?format=csv`)).url,
      `statement-${statement.from}-${statement.to}.csv`),
  }, t("statement.m.csv"));
  const totals = statement.totals;
  return page("statement.m.title",
    h("p", {}, h("a", { href: "#/till" }, `← ${t("statement.m.back")}`)),
    h("h1", {}, t("statement.m.title")),
    h("div", { class: "card" },
      h("h2", {}, statement.merchant_name),
      h("p", { class: "muted" }, t("statement.m.period", { from: statement.from, to: statement.to })),
      statement.items.length ? statementTable(statement) : h("p", { class: "muted" }, t("common.none")),
      h("p", { "data-totals": totals.owed_points }, t("statement.m.total", {
        redeemed: totals.redeemed, voided: totals.voided, owed: points(totals.owed_points) })),
      h("p", { "data-total-owed": statement.total_owed },
        h("strong", {}, t("statement.m.total_owed", { owed: points(statement.total_owed) }))),
      csvButton));
}

const MERCHANT = { roles: ["merchant"] };
route("till", tillPage, MERCHANT);
route("merchant-statement", statementPage, MERCHANT);
homeFor("merchant", "till");
