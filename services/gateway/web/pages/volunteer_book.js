// The volunteer's services between neighbours (以服务换服务: a service's free sessions, one
// picked and booked) and their redemptions (status in words, a gift's pickup code large,
// cancelling before pickup with the points back).
import * as api from "../api.js";
import { addWords, date, dateTime, errorSentence, hours, points, t } from "../i18n.js";
import { route } from "../router.js";
import * as session from "../session.js";
import { form, h, onSubmit, showError } from "../ui.js";
import { availableLine, backLink, me, page, refusalSentence } from "./volunteer.js";

addWords({
  zh: {
    "book.title": "以服务换服务",
    "book.explain": "邻里之间互相提供服务：选一个时间预约，预约时扣除积分，服务完成后积分归提供者。",
    "book.where": "地点：{place}",
    "book.length": "时长 {hours}",
    "book.sessions": "选择时间",
    "book.taken": "{time}（已约满）",
    "book.none_free": "暂无可预约的时间",
    "book.submit": "预约（{points}）",
    "book.done": "预约成功：{time}，扣除 {points}",
    "book.see_mine": "查看我的兑换",
    "book.slot_taken": "这个时间已被预约，请选择其他时间",
    "book.pick_slot": "请选择一个时间",
    "error.own_service": "这是您自己提供的服务，不能预约",
    "error.slot_passed": "这个时间已经开始，请选择其他时间",
    "mine.title": "我的兑换",
    "mine.pickup": "取货码",
    "mine.pickup_by": "请在 {date} 前到服务中心领取",
    "mine.session": "服务时间 {time}",
    "mine.cancel": "取消",
    "mine.confirm_cancel": "确认取消（退回 {points}）",
    "mine.cancelled": "已取消，{points}已退回",
    "status.pending": "处理中",
    "status.confirmed.gift": "待领取",
    "status.confirmed.service": "已预约",
    "status.fulfilled.gift": "已领取",
    "status.fulfilled.service": "服务已完成",
    "status.completed": "已兑换",
    "status.cancelled": "已取消",
    "status.expired": "已过期（积分已退回）",
    "status.failed": "未成功（积分未扣除）",
    "error.redemption_fulfilled": "已经领取或完成，不能再取消",
    "error.already_fulfilled": "已经领取或完成，不能再取消",
    "error.redemption_cancelled": "已经取消过了",
    "error.already_cancelled": "已经取消过了",
    "error.already_expired": "已过领取期限，积分已退回",
  },
  en: {
    "book.title": "Services between neighbours",
    "book.explain": "Neighbours serve each other: book a time; the points leave at booking and go to the provider once the service is done.",
    "book.where": "Where: {place}",
    "book.length": "{hours}",
    "book.sessions": "Pick a time",
    "book.taken": "{time} (taken)",
    "book.none_free": "No time left to book",
    "book.submit": "Book ({points})",
    "book.done": "Booked: {time}, {points} taken",
    "book.see_mine": "See my redemptions",
    "book.slot_taken": "This time was just booked; please pick another",
    "book.pick_slot": "Please pick a time",
    "error.own_service": "This is your own service; you cannot book it",
    "error.slot_passed": "This time has begun; please pick another",
    "mine.title": "My redemptions",
    "mine.pickup": "Pickup code",
    "mine.pickup_by": "Collect it at the center by {date}",
    "mine.session": "Session at {time}",
    "mine.cancel": "Cancel",
    "mine.confirm_cancel": "Confirm cancelling ({points} back)",
    "mine.cancelled": "Cancelled: {points} back",
    "status.pending": "Being processed",
    "status.confirmed.gift": "Ready for pickup",
    "status.confirmed.service": "Booked",
    "status.fulfilled.gift": "Collected",
    "status.fulfilled.service": "Service done",
    "status.completed": "Redeemed",
    "status.cancelled": "Cancelled",
    "status.expired": "Expired (points back)",
    "status.failed": "Did not go through (no points taken)",
    "error.redemption_fulfilled": "Already collected or done; it cannot be cancelled",
    "error.already_fulfilled": "Already collected or done; it cannot be cancelled",
    "error.redemption_cancelled": "It was cancelled already",
    "error.already_cancelled": "It was cancelled already",
    "error.already_expired": "The pickup period is over; the points are back",
  },
});

const PAGE_SIZE = 100;

// --- booking a neighbour's service --------------------------------------------------------------

function sessionChoice(service, session_, name) {
  const time = dateTime(session_.starts_at);
  const id = `slot-${service.id}-${Date.parse(session_.starts_at)}`;
  return h("div", { class: "choice" },
    h("input", { type: "radio", id, name, value: session_.starts_at, disabled: !session_.free,
      "data-slot": session_.starts_at }),
    h("label", { for: id }, session_.free ? time : t("book.taken", { time })));
}

