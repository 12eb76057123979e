# trafficctl in a container: docker build -t trafficctl .
#   docker run --rm -v "$PWD:/data" -e TRAFFICCTL_API_KEY trafficctl fetch
# The build context has no .git (see .dockerignore), so the version comes from
# a build argument: --build-arg VERSION=$(git describe --tags --always --dirty).
# deploy_test.go checks that the Go version below matches go.mod and that the
# go build flags are the Makefile's.

# The tag names go.mod's major.minor: it follows that minor's patch releases,
# each of which satisfies the go directive.
FROM golang:1.25-bookworm AS build
WORKDIR /src
# The SQLite driver is cgo; the golang image has gcc.
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X github.com/trafficctl/trafficctl/cmd.version=${VERSION}" -o /out/trafficctl .

# Same Debian release as the build stage: the binary links against its glibc.
FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /out/trafficctl /usr/local/bin/trafficctl
# The default database, sqlite:///trafficctl.db, and ./.env are read from the
# working directory: a volume, so the data outlives the container. It runs as
# root so that a bind-mounted folder of any owner is writable; add
# --user "$(id -u):$(id -g)" to docker run to have the files owned by you.
WORKDIR /data
VOLUME /data
ENTRYPOINT ["/usr/local/bin/trafficctl"]
CMD ["--help"]
