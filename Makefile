# sesame — make targets. CI runs `make check`, `make test` and `make race`.
GO      ?= go
WASMENV := GOOS=wasip1 GOARCH=wasm
WASMBUILD := $(WASMENV) $(GO) build -buildmode=c-shared -trimpath -buildvcs=false

EXTENSIONS := secretstore dotenv

.PHONY: all build deps test race guests check extensions bench fuzz stress clean

all: build

## build: the sesame binary into bin/
build:
	$(GO) build -trimpath -o bin/ ./cmd/...

## deps: install what the tests need and the machine lacks: Debian packages
## (clang, lld, wasi-libc, libclang-rt-dev-wasm32, wabt, nodejs, npm) with
## apt-get, as root or through sudo, and the AssemblyScript compiler with
## npm ci; on a machine that has it all, nothing runs and nothing is fetched
deps:
	@sh mk/deps.sh
	@$(MAKE) -s -f mk/examples.mk examples/as-vault/node_modules/.package-lock.json

## test: every test, without the race detector (after deps)
test: deps guests
	$(GO) test -count=1 -timeout=15m ./...

## race: every test with the race detector (after deps), as CI runs them
## after make test; about four times as long as make test
race: deps guests
	$(GO) test -race -count=1 -timeout=20m ./...

# guests: compile, once, the packages of every Go guest that the tests
# build for wasip1 (internal/testwasm, mk/examples.mk), so that test
# processes running at once find them in the build cache instead of each
# compiling the wasip1 runtime again; several packages at once are only
# compiled, not linked (and -buildmode=c-shared, which changes only the
# link, would refuse them).
guests:
	$(WASMENV) $(GO) build -trimpath -buildvcs=false ./examples/go-vault $(TESTGUESTS:%=./%) $(EXTENSIONS:%=./extensions/%)

# The Go guests that tests build from testdata folders (go vet ./... skips
# testdata): every folder under a testdata/ with Go files in it.
TESTGUESTS := $(sort $(dir $(shell git ls-files '*/testdata/*.go')))

# Tools, pinned: `go run pkg@version` fetches them from the module proxy.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

## check: formatting, vet (host, wasip1 guests and test guests, the bench
## module), staticcheck, tidy go.mod files, byte-identical built-in extensions
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(WASMENV) $(GO) vet ./abi/... ./examples/go-vault $(TESTGUESTS:%=./%) $(EXTENSIONS:%=./extensions/%)
	cd bench && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff
	cd bench && $(GO) mod tidy -diff
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for e in $(EXTENSIONS); do \
	  $(WASMBUILD) -o $$tmp/$$e.wasm ./extensions/$$e || exit 1; \
	  cmp -s $$tmp/$$e.wasm extensions/$$e.wasm || { echo "extensions/$$e.wasm is not what its source builds to: run make extensions"; exit 1; }; \
	done

## extensions: rebuild the built-in extensions that the binary embeds
extensions:
	@for e in $(EXTENSIONS); do echo "build extensions/$$e.wasm"; $(WASMBUILD) -o extensions/$$e.wasm ./extensions/$$e || exit 1; done

## bench: sesame against the alternatives (native Go, Extism, go-plugin, pass, age,
## keepassxc-cli), written to BENCHMARKS.md and bench/charts/ (~15 min; BENCHQUICK=1
## for a short run). Installs the peers with apt-get when they are missing.
bench:
	cd bench && $(GO) run ./cmd/benchreport -out ../BENCHMARKS.md

## fuzz: run every fuzz target of every package for FUZZTIME each (default 30s);
## the targets are found with go test -list, so a new one needs no edit here
FUZZTIME ?= 30s
fuzz:
	@out=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$out"; exit 1; }; \
	echo "$$out" | awk '/^Fuzz/ { f[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' | \
	while read pkg f; do \
	  echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	done

## stress: the long variants of the many-writers and crash tests (SESAME_STRESS=1
## raises their counts: 8 CLI processes × 30 operations, 16 goroutines × 40
## rounds on 3 engines, 200 SIGKILL rounds, 8 processes × 5 registrations),
## with the race detector. Expect 15–30 minutes on two cores.
stress:
	SESAME_STRESS=1 $(GO) test -race -count=1 -timeout=2h -run='Stress' ./...

## examples: build the example vaults (Go, C, AssemblyScript, WAT) into examples/
include mk/examples.mk

clean:
	rm -rf bin/
