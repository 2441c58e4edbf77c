package engine_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
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
	before := readCalls(t)
	res, err := e.Import(ctx, engine.ImportRequest{Vault: "V", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	if reads := readCalls(t) - before; reads >= n/10 {
		t.Errorf("an import of %d secrets made %d read system calls; want a few", n, reads)
	}
	if res.Unchanged != n {
		t.Errorf("%d of the %d secrets imported again unchanged; want all", res.Unchanged, n)
	}
}

// readCalls returns the number of read system calls the process made.
func readCalls(t *testing.T) uint64 {
	t.Helper()
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no syscr in /proc/self/io")
	return 0
}
