//go:build linux

package cli

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/agent"
)

// collector reads the garbage collector's settings as the runtime reports
// them: whether it is off (GOGC=off) and the memory limit.
func collector() (off bool, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) < 0, s[1].Value.Uint64()
}

// defaultCollector gives the test the runtime's default collector settings
// and the environment of a user who set neither GOGC nor GOMEMLIMIT, with
// folders of its own and the agent mode given; the settings of the test
// binary come back at the end.
func defaultCollector(t *testing.T, mode string) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	dir := t.TempDir()
	run, err := os.MkdirTemp("", "sesame-run") // short: a socket's path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	cache, err := testCache(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"HOME": filepath.Join(dir, "home"), "XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_DATA_HOME": filepath.Join(dir, "data"), "XDG_CACHE_HOME": cache, "XDG_RUNTIME_DIR": run,
		"SESAME_CONFIG": "", "SESAME_AGENT": mode, "GOGC": "", "GOMEMLIMIT": "",
	} {
		t.Setenv(k, v)
	}
}

// sesame runs the command in this process and fails the test unless it
// succeeds.
func sesame(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(ctx, append([]string{"sesame"}, args...), bytes.NewReader(nil), &out, &errb); code != 0 {
		t.Fatalf("sesame %v: exit status %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errb.String())
	}
}

// TestOneShotStopsTheCollector: a command that runs the engine in its own
// process turns the collector off, with oneShotMemoryLimit as the backstop.
func TestOneShotStopsTheCollector(t *testing.T) {
	defaultCollector(t, agentOff)
	sesame(t, context.Background(), "info")
	if off, limit := collector(); !off || limit != oneShotMemoryLimit {
		t.Errorf("after a command without the agent: collector off %v, memory limit %d; want off, %d", off, limit, oneShotMemoryLimit)
	}
}

// TestOneShotKeepsUsersGOGC: GOGC and GOMEMLIMIT set by the user win.
func TestOneShotKeepsUsersGOGC(t *testing.T) {
	defaultCollector(t, agentOff)
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	sesame(t, context.Background(), "info")
	if off, limit := collector(); off || limit != math.MaxInt64 {
		t.Errorf("with GOGC and GOMEMLIMIT set: collector off %v, memory limit %d; want on, unchanged", off, limit)
	}
}

// TestAgentKeepsTheCollector: neither the agent, which lives long, nor a
// command it serves turns the collector off. The agent runs in this
// process, so that the test sees what it does to the runtime.
func TestAgentKeepsTheCollector(t *testing.T) {
	defaultCollector(t, agentOn)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, []string{"sesame", "agent", "run", "--idle", "0"}, bytes.NewReader(nil), &bytes.Buffer{}, &bytes.Buffer{})
	}()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(termTimeout)
	for agent.PID(agent.Dir()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not start in %v", termTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sesame(t, ctx, "info")
	if off, limit := collector(); off || limit != math.MaxInt64 {
		t.Errorf("after a command through the agent: collector off %v, memory limit %d; want on, no limit", off, limit)
	}
}

// TestInterpretNowCounts: while the compile cache is empty, interpretNow
// says yes interpretRuns times, counting in the cache folder, then no; a
// link planted where it counts is not followed (the file it points at keeps
// its bytes), and the command interprets all the same.
func TestInterpretNowCounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for i := range interpretRuns {
		if !interpretNow(dir) {
			t.Fatalf("command %d of an empty cache compiles; want it to interpret", i+1)
		}
	}
	if interpretNow(dir) {
		t.Fatalf("command %d of an empty cache interprets; want it to compile", interpretRuns+1)
	}

	dir = t.TempDir()
	target := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(target, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "interpreted")); err != nil {
		t.Fatal(err)
	}
	if !interpretNow(dir) {
		t.Error("with a link where the count is kept, the command compiles; want it to interpret")
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "kept" {
		t.Errorf("the link's target holds %q (%v) after the count; want it untouched", b, err)
	}
}
