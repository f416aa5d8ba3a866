# cutover — build, test, lint and benchmark. Every target installs what it
# needs on a fresh Debian machine (Go modules; Debian packages via apt-get).

GO          ?= go
BIN         ?= bin/cutover
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X github.com/cutover/cutover/internal/buildinfo.Version=$(VERSION)
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME    ?= 20s

.PHONY: all build test test-race redis-server promtool chromium lint fuzz bench bench-go bench-replay demo clean help

all: lint test build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/cutover
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cutover

test: redis-server promtool chromium ## run every test (unit, fuzz seeds, end-to-end against the real binary)
	$(GO) test -count=1 ./...

test-race: redis-server promtool chromium ## the tests under the race detector
	$(GO) test -count=1 -race ./...

# The store's Redis tests run a real redis-server (internal/redistest).
redis-server: ## install redis-server when it is missing (Debian)
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update && $$sudo apt-get install -y redis-server; }

# The alerting rules are checked by promtool (e2e/observability_test.go);
# Debian ships it in the prometheus package.
promtool: ## install promtool when it is missing (Debian's prometheus package)
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends prometheus; }

# The dashboard's browser tests (e2e/dashboard_test.go) drive headless Chromium.
chromium: ## install chromium when it is missing (Debian)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update && $$sudo apt-get install -y chromium; }

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; done

bench: build ## cutover vs nginx on this machine (installs nginx, wrk), then Go benchmarks
	CUTOVER_BIN=$(BIN) bash bench/run.sh
	$(MAKE) bench-go
	$(MAKE) bench-replay

bench-replay: build ## cutover replay of 100,000 recorded calls beside wrk (installs wrk, nginx)
	CUTOVER_BIN=$(BIN) bash bench/replay.sh

bench-go: redis-server ## Go micro-benchmarks of the hot paths (the Redis store's run on a real redis-server)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1s ./...

demo: build ## the self-contained tour
	$(BIN) demo

clean:
	rm -rf bin bench/out
