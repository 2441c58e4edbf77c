package sandbox_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testhome"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain makes the Hosts over cacheDir, those of newHost here and of
// keyHost in the package's own tests, share their compiled modules
// (sandbox.ShareCompiledModules), as the engine's tests do: each test makes
// Hosts of its own, and each one read and checked again the cache entry
// (about 12 MB) of every Go guest it loaded. On an empty compile cache,
// with the guests built, that was a fifth of this package's CPU (22-25 s
// of CPU, 19 s with the switch). The first load of each module in the
// process still compiles it, or reads it from the folder, and seals it.
// The tests of the disk cache and its seals use folders of their own,
// which the switch leaves alone. The folder and its key are the engine's
// tests' (cacheDir), which holds more entries than a user's
// (testonly.ManyCacheEntries): the modules of the engine's, the
// sandbox's and the agent's tests.
//
// Under the test flag -interpret, every module the tests load runs in
// wazero's interpreter (sandbox.InterpretAll): go test
// ./engine/internal/sandbox -args -interpret.
func TestMain(m *testing.M) {
	flag.Parse()
	if *interpret {
		sandbox.InterpretAll()
	}
	if err := testhome.WriteCacheKey(cacheKey); err != nil {
		fmt.Fprintln(os.Stderr, "cannot write the key of the tests' compile cache:", err)
		os.Exit(2)
	}
	shareCompiledModules()
	testonly.ManyCacheEntries()
	m.Run()
}

var interpret = flag.Bool("interpret", false, "run every module the tests load in wazero's interpreter")

// compiles skips a test of the compile cache under -interpret: the
// interpreter reads and writes none.
func compiles(t *testing.T) {
	if *interpret {
		t.Skip("a test of the compile cache, which the interpreter does not use (-interpret)")
	}
}

// shareCompiledModules installs TestMain's switch (again, after
// TestShareCompiledModules has installed its own).
func shareCompiledModules() { sandbox.ShareCompiledModules(cacheDir) }
