//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestMain removes the programs that buildPrograms built.
func TestMain(m *testing.M) {
	code := m.Run()
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
	}
	os.Exit(code)
}

// programs is the folder of buildPrograms's build, made once per test
// process by the first test that asks (each build linked both programs
// again), and what went wrong with it.
var programs struct {
	once sync.Once
	dir  string
	err  error
}

// buildPrograms builds sesame and sesame-engine, once per test process, as
// `make build` does, and returns their folder. It leaves out -trimpath,
// which changes no package and no init in them, only the file names they
// record, but would compile every package again instead of reusing what
// go test compiled for this package's own tests (with make test's
// environment and tags, those of make build): on an empty build cache, a
// second compile of the standard library and every dependency. It leaves
// out the DWARF sections too (-ldflags=-w), which take the linker much of
// its time and which no test reads. A test that changes a program puts it
// back as it was when it ends.
func buildPrograms(t *testing.T) string {
	t.Helper()
	env, tags := makeBuild(t)
	programs.once.Do(func() {
		programs.dir, programs.err = os.MkdirTemp("", "sesame-programs")
		if programs.err != nil {
			return
		}
		build := exec.Command("go", "build", "-tags", tags, "-ldflags=-w", "-o", programs.dir+string(filepath.Separator), "../sesame", "../sesame-engine")
		build.Env = append(os.Environ(), env...)
		if out, err := build.CombinedOutput(); err != nil {
			programs.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if programs.err != nil {
		t.Fatal(programs.err)
	}
	return programs.dir
}

// TestServedCommandInitsNothingUnused builds sesame and sesame-engine as
// `make build` does, runs a get that the agent serves with
// GODEBUG=inittrace=1, and fails on the init of any package of
// unusedAtStart: the thin client, not only its list of packages, starts
// without the engine's inits (wazero's, bbolt's, toml's, age's). A get
// handed over to sesame-engine would show them, so the test also proves
// the agent served it.
func TestServedCommandInitsNothingUnused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both programs")
	}
	bin := buildPrograms(t)
	home := t.TempDir()
	run := func(stdin string, extra ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "sesame"), extra[1:]...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/config", "XDG_DATA_HOME="+home+"/data",
			"XDG_CACHE_HOME="+home+"/cache", "XDG_RUNTIME_DIR="+home+"/run", "SESAME_AGENT=on", "GODEBUG="+extra[0])
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("sesame %s: %v\n%s", strings.Join(extra[1:], " "), err, errb.Bytes())
		}
		return out.String(), errb.String()
	}
	if err := os.Mkdir(filepath.Join(home, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	run("hello", "", "set", "greeting", "--stdin") // creates LocalStore; starts the agent
	t.Cleanup(func() { run("", "", "agent", "stop") })
	out, trace := run("", "inittrace=1", "get", "greeting", "--as-plain-text")
	if out != "hello\n" && out != "hello" {
		t.Fatalf("sesame get printed %q, want hello", out)
	}
	inits := 0
	for line := range strings.Lines(trace) {
		p, ok := strings.CutPrefix(line, "init ")
		if !ok {
			continue
		}
		inits++
		if p, _, _ = strings.Cut(p, " @"); unused(p) {
			t.Errorf("a get served by the agent ran the init of %s", p)
		}
	}
	if inits == 0 {
		t.Fatalf("GODEBUG=inittrace=1 printed no init line:\n%s", trace)
	}
}

// TestEngineBinaryRefused: the built sesame, with the agent off, refuses to
// hand a command over to a sesame-engine that another user could have
// replaced — writable by its group, by others, or another user's (as root,
// the test makes one) —, with an error naming the file and why, exit
// status 1, and the engine never run.
func TestEngineBinaryRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both programs")
	}
	bin := buildPrograms(t)
	engine := filepath.Join(bin, "sesame-engine")
	cases := []struct {
		name  string
		set   func() error
		cause string
	}{
		{"group-writable", func() error { return os.Chmod(engine, 0o775) }, "other users can write it (mode 0775"},
		{"world-writable", func() error { return os.Chmod(engine, 0o757) }, "other users can write it (mode 0757"},
		{"another user's", func() error { return os.Chown(engine, 4242, 4242) }, "it belongs to user 4242, neither you nor root"},
		{"missing", func() error { return os.Rename(engine, engine+".aside") }, "is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "another user's" && os.Getuid() != 0 {
				t.Skip("making a file of another user needs root")
			}
			if err := c.set(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				os.Rename(engine+".aside", engine)
				os.Chown(engine, os.Getuid(), os.Getgid())
				os.Chmod(engine, 0o755)
			})
			cmd := exec.Command(filepath.Join(bin, "sesame"), "get", "x")
			cmd.Env = append(os.Environ(), "SESAME_AGENT=off", "HOME="+t.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("sesame get with a %s sesame-engine: %v, want exit status 1\n%s", c.name, err, stderr.Bytes())
			}
			if msg := stderr.String(); !strings.Contains(msg, engine) || !strings.Contains(msg, c.cause) {
				t.Errorf("stderr does not name %s and %q:\n%s", engine, c.cause, msg)
			}
		})
	}
	// Untouched, the same command reaches the engine: its error is the engine's.
	cmd := exec.Command(filepath.Join(bin, "sesame"), "get", "--vault", "Nope", "x")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "SESAME_AGENT=off", "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home, "XDG_CACHE_HOME="+home)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "vault not found") {
		t.Errorf("sesame get --vault Nope with sesame-engine in place:\n%s", out)
	}
}
