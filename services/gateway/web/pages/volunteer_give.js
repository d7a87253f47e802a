// The volunteer gives points away: to family (转赠, named by the number their own home page
// shows as 我的编号) or to the community fund (捐赠). Each form asks once more, with the
// points, before anything moves.
import * as api from "../api.js";
import { addWords, points, t } from "../i18n.js";
import { route } from "../router.js";
import * as session from "../session.js";
import { field, form, h, onSubmit, showError } from "../ui.js";
import { availableLine, backLink, me, page, refusalSentence } from "./volunteer.js";

addWords({
  zh: {
    "give.title": "转赠积分",
    "give.explain": "把积分送给家人：请对方打开首页，把“我的编号”告诉您或发给您。",
    "give.to": "对方的编号",
    "give.points": "转赠积分",
    "give.note": "留言（可不填）",
    "give.next": "下一步",
    "give.confirm_line": "转赠 {points}给编号 {to}",
    "give.confirm": "确认转赠",
    "give.done": "已转赠 {points}给编号 {to}",
    "give.unknown": "没有这个编号的志愿者，请核对后重试",
    "give.self": "不能转赠给自己，请填写家人的编号",
    "donate.title": "捐赠给社区基金",
    "donate.explain": "社区基金由服务中心用于资助有困难的邻里。",
    "donate.points": "捐赠积分",
    "donate.confirm_line": "捐赠 {points}给社区基金",
    "donate.confirm": "确认捐赠",
    "donate.done": "已捐赠 {points}，谢谢您！",
    "more.edit": "返回修改",
  },
  en: {
    "give.title": "Give points",
    "give.explain": "Give points to family: ask them to open their home page and send you “My number”.",
    "give.to": "Their number",
    "give.points": "Points to give",
    "give.note": "Message (optional)",
    "give.next": "Next",
    "give.confirm_line": "Give {points} to number {to}",
    "give.confirm": "Confirm the gift",
    "give.done": "{points} given to number {to}",
    "give.unknown": "No volunteer has this number; check it and try again",
    "give.self": "You cannot give points to yourself; enter your family member's number",
    "donate.title": "Donate to the community fund",
    "donate.explain": "The center uses the community fund to help neighbours in need.",
    "donate.points": "Points to donate",
    "donate.confirm_line": "Donate {points} to the community fund",
    "donate.confirm": "Confirm the donation",
    "donate.done": "{points} donated. Thank you!",
    "more.edit": "Change",
  },
});

// What the person typed, as the API expects it: a whole number stays a number; anything else
// goes as typed and comes back as the API's field error.
function typedPoints(value) {
  const text = String(value ?? "").trim();
  if (!text) return null;
  return /^\d+$/.test(text) ? Number(text) : text;
}

function plausible(body) {
  return Number.isInteger(body.points) && body.points > 0
    && Object.values(body).every((value) => value !== null && value !== "");
}

// A form that asks once more before it moves points: a body that cannot be right goes to the
// API at once (its field errors show next to the fields); a plausible one shows `confirmLine`
// and a confirm button first. `sentence(error)` says a refusal; `done(answer, body)` the result.
function confirmingForm({ fields, body, confirmLine, confirmLabel, send, sentence, done }) {
  const confirmBox = h("div", { class: "confirm", hidden: true });
  const status = h("p", { role: "status" });
  const entry = form({}, ...fields,
    h("button", { type: "submit", class: "primary", "data-action": "next" }, t("give.next")));
  const submit = async (request) => {
    try {
      const answer = await send(request);
      entry.reset();
      status.className = "notice-ok";
      status.textContent = await done(answer, request);
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      const said = await sentence(error, request);
      // A refusal about the person named (unknown, oneself) reads as its sentence, not as the
      // API's English field message.
      showError(entry, error.status === 400 ? error : { ...error, fields: {} }, said);
    } finally {
      confirmBox.hidden = true;
      entry.hidden = false;
    }
  };
  onSubmit(entry, async (data) => {
    status.textContent = "";
    const request = body(data);
    if (!plausible(request)) {
      await send(request); // refused with its field errors, shown by onSubmit
      return;
    }
    const confirmButton = h("button", { type: "button", class: "primary", "data-action": "confirm",
      onclick: async () => { confirmButton.disabled = true; await submit(request); } }, confirmLabel);
    confirmBox.replaceChildren(
      h("p", { class: "confirm-line", "data-confirm": request.points }, confirmLine(request)),
      h("div", { class: "tiles" }, confirmButton,
        h("button", { type: "button", "data-action": "edit",
          onclick: () => { confirmBox.hidden = true; entry.hidden = false; } }, t("more.edit"))));
    entry.hidden = true;
    confirmBox.hidden = false;
    confirmButton.focus();
  });
  return [entry, confirmBox, status];
}

async function givePage() {
  const available = await availableLine();
  const parts = confirmingForm({
    fields: [
      field({ name: "to_volunteer_id", label: t("give.to"), autocapitalize: "none",
        autocomplete: "off", spellcheck: "false" }),
      field({ name: "points", label: t("give.points"), inputmode: "numeric" }),
      field({ name: "note", label: t("give.note") })],
    body: (data) => ({
      from_volunteer_id: session.current().subject_id,
      to_volunteer_id: String(data.get("to_volunteer_id") || "").trim() || null,
      points: typedPoints(data.get("points")),
      ...(String(data.get("note") || "").trim() ? { note: String(data.get("note")).trim() } : {}),
    }),
    confirmLine: (request) => t("give.confirm_line", { points: points(request.points), to: request.to_volunteer_id }),
    confirmLabel: t("give.confirm"),
    send: (request) => api.post("/transfers", request),
    sentence: async (error, request) => {
      if (error.status === 404 && error.fields.to_volunteer_id) return t("give.unknown");
      if (error.status === 422 && error.fields.to_volunteer_id) return t("give.self");
      return refusalSentence(error, request.points);
    },
    done: async (answer) => {
      await available.refresh();
      return t("give.done", { points: points(answer.points), to: answer.to_volunteer_id });
    },
  });
  return page("give.title", backLink(),
    h("h1", {}, t("give.title")),
    available.line,
    h("div", { class: "card numbers" }, h("p", { class: "muted" }, t("give.explain")), ...parts));
}

async function donatePage() {
  const [volunteer, available] = await Promise.all([api.get(`/volunteers/${me()}`), availableLine()]);
  const parts = confirmingForm({
    fields: [field({ name: "points", label: t("donate.points"), inputmode: "numeric" })],
    body: (data) => ({ volunteer_id: session.current().subject_id, points: typedPoints(data.get("points")) }),
    confirmLine: (request) => t("donate.confirm_line", { points: points(request.points) }),
    confirmLabel: t("donate.confirm"),
    send: (request) => api.post(`/communities/${api.pathPart(volunteer.community_id)}/fund/donations`, request),
    sentence: (error, request) => refusalSentence(error, request.points),
    done: async (answer, request) => {
      await available.refresh();
      return t("donate.done", { points: points(answer.points ?? request.points) });
    },
  });
  return page("donate.title", backLink(),
    h("h1", {}, t("donate.title")),
    available.line,
    h("div", { class: "card" }, h("p", { class: "muted" }, t("donate.explain")), ...parts));
}

const VOLUNTEER = { roles: ["volunteer"] };
route("give", givePage, VOLUNTEER);
route("donate", donatePage, VOLUNTEER);
