# sesame — make targets. `make test` is what CI runs.
GO      ?= go
WASMENV := GOOS=wasip1 GOARCH=wasm
WASMBUILD := $(WASMENV) $(GO) build -buildmode=c-shared -trimpath -buildvcs=false

EXTENSIONS := secretstore dotenv

.PHONY: all build test check extensions bench fuzz clean

all: build

## build: the sesame binary into bin/
build:
	$(GO) build -trimpath -o bin/ ./cmd/...

## test: every test, with the race detector
test:
	$(GO) test -race -count=1 ./...

## check: formatting, vet (host and wasip1 guests), a tidy go.mod
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(WASMENV) $(GO) vet ./abi/... ./examples/go-vault ./engine/testdata/guests/hostile $(EXTENSIONS:%=./extensions/%)
	$(GO) mod tidy -diff
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for e in $(EXTENSIONS); do \
	  $(WASMBUILD) -o $$tmp/$$e.wasm ./extensions/$$e || exit 1; \
	  cmp -s $$tmp/$$e.wasm extensions/$$e.wasm || { echo "extensions/$$e.wasm is not what its source builds to: run make extensions"; exit 1; }; \
	done

## extensions: rebuild the built-in extensions that the binary embeds
extensions:
	@for e in $(EXTENSIONS); do echo "build extensions/$$e.wasm"; $(WASMBUILD) -o extensions/$$e.wasm ./extensions/$$e || exit 1; done

## bench: benchmarks of the sandbox against the native vault, side by side
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./engine/ ./engine/internal/sandbox/ ./engine/internal/storage/

## fuzz: run every fuzz target for FUZZTIME each (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in ./abi ./engine/internal/registry ./engine/internal/storage; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## examples: build the example vaults (Go, C, AssemblyScript, WAT) into examples/
include mk/examples.mk

clean:
	rm -rf bin/
