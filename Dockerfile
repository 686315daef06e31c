# hls-orchestrator container image (checked by hadolint in `make test`; this repository's CI has
# no Docker engine, so the image itself is built by whoever deploys it):
#   docker build -t hls-orchestrator .
#   docker run --rm -p 8080:8080 --env-file .env hls-orchestrator

# --- build: the Swift toolchain and libmicrohttpd's headers -----------------------------------
ARG SWIFT_IMAGE=swift:6.3.1-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd-dev libsqlite3-dev libhiredis-dev pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so editing the sources does not re-fetch them.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The git revision --version and hls_build_info report: the context holds no .git, so pass it,
#   docker build --build-arg REVISION="$(git rev-parse --short HEAD)" -t hls-orchestrator .
# (left empty, the binary reports "unknown").
ARG REVISION=
# --static-swift-stdlib links the Swift runtime and Foundation into the binary, so the runtime
# image needs no Swift toolchain. The binary then loads (readelf -d, NEEDED): libmicrohttpd.so.12,
# libsqlite3.so.0, libhiredis.so.0.14, libz.so.1, libstdc++.so.6, libgcc_s.so.1 and glibc (libc, libm).
RUN deploy/stamp-revision.sh "$REVISION" \
    && swift build -c release --product hls-orchestrator --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/hls-orchestrator" /out/hls-orchestrator

# --- runtime: Debian slim, the binary and the libmicrohttpd runtime library -------------------
FROM debian:bookworm-slim
# libmicrohttpd12, libsqlite3-0 and libhiredis0.14; libstdc++6 is named although apt already pulls it into the
# base image, which also holds zlib1g, libgcc-s1 and libc6. /var/lib/hls-orchestrator holds the
# durable state (STATE_STORE below): mount a volume there.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmicrohttpd12 libsqlite3-0 libhiredis0.14 libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 hls \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin hls \
    && install -d -m 0750 -o 10001 -g 10001 /var/lib/hls-orchestrator
COPY --from=build /out/hls-orchestrator /usr/local/bin/hls-orchestrator
# An empty working directory: the service reads a .env from here if one is mounted.
WORKDIR /app
# Numeric, so the runtime can tell it is not root without reading /etc/passwd (hadolint DL3066).
USER 10001:10001
# Inside the container it always listens on 8080 on every interface; map the host port with -p.
ENV PORT=8080 BIND_ADDRESS=0.0.0.0 STATE_STORE=sqlite:/var/lib/hls-orchestrator/state.db
VOLUME ["/var/lib/hls-orchestrator"]
EXPOSE 8080
# `hls-orchestrator healthcheck` GETs http://127.0.0.1:$PORT/healthz and exits 0 or 1 (no curl here).
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/hls-orchestrator", "healthcheck"]
# SIGTERM starts the graceful stop (SHUTDOWN_DELAY, then a drain bounded by SHUTDOWN_TIMEOUT).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hls-orchestrator"]
