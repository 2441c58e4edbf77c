# sesame — make targets. CI runs `make check` and `make test RACE=1`.
GO      ?= go
# The Go release is pinned by go.mod's toolchain line: the built-in
# extensions are byte-identical only under one release, and govulncheck
# judges the standard library of the release that builds. auto lets go
# fetch that release from the module proxy when the machine's go is
# another one (a machine-wide GOTOOLCHAIN=local would otherwise win).
export GOTOOLCHAIN := auto
WASMENV := GOOS=wasip1 GOARCH=wasm
WASMBUILD := $(WASMENV) $(GO) build -buildmode=c-shared -trimpath -buildvcs=false

# The built-in extensions: Go guests built with go build (keepass, which is
# not on every command's path), C guests with clang over their folder's .c
# files (paths relative to the repository root, so that the bytes do not
# depend on the checkout's place; CEXTFLAGS is also internal/testwasm's
# CFlags, and a test there ties the two).
GOEXTENSIONS := keepass
CEXTENSIONS  := dotenv secretstore etcd
EXTENSIONS   := $(GOEXTENSIONS) $(CEXTENSIONS)
CLANG        ?= clang
CEXTFLAGS    := --target=wasm32-wasi -mexec-model=reactor -Oz -Wall -Wextra -Werror -Iabi/c -Wl,--strip-all
# extbuild builds extension $$e into $$out: a shell fragment for the loops
# below. (wasm-ld marks its output executable; the module is data here.)
extbuild = case " $(CEXTENSIONS) " in *" $$e "*) $(CLANG) $(CEXTFLAGS) -o $$out $$(ls extensions/$$e/*.c | LC_ALL=C sort) && chmod 644 $$out;; \
             *) $(WASMBUILD) -o $$out ./extensions/$$e;; esac

.PHONY: all build deps test race guests check vuln extensions bench fuzz stress clean

all: build

# The sesame binary is static (no cgo: Go's own resolver and user lookup)
# and leaves out urfave/cli's man-page generator, which sesame does not use
# and whose package init runs on every command (see RATIONALE.md, "A thin
# client").
BUILDENV   := CGO_ENABLED=0
BUILDFLAGS := -trimpath -tags urfave_cli_no_docs
BIN        ?= bin/

## build: sesame and sesame-engine, which sesame runs from its own folder, into
## bin/ (static; BIN=DIR/ for another folder)
build:
	$(BUILDENV) $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/...

## deps: install what the tests need and the machine lacks: Debian packages
## (clang, lld, wasi-libc, libclang-rt-dev-wasm32, wabt, nodejs, npm, keepassxc,
## etcd-server and etcd-client for the real etcd cluster of internal/etcdtest) with
## apt-get, as root or through sudo, and the AssemblyScript compiler with
## npm ci; on a machine that has it all, nothing runs and nothing is fetched
deps:
	@sh mk/deps.sh
	@$(MAKE) -s -f mk/examples.mk examples/as-vault/node_modules/.package-lock.json

## test: every test (after deps); RACE=1 runs them with the race detector,
## about four times as long, as CI does. The test binaries are built as
## make build builds sesame (no cgo, no man-page generator), since the CLI
## scripts run the internal/cli test binary as sesame-engine, behind the
## thin sesame that the tests build with the same flags, hundreds of times
## and their starts are most of their cost; the race detector needs cgo. go test's
## own vet pass is off (-vet=off): make check runs all of go vet, and on an
## empty build cache that pass was a sixth of the compile work.
#
# The guests are compiled beside the test binaries, not before them: alone,
# their build kept one core of two busy (36 s at 93 % of a core on an empty
# build cache, most of it the wasip1 runtime, one package after another),
# while go test's compiles of the host's packages keep both busy and leave
# room for it. On an empty cache the first test binary is ready after about
# 100 s, long after the guests; on a warm one both take seconds. A failed
# guest build fails the target.
#
# Where the CPU goes (RATIONALE.md, "Tests in two minutes"): a warm run
# about 150 s at 802d8ed, 82 s of wall (the CLI scripts' sesame processes,
# the engine's tests, the links of the test binaries, the etcd members,
# the sandbox's tests, most to least); from empty caches 300-385 s in all
# and 162-207 s of wall for the same code (the VM's speed: the run is bound
# by its CPU), the Go compile and links about 160 s of it.
test: deps
	@$(MAKE) -s guests & guests=$$!; \
	$(if $(RACE),,$(BUILDENV)) $(GO) test -vet=off -tags urfave_cli_no_docs $(if $(RACE),-race -timeout=20m,-timeout=15m) -count=1 -p=$(TESTP) $(TESTFIRST) ./...; \
	st=$$?; wait $$guests || st=1; exit $$st

# How go test packs the packages: it starts their test binaries in the
# order of its arguments, TESTP of them (and of the builds) at a time. The
# two packages whose tests take longest go first, so that none waits for a
# free slot behind the small ones and then finishes last alone; one slot
# more than the two they take (each of which keeps both cores of a
# two-core machine busy with its parallel tests) builds and runs every
# other package meanwhile. With go's default (-p = the number of cores) on
# two cores, the small packages waited, in order, for the first long one
# to end, and the last of them ended after the other. Four at a time cost
# more CPU than the packing saved (three interleaved pairs from empty caches).
TESTFIRST := ./engine ./internal/cli
TESTP     ?= 3

# The tests' packages are compiled without DWARF (-dwarf=false): no test
# reads it (go test links its binaries without it), and it costs a tenth
# of the build's CPU on an empty build cache (go build of sesame-engine
# and all it imports: 106 s of CPU with it, 94 s without). The flag goes in
# GOFLAGS rather than on go test's command line so that the go commands
# the tests run (the guests' builds, cmd/sesame's and internal/testonly's
# builds of the programs) compile with it too and so find go test's
# packages, and guests' ones, in the build cache; guests gets it for the
# same reason.
test guests: export GOFLAGS += -gcflags=all=-dwarf=false

## race: make test RACE=1
race:
	@$(MAKE) test RACE=1

# guests: compile, once, the packages of every Go guest that the tests
# build for wasip1 (internal/testwasm, mk/examples.mk), so that test
# processes running at once find them in the build cache instead of each
# compiling the wasip1 runtime again; several packages at once are only
# compiled, not linked (and -buildmode=c-shared, which changes only the
# link, would refuse them). The built-in extensions are not among them:
# the tests load the modules embedded in sesame, which make check proves
# are their sources rebuilt.
guests:
	$(WASMENV) $(GO) build -trimpath -buildvcs=false ./examples/go-vault $(TESTGUESTS:%=./%)

# The Go guests that tests build from testdata folders (go vet ./... skips
# testdata): every folder under a testdata/ with Go files in it.
TESTGUESTS := $(sort $(dir $(shell git ls-files '*/testdata/*.go')))

# Tools, pinned: `go run pkg@version` fetches them from the module proxy.
# govulncheck reads a database laid out by mk/vulndb from the OSV files of
# golang.org/x/vulndb at VULNDB, a module like any other: reproducible, and
# reachable wherever the proxy is. Move the pin to see newer advisories.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.10.0
VULNDB      := golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018

## check: formatting, vet (host, darwin, wasip1 guests and test guests, the bench
## module), staticcheck, govulncheck (both modules), tidy go.mod files,
## byte-identical built-in extensions, a static sesame binary
check: vuln
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(WASMENV) $(GO) vet ./abi/... ./examples/go-vault $(TESTGUESTS:%=./%) $(GOEXTENSIONS:%=./extensions/%)
	cd bench && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff
	cd bench && $(GO) mod tidy -diff
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	for e in $(EXTENSIONS); do \
	  out=$$tmp/$$e.wasm; $(extbuild) || exit 1; \
	  cmp -s $$tmp/$$e.wasm extensions/$$e.wasm || { echo "extensions/$$e.wasm is not what its source builds to: run make extensions"; exit 1; }; \
	done
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(MAKE) -s build BIN=$$tmp/ && \
	for p in sesame sesame-engine; do \
	  if ldd $$tmp/$$p >/dev/null 2>&1; then echo "make build made a dynamically linked $$p (ldd lists its libraries): it must be static"; exit 1; fi; \
	done

## vuln: govulncheck over both modules against the pinned database
vuln:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(GO) run ./mk/vulndb -module $(VULNDB) -out $$tmp/db && \
	$(GO) run $(GOVULNCHECK) -db file://$$tmp/db ./... && \
	cd bench && $(GO) run $(GOVULNCHECK) -db file://$$tmp/db ./...

## extensions: rebuild the built-in extensions that the binary embeds
extensions:
	@for e in $(EXTENSIONS); do echo "build extensions/$$e.wasm"; out=extensions/$$e.wasm; $(extbuild) || exit 1; done

## bench: sesame against the alternatives (native Go, Extism, go-plugin, pass, age,
## keepassxc-cli), written to BENCHMARKS.md and bench/charts/ (~15 min; BENCHQUICK=1
## for a short run). Installs the peers with apt-get when they are missing.
bench:
	cd bench && $(GO) run ./cmd/benchreport -out ../BENCHMARKS.md

## fuzz: run every fuzz target of every package for FUZZTIME each (default 30s);
## the targets are found with go test -list, so a new one needs no edit here.
## FUZZMINIMIZE bounds the minimizing of each new input: go's default (60 s
## each) spent kdbx's FuzzPayload, whose seed is a whole database, on
## minimizing (3 executions in 20 s; 734,638 with no minimizing)
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 1000x
fuzz:
	@out=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$out"; exit 1; }; \
	echo "$$out" | awk '/^Fuzz/ { f[n++] = $$1; next } /^ok / { for (i = 0; i < n; i++) print $$2, f[i]; n = 0 }' | \
	while read pkg f; do \
	  echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg || exit 1; \
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
