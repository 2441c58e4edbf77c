#!/bin/sh
# mk/deps.sh — install the Debian packages that `make test` needs and this
# machine lacks: the toolchains of the example vaults (engine/examples_test.go
# builds them with mk/examples.mk), wat2wasm, which the tests use to
# assemble their WebAssembly text modules, keepassxc-cli, the KeePassXC that
# the KDBX tests check the keepass vault's files against, and etcd (the
# server and etcdctl), whose real three-member clusters internal/etcdtest
# starts for the tests of the etcd vault. `make deps` runs it, and
# `make test` runs `make deps` first.
#
# Each tool is looked for first; a machine that has them all does nothing
# here, and no network work. The missing ones are installed with apt-get,
# as root or through sudo; without either, it stops and names the command
# to run. (Go modules are Go's business; the AssemblyScript compiler comes
# from `npm ci`, run by the deps target through mk/examples.mk.)
set -eu

missing=
need() { missing="$missing $*"; }

command -v clang >/dev/null 2>&1 || need clang
command -v wasm-ld >/dev/null 2>&1 || need lld
if command -v clang >/dev/null 2>&1; then
	# The same checks as mk/examples.mk's examples-tools-c.
	[ -f "$(clang --target=wasm32-wasi -print-file-name=crt1-reactor.o)" ] || need wasi-libc
	[ -f "$(clang --target=wasm32-wasi -print-libgcc-file-name)" ] || need libclang-rt-dev-wasm32
else
	need wasi-libc libclang-rt-dev-wasm32
fi
command -v etcd >/dev/null 2>&1 || need etcd-server
command -v etcdctl >/dev/null 2>&1 || need etcd-client
command -v wat2wasm >/dev/null 2>&1 || need wabt
{ command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; } || need nodejs npm
command -v keepassxc-cli >/dev/null 2>&1 || need keepassxc

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: the tests need these Debian packages, or their equivalents:$missing (no apt-get here to install them)" >&2
	exit 1
fi
if [ "$(id -u)" = 0 ]; then
	sudo=
elif command -v sudo >/dev/null 2>&1 && { [ -t 0 ] || sudo -n true 2>/dev/null; }; then
	sudo=sudo # asks for a password on a terminal, never elsewhere
else
	echo "deps: the tests need these Debian packages:$missing; run: sudo apt-get install$missing" >&2
	exit 1
fi
echo "deps: apt-get install$missing" >&2
$sudo apt-get update -qq
# $missing is split into words on purpose: one package a word.
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