function serviceItem(service, onBooked) {
  const cost = points(service.cost_points);
  const sessions = service.sessions || [];
  const slotName = `slot-${service.id}`;
  const status = h("p", { role: "status" });
  const bookForm = form({ "aria-label": service.title },
    sessions.length ? h("fieldset", { "aria-describedby": `${slotName}-error` },
      h("legend", {}, t("book.sessions")),
      sessions.map((s) => sessionChoice(service, s, slotName)),
      h("p", { class: "field-error", id: `${slotName}-error`, "data-field-error": "slot" })) : null,
    sessions.length && !sessions.some((s) => s.free)
      ? h("p", { class: "muted" }, t("book.none_free")) : null,
    h("button", { type: "submit", class: "primary", "data-action": "book" },
      t("book.submit", { points: cost })));
  onSubmit(bookForm, async (data) => {
    status.textContent = "";
    const slot = data.get(slotName);
    if (sessions.length && !slot) { // said here: the API's words for it are about its slots
      bookForm.querySelector("[data-field-error=slot]").textContent = t("book.pick_slot");
      return;
    }
    try {
      const booked = await api.post("/redemptions", {
        reward_id: service.id, volunteer_id: session.current().subject_id, quantity: 1,
        ...(slot ? { slot } : {}) });
      const chosen = bookForm.querySelector(`input[value="${CSS.escape(slot || "")}"]`);
      if (chosen) {
        chosen.checked = false;
        chosen.disabled = true;
        chosen.labels[0].textContent = t("book.taken", { time: dateTime(slot) });
      }
      status.className = "notice-ok";
      status.replaceChildren(
        t("book.done", { time: slot ? dateTime(slot) : "", points: points(booked.points) }), " ",
        h("a", { href: "#/redemptions" }, t("book.see_mine")));
      await onBooked();
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      // A session taken meanwhile is out of stock: it reads as the time being taken.
      const sentence = error.code === "out_of_stock" ? t("book.slot_taken")
        : await refusalSentence(error, service.cost_points);
      showError(bookForm, error, sentence);
    }
  });
  return h("li", { class: "reward", "data-service": service.id },
    h("div", { class: "what" },
      h("strong", {}, service.title), " ", h("span", { class: "amount" }, cost),
      service.location ? h("p", { class: "muted" }, t("book.where", { place: service.location })) : null,
      service.duration_minutes
        ? h("p", { class: "muted" }, t("book.length", { hours: hours(service.duration_minutes) })) : null,
      bookForm, status));
}

async function servicesPage() {
  const [services, available] = await Promise.all([
    api.get(`/rewards?kind=service&limit=${PAGE_SIZE}`), availableLine()]);
  return page("book.title", backLink(),
    h("h1", {}, t("book.title")),
    h("p", { class: "muted" }, t("book.explain")),
    available.line,
    h("div", { class: "card" }, services.items.length
      ? h("ul", { class: "list services" }, services.items.map((s) => serviceItem(s, available.refresh)))
      : h("p", { class: "muted" }, t("common.none"))));
}

// --- my redemptions ----------------------------------------------------------------------------

function statusWords(redemption) {
  const kind = redemption.reward_kind === "service" ? "service" : "gift";
  const key = `status.${redemption.status}`;
  return ["confirmed", "fulfilled"].includes(redemption.status) ? t(`${key}.${kind}`) : t(key);
}

// Gifts and services may be cancelled by their volunteer until collected or delivered.
function cancellable(redemption) {
  return redemption.status === "confirmed" && ["gift", "service"].includes(redemption.reward_kind);
}

function redemptionItem(redemption, onCancelled) {
  const statusLine = h("p", { class: `status-${redemption.status}`, "data-status": redemption.status },
    statusWords(redemption));
  const outcome = h("p", { role: "status" });
  const actions = h("div", {});
  const giftToCollect = redemption.reward_kind === "gift" && redemption.status === "confirmed"
    && redemption.pickup_code;
  if (cancellable(redemption)) {
    actions.append(h("button", {
      type: "button", "data-action": "cancel",
      onclick: (event) => {
        const confirm = h("button", {
          type: "button", class: "primary", "data-action": "confirm-cancel",
          onclick: () => cancel(confirm),
        }, t("mine.confirm_cancel", { points: points(redemption.points) }));
        event.target.replaceWith(confirm);
        confirm.focus();
      },
    }, t("mine.cancel")));
  }
  const cancel = async (button) => {
    button.disabled = true;
    try {
      const done = await api.post(`/redemptions/${api.pathPart(redemption.id)}/cancel`);
      statusLine.className = `status-${done.status}`;
      statusLine.dataset.status = done.status;
      statusLine.textContent = statusWords({ ...redemption, status: done.status });
      item.querySelector("[data-pickup-code]")?.remove();
      actions.replaceChildren();
      outcome.className = "notice-ok";
      outcome.textContent = t("mine.cancelled", { points: points(redemption.points) });
      await onCancelled();
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      outcome.className = "notice-bad";
      outcome.setAttribute("role", "alert");
      outcome.textContent = errorSentence(error);
      button.disabled = false;
    }
  };
  const item = h("li", { "data-redemption": redemption.id },
    h("div", { class: "what" },
      h("strong", {}, redemption.reward_title || t("mine.title")), h("br"),
      h("span", { class: "muted" }, date(redemption.created_at)),
      statusLine,
      redemption.slot ? h("p", {}, t("mine.session", { time: dateTime(redemption.slot) })) : null,
      giftToCollect ? h("div", { class: "pickup", "data-pickup-code": redemption.pickup_code },
        h("p", { class: "muted" }, t("mine.pickup")),
        h("p", { class: "value" }, redemption.pickup_code),
        redemption.pickup_day
          ? h("p", { class: "muted" }, t("mine.pickup_by", { date: date(`${redemption.pickup_day}T12:00:00+08:00`) }))
          : null) : null,
      actions, outcome),
    h("span", { class: "amount minus" }, `-${redemption.points}`));
  return item;
}

async function redemptionsPage() {
  const [mine, available] = await Promise.all([
    api.get(`/volunteers/${me()}/redemptions?limit=${PAGE_SIZE}`), availableLine()]);
  return page("mine.title", backLink(),
    h("h1", {}, t("mine.title")),
    available.line,
    h("div", { class: "card" }, mine.items.length
      ? h("ul", { class: "list", "data-redemptions": "" },
        mine.items.map((r) => redemptionItem(r, available.refresh)))
      : h("p", { class: "muted" }, t("common.none"))));
}

const VOLUNTEER = { roles: ["volunteer"] };
route("services", servicesPage, VOLUNTEER);
route("redemptions", redemptionsPage, VOLUNTEER);
