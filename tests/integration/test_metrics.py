"""Every service serves Prometheus metrics from its own registry."""
import pytest
import requests

from services.points.service import PointsService
from services.rewards.service import RewardsService
from services.volunteer.service import VolunteerService


def metrics_of(container):
    response = requests.get(f"http://{container.config['WEB_SERVER_ADDRESS']}/metrics", timeout=5)
    assert response.status_code == 200
    return response.text


def test_each_service_serves_and_counts_its_entrypoints(start, rpc):
    volunteer, points, rewards = [start(cls)
                                  for cls in (VolunteerService, PointsService, RewardsService)]
    rpc.points.get_balance("vol_metrics")
    for container in (volunteer, points, rewards):
        assert "# TYPE timebank_entrypoint_calls_total counter" in metrics_of(container)
    assert ('timebank_entrypoint_calls_total{entrypoint="get_balance",outcome="ok",'
            'service="points"} 1.0') in metrics_of(points)


def test_a_gateway_without_a_metrics_address_refuses_to_start(container_factory, service_config):
    """Its metrics server would otherwise share the API's port and answer half its requests."""
    from nameko.exceptions import ConfigurationError
    from services.gateway.service import GatewayService
    container = container_factory(GatewayService, service_config())
    with pytest.raises(ConfigurationError, match="METRICS_SERVER_ADDRESS"):
        container.start()
