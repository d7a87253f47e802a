"""Bearer tokens: signed JWTs that carry who the caller is, checked without a round trip.

A token can be ended before it expires, with two lookups by ``_id`` in the gateway's own
database on each request (no call to another service):
- sign-out revokes one token: ``revoked_tokens`` holds its ``jti``;
- a password change or an admin disabling a user ends all of that user's tokens: each token
  carries the user's token generation ``gen`` from when it was issued, and ending them inserts
  generation gen + 1 as the document ``<user>:<gen + 1>`` in ``token_generations``
  (services.shared.sequence). A token whose next generation exists is no longer valid.
Both are inserts that survive a restart of the gateway and hold for every gateway process.
"""
import contextlib
import datetime as dt
import hashlib
import logging
import secrets
import uuid

import jwt
from nameko.extensions import DependencyProvider
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.shared.clock import now
from services.shared.config import db_name
from services.shared.errors import ServiceUnavailable, TimebankError, Unauthenticated
from services.shared.inflight import InFlight
from services.shared.sequence import insert_next, last_number, numbered_id
from services.shared.storage import connect

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
TOKEN_LIFETIME = dt.timedelta(hours=12)
# Claim names in the token -> keys of the actor the services receive.
CLAIMS = {"sub": "user_id", "role": "role", "sid": "subject_id", "com": "community_id",
          "ctr": "center_id", "mer": "merchant_id"}


def store_unavailable(method):
    """A store that does not answer makes a token undecidable: 503, not 500."""
    def guarded(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except PyMongoError as exc:
            log.warning("session store unavailable: %s", exc)
            raise ServiceUnavailable("the session store is unavailable")
    return guarded


class Sessions:
    """Revoked tokens and users' token generations, in the gateway's database."""

    def __init__(self, db):
        self.revoked = db.revoked_tokens          # _id = jti
        self.generations = db.token_generations   # _id = "<user id>:<generation>"
        # Token endings under way: marked before the volunteer service changes the password or
        # disables the login, unmarked once the tokens are ended (see ending()).
        self.endings = InFlight(db.token_endings_in_flight)

    @store_unavailable
    def generation(self, user_id):
        """The user's current token generation (0 until their tokens are first ended)."""
        return last_number(self.generations, user_id)

    @store_unavailable
    def ended(self, token_id, user_id, generation):
        return (self.revoked.find_one({"_id": token_id}, {"_id": 1}) is not None
                or self.generations.find_one(
                    {"_id": numbered_id(user_id, generation + 1)}, {"_id": 1}) is not None)

    @store_unavailable
    def revoke(self, token_id, expires_at):
        try:  # expires_at: after it the document may go, the token is dead anyway
            self.revoked.insert_one({"_id": token_id, "expires_at": expires_at, "at": now()})
        except DuplicateKeyError:
            pass  # signed out already

    @contextlib.contextmanager
    def ending(self, user_id, reason):
        """End the user's tokens after the change the ``with`` block makes.

        The marker is stored first, so a gateway that dies after the change but before ending
        the tokens leaves it for ``end_stalled`` (old tokens must not outlive a password change
        or a disable by 12 hours). A refusal (4xx) changed nothing: no ending. Any other failure
        leaves the outcome unknown, so the marker stays and the tokens end all the same: signing
        someone out needlessly is the safe side.
        """
        marker = f"{user_id}:{uuid.uuid4().hex}"
        store_unavailable(self.endings.mark)(marker)
        result = {}
        try:
            yield result
        except TimebankError as exc:
            if exc.status < 500:
                store_unavailable(self.endings.done)(marker)
            raise
        # The block may name the user as stored (a login kept under its typed case before
        # usernames were casefolded).
        result["generation"] = self.end_all(result.get("user_id") or user_id, reason)
        store_unavailable(self.endings.done)(marker)

    def end_stalled(self):
        """End the tokens of users whose ending a crash interrupted; returns how many."""
        stalled = self.endings.stalled()
        for marker in stalled:
            self.end_all(marker.rsplit(":", 1)[0], "ended after an interruption")
            self.endings.done(marker)
        return len(stalled)

    @store_unavailable
    def end_all(self, user_id, reason):
        """End every token the user holds now; returns the new generation."""
        return insert_next(self.generations, user_id, {"user_id": user_id, "reason": reason,
                                                      "at": now()})


class Tokens:
    def __init__(self, secret, sessions=None):
        self.secret = secret
        self.sessions = sessions  # None: tokens are checked by signature and expiry only

    def issue(self, principal, now=None, generation=0):
        now = now or dt.datetime.now(dt.timezone.utc)
        expires_at = now + TOKEN_LIFETIME
        claims = {claim: principal.get(key) for claim, key in CLAIMS.items()}
        claims.update(iat=now, exp=expires_at, jti=uuid.uuid4().hex, gen=generation)
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), expires_at

    def generation(self, user_id):
        """The user's current token generation (0 when tokens are checked by signature only)."""
        return self.sessions.generation(user_id) if self.sessions else 0

    def issue_for(self, principal):
        """A token at the user's current generation."""
        return self.issue(principal, generation=self.generation(principal["user_id"]))

    def actor(self, request, required=True):
        """The actor a request's bearer token names; None when optional and absent."""
        claims = self.claims(request, required)
        return claims and {key: claims.get(claim) for claim, key in CLAIMS.items()}

    def claims(self, request, required=True):
        """The checked claims of a request's bearer token; None when optional and absent."""
        header = request.headers.get("Authorization", "")
        if not header:
            if required:
                raise Unauthenticated("an Authorization: Bearer token is required")
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use Authorization: Bearer <token>")
        token = token.strip()
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["exp", "sub", "role"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired")
        except jwt.InvalidTokenError:
            raise Unauthenticated("the token is not valid", code="invalid_token")
        # Tokens issued before jti and gen existed: named by their digest, generation 0.
        claims.setdefault("jti", hashlib.sha256(token.encode()).hexdigest())
        if not isinstance(claims.get("gen", 0), int) or not isinstance(claims["jti"], str):
            raise Unauthenticated("the token is not valid", code="invalid_token")
        claims.setdefault("gen", 0)
        if self.sessions is not None and self.sessions.ended(claims["jti"], claims["sub"],
                                                             claims["gen"]):
            raise Unauthenticated("the token was revoked: sign in again", code="token_revoked")
        return claims

    def sign_out(self, request):
        """Revoke the request's own token."""
        claims = self.claims(request)
        self.sessions.revoke(claims["jti"], dt.datetime.fromtimestamp(claims["exp"],
                                                                      dt.timezone.utc))


class TokenAuthority(DependencyProvider):
    def setup(self):
        config = self.container.config
        secret = config.get("TIMEBANK_TOKEN_SECRET")
        if not secret:
            # Tokens then die with this process and differ between gateway processes.
            log.warning("TIMEBANK_TOKEN_SECRET is not set; using a random per-process secret")
            secret = secrets.token_urlsafe(32)
        self.client = connect(config["MONGO_URL"])
        self.tokens = Tokens(secret, Sessions(self.client[db_name(config, "gateway")]))

    def stop(self):
        self.client.close()

    def kill(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.tokens
