package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/agent"
	"github.com/sesamehq/sesame/internal/testhome"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestMain makes this test binary the sesame-engine command (and a few
// helpers) when the tests run it under those names; the sesame they run is
// the thin program itself (thinSesame), which hands over to this one. Run
// as sesame, it is that program too, for the tests that copy this binary
// under both names. Here and as sesame-engine (and so in the agents it
// starts) it derives keys cheaply (internal/testonly): every
// store the tests write is read only by this binary. A script whose point
// is what happens while derivations overlap sets SESAME_TEST_KDF=overlap
// for the whole script: each derivation is as cheap, but waits until a
// second one is under way in the same process (the agent), or a fifth of a
// second; so two commands that derive at once overlap, in their own
// processes or in the agent, as they did under the real derivation (at a
// second of CPU each). Stores and vaults.toml are written without a flush
// to the disk (testonly.NoSync): what a command prints does not depend on
// it, and no test here crashes the machine.
func TestMain(m *testing.M) {
	if os.Getenv("SESAME_TEST_KDF") == "overlap" {
		testonly.UseOverlappingKDF(wholeProcess{}, 2)
	} else {
		testonly.UseCheapKDF()
	}
	testonly.NoSync()
	var tm testscript.TestingM = m
	if strings.HasSuffix(filepath.Base(os.Args[0]), ".test") {
		// The test process itself, not a command it runs: it and every
		// sesame a test starts without a home of its own live in a test
		// home (internal/testhome), and work alone, never reaching the
		// user's agent.
		os.Setenv("SESAME_AGENT", "off")
		tm = testhome.MustEnter(m)
	}
	testscript.Main(tm, map[string]func(){
		// The two programs, each a copy of this binary in the scripts'
		// $PATH (until thinSesame builds the real sesame over the first):
		// sesame hands commands over to sesame-engine beside it.
		"sesame": func() {
			os.Exit(Main(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr, nil))
		},
		"sesame-engine": func() {
			os.Exit(Main(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr, testEngine))
		},
		// showenv VAR... prints VAR=value, or VAR unset, for each VAR.
		"showenv": func() {
			for _, k := range os.Args[1:] {
				if v, ok := os.LookupEnv(k); ok {
					fmt.Printf("%s=%s\n", k, v)
				} else {
					fmt.Printf("%s unset\n", k)
				}
			}
		},
		// exitwith N exits with status N.
		"exitwith": func() {
			n, _ := strconv.Atoi(os.Args[1])
			os.Exit(n)
		},
		// both IN1 IN2 ARGS... runs sesame ARGS twice at the same
		// moment, reading standard input from IN1 and from IN2; it prints
		// "exit N" for each on stdout and each one's stderr on stderr, in
		// that order, and exits 0.
		"both": runBoth,
	})
}

// wholeProcess is the testonly.Cleaner of a switch that lasts as long as
// the process.
type wholeProcess struct{}

func (wholeProcess) Cleanup(func()) {}

// TestScripts runs testdata/script/*.txtar twice: with the agent
// (SESAME_AGENT=on, an agent of the script's own, stopped at its end) and
// alone (SESAME_AGENT=off). Every command must behave the same both ways;
// a script none of whose commands reaches an engine runs once (noengine).
// Each script gets its own HOME and XDG folders under $WORK, the wasm test
// vaults as $CVAULT (examples/c-vault: metadata, case-sensitive, no
// password; the vault of most scripts, as a C guest loads in milliseconds
// where a process without the agent spends a good part of a second on a Go
// one), $GOVAULT (examples/go-vault, a Go guest: metadata, case-insensitive,
// datetimes keep their offset, no password; for the scripts about a Go
// guest), $FOLDVAULT (testdata/foldvault, in C, with go-vault's rules:
// metadata, names without case, datetimes keep their offset), $LOCKVAULT
// (testdata/lockvault, in C: no metadata, a password), $LOGVAULT
// (testdata/logvault, in C: it logs, and has an unregister hook),
// $BROKENWAT (examples/wat-vault/broken.wat, the text of a module that
// does not conform), the condition [secretstore] when the builtin secretstore extension exists, and
// [agent] in the run with the agent.
func TestScripts(t *testing.T) {
	for _, mode := range []string{"agent", "alone"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			runScripts(t, mode)
		})
	}
}

