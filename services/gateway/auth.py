"""Bearer tokens: signed JWTs that carry who the caller is, checked without a round trip."""
import datetime as dt
import logging
import secrets

import jwt
from nameko.extensions import DependencyProvider

from services.shared.errors import Unauthenticated

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
TOKEN_LIFETIME = dt.timedelta(hours=12)
# Claim names in the token -> keys of the actor the services receive.
CLAIMS = {"sub": "user_id", "role": "role", "sid": "subject_id", "com": "community_id",
          "ctr": "center_id", "mer": "merchant_id"}


class Tokens:
    def __init__(self, secret):
        self.secret = secret

    def issue(self, principal, now=None):
        now = now or dt.datetime.now(dt.timezone.utc)
        expires_at = now + TOKEN_LIFETIME
        claims = {claim: principal.get(key) for claim, key in CLAIMS.items()}
        claims.update(iat=now, exp=expires_at)
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), expires_at

    def actor(self, request, required=True):
        """The actor a request's bearer token names; None when optional and absent."""
        header = request.headers.get("Authorization", "")
        if not header:
            if required:
                raise Unauthenticated("an Authorization: Bearer token is required")
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use Authorization: Bearer <token>")
        try:
            claims = jwt.decode(token.strip(), self.secret, algorithms=[ALGORITHM],
                                options={"require": ["exp", "sub", "role"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="token_expired")
        except jwt.InvalidTokenError:
            raise Unauthenticated("the token is not valid", code="invalid_token")
        return {key: claims.get(claim) for claim, key in CLAIMS.items()}


class TokenAuthority(DependencyProvider):
    def setup(self):
        secret = self.container.config.get("TIMEBANK_TOKEN_SECRET")
        if not secret:
            # Tokens then die with this process and differ between gateway processes.
            log.warning("TIMEBANK_TOKEN_SECRET is not set; using a random per-process secret")
            secret = secrets.token_urlsafe(32)
        self.tokens = Tokens(secret)

    def get_dependency(self, worker_ctx):
        return self.tokens
