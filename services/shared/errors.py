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

    def __init__(self, message="", code=None, fields=None):
        # Positional args only: nameko rebuilds a remote error as cls(*exc_args).
        super().__init__(message, code or self.default_code, fields or {})

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


class Busy(ServiceUnavailable):
    """Too many concurrent writers on one account or item: try again shortly (503)."""
    default_code = "busy"


def _register(cls):
    registry[get_module_path(cls)] = cls
    for sub in cls.__subclasses__():
        _register(sub)


_register(TimebankError)
