# livechat-graphql: build the package in one stage, run it as a non-root user in a slim one.
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LIVECHAT_GRAPHQL_HOST=0.0.0.0 \
    LIVECHAT_GRAPHQL_PORT=8000 \
    LIVECHAT_GRAPHQL_DATABASE=/data/livechat.db \
    LIVECHAT_GRAPHQL_WORKERS=1 \
    LIVECHAT_GRAPHQL_SHUTDOWN_DRAIN=5
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin livechat \
    && mkdir -p /data \
    && chown livechat:livechat /data
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["livechat-graphql", "healthcheck"]
CMD ["livechat-graphql", "serve"]
