# vroauth — developer tasks. `make ci` runs what CI runs (except the PostgreSQL set-up,
# which .ci/run does first).
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all generate check-generate lint test race build run bench tidy ci

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

## ci: everything CI checks
ci: check-generate lint tidy test race
