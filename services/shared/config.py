"""Reading the settings every service shares from nameko's config."""
# How long a service waits for another service (e.g. rewards for points.debit).
DEFAULT_RPC_TIMEOUT_SECONDS = 10.0
# The gateway waits for a handler that itself waits up to RPC_TIMEOUT_SECONDS for its one
# downstream call and then writes its outcome; giving up no later than the handler would answer
# 503 for work that is about to succeed. The margin covers the handler's own store writes.
HANDLER_MARGIN_SECONDS = 2.0


def db_name(config, service):
    """Each service owns one database: <prefix>_<service>."""
    return f"{config.get('DB_PREFIX') or 'timebank'}_{service}"


def _seconds(config, name):
    value = config.get(name)
    return float(value) if value not in (None, "") else None


def rpc_timeout(config):
    """The deadline of an RPC one service makes to another."""
    return _seconds(config, "RPC_TIMEOUT_SECONDS") or DEFAULT_RPC_TIMEOUT_SECONDS


def gateway_rpc_timeout(config):
    """The deadline of the gateway's RPCs: longer than the services' own, checked at start."""
    downstream = rpc_timeout(config)
    timeout = _seconds(config, "GATEWAY_RPC_TIMEOUT_SECONDS") or downstream + HANDLER_MARGIN_SECONDS
    if timeout <= downstream:
        raise ValueError(f"GATEWAY_RPC_TIMEOUT_SECONDS ({timeout:g}) must exceed "
                         f"RPC_TIMEOUT_SECONDS ({downstream:g})")
    return timeout
