//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/agent"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The tests of the agent as the sesame command uses it: processes that
// start it on demand, a real terminal, kills. The semantics of every
// command with the agent are the txtar scripts' (they run both ways).

const agentSecret = "agent-cli-secret-0c41d2"

// withAgent returns h using the agent of its own folder, and stops that
// agent at the end of the test.
func (h *home) withAgent(kv ...string) (*home, string) {
	h.t.Helper()
	var run string
	for _, e := range h.env {
		if v, ok := strings.CutPrefix(e, "XDG_RUNTIME_DIR="); ok {
			run = v
		}
	}
	dir := filepath.Join(run, "sesame")
	h.t.Cleanup(func() {
		if err := stopAgent(dir); err != nil {
			h.t.Error(err)
		}
	})
	return h.with(append([]string{"SESAME_AGENT=on"}, kv...)...), dir
}

// waitGone waits until no agent holds dir; the kernel lets go of a dead
// process's lock.
func waitGone(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(termTimeout)
	for agent.PID(dir) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the agent (pid %d) still holds %s after %v", agent.PID(dir), dir, termTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAgentUnlockOnTerminal: the password typed once on a terminal serves
// the next commands, which run without a terminal, until vault lock.
func TestAgentUnlockOnTerminal(t *testing.T) {
	h, _ := newHome(t).withAgent()
	h.run(0, "", "vault", "register", "Safe", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=password")
	p := h.term("vault", "unlock", "Safe")
	p.expect("Password of vault Safe: ")
	p.typeHidden("correct horse")
	p.wait(0)

	h.run(0, "", "set", "db", "--vault", "Safe", "--value", agentSecret)
	out, _ := h.run(0, "", "get", "db", "--vault", "Safe", "--as-plain-text")
	if out != agentSecret+"\n" {
		t.Fatalf("get in a later process printed %q", out)
	}
	h.run(0, "", "vault", "lock", "Safe")
	_, errOut := h.run(1, "", "get", "db", "--vault", "Safe")
	if !strings.Contains(errOut, "vault is locked") {
		t.Fatalf("after vault lock: %s", errOut)
	}
}

// TestAgentReplacedAfterKill: an agent killed with SIGKILL is replaced by
// the next command, which does not notice.
func TestAgentReplacedAfterKill(t *testing.T) {
	h, dir := newHome(t).withAgent()
	h.run(0, "", "set", "a", "--value", agentSecret)
	for round := range 3 {
		pid := agent.PID(dir)
		if pid == 0 {
			t.Fatalf("round %d: no agent runs after a command", round)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, dir)
		out, _ := h.run(0, "", "get", "a", "--as-plain-text")
		if out != agentSecret+"\n" {
			t.Fatalf("round %d: get printed %q", round, out)
		}
		if n := agent.PID(dir); n == 0 || n == pid {
			t.Fatalf("round %d: agent pid %d after killing %d", round, n, pid)
		}
	}
}

// TestAgentIdleExit: an agent started on demand exits by itself after its
// idle period, though a connection stays open (and silent).
func TestAgentIdleExit(t *testing.T) {
	h, dir := newHome(t).withAgent("SESAME_AGENT_IDLE=1s") // time to connect
	out, _ := h.run(0, "", "agent", "start")
	var pid int
	if _, err := fmt.Sscanf(out, "sesame agent running, pid %d", &pid); err != nil || pid == 0 {
		t.Fatalf("agent start printed %q", out)
	}
	silent, err := net.Dial("unix", filepath.Join(dir, "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitGone(t, dir)
	// It lets go of its folder just before it exits.
	deadline := time.Now().Add(termTimeout)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent (pid %d) still runs %v after letting go of its folder", pid, termTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "agent.sock")); !os.IsNotExist(err) {
		t.Errorf("the socket is left behind: %v", err)
	}
}

// TestAgentOneStarts: commands that all find no agent at once start one
// between them, and all succeed.
func TestAgentOneStarts(t *testing.T) {
	h, dir := newHome(t).withAgent()
	h.run(0, "", "set", "a", "--value", agentSecret)
	if err := stopAgent(dir); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	pids := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(sesameBinary(t), "get", "a", "--as-plain-text")
			cmd.Env = h.env
			out, err := cmd.Output()
			if err != nil || string(out) != agentSecret+"\n" {
				t.Errorf("get: %v, %q", err, out)
			}
			pids <- agent.PID(dir)
		}()
	}
	wg.Wait()
	close(pids)
	first := agent.PID(dir)
	for pid := range pids {
		if pid != first {
			t.Errorf("a command saw agent %d, another %d", pid, first)
		}
	}
}

// TestAgentLogHoldsNoSecret: an agent run in the foreground logs its
// events, and none of the secrets or passwords that passed through it.
func TestAgentLogHoldsNoSecret(t *testing.T) {
	h, dir := newHome(t).withAgent()
	cmd := exec.Command(sesameBinary(t), "agent", "run")
	cmd.Env = h.env
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(termTimeout)
	for agent.PID(dir) != cmd.Process.Pid {
		if time.Now().After(deadline) {
			t.Fatal("the foreground agent did not take its folder")
		}
		time.Sleep(10 * time.Millisecond)
	}
	const pw = "agent-cli-password-7e2a"
	h.run(0, "", "vault", "register", "Safe", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=password")
	h.run(0, pw+"\n", "vault", "unlock", "Safe", "--password-stdin")
	h.run(0, "", "set", "db", "--vault", "Safe", "--value", agentSecret)
	h.run(0, "", "get", "db", "--vault", "Safe", "--as-plain-text")
	h.run(1, "wrong\n", "vault", "unlock", "Safe", "--password-stdin")
	h.run(0, "", "agent", "stop")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("agent run: %v\n%s", err, log.String())
	}
	for _, want := range []string{"sesame agent started", "sesame agent stopped", "reason=\"stop request\""} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
	for _, secret := range []string{agentSecret, pw, "wrong"} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, log.String())
		}
	}
}

