"""Static checks for the deployment files (Dockerfile stack, docker-compose.yml, deploy/k8s)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = ROOT / "deploy" / "compose-spec.schema.json"
K8S_DIR = ROOT / "deploy" / "k8s"

APP_SERVICES = {
    "volunteer": "services.volunteer.service:VolunteerService",
    "points": "services.points.service:PointsService",
    "rewards": "services.rewards.service:RewardsService",
    "gateway": "services.gateway.service:GatewayService",
}
INFRA_SERVICES = {"rabbitmq", "mongodb"}
GATEWAY_API_PORT, GATEWAY_METRICS_PORT = "8000", "9100"

# Values for the required (${VAR:?...}) variables in docker-compose.yml.
COMPOSE_TEST_ENV = {
    "TIMEBANK_ADMIN_PASSWORD": "test-admin-password",
    "TIMEBANK_TOKEN_SECRET": "test-token-secret",
}


def _load_compose():
    with COMPOSE_FILE.open() as fh:
        return yaml.safe_load(fh)


def _command_text(command):
    return " ".join(command) if isinstance(command, list) else str(command)


def _env_keys(environment):
    if isinstance(environment, dict):
        return set(environment)
    return {item.split("=", 1)[0] for item in environment or []}


def _docker_compose_available():
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def test_compose_has_all_services_with_commands_and_env():
    services = _load_compose()["services"]
    assert set(services) >= INFRA_SERVICES | set(APP_SERVICES)
    for name, target in APP_SERVICES.items():
        service = services[name]
        command = _command_text(service["command"])
        assert "nameko run" in command, name
        assert "config/nameko.yml" in command, name
        assert target in command, name
        env = _env_keys(service.get("environment"))
        assert {"AMQP_URI", "MONGO_URL", "METRICS_SERVER_ADDRESS"} <= env, name
        assert set(service["depends_on"]) >= INFRA_SERVICES, name


def test_compose_serves_the_gateway_metrics_off_the_public_port():
    gateway = _load_compose()["services"]["gateway"]
    env = gateway["environment"]
    assert env["WEB_SERVER_ADDRESS"].endswith(":" + GATEWAY_API_PORT)
    assert env["METRICS_SERVER_ADDRESS"].endswith(":" + GATEWAY_METRICS_PORT)
    published = {str(port).split(":")[-1] for port in gateway.get("ports", [])}
    assert published == {GATEWAY_API_PORT}


def test_compose_file_is_valid_against_compose_spec():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The spec declares draft-07 (as "https://json-schema.org/draft-07/schema", without the
    # trailing "#" that jsonschema's auto-detection expects), so pick the validator explicitly.
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(_load_compose())

    # Extra check when a Docker CLI with the compose plugin is installed.
    if _docker_compose_available():
        result = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
            cwd=ROOT,
            env={**os.environ, **COMPOSE_TEST_ENV},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr


def _k8s_documents():
    docs = []
    for path in sorted(K8S_DIR.glob("*.y*ml")):
        with path.open() as fh:
            docs.extend((path.name, doc) for doc in yaml.safe_load_all(fh) if doc)
    return docs


def test_k8s_manifests_are_well_formed_and_cover_all_services():
    docs = _k8s_documents()
    assert docs
    for filename, doc in docs:
        assert doc.get("apiVersion"), filename
        assert doc.get("kind"), filename
        assert (doc.get("metadata") or {}).get("name"), filename

    deployments = {d["metadata"]["name"]: d for _, d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"] for _, d in docs if d["kind"] == "Service"}
    assert set(deployments) >= set(APP_SERVICES)
    assert services >= set(APP_SERVICES)
    for name, target in APP_SERVICES.items():
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert target in _command_text(container["command"]), name

    gateway = deployments["gateway"]["spec"]["template"]
    env = {e["name"]: e.get("value") for e in gateway["spec"]["containers"][0]["env"]}
    assert env["METRICS_SERVER_ADDRESS"].endswith(":" + GATEWAY_METRICS_PORT)
    assert gateway["metadata"]["annotations"]["prometheus.io/port"] == GATEWAY_METRICS_PORT
    gateway_service = next(d for _, d in docs
                           if d["kind"] == "Service" and d["metadata"]["name"] == "gateway")
    assert [p["port"] for p in gateway_service["spec"]["ports"]] == [int(GATEWAY_API_PORT)]

    kinds = {d["kind"] for _, d in docs}
    assert {"Namespace", "ConfigMap", "Secret", "RabbitmqCluster", "MongoDBCommunity"} <= kinds


def test_kustomization_lists_existing_files():
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S_DIR / resource).is_file(), resource
    for name in APP_SERVICES:
        assert f"{name}.yaml" in resources
