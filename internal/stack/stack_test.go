package stack

import (
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestReserveGrows: goroutines that call Reserve hold stacks of
// reserveBytes, goroutines that do not hold the runtime's small ones: each
// of the first holds at least half of reserveBytes more than each of the
// second (the runtime reuses some freed stacks, so the sum of the stacks
// is not exact). It fails when the compiler removes Reserve's frame (a
// frame that is never read goes, and the growth with it).
func TestReserveGrows(t *testing.T) {
	checkReserve(t, "Reserve", Reserve, reserveBytes)
}

// TestReserveEngineGrows: the same for ReserveEngine and engineBytes.
func TestReserveEngineGrows(t *testing.T) {
	checkReserve(t, "ReserveEngine", ReserveEngine, engineBytes)
}

// checkReserve fails unless goroutines that call reserve (named name) hold
// at least half of size more stack each than goroutines that do not.
func checkReserve(t *testing.T, name string, reserve func(), size uint64) {
	t.Helper()
	const n = 500
	inUse := func(reserve func()) uint64 {
		var started, done sync.WaitGroup
		release := make(chan struct{})
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range n {
			started.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				if reserve != nil {
					reserve()
				}
				started.Done()
				<-release
			}()
		}
		started.Wait()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		close(release)
		done.Wait()
		return after.StackInuse - before.StackInuse
	}
	plain, reserved := inUse(nil), inUse(reserve)
	if reserved < plain+n*size/2 {
		t.Errorf("%d goroutines that called %s hold %d bytes of stack, %d goroutines that did not %d; want at least %d more each", n, name, reserved, n, plain, size/2)
	}
}

// TestImportsNothing: the package's init grows the main goroutine's stack
// only if it runs before the inits that need the stack, which it does by
// importing nothing (inits run in import path order as far as imports
// allow).
func TestImportsNothing(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if imports := strings.TrimSpace(string(out)); imports != "" {
		t.Errorf("package stack imports %s: its init no longer runs among the first", imports)
	}
}
