// The words of every page in Simplified Chinese (the default) and English, the sentences an API
// refusal reads as, and how numbers, hours and dates are written (../shared/ui.md).
// A page adds its own words with addWords({zh: {...}, en: {...}}) next to its code.

const LANG_KEY = "timebank.lang";
const ZONE = "Asia/Shanghai"; // the communities' zone: dates read as the center wrote them

const WORDS = {
  zh: {
    "app.name": "时间银行",
    "lang.switch": "English",
    "lang.switch.label": "Switch to English",
    "nav.sign_out": "退出",
    "nav.home": "首页",
    "nav.back": "返回首页",
    "common.loading": "加载中…",
    "common.retry": "重试",
    "common.none": "暂无",
    "sign_in.title": "登录",
    "sign_in.username": "用户名",
    "sign_in.password": "密码",
    "sign_in.submit": "登录",
    "sign_in.expired": "登录已过期，请重新登录",
    "sign_in.signed_out": "已退出登录",
    "sign_in.verify_link": "核验志愿服务证明",
    "role.soon": "该角色的页面即将推出，请暂时使用原有方式。",
    // Error sentences by the API's error code: what happened and what to do.
    "error.insufficient_points": "积分不足",
    "error.insufficient_points.short": "积分不足：还差 {n} 分",
    "error.out_of_stock": "已兑完，请选择其他礼品",
    "error.limit_reached": "已达到每人可兑换的数量上限",
    "error.not_yet_valid": "该礼品尚未开放兑换",
    "error.no_longer_valid": "该礼品已过兑换期",
    "error.code_expired": "兑换码已过期，请让志愿者重新生成",
    "error.code_used": "兑换码已使用，请重新生成",
    "error.code_burnt": "兑换码已失效，请重新生成",
    "error.wrong_code": "兑换码不正确，请核对后重试",
    "error.too_many_wrong_codes": "输错次数过多，请稍后再试",
    "error.daily_quota_reached": "今天的兑换次数已用完，请明天再来",
    "error.not_enough_hours": "服务时长还不够，暂时不能在商家兑换",
    "error.use_redeem_code": "请在爱心商家处出示兑换码",
    "error.overlapping_hours": "该志愿者在此时间段已有服务记录",
    "error.no_approved_hours": "还没有已通过审核的服务时长，暂时无法开具证明",
    "error.certificate_not_found": "没有找到这个编号的证明，请核对后重试",
    "error.invalid_credentials": "用户名或密码错误",
    "error.account_disabled": "该账号已停用，请联系服务中心",
    "error.too_many_attempts": "尝试次数过多，请 {seconds} 秒后再试",
    "error.invalid_token": "登录已过期，请重新登录",
    "error.token_expired": "登录已过期，请重新登录",
    "error.token_revoked": "登录已失效，请重新登录",
    "error.unauthenticated": "请先登录",
    "error.forbidden": "没有权限进行此操作",
    "error.not_found": "没有找到相关内容",
    "error.busy": "当前人多，请稍后重试",
    "error.service_unavailable": "服务暂时不可用，请稍后重试",
    "error.network": "无法连接服务器，请检查网络后重试",
    "error.invalid_input": "请检查填写的内容",
    "error.status.409": "操作与当前状态冲突，请刷新后重试",
    "error.status.422": "该操作不符合规则",
    "error.status.other": "操作未成功，请稍后重试",
    "field.required": "必填",
    "field.length": "长度须为 {min} 到 {max} 个字符",
    "field.max_length": "最多 {max} 个字符",
    "field.min_length": "至少 {min} 个字符",
    "field.invalid": "格式不正确",
    "field.range": "须在 {min} 到 {max} 之间",
    "field.integer": "请输入整数",
    // Formats
    "fmt.points": "{n} 分",
    "fmt.hours": "{h} 小时",
    "fmt.hours_minutes": "{h} 小时 {m} 分钟",
    "fmt.minutes": "{m} 分钟",
    "fmt.month": "{m}月",
    // The service categories (ui.md), as activities, the scheme and reports name them.
    "cat.elder_care": "为老服务",
    "cat.disability_care": "助残服务",
    "cat.professional": "专业服务",
    "cat.environment": "环境卫生",
    "cat.culture_sports": "文体活动",
    "cat.other": "其他",
  },
  en: {
    "app.name": "Timebank",
    "lang.switch": "中文",
    "lang.switch.label": "切换到中文",
    "nav.sign_out": "Sign out",
    "nav.home": "Home",
    "nav.back": "Back to home",
    "common.loading": "Loading…",
    "common.retry": "Try again",
    "common.none": "Nothing yet",
    "sign_in.title": "Sign in",
    "sign_in.username": "Username",
    "sign_in.password": "Password",
    "sign_in.submit": "Sign in",
    "sign_in.expired": "Your session has ended; please sign in again",
    "sign_in.signed_out": "You have signed out",
    "sign_in.verify_link": "Verify a service certificate",
    "role.soon": "The pages for this role are coming soon.",
    "error.insufficient_points": "Not enough points",
    "error.insufficient_points.short": "Not enough points: {n} more needed",
    "error.out_of_stock": "None left; please choose another gift",
    "error.limit_reached": "You have redeemed as many of these as one person may",
    "error.not_yet_valid": "This gift cannot be redeemed yet",
    "error.no_longer_valid": "This gift can no longer be redeemed",
    "error.code_expired": "This code has expired; ask for a new one",
    "error.code_used": "This code was used already; ask for a new one",
    "error.code_burnt": "This code no longer works; ask for a new one",
    "error.wrong_code": "This code is not right; check it and try again",
    "error.too_many_wrong_codes": "Too many wrong codes; try again later",
    "error.daily_quota_reached": "Today's redemptions are used up; come back tomorrow",
    "error.not_enough_hours": "Not enough service hours yet to redeem at merchants",
    "error.use_redeem_code": "Show a one-time code at the merchant's counter",
    "error.overlapping_hours": "This volunteer already has hours at this time",
    "error.no_approved_hours": "No approved service hours yet: there is nothing to certify",
    "error.certificate_not_found": "No certificate has this code; check it and try again",
    "error.invalid_credentials": "Wrong username or password",
    "error.account_disabled": "This account is disabled; contact your center",
    "error.too_many_attempts": "Too many attempts; try again in {seconds} seconds",
    "error.invalid_token": "Your session has ended; please sign in again",
    "error.token_expired": "Your session has ended; please sign in again",
    "error.token_revoked": "Your session has ended; please sign in again",
    "error.unauthenticated": "Please sign in first",
    "error.forbidden": "You may not do this",
    "error.not_found": "Not found",
    "error.busy": "Busy right now; please try again in a moment",
    "error.service_unavailable": "The service is unavailable; please try again shortly",
    "error.network": "Cannot reach the server; check the connection and try again",
    "error.invalid_input": "Please check what you entered",
    "error.status.409": "This conflicts with the current state; refresh and try again",
    "error.status.422": "The rules do not allow this",
    "error.status.other": "That did not work; please try again later",
    "field.required": "Required",
    "field.length": "Between {min} and {max} characters",
    "field.max_length": "At most {max} characters",
    "field.min_length": "At least {min} characters",
    "field.invalid": "Not valid",
    "field.range": "Between {min} and {max}",
    "field.integer": "A whole number, please",
    "fmt.points": "{n} points",
    "fmt.hours": "{h} h",
    "fmt.hours_minutes": "{h} h {m} min",
    "fmt.minutes": "{m} min",
    "fmt.month": "{m}",
    "cat.elder_care": "Elder care",
    "cat.disability_care": "Disability care",
    "cat.professional": "Professional",
    "cat.environment": "Environment",
    "cat.culture_sports": "Culture & sports",
    "cat.other": "Other",
  },
};

