# The README's commands. `make test` is what CI runs.
GO  ?= go
BIN := $(CURDIR)/.bin

.PHONY: all build tools generate check-generated lint test test-go test-python python-env crash faults fuzz serve quickstart

all: build

build:
	$(GO) build -o timefence ./cmd/timefence

tools:
	bash scripts/install-tools.sh

# Regenerate api/ from proto/.
generate: tools
	rm -rf api/timefence
	$(BIN)/buf generate

# Fails when the committed api/ differs from what proto/ generates.
check-generated: generate
	@test -z "$$(git status --porcelain -- api)" || { git status --porcelain -- api; echo "api/ is stale: run 'make generate' and commit"; exit 1; }

lint: tools
	$(BIN)/buf lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 ./...

# The Python client against the real server (creates client/python/.venv).
test-python:
	bash scripts/test-python.sh

# The Python client's virtualenv (downloads, mostly) is made while the Go
# tests run; the Python tests follow.
python-env:
	bash scripts/test-python.sh --setup-only

test: lint check-generated
	$(MAKE) --no-print-directory -j2 test-go python-env
	$(MAKE) --no-print-directory test-python

# The crash harness: SIGKILL during gRPC and Flight writes, many cycles.
crash:
	TIMEFENCE_CRASH_CYCLES=$${CYCLES:-50} $(GO) test -count=1 -run CrashLoop -v ./cmd/timefence

# The fault matrix: damaged tables, MANIFEST, log and run files, a full
# disk, a foreign ack record; prints what happened to each (see docs/faults.md).
faults:
	TIMEFENCE_FAULT_REPORT=$${REPORT:-/dev/stdout} $(GO) test -count=1 -run 'FaultMatrix' ./cmd/timefence

# Short fuzz runs of every target. The budget is a count of executions
# (FUZZTIME=20000x): with a duration, Go 1.26's fuzzing coordinator can
# report "context deadline exceeded" as a failure when the time runs out on a
# loaded machine (go.dev/issue/75804, fixed in Go 1.27).
fuzz:
	$(GO) test -run XXX -fuzz FuzzDecodeVersion -fuzztime $${FUZZTIME:-20000x} ./storage
	$(GO) test -run XXX -fuzz FuzzEntityKey -fuzztime $${FUZZTIME:-20000x} ./storage
	$(GO) test -run XXX -fuzz FuzzChunk -fuzztime $${FUZZTIME:-20000x} ./storage
	$(GO) test -run XXX -fuzz FuzzRunFile -fuzztime $${FUZZTIME:-20000x} ./storage
	$(GO) test -run XXX -fuzz FuzzSpine -fuzztime $${FUZZTIME:-20000x} ./server
	$(GO) test -run XXX -fuzz FuzzWriteBatch -fuzztime $${FUZZTIME:-20000x} ./server
	$(GO) test -run XXX -fuzz FuzzParseDefinitions -fuzztime $${FUZZTIME:-20000x} ./definitions

serve: build
	./timefence serve
