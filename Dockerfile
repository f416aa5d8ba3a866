# syntax=docker/dockerfile:1
#
# cutover: a static binary on distroless. Needs BuildKit (the default builder
# since Docker 23). Build and push:
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) \
#     -t registry.example.com/cutover:v1.2.3 .
#   docker push registry.example.com/cutover:v1.2.3
#
# Multi-arch (the build stage cross-compiles, no emulation):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=v1.2.3 -t registry.example.com/cutover:v1.2.3 --push .
#
# The image holds no config: mount one at /etc/cutover/cutover.yaml (the
# Kubernetes manifests in deploy/kubernetes mount a ConfigMap there), or pass
# another path: docker run IMAGE serve -c /path/in/container.yaml.

ARG GO_VERSION=1.26

# ---- build ------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum
# change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .

ARG VERSION=dev
# Set by BuildKit from --platform; empty (the build machine's) otherwise.
ARG TARGETOS
ARG TARGETARCH
# Static (no cgo, so no libc in the final image), reproducible paths, no
# symbol tables; the version shows in `cutover version` and cutover_build_info.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X github.com/cutover/cutover/internal/buildinfo.Version=${VERSION}" \
      -o /out/cutover ./cmd/cutover \
 && mkdir -p /out/etc/cutover /out/var/lib/cutover

# ---- run --------------------------------------------------------------------
# distroless static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cutover /cutover
# The default config path (empty: mount a config here) and a writable working
# directory for the embedded store's default ./data/cutover.db.
COPY --from=build /out/etc/cutover /etc/cutover
COPY --from=build --chown=65532:65532 /out/var/lib/cutover /var/lib/cutover
WORKDIR /var/lib/cutover
USER nonroot
# 8080: the proxy (listen). 9901: the admin listener (admin.listen); it must
# listen beyond loopback (":9901", with a token) for probes to reach it.
EXPOSE 8080 9901
ENTRYPOINT ["/cutover"]
CMD ["serve", "-c", "/etc/cutover/cutover.yaml"]
