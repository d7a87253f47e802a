"""Reading the settings every service shares from nameko's config."""
DEFAULT_RPC_TIMEOUT_SECONDS = 10.0


def db_name(config, service):
    """Each service owns one database: <prefix>_<service>."""
    return f"{config.get('DB_PREFIX') or 'timebank'}_{service}"


def rpc_timeout(config):
    value = config.get("RPC_TIMEOUT_SECONDS")
    return float(value) if value not in (None, "") else DEFAULT_RPC_TIMEOUT_SECONDS
