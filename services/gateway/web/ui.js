// Small DOM helpers shared by every page: elements, labelled fields with their error line,
// and showing an API refusal where it belongs (next to its field, or as one sentence).
import { ApiError } from "./api.js";
import { errorSentence, fieldMessage, t } from "./i18n.js";

// h("p", {class: "muted"}, "text", child...): attributes, "on*" listeners, text and elements.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let fieldCounter = 0;

// A labelled input with its own error line (aria-describedby), named after the API's field.
export function field({ name, label, type = "text", value = "", ...attrs }) {
  const id = `f-${name}-${++fieldCounter}`;
  const input = h("input", { id, name, type, value, "aria-describedby": `${id}-error`, ...attrs });
  return h("div", { class: "field" },
    h("label", { for: id }, label), input,
    h("p", { class: "field-error", id: `${id}-error`, "data-field-error": name }));
}

// A form that never lets the browser's own checks speak: the API's answer is the one shown.
export function form(attrs, ...children) {
  const el = h("form", { novalidate: true, ...attrs }, ...children);
  el.append(h("p", { class: "form-error", role: "alert", "data-form-error": "" }));
  return el;
}

export function clearErrors(formEl) {
  formEl.querySelectorAll("[data-field-error], [data-form-error]").forEach((p) => {
    p.textContent = "";
  });
  formEl.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
}

// An ApiError on a form: each field's messages next to it, the rest as one sentence.
export function showError(formEl, error, sentence = errorSentence(error)) {
  clearErrors(formEl);
  let placed = false;
  for (const [name, messages] of Object.entries(error.fields || {})) {
    const slot = formEl.querySelector(`[data-field-error="${CSS.escape(name)}"]`);
    if (!slot) continue;
    slot.textContent = messages.map(fieldMessage).join("；");
    formEl.querySelector(`[name="${CSS.escape(name)}"]`)?.setAttribute("aria-invalid", "true");
    placed = true;
  }
  if (!placed || error.status !== 400) {
    formEl.querySelector("[data-form-error]").textContent = sentence;
  }
}

// Runs an async submit: the button is disabled meanwhile so one tap acts once.
export function onSubmit(formEl, action) {
  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = formEl.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    clearErrors(formEl);
    try {
      await action(new FormData(formEl));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(formEl, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// A page's error in place of its content: one sentence and a way to try again.
export function errorPanel(error, retry) {
  return h("div", { class: "card", role: "alert" },
    h("p", { class: "notice-bad" }, errorSentence(error)),
    retry ? h("button", { type: "button", onclick: retry }, t("common.retry")) : null);
}

// Saves a blob: URL as a file, then lets it go.
export function saveAs(url, filename) {
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
