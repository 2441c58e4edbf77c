package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sesamehq/sesame/extensions"
)

// TestMain makes this test binary the sesame command (and a few helpers)
// when the scripts run it under those names.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sesame": main,
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
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets its own HOME
// and XDG folders under $WORK, the wasm test vaults as $GOVAULT
// (examples/go-vault: metadata, case-insensitive, no password) and
// $LOCKVAULT (testdata/lockvault: no metadata, a password), and the
// condition [secretstore] when the builtin secretstore extension exists.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup:               setupScript,
		Condition: func(cond string) (bool, error) {
			if cond == "secretstore" {
				_, ok := extensions.Lookup("secretstore")
				return ok, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": cmdStatus,
		},
	})
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

func setupScript(env *testscript.Env) error {
	govault, err := guest("examples/go-vault")
	if err != nil {
		return err
	}
	lockvault, err := guest("cmd/sesame/testdata/lockvault")
	if err != nil {
		return err
	}
	cache, err := testCache()
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
	// Compiled modules are shared by all scripts (wazero writes its cache
	// files atomically), so that each script does not compile again.
	env.Setenv("XDG_CACHE_HOME", cache)
	env.Setenv("SESAME_CONFIG", "")
	env.Setenv("GORACE", goRace())
	env.Setenv("GOVAULT", govault)
	env.Setenv("LOCKVAULT", lockvault)
	return nil
}

// goRace is $GORACE without the race detector's one-second sleep at exit,
// which would otherwise add a second to every sesame a test runs.
func goRace() string {
	return strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
}

// testDir is the per-user folder where the tests keep built guests and the
// compile cache between runs; everything in it is replaced atomically.
func testDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "sesame-testwasm")
	return dir, os.MkdirAll(dir, 0o700)
}

func testCache() (string, error) {
	dir, err := testDir()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(dir, "cli-cache")
	return cache, os.MkdirAll(cache, 0o700)
}

var (
	guestMu     sync.Mutex
	guestBuilds = map[string]func() (string, error){}
)

// guest builds the Go guest package at dir (relative to the module root)
// for wasip1 once per test process, and returns the .wasm file's path. (The
// engine's testwasm package does the same, but is internal to engine/.)
func guest(dir string) (string, error) {
	guestMu.Lock()
	build := guestBuilds[dir]
	if build == nil {
		build = sync.OnceValues(func() (string, error) { return buildGuest(dir) })
		guestBuilds[dir] = build
	}
	guestMu.Unlock()
	return build()
}

func buildGuest(dir string) (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	out, err := testDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(filepath.Join(root, dir)))
	final := filepath.Join(out, "cli-"+filepath.Base(dir)+"-"+hex.EncodeToString(sum[:6])+".wasm")
	work, err := os.MkdirTemp(out, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	built := filepath.Join(work, "guest.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", built, "./"+dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s for wasip1: %v\n%s", dir, err, output.Bytes())
	}
	return final, os.Rename(built, final)
}
