# vroauth — developer tasks. `make ci` runs what CI runs (except the PostgreSQL set-up,
# which .ci/run does first).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all generate check-generate check-breaking lint test race build run bench bench-scale wrk tidy vulncheck ci

all: build

## generate: regenerate gen/ from api/openapi.yaml
generate:
	$(GO) generate .

## check-generate: regenerate, then fail on any change or untracked file under gen/
check-generate: generate
	@status=$$(git status --porcelain --untracked-files=all -- gen/); \
	if [ -n "$$status" ]; then \
		echo "gen/ does not match api/openapi.yaml; run 'make generate' and commit gen/ with the spec:" >&2; \
		echo "$$status" >&2; git --no-pager diff --stat -- gen/ >&2; exit 1; \
	fi

## check-breaking: fail if api/openapi.yaml breaks clients of the last released contract,
## api/baseline/openapi.yaml (oasdiff, run at a pinned version, not a go.mod dependency).
## At a release, bump the baseline to the released contract and commit it with the tag:
##   cp api/openapi.yaml api/baseline/openapi.yaml
OASDIFF ?= github.com/oasdiff/oasdiff@v1.39.0
check-breaking:
	$(GO) run $(OASDIFF) breaking --fail-on ERR api/baseline/openapi.yaml api/openapi.yaml

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:" >&2; echo "$$out" >&2; exit 1; fi
	$(GO) vet ./...

## test: the README's test command
test:
	$(GO) test ./...

## race: the tests again under the race detector (needs cgo and a C compiler)
race:
	$(GO) test -race ./...

## build: build bin/vroauth
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/vroauth ./cmd/vroauth

## run: the README's run command
run:
	$(GO) run ./cmd/vroauth serve

## tidy: fail if go.mod or go.sum are not tidy
tidy:
	$(GO) mod tidy -diff

## bench: the Go benchmarks of the hot paths (bearer check, transport, token minting,
## secret check, store lookups and writes), then a short load run on 127.0.0.1 of
## vroauth serve side by side with a bare net/http handler (wrk; see README, Performance)
BENCHTIME      ?= 1s
BENCH_DURATION ?= 5s
BENCH_PKGS     := ./auth/ ./internal/core/ ./internal/sqlite/ ./internal/server/
bench: build wrk
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(BENCH_PKGS)
	$(GO) run ./bench/cmd/vroauth-bench -vroauth bin/vroauth -duration $(BENCH_DURATION)

## bench-scale: the load run with 1,000 stored clients and live sessions, then with
## 1,000,000 of each (bulk-inserted), comparing p99 latencies
bench-scale: build wrk
	$(GO) run ./bench/cmd/vroauth-bench -vroauth bin/vroauth -duration $(BENCH_DURATION) -scale 1000000

## wrk: install wrk, the load generator, if it is missing (as root, with apt-get)
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && apt-get install -y -qq wrk; \
		else \
			echo "make bench needs wrk: install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk)" >&2; \
			exit 1; \
		fi; }

## vulncheck: govulncheck against a local vulnerability database built from the
## golang.org/x/vulndb module (cached outside the repository); fails on a reachable
## vulnerability in a third-party module, prints those of the standard library
vulncheck:
	bash .ci/vulncheck.sh

## ci: everything CI checks
ci: check-generate check-breaking lint tidy test race vulncheck
