# One image for every Linli process: the cloud's API and ingest workers, the edge agent, the
# simulator (docker-compose.yml runs each with its own command). Built from this checkout.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/linli
COPY pyproject.toml README.md ./
COPY plumbing plumbing
COPY device_profiles device_profiles
COPY edge_agent edge_agent
COPY cloud cloud
COPY simulators simulators
COPY linli linli
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/linli --create-home linli \
    && install -d -o linli -g linli /var/lib/linli-edge /run/linli /broker

USER linli
ENTRYPOINT ["linli"]
CMD ["--help"]
