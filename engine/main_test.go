package engine_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testhome"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain derives keys cheaply in this test process and in the copies of
// it that tests start (internal/testonly): every store the tests write is
// read only here. Their stores and vaults.toml are written without a flush
// to the disk (testonly.NoSync): no test here crashes the machine, and the
// crash tests kill a process, whose writes the kernel keeps. The engines over testCache share their compiled modules
// (sandbox.ShareCompiledModules): each test opens engines of its own, and
// each of them read and checked again a cache entry of about 12 MB for every
// Go guest it loaded, a third of this package's CPU; the tests of the cache
// itself (cache_test.go) use folders of their own. That folder, which the
// sandbox's and the agent's tests share, keeps more entries than a user's
// (testonly.ManyCacheEntries): at the user's 64, the 70 modules of one run
// pushed each other out, and a warm run compiled about 40 again.
//
// Every test that touches no process-wide state calls t.Parallel, so that
// they share the machine's cores (go test starts them once every serial
// test has finished). A test that changes such state (testonly's clock,
// KDF or hooks, the environment with t.Setenv), or that counts what the
// whole process allocates (runtime.MemStats), stays serial: nothing runs
// beside it.
//
// The tests run in a home of their own (internal/testhome): an engine whose
// options leave a folder or the cache key to the default finds it there,
// not in the user's home.
//
// The environment holds envSecret for the whole run, so that
// TestHostileContained, which checks that a guest does not see it, needs
// no t.Setenv and can run in parallel.
//
// Under the test flag -interpret, every extension the tests load runs in
// wazero's interpreter (sandbox.InterpretAll), as the builtin C extensions
// of a one-shot command do while the compile cache is empty, so that the
// hostile guests' containment and the deadlines are checked under that
// engine too: go test ./engine -run Hostile -args -interpret.
func TestMain(m *testing.M) {
	flag.Parse()
	if *interpret {
		sandbox.InterpretAll()
	}
	testonly.UseCheapKDF()
	testonly.NoSync()
	sandbox.ShareCompiledModules(filepath.Join(testCache, "wazero"))
	testonly.ManyCacheEntries()
	os.Setenv("SESAME_HOSTILE_ENV", envSecret)
	testhome.MustEnter(m).Run()
}

var interpret = flag.Bool("interpret", false, "run every extension the tests load in wazero's interpreter")
