# Multi-stage build: compile with the pinned toolchain, ship a slim runtime image.
# Not built on the development machine (no Docker engine there); see README "Operations".

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit caches the registry and the target directory between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin groupware \
    && cp target/release/groupware /usr/local/bin/groupware

FROM debian:bookworm-slim
# curl only for the health checks below and in docker-compose.yml.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/groupware --shell /usr/sbin/nologin groupware \
    && mkdir -p /var/lib/groupware \
    && chown groupware:groupware /var/lib/groupware
COPY --from=build /usr/local/bin/groupware /usr/local/bin/groupware
USER groupware
WORKDIR /var/lib/groupware
# Defaults for a container: listen on every interface, SQLite in the data volume.
# docker-compose.yml overrides the database with PostgreSQL.
ENV GROUPWARE_LISTEN=0.0.0.0:8080 \
    GROUPWARE_DATABASE_URL=sqlite:///var/lib/groupware/groupware.db \
    GROUPWARE_LOG_FORMAT=json
VOLUME ["/var/lib/groupware"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["groupware"]
CMD ["serve"]
