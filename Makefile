# trafficctl: make build | test | lint | bench | bench-cli | demo | recipes | dist
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/trafficctl/trafficctl/cmd.version=$(VERSION)
# build and dist use these; the Dockerfile repeats them (deploy_test.go compares).
BUILDFLAGS = -trimpath -ldflags '$(LDFLAGS)'
PKGS     := ./...

.PHONY: build test test-race test-short lint bench bench-cli demo recipes dist clean

build:
	$(GO) build $(BUILDFLAGS) -o bin/trafficctl .

# PostgreSQL tests run when TRAFFICCTL_TEST_DATABASE_URL is set (see README).
test:
	$(GO) test -count=1 $(PKGS)

# The packages that start goroutines (the feed decoders' page readers, the
# store's open-set reader, the export's pipe writes and FIFO opens that an
# interrupt gives up on, the command's signal handling) and collect, which
# drives them, under the race detector. CI runs it after make test.
RACE_PKGS := ./pkg/open511 ./pkg/wzdx ./pkg/store ./pkg/export ./pkg/collect ./cmd
test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

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

# The README's pandas and DuckDB recipes, run as written and checked.
recipes: build
	scripts/recipes.sh

# Release archives in dist/: trafficctl_VERSION_OS_ARCH.tar.gz (the binary,
# README.md, LICENSE if there is one) per target, and SHA256SUMS. cgo needs a C
# compiler for each target: the host's $(CC) for its own platform, else
# Debian's cross compiler named below. A target whose compiler is missing is
# skipped with a message. Archives get the last commit's time and no owner,
# so the same commit and toolchain give the same bytes.
DIST_TARGETS := linux/amd64 linux/arm64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

dist:
	rm -rf dist
	mkdir -p dist
	@set -e; host=$$($(GO) env GOOS)/$$($(GO) env GOARCH); \
	for target in $(DIST_TARGETS); do \
		case $$target in \
			$$host) cc="$(CC)" pkg=gcc ;; \
			linux/amd64) cc=x86_64-linux-gnu-gcc pkg=gcc-x86-64-linux-gnu ;; \
			linux/arm64) cc=aarch64-linux-gnu-gcc pkg=gcc-aarch64-linux-gnu ;; \
			*) echo "dist: skipping $$target: no cross compiler known for it"; continue ;; \
		esac; \
		if ! command -v $${cc%% *} >/dev/null 2>&1; then \
			echo "dist: skipping $$target: C compiler $$cc not found (Debian: apt-get install $$pkg)"; continue; \
		fi; \
		os=$${target%/*}; arch=$${target#*/}; name=trafficctl_$(VERSION)_$${os}_$${arch}; \
		echo "dist: $$target with CC=$$cc"; \
		mkdir dist/$$name; \
		GOOS=$$os GOARCH=$$arch CGO_ENABLED=1 CC="$$cc" $(GO) build $(BUILDFLAGS) -o dist/$$name/trafficctl .; \
		cp README.md dist/$$name/; if [ -f LICENSE ]; then cp LICENSE dist/$$name/; fi; \
		tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
			-cf dist/$$name.tar $$name; \
		gzip -9n dist/$$name.tar; \
		rm -r dist/$$name; \
	done; \
	cd dist; \
	if ! ls *.tar.gz >/dev/null 2>&1; then echo "dist: no target could be built"; exit 1; fi; \
	sha256sum *.tar.gz > SHA256SUMS; cat SHA256SUMS

clean:
	rm -rf bin demo dist