func runScripts(t *testing.T, mode string) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		WorkdirRoot:         workRoot(t),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			if err := setupScript(env); err != nil {
				return err
			}
			if mode == "alone" {
				env.Setenv("SESAME_AGENT", "off")
				return nil
			}
			env.Setenv("SESAME_AGENT", "on")
			env.Defer(func() {
				if err := stopAgent(filepath.Join(env.WorkDir, "run", "sesame")); err != nil {
					env.T().Fatal(err)
				}
			})
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "secretstore":
				_, ok := extensions.Lookup("secretstore")
				return ok, nil
			case "agent":
				return mode == "agent", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":   cmdStatus,
			"noengine": cmdNoEngine,
		},
	})
}

// workRoot returns a new folder for the scripts' work folders, removed
// when t ends. testscript's own (go-test-script* in $TMPDIR) is removed
// by the last script of the folder to end, counted over every script file:
// a run that selects some of them (-run TestScripts/agent/get_) never
// reaches the count and left one behind each time. A short name under
// $TMPDIR, as testscript's was, since the agent's socket lives under
// $WORK and a socket's path has at most 107 bytes.
func workRoot(t *testing.T) string {
	dir, err := os.MkdirTemp("", "sesame-script")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

func runBoth() {
	var out [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i, in := range os.Args[1:3] {
		f, err := os.Open(in)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cmds[i] = exec.Command("sesame", os.Args[3:]...)
		cmds[i].Stdin, cmds[i].Stderr = f, &out[i]
	}
	var wg sync.WaitGroup
	codes := [2]int{}
	for i, c := range cmds {
		wg.Go(func() {
			if err := c.Run(); err != nil {
				codes[i] = -1
				if ee, ok := err.(*exec.ExitError); ok {
					codes[i] = ee.ExitCode()
				}
			}
		})
	}
	wg.Wait()
	for i := range cmds {
		fmt.Printf("exit %d\n", codes[i])
		os.Stderr.Write(out[i].Bytes())
	}
}

// cmdStatus is "status N PROGRAM [ARGS...]": run PROGRAM, and check that it
// exits with status N.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdNoEngine is "noengine", the last line of a script none of whose
// commands reaches an engine (help, version, usage errors), and which
// therefore runs once, in the agent run: there it checks that no command
// started the agent, as the first to need an engine would have, so that
// the other run is not missed. The script skips the alone run with
// "[!agent] skip" at its top.
func cmdNoEngine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: noengine")
	}
	if ts.Getenv("SESAME_AGENT") != "on" {
		ts.Fatalf("noengine checks the agent run: skip the alone run with [!agent] skip at the top")
	}
	dir := filepath.Join(ts.Getenv("XDG_RUNTIME_DIR"), "sesame")
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		ts.Fatalf("a command of this script reached an engine (%s exists: the agent was started); run it both ways: remove [!agent] skip and noengine", dir)
	}
}

// testVaults are the wasm test vaults the scripts get, by the variable
// that names each one's module file (see TestScripts), with their folders.
var testVaults = map[string]string{
	"GOVAULT":   "examples/go-vault",
	"CVAULT":    "examples/c-vault",
	"FOLDVAULT": "internal/cli/testdata/foldvault",
	"LOCKVAULT": "internal/cli/testdata/lockvault",
	"LOGVAULT":  "internal/cli/testdata/logvault",
}

