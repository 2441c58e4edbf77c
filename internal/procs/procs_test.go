package procs

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestOneProcessor: the test binary, which imports the package, runs on one
// processor when GOMAXPROCS is not set, and on the user's count when it is
// (the test runs itself again to see a start with each environment).
func TestOneProcessor(t *testing.T) {
	if want := os.Getenv("PROCS_TEST_WANT"); want != "" {
		if got := strconv.Itoa(runtime.GOMAXPROCS(0)); got != want {
			t.Fatalf("GOMAXPROCS %s after the init, want %s", got, want)
		}
		return
	}
	for _, c := range []struct{ env, want string }{{"", "1"}, {"GOMAXPROCS=3", "3"}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOneProcessor$")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOMAXPROCS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "PROCS_TEST_WANT="+c.want)
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("with %q in the environment: %v\n%s", c.env, err, out)
		}
	}
}

// TestImportsLittle: the init sets GOMAXPROCS before the inits of most
// packages run only while the package imports no more than the runtime and
// syscall (inits run in import path order as far as imports allow).
func TestImportsLittle(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if imports := strings.TrimSpace(string(out)); imports != "runtime syscall" {
		t.Errorf("package procs imports %s: its init no longer runs among the first", imports)
	}
}
