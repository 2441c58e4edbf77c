package engine_test

import (
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestImportPollsWatchOnce: the reads of an import's batch into a store
// on disk poll the storage's watch (a read system call, which the kernel
// counts in /proc/self/io) once for the batch, as the reads of one get do,
// not once for each secret's call. The secrets imported are already there
// with their values, so that the batch commits nothing, and no event of
// its commit is read during the count.
func TestImportPollsWatchOnce(t *testing.T) {
	e := importBenchEngine(t, "extensions/secretstore")
	defer e.Close()
	const n = 500
	secrets := importSecrets("s", n)
	if _, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets}); err != nil {
		t.Fatal(err)
	}
	// Its poll reads the events of the commit, all queued by now.
	if _, err := e.Get(ctx, engine.GetRequest{Vault: "V", Name: "s-0"}); err != nil {
		t.Fatal(err)
	}
	before := testwasm.ReadCalls(t)
	res, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if reads := testwasm.ReadCalls(t) - before; reads >= n/10 {
		t.Errorf("an import of %d secrets made %d read system calls; want a few", n, reads)
	}
	if res.Unchanged != n {
		t.Errorf("%d of the %d secrets imported again unchanged; want all", res.Unchanged, n)
	}
}
