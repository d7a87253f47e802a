"""Print the supervisord configuration for the local stack (read by scripts/stack.sh).

Each service is its own OS process, restarted by supervisord when it dies. Settings come from
the environment that stack.sh prepares.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAR = os.path.join(ROOT, "var")

# name -> (nameko service class, its web servers: /metrics everywhere, the API on the gateway)
SERVICES = {
    "volunteer": ("services.volunteer.service:VolunteerService",
                  {"METRICS_SERVER_ADDRESS": "127.0.0.1:9101"}),
    "points": ("services.points.service:PointsService",
               {"METRICS_SERVER_ADDRESS": "127.0.0.1:9102"}),
    "rewards": ("services.rewards.service:RewardsService",
                {"METRICS_SERVER_ADDRESS": "127.0.0.1:9103"}),
    "gateway": ("services.gateway.service:GatewayService",
                {"WEB_SERVER_ADDRESS": "127.0.0.1:8000",
                 "METRICS_SERVER_ADDRESS": "127.0.0.1:9100"}),
}
PASSED_ENV = ("AMQP_URI", "MONGO_URL", "TIMEBANK_ADMIN_PASSWORD", "TIMEBANK_TOKEN_SECRET",
              "TIMEBANK_DB_PREFIX", "TIMEBANK_BCRYPT_ROUNDS", "LOG_LEVEL",
              "TIMEBANK_LOGIN_FAILURES_PER_ADDRESS", "TIMEBANK_SELF_REGISTRATIONS_PER_ADDRESS")


def env_line(extra):
    pairs = {k: os.environ[k] for k in PASSED_ENV if os.environ.get(k)}
    pairs.update(extra)
    # supervisord quotes values with double quotes; escape what would end them.
    return ",".join(f'{k}="{v.replace(chr(34), "")}"' for k, v in pairs.items())


def program(name, command, environment=None, autostart=False):
    lines = [
        f"[program:{name}]",
        f"command={command}",
        f"directory={ROOT}",
        f"autostart={'true' if autostart else 'false'}",
        "autorestart=true",
        "startsecs=2",
        "startretries=100",
        "stopasgroup=true",
        "killasgroup=true",
        "stopwaitsecs=15",
        "redirect_stderr=true",
        f"stdout_logfile={VAR}/log/{name}.log",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=2",
    ]
    if environment:
        lines.append(f"environment={environment}")
    return "\n".join(lines)


def main():
    venv_bin = os.path.join(ROOT, ".venv", "bin")
    parts = [f"""[unix_http_server]
file={VAR}/supervisor.sock

[supervisord]
logfile={VAR}/log/supervisord.log
pidfile={VAR}/supervisord.pid
directory={ROOT}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{VAR}/supervisor.sock
"""]
    if os.environ.get("WITH_DOCSTORE") == "1":
        parts.append(program(
            "docstore",
            f"{ROOT}/tools/docstore/bin/docstore -listen 127.0.0.1:27017 -data {VAR}/docstore",
            autostart=True))
    for name, (target, addresses) in SERVICES.items():
        parts.append(program(
            name, f"{venv_bin}/nameko run --config {ROOT}/config/nameko.yml {target}",
            env_line({**addresses, "PYTHONUNBUFFERED": "1"})))
    parts.append(f"[group:services]\nprograms={','.join(SERVICES)}\n")
    sys.stdout.write("\n\n".join(parts))


if __name__ == "__main__":
    main()
