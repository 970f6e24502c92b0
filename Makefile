# entgldb-go — the commands a newcomer needs: `make run` and `make test`.
GO        ?= go
STATICCHECK_VERSION ?= v0.8.2
BIN       := bin/entgldb
RACE_PKGS := ./app/... ./adapters/... ./test/...
# A count, not a duration: go1.26's fuzz coordinator can report its own -fuzztime deadline as a
# failure (golang/go#75804, fixed in go1.27); a count has no deadline to race.
FUZZTIME  ?= 10000x
SEEDS     ?= 10000

.PHONY: all build run test test-deps test-unit test-race lint generate wire-check bench soak sim fuzz-smoke ui-screenshots clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/entgldb

## run: a node on defaults (embedded SQLite under ./data, HTTP API on 127.0.0.1:5080).
run: build
	./$(BIN) serve

## test: every test, with the race detector where concurrency lives.
## The namespace discovery test (test/netns) needs root and iproute2; test/ui needs Chromium.
test: wire-check test-deps
	$(GO) test -count=1 -timeout 20m ./domain/... ./ports/... ./cmd/... ./sim/... .
	$(GO) test -count=1 -timeout 10m -tags simbugs -run TestPlantedBugs ./sim
	$(GO) test -count=1 -race -timeout 25m $(RACE_PKGS)

## test-deps: what the black-box tests need from the system: iproute2 (test/netns) and headless
## Chromium (test/ui drives the dashboard in a real browser).
test-deps:
	@command -v ip >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2; }
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation; }

## lint: gofmt, go vet, staticcheck (pinned, fetched through the module proxy).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## generate: wire_gen.go and the protobuf code.
generate:
	$(GO) tool wire .
	bash adapters/protocol/generate.sh

## wire-check: fail when wire_gen.go is stale.
wire-check:
	$(GO) tool wire diff . > /dev/null || (echo "wire_gen.go is stale: run 'make generate'"; exit 1)

## bench: the benchmark report (see BENCHMARKS.md).
bench:
	$(GO) run ./test/bench

## soak: the reliability soak (bounded, about 15 minutes).
soak: build
	$(GO) run ./test/soak -bin $(BIN)

## ui-screenshots: the dashboard's pages as docs/ui/*.png, taken by its browser test.
ui-screenshots: test-deps
	ENTGLDB_UI_SCREENSHOTS=$(CURDIR)/docs/ui $(GO) test -count=1 -run TestDashboardInABrowser ./test/ui/

## sim: a simulation campaign over $(SEEDS) seeds on every core: progress, seeds/s, failures by
## invariant, each failing seed with its replay command (docs/SIMULATION.md).
sim:
	$(GO) run ./sim/campaign -seeds $(SEEDS)

## fuzz-smoke: every fuzz target for $(FUZZTIME) executions.
fuzz-smoke:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

clean:
	rm -rf bin
