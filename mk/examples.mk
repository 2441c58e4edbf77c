# mk/examples.mk — build the example vaults of examples/: go-vault (Go),
# c-vault (C), as-vault (AssemblyScript) and wat-vault (WAT), and the
# deliberately broken WAT module that the checker's tests use.
#
# The Makefile includes this file; it also works on its own, from the
# repository root:
#
#     make -f mk/examples.mk examples
#
# Each module lands in its own folder (examples/c-vault/c-vault.wasm, …).
# With EXAMPLES_OUT=DIR they all go to DIR instead: engine/examples_test.go
# runs these very rules that way, so the tests load exactly what
# `make examples` builds.
#
# Toolchains (Debian packages): clang, lld, wasi-libc and
# libclang-rt-dev-wasm32 for C; wabt for WAT; Node.js 20 or later with npm
# for AssemblyScript (the compiler itself comes from npm, pinned in
# examples/as-vault/package-lock.json and installed by `npm ci`); Go for
# go-vault. A missing one stops the build with the package to install.

_examples_goal := $(.DEFAULT_GOAL)

EXAMPLES_GO       ?= go
EXAMPLES_CLANG    ?= clang
EXAMPLES_WAT2WASM ?= wat2wasm
EXAMPLES_NPM      ?= npm
EXAMPLES_NODE     ?= node

ifeq ($(EXAMPLES_OUT),)
EXAMPLES_GO_VAULT   := examples/go-vault/go-vault.wasm
EXAMPLES_C_VAULT    := examples/c-vault/c-vault.wasm
EXAMPLES_AS_VAULT   := examples/as-vault/as-vault.wasm
EXAMPLES_WAT_VAULT  := examples/wat-vault/wat-vault.wasm
EXAMPLES_WAT_BROKEN := examples/wat-vault/broken.wasm
else
EXAMPLES_GO_VAULT   := $(EXAMPLES_OUT)/go-vault.wasm
EXAMPLES_C_VAULT    := $(EXAMPLES_OUT)/c-vault.wasm
EXAMPLES_AS_VAULT   := $(EXAMPLES_OUT)/as-vault.wasm
EXAMPLES_WAT_VAULT  := $(EXAMPLES_OUT)/wat-vault.wasm
EXAMPLES_WAT_BROKEN := $(EXAMPLES_OUT)/broken.wasm
endif

# A WASI reactor (exports _initialize, no main) from Debian's clang and
# wasi-libc; clang finds the sysroot in /usr by itself. memory is exported
# by default, the SESAME_EXPORT functions by their export_name; --strip-all
# drops the debug sections that libc.a brings along.
EXAMPLES_CFLAGS := --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror \
                   -Iabi/c -Wl,--strip-all

.PHONY: examples examples-go examples-c examples-as examples-wat \
        examples-tools-c examples-tools-as examples-tools-wat $(EXAMPLES_GO_VAULT)

## examples: build the four example vaults (and wat-vault/broken.wasm)
examples: examples-go examples-c examples-as examples-wat

examples-go: $(EXAMPLES_GO_VAULT)
examples-c: $(EXAMPLES_C_VAULT)
examples-as: $(EXAMPLES_AS_VAULT)
examples-wat: $(EXAMPLES_WAT_VAULT) $(EXAMPLES_WAT_BROKEN)

# Go tracks its own dependencies: always ask it, it rebuilds only what changed.
$(EXAMPLES_GO_VAULT):
	GOOS=wasip1 GOARCH=wasm $(EXAMPLES_GO) build -buildmode=c-shared -trimpath -buildvcs=false -o $@ ./examples/go-vault

# The C toolchain is checked when c-vault is built, not as a prerequisite:
# that one ran at every make of the goal, up to date or not, and its two
# questions to clang cost 0.2-0.3 s of CPU (the engine's tests make the C
# example three times in each run).
$(EXAMPLES_C_VAULT): examples/c-vault/vault.c abi/c/sesame.h
	$(examples_tools_c)
	$(EXAMPLES_CLANG) $(EXAMPLES_CFLAGS) -o $@ examples/c-vault/vault.c

$(EXAMPLES_WAT_VAULT): examples/wat-vault/vault.wat | examples-tools-wat
	$(EXAMPLES_WAT2WASM) examples/wat-vault/vault.wat -o $@

$(EXAMPLES_WAT_BROKEN): examples/wat-vault/broken.wat | examples-tools-wat
	$(EXAMPLES_WAT2WASM) examples/wat-vault/broken.wat -o $@

# npm ci installs exactly what package-lock.json pins, and stamps
# node_modules/.package-lock.json.
examples/as-vault/node_modules/.package-lock.json: examples/as-vault/package.json examples/as-vault/package-lock.json | examples-tools-as
	cd examples/as-vault && $(EXAMPLES_NPM) ci --no-audit --no-fund

# asc runs with V8's baseline WebAssembly compiler only (--liftoff-only):
# most of asc's CPU is V8 compiling binaryen, a large WebAssembly module,
# twice, first quickly and then optimized, for a run of a few seconds that
# the second compile does not pay back. The module asc writes is the same,
# byte for byte; asc takes 3.2 s of CPU instead of 6.5 (perf stat, node 20).
EXAMPLES_ASC_NODEFLAGS := --liftoff-only

$(EXAMPLES_AS_VAULT): examples/as-vault/assembly/index.ts examples/as-vault/assembly/sesame.ts \
                      examples/as-vault/asconfig.json examples/as-vault/node_modules/.package-lock.json | examples-tools-as
	cd examples/as-vault && $(EXAMPLES_NODE) $(EXAMPLES_ASC_NODEFLAGS) node_modules/.bin/asc assembly/index.ts --config asconfig.json --target release -o $(abspath $@)

# Toolchain checks: fail early, naming the package that is missing.
define examples_tools_c
@command -v $(EXAMPLES_CLANG) >/dev/null || { echo "examples: $(EXAMPLES_CLANG) not found: apt-get install clang" >&2; exit 1; }
@command -v wasm-ld >/dev/null || { echo "examples: wasm-ld not found: apt-get install lld" >&2; exit 1; }
@test -f "$$($(EXAMPLES_CLANG) --target=wasm32-wasi -print-file-name=crt1-reactor.o)" || \
  { echo "examples: wasi-libc for wasm32-wasi not found: apt-get install wasi-libc" >&2; exit 1; }
@test -f "$$($(EXAMPLES_CLANG) --target=wasm32-wasi -print-libgcc-file-name)" || \
  { echo "examples: compiler-rt builtins for wasm32 not found: apt-get install libclang-rt-dev-wasm32" >&2; exit 1; }
endef

examples-tools-c:
	$(examples_tools_c)

examples-tools-wat:
	@command -v $(EXAMPLES_WAT2WASM) >/dev/null || { echo "examples: $(EXAMPLES_WAT2WASM) not found: apt-get install wabt" >&2; exit 1; }

examples-tools-as:
	@command -v $(EXAMPLES_NPM) >/dev/null && command -v $(EXAMPLES_NODE) >/dev/null || \
	  { echo "examples: npm not found: install Node.js 20 or later with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }

# Leave the default goal of an including Makefile alone (its `all`, wherever
# the include line is); read on its own, this file builds the examples.
.DEFAULT_GOAL := $(or $(_examples_goal),$(if $(filter 1,$(words $(MAKEFILE_LIST))),examples))