// builtVaults builds the test vaults, once per process and all at once
// (clang and go build run in processes of their own: built one after the
// other, they held up the first scripts for seconds), and returns their
// module files by variable.
var builtVaults = sync.OnceValues(func() (map[string]string, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		paths = map[string]string{}
		errs  []error
	)
	for name, dir := range testVaults {
		wg.Go(func() {
			path, err := testwasm.Path(dir)
			mu.Lock()
			defer mu.Unlock()
			paths[name] = path
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return paths, errors.Join(errs...)
})

func setupScript(env *testscript.Env) error {
	if _, err := thinSesame(); err != nil {
		return err
	}
	vaults, err := builtVaults()
	if err != nil {
		return err
	}
	cache, err := testCache(filepath.Join(env.WorkDir, "config"))
	if err != nil {
		return err
	}
	home := filepath.Join(env.WorkDir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	env.Setenv("HOME", home)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
	env.Setenv("XDG_DATA_HOME", filepath.Join(env.WorkDir, "data"))
	env.Setenv("XDG_RUNTIME_DIR", filepath.Join(env.WorkDir, "run"))
	// Compiled modules are shared by all scripts (wazero writes its cache
	// files atomically), so that each script does not compile again.
	env.Setenv("XDG_CACHE_HOME", cache)
	env.Setenv("SESAME_CONFIG", "")
	env.Setenv("GORACE", goRace())
	// One P for each sesame process the script runs (and the agent they
	// start): what a command prints does not depend on it, and each of the
	// ~1,600 short processes of the scripts spent a sixth of its CPU (4-5
	// ms of 20-30, perf stat -r 40 of a get, alone and through the agent)
	// on the runtime's second P looking for work. The tests of concurrency
	// (the both command, the stress tests) run processes side by side.
	env.Setenv("GOMAXPROCS", "1")
	for name, path := range vaults {
		env.Setenv(name, path)
	}
	// A copy of the repository's vaults.toml, with the folder it grants, so
	// that scripts can run against it with --config vaults.toml.
	root, err := testwasm.Root()
	if err != nil {
		return err
	}
	reg, err := os.ReadFile(filepath.Join(root, "vaults.toml"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(env.WorkDir, "vaults.toml"), reg, 0o600); err != nil {
		return err
	}
	// The deliberately broken example vault, for extension check, which
	// assembles it (a wat2wasm for every script would cost more than all
	// of that script's sesame commands, for some).
	env.Setenv("BROKENWAT", filepath.Join(root, "examples/wat-vault/broken.wat"))
	return os.MkdirAll(filepath.Join(env.WorkDir, "examples", "env"), 0o700)
}

// thinSesame builds cmd/sesame, the thin program that `make build` makes,
// into the folder of $PATH where testscript.Main put the copies of this
// test binary, in place of the one named sesame, once per process, and
// returns its path. The copy named sesame-engine stays beside it, and the
// thin sesame hands commands over to it, or starts it as the agent, as it
// does to the real one. Each command of the scripts starts a sesame: as
// the thin program, it costs 8 ms of CPU where the copy of this binary
// took 14, served by the agent, and 26 where it took 30 alone, handed over
// (perf stat -r 30 of a get), for about 1,600 commands a run.
var thinSesame = sync.OnceValues(func() (string, error) {
	engine, err := exec.LookPath("sesame-engine")
	if err != nil {
		return "", fmt.Errorf("testscript.Main puts sesame-engine in $PATH: %w", err)
	}
	root, err := testwasm.Root()
	if err != nil {
		return "", err
	}
	flags, env, err := buildFlags()
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(engine)
	tmp := filepath.Join(dir, ".sesame.tmp")
	// go run keeps the programs it links in the build cache, where go
	// build links again for each new output file; -exec=cp, given the
	// cached program and tmp, puts it in place. Warm: 0.3 s of CPU instead
	// of 0.75 (/usr/bin/time, three of each), the linker's share. go run
	// leaves out the symbol table and DWARF (-s -w), which no test reads
	// from this program.
	args := append(append([]string{"run", "-exec=cp"}, flags...), "./cmd/sesame", tmp)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the thin sesame for the tests: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// A rename, as tests that ran the copy of this binary may still run it.
	path := filepath.Join(dir, "sesame")
	return path, os.Rename(tmp, path)
})

// sesameBinary returns the sesame program in $PATH, the thin one
// (thinSesame), beside this test binary as sesame-engine.
func sesameBinary(t *testing.T) string {
	t.Helper()
	bin, err := thinSesame()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// buildFlags returns the go build flags and environment with which go
// test built this binary, of those that change what cmd/sesame builds to:
// the build tags, the race detector, cgo, -trimpath (from the build
// information go test records in a test binary). GOFLAGS, where make test
// gives its -gcflags, the go command takes from the environment, as go
// test did; so the packages are found compiled in the build cache.
func buildFlags() (flags, env []string, err error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, nil, errors.New("the test binary holds no build information")
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "-tags":
			flags = append(flags, "-tags="+s.Value)
		case (s.Key == "-race" || s.Key == "-trimpath") && s.Value == "true":
			flags = append(flags, s.Key)
		case s.Key == "CGO_ENABLED":
			env = append(env, "CGO_ENABLED="+s.Value)
		}
	}
	return flags, env, nil
}

// goRace is $GORACE without the race detector's one-second sleep at exit,
// which would otherwise add a second to every sesame a test runs.
func goRace() string {
	return strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
}

// testDir is the folder where the tests keep built guests and the compile
// cache between runs (testhome.SharedCacheDir); everything in it is replaced
// atomically.
func testDir() (string, error) { return testhome.SharedCacheDir() }

// testCache returns the compile cache the tests share, and gives the home
// whose config folder is configHome the key that seals it: the same in
// every home (testhome.CacheKey), since with a key of its own each script
// would find every shared entry unsealed and compile again.
func testCache(configHome string) (string, error) {
	dir, err := testDir()
	if err != nil {
		return "", err
	}
	keyDir := filepath.Join(configHome, "sesame")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(keyDir, "cache.key"), testhome.CacheKey(), 0o600); err != nil {
		return "", err
	}
	name, err := cacheName()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(dir, "cli-cache", name)
	return cache, os.MkdirAll(cache, 0o700)
}

// cacheName names the compile cache folder after the content of the
// modules the tests compile: the test vaults and the builtin extensions.
// Before each compile, sesame checks every entry of its cache folder
// against its seal; one folder for all runs kept the entries of every
// module version ever built (115 after a day of work), and the check of
// those stale entries made each command that loads a C vault cost 50 ms of
// CPU instead of 34 (perf stat, 40 runs of each).
var cacheName = sync.OnceValues(func() (string, error) {
	vaults, err := builtVaults()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(vaults)) {
		wasm, err := os.ReadFile(vaults[name])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %x\n", name, sha256.Sum256(wasm))
	}
	for _, name := range extensions.Names() {
		wasm, _ := extensions.Lookup(name)
		fmt.Fprintf(h, "%s %x\n", name, sha256.Sum256(wasm))
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
})

// stopAgent stops the agent of the folder dir, if one runs, and waits
// until its process has let go of the folder.
func stopAgent(dir string) error {
	_, err := agent.Stop(context.Background(), dir)
	if errors.Is(err, agent.ErrNotRunning) {
		return nil
	}
	return err
}

// TestScriptsRunTheThinSesame checks that the sesame in the tests' $PATH
// is the program cmd/sesame, not a copy of this test binary.
func TestScriptsRunTheThinSesame(t *testing.T) {
	bin := sesameBinary(t)
	if inPath, err := exec.LookPath("sesame"); err != nil || inPath != bin {
		t.Fatalf("sesame in $PATH is %q (%v), want %s", inPath, err, bin)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bi.Path != "github.com/sesamehq/sesame/cmd/sesame" {
		t.Errorf("the sesame in $PATH is a build of %s, want github.com/sesamehq/sesame/cmd/sesame", bi.Path)
	}
}

// TestScriptsLeaveNoWorkFolder runs one script of one mode, as a developer
// does with -run, in a test process whose $TMPDIR is a new folder, and
// checks that nothing is left in that folder once the process ends.
func TestScriptsLeaveNoWorkFolder(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestScripts$/^agent$/^version_print$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in $TMPDIR: %s", e.Name())
	}
}