// TestAgentFallsBack: in the default mode, a command works alone when the
// agent cannot run (here: its folder is open to others), and says why only
// on a terminal.
func TestAgentFallsBack(t *testing.T) {
	h := newHome(t)
	var run string
	for _, e := range h.env {
		if v, ok := strings.CutPrefix(e, "XDG_RUNTIME_DIR="); ok {
			run = v
		}
	}
	open := filepath.Join(run, "sesame")
	if err := os.MkdirAll(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	auto := h.with("SESAME_AGENT=auto")
	auto.run(0, "", "set", "a", "--value", agentSecret)
	out, errOut := auto.run(0, "", "get", "a", "--as-plain-text")
	if out != agentSecret+"\n" || errOut != "" {
		t.Fatalf("get: %q, stderr %q", out, errOut)
	}
	if agent.PID(open) != 0 {
		t.Fatal("an agent runs in a folder open to others")
	}
	_, errOut = h.with("SESAME_AGENT=on").run(1, "", "get", "a")
	want := fmt.Sprintf("sesame: error: cannot use the sesame agent: agent folder %s can be entered by other users (mode 0777); refusing to use it (chmod 700 it)\n", open)
	if !strings.HasPrefix(errOut, want) {
		t.Fatalf("SESAME_AGENT=on:\n%s\nwant:\n%s", errOut, want)
	}
}

// TestAgentReplacedByOtherBuild: a command finding an agent started by
// another build of sesame (an upgrade) stops it and starts its own.
func TestAgentReplacedByOtherBuild(t *testing.T) {
	h, dir := newHome(t).withAgent()
	h.run(0, "", "set", "a", "--value", agentSecret)
	old := agent.PID(dir)

	// The same programs at another path are another build: sesame runs
	// the agent from the sesame-engine beside it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	upgraded := t.TempDir()
	for _, name := range []string{"sesame", "sesame-engine"} {
		if err := os.WriteFile(filepath.Join(upgraded, name), b, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(upgraded, "sesame"), "get", "a", "--as-plain-text")
	cmd.Env = h.env
	out, err := cmd.Output()
	if err != nil || string(out) != agentSecret+"\n" {
		t.Fatalf("get from the other build: %v, %q", err, out)
	}
	now := agent.PID(dir)
	if now == 0 || now == old {
		t.Fatalf("agent pid %d after the other build ran; the first was %d", now, old)
	}
	if running(old) {
		t.Errorf("the agent of the first build (pid %d) still runs", old)
	}
}

// running reports whether the process pid runs: it exists and is not a
// zombie waiting for its parent to collect it.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// TestAgentStopWhileStuck: `sesame agent stop`, and SIGTERM, end an agent
// while a request hangs in a vault (a loop with a 10-minute deadline): the
// agent process exits, the hanging command fails, and the next command
// finds the unlocked vault locked. The agent runs not dumpable and without
// core files.
func TestAgentStopWhileStuck(t *testing.T) {
	spin := filepath.Join(t.TempDir(), "spin.wasm")
	if err := os.WriteFile(spin, testwasm.WAT(t, "internal/agent/testdata/spin.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"agent stop", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			h, dir := newHome(t).withAgent()
			agentCmd, spinning := foregroundAgent(t, h, dir)
			pid := agentCmd.Process.Pid
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid)); err != nil || !regexp.MustCompile(`(?m)^Max core file size +0 +0 `).Match(b) {
				t.Errorf("the agent may write core files (%v):\n%s", err, b)
			}
			h.run(0, "", "vault", "register", "Spin", "--extension", spin, "--grant", "timeout=10m")
			h.run(0, "", "vault", "register", "Safe", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=password")
			h.run(0, "agent-cli-password-51c0\n", "vault", "unlock", "Safe", "--password-stdin")
			h.run(0, "", "set", "db", "--vault", "Safe", "--value", agentSecret)

			stuck := exec.Command(sesameBinary(t), "get", "x", "--vault", "Spin")
			stuck.Env = h.env
			if err := stuck.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-spinning:
			case <-time.After(termTimeout):
				t.Fatal("the spinning vault's log line never came")
			}
			if how == "SIGTERM" {
				if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				h.run(0, "", "agent", "stop")
			}
			exited := make(chan error, 1)
			go func() { exited <- agentCmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(termTimeout):
				t.Fatalf("the agent (pid %d) still runs %v after %s while a request hangs", pid, termTimeout, how)
			}
			if err := stuck.Wait(); err == nil {
				t.Error("the hanging get succeeded")
			}
			_, errOut := h.run(1, "", "get", "db", "--vault", "Safe")
			if !strings.Contains(errOut, "vault is locked") {
				t.Fatalf("after the agent stopped: %s", errOut)
			}
		})
	}
}

// foregroundAgent starts `sesame agent run` for h, waits until it holds
// dir, and returns it with a channel closed once its log says "spinning".
func foregroundAgent(t *testing.T, h *home, dir string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(sesameBinary(t), "agent", "run")
	cmd.Env = h.env
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	spinning := make(chan struct{})
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), "spinning") {
				seen = true
				close(spinning)
			}
		}
	}()
	deadline := time.Now().Add(termTimeout)
	for agent.PID(dir) != cmd.Process.Pid {
		if time.Now().After(deadline) {
			t.Fatal("the foreground agent did not take its folder")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, spinning
}
