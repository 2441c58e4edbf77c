//go:build linux

package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// These tests run the sesame binary (this test binary, installed on $PATH
// by testscript.Main) on a real pseudo-terminal, for what needs one: hidden
// prompts, confirmations, and output that depends on a terminal. Each
// has a home of its own and passes the environment to its processes
// explicitly, so they run in parallel: most of their time is spent waiting
// for a process to print.

// home is the HOME and XDG folders of one test; env is the environment of
// the sesame processes it runs.
type home struct {
	t   *testing.T
	env []string
}

func newHome(t *testing.T) *home {
	t.Helper()
	dir := t.TempDir()
	cache, err := testCache(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "SESAME_CONFIG", "SESAME_AGENT", "GORACE":
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+cache,
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"SESAME_AGENT=off",
		"GORACE="+goRace(),
	)
	return &home{t: t, env: env}
}

// with returns h with more environment variables.
func (h *home) with(kv ...string) *home {
	return &home{t: h.t, env: append(append([]string(nil), h.env...), kv...)}
}

// run runs sesame without a terminal and fails the test unless it exits
// with status want.
func (h *home) run(want int, stdin string, args ...string) (stdout, stderr string) {
	h.t.Helper()
	cmd := exec.Command(sesameBinary(h.t), args...)
	cmd.Env = h.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	if code != want {
		h.t.Fatalf("sesame %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// ptyProc is a sesame process whose standard input, output and error are a
// pseudo-terminal.
type ptyProc struct {
	t    *testing.T
	ptmx *os.File // the side this test reads and types on
	tty  *os.File // the process's terminal, kept open here to read its modes
	cmd  *exec.Cmd
	args string

	mu     sync.Mutex
	out    bytes.Buffer
	seen   int
	copied chan struct{}
}

func (h *home) term(args ...string) *ptyProc {
	h.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(sesameBinary(h.t), args...)
	cmd.Env = append(h.env, "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	p := &ptyProc{t: h.t, ptmx: ptmx, tty: tty, cmd: cmd, args: strings.Join(args, " "), copied: make(chan struct{})}
	go func() {
		defer close(p.copied)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	h.t.Cleanup(func() {
		cmd.Process.Kill()
		tty.Close()
		ptmx.Close()
	})
	return p
}

const termTimeout = 60 * time.Second

// expect waits until the output since the last match contains s.
func (p *ptyProc) expect(s string) {
	p.t.Helper()
	deadline := time.Now().Add(termTimeout)
	for {
		p.mu.Lock()
		out := p.out.String()
		p.mu.Unlock()
		if i := strings.Index(out[p.seen:], s); i >= 0 {
			p.seen += i + len(s)
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("sesame %s: no %q on the terminal after %v; it shows:\n%s", p.args, s, termTimeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// typeHidden waits until the terminal no longer echoes (the prompt printed,
// the process is about to read), then types line and Enter.
func (p *ptyProc) typeHidden(line string) {
	p.t.Helper()
	deadline := time.Now().Add(termTimeout)
	for {
		tio, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
		if err != nil {
			p.t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("sesame %s: the terminal still echoes after %v", p.args, termTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.send(line + "\n")
}

func (p *ptyProc) send(s string) {
	p.t.Helper()
	if _, err := p.ptmx.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit with status want and returns all it
// wrote to the terminal.
func (p *ptyProc) wait(want int) string {
	p.t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(termTimeout):
		p.cmd.Process.Kill()
		p.t.Fatalf("sesame %s: still running after %v", p.args, termTimeout)
	}
	p.tty.Close() // the process is gone: now the reader sees the end
	<-p.copied
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	out := p.out.String()
	p.mu.Unlock()
	if code != want {
		p.t.Fatalf("sesame %s: exit status %d, want %d; the terminal shows:\n%s", p.args, code, want, out)
	}
	return out
}

// registerVault registers the C example vault (examples/c-vault) as name:
// these tests are about the terminal, not the vault, and a command without
// the agent loads a C guest for a tenth of the CPU of a Go one.
func (h *home) registerVault(name string) {
	h.t.Helper()
	wasm, err := testwasm.Path("examples/c-vault")
	if err != nil {
		h.t.Fatal(err)
	}
	h.run(0, "", "vault", "register", name, "--extension", wasm, "--grant", "storage=true")
}

// TestHiddenPrompt is Set-Secret's example 2: without a value, set asks on
// the terminal without echo, twice, whether the secret is new or not.
func TestHiddenPrompt(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("LocalStore")

	p := h.term("set", "Secret2", "--vault", "LocalStore")
	p.expect("Value of secret Secret2: ")
	p.typeHidden("hunter2")
	p.expect("Enter it again: ")
	p.typeHidden("hunter2")
	out := p.wait(0)
	if strings.Contains(out, "hunter2") {
		t.Errorf("the typed value was echoed:\n%s", out)
	}
	if got, _ := h.run(0, "", "get", "Secret2", "--as-plain-text"); got != "hunter2\n" {
		t.Errorf("get --as-plain-text = %q, want %q", got, "hunter2\n")
	}
	if got, _ := h.run(0, "", "get", "Secret2"); got != "string ********\n" {
		t.Errorf("get = %q", got)
	}

	// Replacing a secret asks twice too: a typo would otherwise silently
	// replace the real value. Two entries that differ are asked again.
	p = h.term("set", "Secret2")
	p.expect("Value of secret Secret2: ")
	p.typeHidden("changed")
	p.expect("Enter it again: ")
	p.typeHidden("changde")
	p.expect("sesame: the two entries differ; try again")
	p.expect("Value of secret Secret2: ")
	p.typeHidden("changed")
	p.expect("Enter it again: ")
	p.typeHidden("changed")
	if out = p.wait(0); strings.Contains(out, "changed") {
		t.Errorf("replacing echoed:\n%s", out)
	}
	if got, _ := h.run(0, "", "get", "Secret2", "--as-plain-text"); got != "changed\n" {
		t.Errorf("after replace: %q", got)
	}

	// Three times two different entries store nothing.
	p = h.term("set", "Other")
	for range 3 {
		p.expect("Value of secret Other: ")
		p.typeHidden("one")
		p.expect("Enter it again: ")
		p.typeHidden("two")
	}
	out = p.wait(1)
	if !strings.Contains(out, "sesame: error: the two entries differ; nothing was changed") || strings.Count(out, "try again") != 2 {
		t.Errorf("mismatch: the terminal shows:\n%s", out)
	}
	h.run(1, "", "get", "Other")

	// A credential asks for the password of the user.
	p = h.term("set", "Login", "--type", "credential", "--username", "alice")
	p.expect("Password of alice for secret Login: ")
	p.typeHidden("pw")
	p.expect("Enter it again: ")
	p.typeHidden("pw")
	p.wait(0)
	if got, _ := h.run(0, "", "get", "Login", "--as-plain-text"); got != "alice\npw\n" {
		t.Errorf("credential: %q", got)
	}

	// The engine's refusals come before the typing.
	p = h.term("set", "Secret2", "--no-clobber")
	out = p.wait(1)
	if strings.Contains(out, "Value of secret") || !strings.Contains(out, "A secret with name Secret2 already exists in vault LocalStore.") {
		t.Errorf("--no-clobber: the terminal shows:\n%s", out)
	}
}

// TestValueWarning: --value warns that the secret is now in the process
// list and the shell's history, on a terminal and without one (a CI log);
// set_value-warning.txtar pins the words.
func TestValueWarning(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("V")
	out := h.term("set", "s", "--value", "hunter2").wait(0)
	if !strings.Contains(out, valueWarning) {
		t.Errorf("no warning; the terminal shows:\n%s", out)
	}
	if _, stderr := h.run(0, "", "set", "s", "--value", "x"); stderr != valueWarning+"\n" {
		t.Errorf("without a terminal, stderr is %q, want the warning", stderr)
	}
}

// TestConfirmPrompt: --confirm asks on the terminal; only yes goes ahead.
func TestConfirmPrompt(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("V")

	p := h.term("set", "c", "--value", "v", "--confirm")
	p.expect(`Confirm: add secret "c" to vault V? [y/N] `)
	p.send("y\n")
	p.wait(0)
	h.run(0, "", "get", "c")

	p = h.term("remove", "c", "--vault", "V", "--confirm")
	p.expect(`Confirm: remove secret "c" from vault V? [y/N] `)
	p.send("\n")
	out := p.wait(0) // declining is not a failure, as in PowerShell
	if !strings.Contains(out, "sesame: declined; nothing was changed") || strings.Contains(out, "error") {
		t.Errorf("declined: the terminal shows:\n%s", out)
	}
	h.run(0, "", "get", "c")

	p = h.term("set-info", "c", "--metadata", "a=b", "--confirm")
	p.expect(`Confirm: replace the metadata of secret "c" in vault V? [y/N] `)
	p.send("yes\n")
	p.wait(0)
	if out, _ := h.run(0, "", "info", "c"); !strings.Contains(out, "a=b") {
		t.Errorf("set-info after yes: %q", out)
	}

	h.registerVault("W")
	p = h.term("copy", "c", "--from", "V", "--to", "W", "--confirm")
	p.expect(`Confirm: add secret "c" to vault W? [y/N] `)
	p.send("y\n")
	p.wait(0)
	h.run(0, "", "get", "c", "--vault", "W")

	p = h.term("vault", "default", "W", "--confirm")
	p.expect("Confirm: make vault W the default vault? [y/N] ")
	p.send("y\n")
	p.wait(0)
	if out, _ := h.run(0, "", "vault", "default"); out != "W\n" {
		t.Errorf("vault default after yes: %q", out)
	}
}

// TestConfirmRegister: vault register and unregister --confirm ask on the
// terminal, with the words of their --what-if; only yes goes ahead.
func TestConfirmRegister(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	wasm, err := testwasm.Path("examples/c-vault")
	if err != nil {
		t.Fatal(err)
	}
	p := h.term("vault", "register", "V", "--extension", wasm, "--grant", "storage=true", "--confirm")
	p.expect("Confirm: register vault V with extension " + wasm + "? [y/N] ")
	p.send("n\n")
	if out := p.wait(0); !strings.Contains(out, "sesame: declined; nothing was changed") {
		t.Errorf("declined: the terminal shows:\n%s", out)
	}
	if out, _ := h.run(0, "", "vault", "list"); out != "" {
		t.Errorf("vault list after a declined register: %q", out)
	}
	p = h.term("vault", "register", "V", "--extension", wasm, "--grant", "storage=true", "--confirm")
	p.expect("Confirm: register vault V with extension " + wasm + "? [y/N] ")
	p.send("y\n")
	p.wait(0)

	p = h.term("vault", "unregister", "v", "--remove-storage", "--confirm")
	p.expect("Confirm: unregister vault V and delete its storage, with all it stored? [y/N] ")
	p.send("\n")
	p.wait(0)
	if out, _ := h.run(0, "", "vault", "list"); !strings.Contains(out, "V ") {
		t.Errorf("vault list after a declined unregister: %q", out)
	}
	p = h.term("vault", "unregister", "V", "--confirm")
	p.expect("Confirm: unregister vault V (its storage stays on disk)? [y/N] ")
	p.send("yes\n")
	p.wait(0)
	if out, _ := h.run(0, "", "vault", "list"); out != "" {
		t.Errorf("vault list after unregister: %q", out)
	}
}

// TestLockedPrompt: on a terminal, a command that finds a vault locked asks
// for its password and goes on; vault unlock asks too; a wrong password is
// asked again, up to three times.
func TestLockedPrompt(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	wasm, err := testwasm.Path("internal/cli/testdata/lockvault")
	if err != nil {
		t.Fatal(err)
	}
	h.run(0, "", "vault", "register", "L", "--extension", wasm, "--grant", "storage=true")
	h.run(0, "", "set", "s", "--value", "hunter2")

	p := h.term("vault", "unlock", "L")
	p.expect("Password of vault L: ")
	p.typeHidden("correct horse") // the first unlock sets it
	if out := p.wait(0); strings.Contains(out, "correct horse") {
		t.Errorf("password echoed:\n%s", out)
	}
	h.run(0, "", "vault", "lock", "L")
	h.run(1, "", "get", "s")

	p = h.term("get", "s", "--as-plain-text")
	p.expect("Vault L is locked. Password of vault L: ")
	p.typeHidden("correct horse")
	p.expect("hunter2\r\n")
	p.wait(0)

	// A wrong password is asked again, up to three times.
	h.run(0, "", "vault", "lock", "L")
	p = h.term("get", "s", "--as-plain-text")
	p.expect("Vault L is locked. Password of vault L: ")
	p.typeHidden("wrong")
	p.expect("sesame: wrong password for vault L; try again")
	p.expect("Vault L is locked. Password of vault L: ")
	p.typeHidden("correct horse")
	p.expect("hunter2\r\n")
	p.wait(0)

	h.run(0, "", "vault", "lock", "L")
	p = h.term("vault", "unlock", "L")
	for range 3 {
		p.expect("Password of vault L: ")
		p.typeHidden("wrong")
	}
	out := p.wait(1)
	if !strings.Contains(out, "sesame: error: cannot unlock vault L: vault is locked (wrong password)") || strings.Count(out, "try again") != 2 {
		t.Errorf("three wrong passwords: the terminal shows:\n%s", out)
	}
}

// TestTerminalOutput: bytes are masked, and even with --as-plain-text not
// written to a terminal; the first use of an extension says that it
// compiles.
func TestTerminalOutput(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("V")
	h.run(0, "raw\x00bytes", "set", "b", "--type", "bytes", "--stdin")
	out := h.term("get", "b").wait(0)
	if !strings.Contains(out, "bytes ********") || strings.Contains(out, "raw") {
		t.Errorf("bytes on a terminal: %q", out)
	}
	out = h.term("get", "b", "--as-plain-text").wait(0)
	if !strings.Contains(out, "bytes (9 bytes)") || strings.Contains(out, "raw") {
		t.Errorf("bytes with --as-plain-text on a terminal: %q", out)
	}

	empty := h.with("XDG_CACHE_HOME=" + t.TempDir())
	if out := empty.term("vault", "test", "V").wait(0); !strings.Contains(out, "sesame: compiling extension") {
		t.Errorf("no compile note with an empty cache: %q", out)
	}
	if out := empty.term("vault", "test", "V").wait(0); strings.Contains(out, "compiling") {
		t.Errorf("compile note with a warm cache: %q", out)
	}
}

// TestFirstRunTerminal: on a fresh machine with a terminal, the default
// vault's password is asked (empty: none).
func TestFirstRunTerminal(t *testing.T) {
	t.Parallel()
	if _, ok := extensions.Lookup("secretstore"); !ok {
		t.Skip("the builtin secretstore extension is not embedded yet")
	}
	h := newHome(t)
	p := h.term("set", "Secret1")
	p.expect("Password for the new vault LocalStore (empty for none): ")
	p.typeHidden("")
	p.expect("Value of secret Secret1: ")
	p.typeHidden("SecretValue")
	p.expect("Enter it again: ")
	p.typeHidden("SecretValue")
	out := p.wait(0)
	if !strings.Contains(out, "sesame: created vault LocalStore (builtin:secretstore, no password") {
		t.Errorf("the terminal shows:\n%s", out)
	}
	if got, _ := h.run(0, "", "get", "Secret1", "--as-plain-text"); got != "SecretValue\n" {
		t.Errorf("get = %q", got)
	}

	h = newHome(t)
	p = h.term("set", "Secret1")
	p.expect("Password for the new vault LocalStore (empty for none): ")
	p.typeHidden("vault pw")
	p.expect("Enter it again: ")
	p.typeHidden("vault pw")
	p.expect("Value of secret Secret1: ")
	p.typeHidden("SecretValue")
	p.expect("Enter it again: ")
	p.typeHidden("SecretValue")
	out = p.wait(0)
	if !strings.Contains(out, "sesame: created vault LocalStore (builtin:secretstore, password protected)") || strings.Contains(out, "vault pw") {
		t.Errorf("the terminal shows:\n%s", out)
	}
	p = h.term("get", "Secret1", "--as-plain-text")
	p.expect("Vault LocalStore is locked. Password of vault LocalStore: ")
	p.typeHidden("vault pw")
	p.expect("SecretValue\r\n")
	p.wait(0)
}

// TestGetNamesTheVault: get without --vault says on a terminal which vault
// answered (any vault in the search could have); with --vault, or with
// standard error not a terminal, it says nothing more.
func TestGetNamesTheVault(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("Home")
	h.registerVault("Team")
	h.run(0, "v", "set", "db", "--vault", "Team", "--stdin")
	out := h.term("get", "db").wait(0)
	if !strings.Contains(out, "sesame: secret \"db\" from vault Team\r\n") {
		t.Errorf("get without --vault: the terminal shows:\n%s", out)
	}
	if out := h.term("get", "db", "--vault", "Team").wait(0); strings.Contains(out, "from vault") {
		t.Errorf("get --vault: the terminal shows:\n%s", out)
	}
	if _, stderr := h.run(0, "", "get", "db", "--as-plain-text"); stderr != "" {
		t.Errorf("without a terminal, stderr is %q", stderr)
	}
}

// TestImportProgress: on a terminal, import draws a progress bar on
// standard error, batch by batch, then its summary; --confirm asks once per
// batch, and a no stops there, keeping the batches before.
func TestImportProgress(t *testing.T) {
	t.Parallel()
	h := newHome(t)
	h.registerVault("V")
	file := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(file, []byte("A=1\nB=2\nC=3\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	p := h.term("import", file, "--batch", "2")
	p.expect("\rsesame: importing [####################..........]  67% 2/3 secrets (")
	p.expect("\rsesame: importing [##############################] 100% 3/3 secrets (")
	p.expect("/s)\r\n")
	p.expect("sesame: imported 3 secrets from " + file + " into vault V (3 added, 0 replaced, 0 unchanged)")
	p.wait(0)

	if err := os.WriteFile(file, []byte("A=1\nB=two\nC=three\nD=4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = h.term("import", file, "--batch", "2", "--confirm")
	p.expect("Confirm: import 1 secret into vault V, replacing 1? [y/N] ")
	p.send("y\n")
	p.expect("Confirm: import 2 secrets into vault V, replacing 1? [y/N] ")
	p.send("n\n")
	p.expect("sesame: declined; the secrets from line 3 on were not imported")
	p.expect("sesame: imported 2 secrets from " + file + " into vault V (0 added, 1 replaced, 1 unchanged)")
	if strings.Contains(p.wait(0), "importing [") {
		t.Error("a progress bar among the questions of --confirm")
	}
	if out, _ := h.run(0, "", "get", "C", "--as-plain-text"); out != "3\n" {
		t.Errorf("C after a declined batch: %q", out)
	}
}