export const LANGS = ["zh", "en"];
// The API's service categories, in the order ui.md lists them (their words are "cat.<name>").
export const CATEGORIES = ["elder_care", "disability_care", "professional", "environment",
  "culture_sports", "other"];

export function addWords(table) {
  for (const lang of LANGS) Object.assign(WORDS[lang], table[lang]);
}

export function lang() {
  const stored = localStorage.getItem(LANG_KEY);
  return LANGS.includes(stored) ? stored : "zh";
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
}

export function t(key, params = {}) {
  const text = WORDS[lang()][key] ?? WORDS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export function has(key) {
  return key in WORDS[lang()];
}

// --- what an API refusal reads as ------------------------------------------------------------

// An ApiError as one sentence: by its code, else by its status; never the code itself.
export function errorSentence(error) {
  const code = error.code;
  if (code && has(`error.${code}`)) {
    return t(`error.${code}`, { seconds: error.retryAfter || 60 });
  }
  if (error.status === 409 || error.status === 422) return t(`error.status.${error.status}`);
  if (error.status === 503) return t("error.service_unavailable");
  if (error.status === 0) return t("error.network");
  return t("error.status.other");
}

// A field message of the API (marshmallow's English) in the page's language.
const FIELD_MESSAGES = [
  [/^Missing data for required field/i, () => t("field.required")],
  [/^Field may not be null/i, () => t("field.required")],
  [/^Shorter than minimum length (\d+)/i, (m) => t("field.min_length", { min: m[1] })],
  [/^Length must be between (\d+) and (\d+)/i, (m) => t("field.length", { min: m[1], max: m[2] })],
  [/^Longer than maximum length (\d+)/i, (m) => t("field.max_length", { max: m[1] })],
  [/^Must be greater than or equal to (\S+) and less than or equal to (\S+?)\.?$/i,
    (m) => t("field.range", { min: m[1], max: m[2] })],
  [/^Not a valid integer/i, () => t("field.integer")],
];

export function fieldMessage(message) {
  for (const [pattern, render] of FIELD_MESSAGES) {
    const match = pattern.exec(message);
    if (match) return render(match);
  }
  return lang() === "zh" ? t("field.invalid") : message;
}

// --- numbers, hours and dates ------------------------------------------------------------------

export function points(n) {
  return t("fmt.points", { n: Number(n).toLocaleString(lang() === "zh" ? "zh-CN" : "en") });
}

// Minutes as hours and minutes ("3 小时 30 分钟"), never a decimal.
export function hours(minutes) {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (!h) return t("fmt.minutes", { m });
  return m ? t("fmt.hours_minutes", { h, m }) : t("fmt.hours", { h });
}

function localParts(iso) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso));
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

// "2026年11月25日" in Chinese, "2026-11-25" in English, in the community's zone.
export function date(iso) {
  const p = localParts(iso);
  return lang() === "zh" ? `${p.year}年${Number(p.month)}月${Number(p.day)}日`
    : `${p.year}-${p.month}-${p.day}`;
}

export function dateTime(iso) {
  const p = localParts(iso);
  return `${date(iso)} ${p.hour}:${p.minute}`;
}

// The month ("2026-11") a moment or a local date falls in.
export function monthOf(isoOrLocalDate) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(isoOrLocalDate)) return isoOrLocalDate.slice(0, 7);
  const p = localParts(isoOrLocalDate);
  return `${p.year}-${p.month}`;
}

export function monthLabel(month) {
  const m = Number(month.slice(5, 7));
  if (lang() === "zh") return t("fmt.month", { m });
  return new Date(Date.UTC(2000, m - 1, 1)).toLocaleString("en", { month: "short", timeZone: "UTC" });
}
