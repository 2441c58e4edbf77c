package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// minimalVault is a module with the marker, a memory and a manifest, and
// the import declarations imports.
func minimalVault(imports string) string {
	return `(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  ` + imports + `
  (memory (export "memory") 1)
  (data (i32.const 16) "{\"abi\":1,\"name\":\"imports\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 16) (i32.const 40)))
    (i32.const 0)))`
}

// TestImportsAreCheckedAtLoad: an allowed import with the wrong signature,
// or of the wrong kind, is refused as the module loads, naming the import
// and what it should be, not reported as a trap of the first instance.
func TestImportsAreCheckedAtLoad(t *testing.T) {
	h := newHost(t, nil)
	for _, tt := range []struct {
		name, imports, want string
	}{
		{"wrong parameters", `(import "sesame_v1" "input" (func (param i64 i32 i32) (result i32)))`,
			"imports sesame_v1.input as (func (param i64 i32 i32) (result i32)), want (func (param i32 i32 i32) (result i32))"},
		{"wrong result", `(import "sesame_v1" "kv_get" (func (param i32 i32 i32 i32) (result i32)))`,
			"imports sesame_v1.kv_get as (func (param i32 i32 i32 i32) (result i32)), want (func (param i32 i32 i32 i32) (result i64))"},
		{"no result", `(import "sesame_v1" "keyring_clear" (func))`,
			"imports sesame_v1.keyring_clear as (func), want (func (result i32))"},
		{"wasi, wrong signature", `(import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))`,
			"imports wasi_snapshot_preview1.fd_write as (func (param i32) (result i32)), want (func (param i32 i32 i32 i32) (result i32))"},
		{"wasi written by the host, wrong signature", `(import "wasi_snapshot_preview1" "random_get" (func (param i64 i32) (result i32)))`,
			"imports wasi_snapshot_preview1.random_get as (func (param i64 i32) (result i32)), want (func (param i32 i32) (result i32))"},
		{"a function WASI does not have", `(import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))`,
			"imports unknown function wasi_snapshot_preview1.sock_open"},
		{"a global named like a host function", `(import "sesame_v1" "input" (global i32))`,
			"imports sesame_v1.input as a global, want (func (param i32 i32 i32) (result i32))"},
		{"a table named like a host function", `(import "env" "abort" (table 1 funcref))`,
			"imports env.abort as a table, want (func (param i32 i32 i32 i32))"},
		{"an unknown global", `(import "env" "g" (global (mut i64)))`,
			"imports a global env.g; only host functions can be imported"},
		{"an unknown name with a terminal escape", `(import "env" "\1b]0;owned\07" (func))`,
			"imports unknown function env.\ufffd]0;owned\ufffd"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Load(context.Background(), sandbox.Spec{Vault: "Imports", Wasm: testwasm.WATSource(t, minimalVault(tt.imports))})
			var se *sandbox.Error
			if !errors.As(err, &se) || se.Status != abi.InvalidArgument {
				t.Fatalf("Load: %v, want an INVALID_ARGUMENT error", err)
			}
			if !strings.Contains(err.Error(), "module does not follow sesame ABI v1: "+tt.want) {
				t.Errorf("Load: %v\nwant it to say: %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "_initialize") {
				t.Errorf("Load: %v: reported as a failure of _initialize", err)
			}
		})
	}
	// The right signatures load.
	ok := `(import "sesame_v1" "input" (func (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_get" (func (param i32 i32 i32 i32) (result i64)))`
	if _, err := h.Load(context.Background(), sandbox.Spec{Vault: "Imports", Wasm: testwasm.WATSource(t, minimalVault(ok))}); err != nil {
		t.Fatalf("Load with the right signatures: %v", err)
	}
}
