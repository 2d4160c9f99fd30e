# mailtriage: the two commands a newcomer needs are `make demo` and `make test`.

GO      ?= go
BIN     := bin/mailtriage
# Flags passed to `mailtriage demo`, e.g. make demo DEMO_FLAGS="--mail ../shared/corpus/mime"
DEMO_FLAGS ?=
# Flags passed to `go test`, e.g. make test TEST_FLAGS="-run Runner -v"
TEST_FLAGS ?=
# Time per target of `make fuzz`, as go test -fuzztime takes it, e.g. 5m
FUZZTIME ?= 60s

.PHONY: build demo test test-unit stack-up stack-down stack-clean lint clean bench bench-quick fuzz fuzz-ci fault test-faults

build:
	$(GO) build -o $(BIN) ./cmd/mailtriage

demo: build
	./$(BIN) demo $(DEMO_FLAGS)

# test starts the local stack (Kafka, PostgreSQL, ClickHouse, MinIO; see
# scripts/stack.sh) and runs every test against it, with the addresses
# from .stack/env. The stack keeps running afterwards: `make stack-down`.
test: stack-up
	$(GO) vet ./...
	. ./.stack/env && $(GO) test -p 1 -count=1 -timeout 30m $(TEST_FLAGS) ./...

# test-unit runs the tests without the stack: integration tests skip
# themselves, unless CI is set, where they fail.
test-unit:
	$(GO) test -count=1 -timeout 20m $(TEST_FLAGS) ./...

# stack-up installs what is missing and starts the local stack; running it
# again reuses the services that already run.
stack-up:
	./scripts/stack.sh up

# stack-down stops the local stack and keeps its data under .stack/.
stack-down:
	./scripts/stack.sh down

# stack-clean stops the local stack and deletes its data (the downloaded
# Kafka jars stay as a cache).
stack-clean:
	./scripts/stack.sh down --purge

# bench measures parsing against Python's email and npm mailparser, the
# processor chain, the Avro codec and the webhook gateway in one run, and
# rewrites the generated section of BENCHMARKS.md (scripts/bench/run.sh).
# It installs Node.js and the pinned mailparser when they are missing.
bench:
	./scripts/bench/run.sh

# bench-quick is a smoke run of bench with every measurement shortened; it
# prints the section and leaves BENCHMARKS.md as it is.
bench-quick:
	BENCH_QUICK=1 ./scripts/bench/run.sh

# fault runs the fault-injection suite of e2e/ against the local stack:
# SIGKILL of the processor, of the broker and restarts of the databases
# in the middle of MAILTRIAGE_FAULT_MESSAGES messages (default 50000).
# It stops and starts stack services, so run it alone.
fault: stack-up
	. ./.stack/env && MAILTRIAGE_FAULT=1 $(GO) test -p 1 -count=1 -v -run Fault -timeout 40m ./e2e/

# test-faults is another name for fault.
test-faults: fault

# fuzz runs each fuzz target in turn for FUZZTIME (scripts/fuzz.sh). A
# failing input lands in testdata/fuzz/ of its package: commit it, and the
# plain `go test` runs it as a regression test. `make test` does not fuzz.
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# fuzz-ci is the short run of .ci/run: 1000 executions per target. A count
# rather than a duration, because Go 1.26's fuzz coordinator can fail a
# timed run at its deadline without any failing input (go.dev/issue/75804).
fuzz-ci:
	FUZZTIME=1000x ./scripts/fuzz.sh

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
