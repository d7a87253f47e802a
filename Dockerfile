# One image for all four Timebank services (volunteer, points, rewards, gateway).
# Each docker-compose service / k8s Deployment chooses the service via its command:
#   nameko run --config config/nameko.yml services.<name>.service:<Class>
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The CJK font the service certificate is set in (services/volunteer/certificate.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 timebank \
    && useradd --system --uid 10001 --gid timebank --home-dir /app --no-create-home timebank

COPY pyproject.toml constraints.txt ./
COPY services/ ./services/
COPY config/ ./config/

RUN pip install --no-cache-dir -c constraints.txt .

USER 10001:10001

# Overridden per service by docker-compose.yml and deploy/k8s.
CMD ["nameko", "run", "--config", "config/nameko.yml", "services.gateway.service:GatewayService"]
