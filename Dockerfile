# syntax=docker/dockerfile:1
# csi-viso image for people with Docker (or any OCI builder):
#   docker build -t csi-viso:0.1.0 --build-arg VERSION=0.1.0 .
# One static binary (CGO_ENABLED=0: no libc, no FUSE helper; the driver mounts FUSE, binds and
# loop devices with system calls) on distroless/static. The same image serves the node plugin
# (privileged, as root) and the controller (the chart runs it as UID 65532).
# Without Docker, `make images` builds an equivalent image tarball (see the Makefile).

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/csi-viso ./cmd/csi-viso

FROM gcr.io/distroless/static-debian12
COPY --from=build /out/csi-viso /csi-viso
ENTRYPOINT ["/csi-viso"]
