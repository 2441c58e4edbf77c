package engine_test

import (
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestSecretStoreListsEveryPage: a listing that takes many pages of
// kv_scan is complete: 700 small records (pages bounded by the 256 entries
// of a page) and records of 300 KB (pages bounded by the guest's buffer and
// the 1 MiB of a page) are all listed, each once, with their spelling and
// metadata, and a pattern selects across pages.
func TestSecretStoreListsEveryPage(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssPassword+"\n  password_timeout = -1")
	e := env.open(t)
	ssUnlock(t, e, ssPass)
	const big = 5
	for i := range big {
		ssSet(t, e, "Big-"+string(rune('A'+i)), strings.Repeat("x", 300<<10), engine.Metadata{"n": int64(i)})
	}
	e.Close()
	const small = 700
	ssFill(t, env.dbPath(), small)

	e = env.open(t)
	ssUnlock(t, e, ssPass)
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, in := range infos {
		seen[in.Name]++
	}
	for i := range small {
		if n := seen[ssBenchName(i)]; n != 1 {
			t.Errorf("%s listed %d times", ssBenchName(i), n)
		}
	}
	for i := range big {
		if n := seen["Big-"+string(rune('A'+i))]; n != 1 {
			t.Errorf("Big-%c listed %d times", 'A'+i, n)
		}
	}
	if len(infos) != small+big {
		t.Errorf("%d secrets listed, want %d", len(infos), small+big)
	}
	for _, in := range infos {
		if strings.HasPrefix(in.Name, "Big-") && in.Metadata["n"] != int64(in.Name[4]-'A') {
			t.Errorf("%s: metadata %v", in.Name, in.Metadata)
		}
	}
	sel, err := e.Info(ctx, engine.InfoRequest{Pattern: "BENCH-secret-0006?5*", Vault: ssVault})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != 10 {
		t.Errorf("pattern: %d secrets listed, want 10", len(sel))
	}
}
