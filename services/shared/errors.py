"""Errors that cross the bus and the HTTP boundary.

Each error carries a stable snake_case ``code``, a human message and, for invalid input, the
fields at fault. They are registered with nameko's exception registry, so an error raised in a
service arrives in its RPC caller as the same class (not a generic ``RemoteError``), and the
gateway maps it to the status code of ../shared/api.md.
"""
from nameko.exceptions import get_module_path, registry


class TimebankError(Exception):
    status = 500
    default_code = "internal_error"
    # Seconds after which a retry may succeed: answered as the Retry-After header. A per-error
    # value stays on this side of the bus; over RPC the class's value arrives.
    retry_after = None

    def __init__(self, message="", code=None, fields=None, retry_after=None):
        # Positional args only: nameko rebuilds a remote error as cls(*exc_args).
        super().__init__(message, code or self.default_code, fields or {})
        if retry_after is not None:
            self.retry_after = retry_after

    @property
    def message(self):
        return self.args[0]

    @property
    def code(self):
        return self.args[1]

    @property
    def fields(self):
        return self.args[2]

    def __str__(self):
        return f"{self.code}: {self.message}"


class InvalidInput(TimebankError):
    status = 400
    default_code = "invalid_input"


class Unauthenticated(TimebankError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(TimebankError):
    status = 403
    default_code = "forbidden"


class NotFound(TimebankError):
    status = 404
    default_code = "not_found"


class Conflict(TimebankError):
    status = 409
    default_code = "conflict"


class InsufficientPoints(Conflict):
    default_code = "insufficient_points"


class OutOfStock(Conflict):
    default_code = "out_of_stock"


class KeyReused(Conflict):
    """An idempotency key already names a different movement (another stream or amount)."""
    default_code = "idempotency_key_reused"


class RuleViolation(TimebankError):
    """A valid request that the rules refuse (422)."""
    status = 422
    default_code = "rule_violation"


class ServiceUnavailable(TimebankError):
    status = 503
    default_code = "service_unavailable"
    retry_after = 5  # a broker or store restart, a service's supervisor restarting it


class Busy(ServiceUnavailable):
    """Too many concurrent writers on one account or item: try again shortly (503)."""
    default_code = "busy"
    retry_after = 1  # contention clears as soon as the writers ahead have appended


class NoReply(ServiceUnavailable):
    """A call was sent (or may have been) and no answer came: the work may still be running."""


class TooManyAttempts(TimebankError):
    """Too many failed logins or registrations from one account or address (429)."""
    status = 429
    default_code = "too_many_attempts"
    retry_after = 60

    def __init__(self, message="", code=None, fields=None, retry_after=None):
        # nameko stringifies numbers in the args it sends: int() takes them back.
        super().__init__(message, code, fields,
                         int(retry_after) if retry_after is not None else None)
        # The wait is this error's own (what is left of a lock), so it rides in the args that
        # nameko rebuilds a remote error from.
        self.args = (*self.args, self.retry_after)


def _register(cls):
    registry[get_module_path(cls)] = cls
    for sub in cls.__subclasses__():
        _register(sub)


_register(TimebankError)
