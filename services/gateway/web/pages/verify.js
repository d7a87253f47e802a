// Anyone verifies a service certificate by the code printed on it (GET /certificates/{code}).
import * as api from "../api.js";
import { addWords, date, errorSentence, hours, t } from "../i18n.js";
import { go, route } from "../router.js";
import { field, form, h, onSubmit } from "../ui.js";

addWords({
  zh: {
    "verify.title": "核验志愿服务证明",
    "verify.code": "证明编号",
    "verify.submit": "核验",
    "verify.valid": "✓ 证明有效",
    "verify.revoked": "✗ 证明所记录的部分服务时长已被撤销，证明不再有效",
    "verify.name": "志愿者",
    "verify.hours": "志愿服务时长",
    "verify.stars": "星级",
    "verify.issued_at": "开具日期",
    "verify.issued_by": "开具单位",
  },
  en: {
    "verify.title": "Verify a service certificate",
    "verify.code": "Certificate code",
    "verify.submit": "Verify",
    "verify.valid": "✓ This certificate is genuine",
    "verify.revoked": "✗ Hours on this certificate were revoked since: it is no longer valid",
    "verify.name": "Volunteer",
    "verify.hours": "Service hours",
    "verify.stars": "Star level",
    "verify.issued_at": "Issued on",
    "verify.issued_by": "Issued by",
  },
});

function verdict(answer) {
  const facts = [
    ["verify.name", answer.volunteer_name],
    ["verify.hours", hours(answer.approved_minutes)],
    ["verify.stars", "★".repeat(answer.star_level) || "—"],
    ["verify.issued_at", date(answer.issued_at)],
    ["verify.issued_by", answer.issued_by],
  ];
  return h("div", { class: "card", "data-verdict": answer.valid ? "valid" : "revoked" },
    h("p", { class: answer.valid ? "verdict-ok" : "verdict-bad", role: "status" },
      t(answer.valid ? "verify.valid" : "verify.revoked")),
    h("dl", { class: "facts" }, facts.map(([label, value]) => [h("dt", {}, t(label)), h("dd", {}, value)])));
}

async function verifyPage({ code = "" }) {
  const codeForm = form({ "aria-labelledby": "verify-title" },
    field({ name: "code", label: t("verify.code"), value: code, autocapitalize: "characters",
      spellcheck: "false" }),
    h("button", { type: "submit", class: "primary" }, t("verify.submit")));
  onSubmit(codeForm, async (data) => {
    const typed = data.get("code").trim();
    if (!typed) {
      throw new api.ApiError(400, { error: { fields: { code: ["Missing data for required field."] } } });
    }
    go(`verify/${encodeURIComponent(typed)}`);
  });
  let result = null;
  if (code) {
    try {
      result = verdict(await api.get(`/certificates/${api.pathPart(code)}`));
    } catch (error) {
      if (!(error instanceof api.ApiError)) throw error;
      result = h("p", { class: "notice-bad card", role: "alert", "data-verdict": "unknown" },
        errorSentence(error.status === 404 ? { code: "certificate_not_found" } : error));
    }
  }
  return h("section", { "data-title": t("verify.title") },
    h("h1", { id: "verify-title" }, t("verify.title")),
    h("div", { class: "card" }, codeForm), result);
}

route("verify", verifyPage, { public: true });
route("verify/:code", verifyPage, { public: true });
