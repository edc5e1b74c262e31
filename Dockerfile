# syntax=docker/dockerfile:1
#
# callscreen as a container: a static binary (CGO_ENABLED=0) on busybox,
# running as an unprivileged user.
#
#   docker build -t callscreen --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 4573:4573 -p 127.0.0.1:8089:8089 callscreen
#
# The final stage is busybox rather than scratch or distroless for one
# reason: the HEALTHCHECK needs an HTTP client, and busybox's wget is the
# smallest one (the binary has no health-check subcommand). It also gives
# docker-compose.yml a shell to turn a secret from the environment into the
# file callscreen reads it from. See deploy/README.md.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/callscreen ./cmd/callscreen \
    && /out/callscreen version \
    && mkdir -p /out/state

FROM busybox:1.37-musl
COPY --from=build /out/callscreen /usr/local/bin/callscreen
# The state directory (lists and feed without Redis, the decision log),
# owned by the runtime user so a named volume mounted here inherits it.
COPY --from=build --chown=65532:65532 /out/state /var/lib/callscreen

# Listen on every interface inside the container; publish with care (the
# admin port carries the dashboard and /metrics and wants CALLSCREEN_ADMIN_TOKEN).
ENV CALLSCREEN_AGI_LISTEN=0.0.0.0:4573 \
    CALLSCREEN_ADMIN_LISTEN=0.0.0.0:8089 \
    CALLSCREEN_DATA_DIR=/var/lib/callscreen \
    CALLSCREEN_LOG_FORMAT=json

USER 65532:65532
WORKDIR /var/lib/callscreen
EXPOSE 4573 8089
VOLUME ["/var/lib/callscreen"]

# GET /healthz on the admin listener needs no token. The port follows
# CALLSCREEN_ADMIN_LISTEN; the admin listener must accept 127.0.0.1
# (0.0.0.0 or 127.0.0.1), and must not be turned off, for this to pass.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD a="${CALLSCREEN_ADMIN_LISTEN:-127.0.0.1:8089}"; wget -q -T 2 -O /dev/null "http://127.0.0.1:${a##*:}/healthz" || exit 1

ENTRYPOINT ["/usr/local/bin/callscreen"]
CMD ["serve"]
