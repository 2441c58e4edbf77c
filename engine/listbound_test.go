package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// manyNames is a vault whose list answers n one-letter names (10 bytes each
// on the wire), built in its memory of one MiB.
func manyNames(n int) string {
	return fmt.Sprintf(`(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 16 16)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"many\",\"version\":\"1\",\"operations\":[\"list\"]}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 59)))
    (i32.const 0))
  (func (export "sesame_list") (param i32) (result i32)
    (local $i i32) (local $at i32)
    (i32.store (i32.const 0x100) (i32.const %[1]d))
    (local.set $at (i32.const 0x104))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (i32.const %[1]d)))
      (i32.store (local.get $at) (i32.const 1))
      (i32.store8 (i32.add (local.get $at) (i32.const 4)) (i32.const 0x61))
      (i32.store8 (i32.add (local.get $at) (i32.const 5)) (i32.const 2))
      (i32.store (i32.add (local.get $at) (i32.const 6)) (i32.const 0))
      (local.set $at (i32.add (local.get $at) (i32.const 10)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (drop (call $output (i32.const 0x100) (i32.sub (local.get $at) (i32.const 0x100))))
    (i32.const 0)))`, n)
}

// allocated returns the bytes the process allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestListAnswerWithinGrant: a list answer costs the host memory per name
// (decoded, copied, sorted), so a vault may list one name per 384 bytes of
// its memory grant. A vault granted 4 MiB that answers 100,000 names is
// refused with TOO_LARGE, naming the vault and the limit, having made the
// host allocate less than its grant; 10,000 names (under its 10,922) are
// listed, at less than 384 bytes a name. Serial: it counts what the whole
// process allocates.
func TestListAnswerWithinGrant(t *testing.T) {
	dir := t.TempDir()
	reg := ""
	for name, n := range map[string]int{"Over": 100_000, "Under": 10_000} {
		reg += fmt.Sprintf("[vaults.%s]\nextension = %q\ngrants.memory = \"4MiB\"\n", name, wat(t, dir, name, manyNames(n)))
	}
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Over"}) // the instance started, out of the measure
	var over error
	cost := allocated(func() { _, over = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Over"}) })
	wantErr(t, over, engine.ErrTooLarge, "Over", "more than 10922 names, the most a vault granted 4 MiB of memory may list (one per 384 bytes)")
	t.Logf("a refused answer of 100,000 names: %d bytes allocated", cost)
	if cost >= 4<<20 {
		t.Errorf("a refused answer of 100,000 names made the host allocate %d bytes, more than the vault's grant of 4 MiB", cost)
	}

	if _, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Under"}); err != nil {
		t.Fatal(err)
	}
	var list []engine.Info
	cost = allocated(func() { list, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Under"}) })
	if err != nil || len(list) != 10_000 {
		t.Fatalf("10,000 names under a 4 MiB grant: %d names, %v", len(list), err)
	}
	t.Logf("an answer of 10,000 names: %d bytes allocated, %d a name", cost, cost/10_000)
	if cost/10_000 >= 384 {
		t.Errorf("a listed name costs the host %d bytes, more than the 384 a name of the grant allows for", cost/10_000)
	}
}
