// The public API (/api/v1), the same one every other client uses: the pages can do nothing it
// would refuse. Errors arrive as ApiError with the API's code and fields; a 401 on a signed-in
// call ends the session (an expired or signed-out token) and the app returns to sign-in.
import * as session from "./session.js";

const BASE = "/api/v1";
const sessionEndedHandlers = [];

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? "network" : null);
    this.fields = error.fields || {};
    this.retryAfter = retryAfter;
  }
}

export function onSessionEnded(handler) {
  sessionEndedHandlers.push(handler);
}

// A key for Idempotency-Key: a retried tap replays the first answer instead of acting twice.
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // also outside secure contexts
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function send(method, path, { body, key, auth = true } = {}) {
  const headers = {};
  const signedIn = auth ? session.current() : null;
  if (signedIn) headers.Authorization = `Bearer ${signedIn.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  let response;
  try {
    response = await fetch(BASE + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.ok) return response;
  let errorBody = null;
  try {
    errorBody = await response.json();
  } catch {
    errorBody = null;
  }
  const error = new ApiError(response.status, errorBody, response.headers.get("Retry-After"));
  if (response.status === 401 && signedIn) {
    session.end();
    sessionEndedHandlers.forEach((handler) => handler(error));
  }
  throw error;
}

export async function get(path) {
  return (await send("GET", path)).json();
}

// A POST that creates or moves something: sent with an Idempotency-Key.
export async function post(path, body = {}, key = newKey()) {
  return (await send("POST", path, { body, key })).json();
}

export async function signIn(username, password) {
  return (await send("POST", "/auth/token", { body: { username, password }, auth: false })).json();
}

export async function signOut() {
  await send("POST", "/auth/logout", { body: {} });
}

// A file the API serves to a signed-in caller (an image, a PDF, a CSV): an <img> or a link
// cannot send the token, so it is fetched here and handed on as a blob: URL.
export async function blobUrl(path) {
  const response = await send("GET", path.startsWith(BASE) ? path.slice(BASE.length) : path);
  return { url: URL.createObjectURL(await response.blob()), response };
}

export function pathPart(value) {
  return encodeURIComponent(value);
}
