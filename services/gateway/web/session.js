// Who is signed in: the API's token and what it says about its holder. Kept in localStorage so
// a reload (or a new tab) stays signed in; sign-out and an expired token remove it.

const SESSION_KEY = "timebank.session";

export function current() {
  let session;
  try {
    session = JSON.parse(localStorage.getItem(SESSION_KEY));
  } catch {
    session = null;
  }
  if (!session || !session.token) return null;
  if (session.expires_at && Date.parse(session.expires_at) <= Date.now()) {
    end();
    return null;
  }
  return session;
}

// What POST /api/v1/auth/token answered.
export function begin(answer) {
  const session = {
    token: answer.access_token, role: answer.role, subject_id: answer.subject_id,
    expires_at: answer.expires_at,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function end() {
  localStorage.removeItem(SESSION_KEY);
}
