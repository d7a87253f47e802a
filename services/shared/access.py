"""Checks on the acting principal that every service makes the same way."""
from services.shared.errors import Forbidden


def require_role(actor, *roles):
    if actor is None or actor["role"] not in roles:
        raise Forbidden(f"requires role {' or '.join(roles)}")
