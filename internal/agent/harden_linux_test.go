package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRunHardensProcess: the agent's process cannot be dumped (no core
// file, no ptrace by other processes of the user, no /proc/PID/mem). It
// runs Run in a child process of the test and reads the child's answers.
func TestRunHardensProcess(t *testing.T) {
	if dir := os.Getenv("SESAME_AGENT_TEST_HARDEN"); dir != "" {
		ctx, cancel := context.WithCancel(context.Background())
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := Run(ctx, dir, RunOptions{Ready: w, Engines: testEngines}); done <- err }()
		io.ReadAll(r)
		dumpable, core := processLimits()
		fmt.Printf("dumpable=%d core=%d\n", dumpable, core)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunHardensProcess$")
	cmd.Env = append(os.Environ(), "SESAME_AGENT_TEST_HARDEN="+filepath.Join(t.TempDir(), "run"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "dumpable=0 core=0\n") {
		t.Errorf("the agent's process is not hardened:\n%s", out)
	}
}

// processLimits returns this process's dumpable flag and core file limit.
func processLimits() (dumpable int, core uint64) {
	dumpable, _ = unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	var rl unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_CORE, &rl)
	return dumpable, rl.Cur
}
