# trafficctl: make build | test | lint | bench | bench-cli | demo
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/trafficctl/trafficctl/cmd.version=$(VERSION)
# The Dockerfile repeats these (deploy_test.go compares).
BUILDFLAGS = -trimpath -ldflags '$(LDFLAGS)'
PKGS     := ./...

.PHONY: build test test-short lint bench bench-cli demo clean

build:
	$(GO) build $(BUILDFLAGS) -o bin/trafficctl .

# PostgreSQL tests run when TRAFFICCTL_TEST_DATABASE_URL is set (see README).
test:
	$(GO) test -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 -version >/dev/null 2>&1; then \
		$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 $(PKGS); \
	else echo "staticcheck not available from the module proxy; skipped"; fi

# Go benchmarks, benchstat-ready: make bench > new.txt; benchstat old.txt new.txt.
# PostgreSQL ones run when TRAFFICCTL_TEST_DATABASE_URL is set. About 5
# minutes with both databases; BENCH=Decode or COUNT=1 for a quick look.
BENCH ?= .
COUNT ?= 5
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) -timeout 60m ./pkg/...

# Whole-binary timings against a local Open511 server.
bench-cli: build
	scripts/bench-cli.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf bin demo
