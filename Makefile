# mailtriage: the two commands a newcomer needs are `make demo` and `make test`.

GO      ?= go
BIN     := bin/mailtriage
# Flags passed to `mailtriage demo`, e.g. make demo DEMO_FLAGS="--mail ../shared/corpus/mime"
DEMO_FLAGS ?=
# Flags passed to `go test`, e.g. make test TEST_FLAGS="-run Runner -v"
TEST_FLAGS ?=

.PHONY: build demo test lint bench clean

build:
	$(GO) build -o $(BIN) ./cmd/mailtriage

demo: build
	./$(BIN) demo $(DEMO_FLAGS)

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m $(TEST_FLAGS) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
