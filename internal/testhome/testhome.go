// Package testhome gives a test process a home of its own, so that no test
// reads or writes the user's: an engine opened with default options, or a
// sesame started without a home set up, would otherwise put its vaults.toml,
// its stores, its compile cache and the cache's key under ~/.config,
// ~/.local/share and ~/.cache, and talk to the user's agent.
//
// HOME itself is left alone: sesame finds every folder through the XDG
// variables when they are set, and the go and npm commands that the tests
// run to build guests keep their module caches and settings under it.
//
// Only tests import it.
package testhome

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// vars are the variables that place sesame's folders (internal/xdg), each
// with the folder of the test home it is pointed at.
var vars = [...]struct{ env, dir string }{
	{"XDG_CONFIG_HOME", "config"},
	{"XDG_DATA_HOME", "data"},
	{"XDG_CACHE_HOME", "cache"},
	{"XDG_RUNTIME_DIR", "run"},
}

// CacheKey returns the key that seals the compile caches the test processes
// share between runs. It is the same in every test home: a cache sealed
// under one home's key would look tampered with, and be compiled again, in
// every other.
func CacheKey() []byte { return bytes.Repeat([]byte("test-key"), 4) }

// WriteCacheKey writes CacheKey into the key file at path (mode 0600),
// through a rename, so that a process reading the file meanwhile reads one
// key whole. It is for the tests that open Hosts without a test home (the
// sandbox's): over the folder of the engine's tests' compile cache, with
// this key, they and the engine's tests each find what the other compiled.
func WriteCacheKey(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cache.key.*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(CacheKey())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// sharedEnv carries the shared cache folder to the processes that the
// tests start, whose own user cache folder is the test home's.
const sharedEnv = "SESAME_TEST_SHARED_CACHE"

// SharedCacheDir returns the folder where test processes keep what they
// build for each other and for later runs (guests, compile caches):
// sesame-testwasm in the user's cache folder as it was before any test home
// was entered, or in the temporary folder when there is none. It makes the
// folder if needed.
func SharedCacheDir() (string, error) {
	dir := os.Getenv(sharedEnv)
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "sesame-testwasm")
	}
	return dir, os.MkdirAll(dir, 0o700)
}

// keepGo pins what the go command would take from the XDG folders that
// Enter moves: its settings file and its build cache stay the user's, so
// that a guest a test builds is not compiled from nothing in every run. A
// GOCACHE set in that settings file (go env -w) is left to it: go reads the
// file it is pinned to, and a GOCACHE in the environment would override it.
func keepGo() {
	if os.Getenv("GOENV") == "" {
		if d, err := os.UserConfigDir(); err == nil {
			os.Setenv("GOENV", filepath.Join(d, "go", "env"))
		}
	}
	if os.Getenv("GOCACHE") != "" || setInGoEnv("GOCACHE") {
		return
	}
	if d, err := os.UserCacheDir(); err == nil {
		os.Setenv("GOCACHE", filepath.Join(d, "go-build"))
	}
}

// setInGoEnv reports whether the go command's settings file ($GOENV, lines
// of KEY=VALUE) sets key.
func setInGoEnv(key string) bool {
	b, err := os.ReadFile(os.Getenv("GOENV"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(strings.TrimSpace(line), key+"=") {
			return true
		}
	}
	return false
}

// TestingM is what TestMain is given.
type TestingM interface{ Run() int }

// homeEnv names the test home of the process that made it, for the test
// processes it starts (see Enter).
const homeEnv = "SESAME_TEST_HOME"

// Enter points the XDG folders of this process (and so of every process it
// starts) at a new temporary folder, with the shared CacheKey in its config
// folder, and returns m wrapped so that its Run removes that
// folder when the tests are done: pass the result on to whatever runs m
// (testscript.Main calls os.Exit, so a deferred removal would never run).
//
// A test process started by one that entered a home (a test binary running
// one of its own tests as a helper, often to kill it) stays in that home,
// which its environment already points at, and leaves its removal to the
// process that made it: a helper killed with SIGKILL runs no deferred
// removal, and each one left a home of its own behind in the temporary
// folder, some thirty a run.
func Enter(m TestingM) (TestingM, error) {
	if root := os.Getenv(homeEnv); root != "" {
		if fi, err := os.Stat(root); err == nil && fi.IsDir() {
			return m, nil
		}
	}
	shared, err := SharedCacheDir()
	if err != nil {
		return nil, fmt.Errorf("cannot make the tests' shared cache folder: %w", err)
	}
	os.Setenv(sharedEnv, shared)
	keepGo()
	root, err := os.MkdirTemp("", "sesame-testhome")
	if err != nil {
		return nil, fmt.Errorf("cannot make a test home: %w", err)
	}
	os.Setenv(homeEnv, root)
	for _, v := range vars {
		dir := filepath.Join(root, v.dir)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot make a test home: %w", err)
		}
		os.Setenv(v.env, dir)
	}
	keyDir := filepath.Join(root, "config", "sesame")
	if err := os.Mkdir(keyDir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot make a test home: %w", err)
	}
	if err := os.WriteFile(filepath.Join(keyDir, "cache.key"), CacheKey(), 0o600); err != nil {
		return nil, fmt.Errorf("cannot make a test home: %w", err)
	}
	return leaving{m, root}, nil
}

// MustEnter is Enter for a TestMain that cannot go on without its home.
func MustEnter(m TestingM) TestingM {
	m, err := Enter(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return m
}

// leaving runs the tests, then removes their home.
type leaving struct {
	m    TestingM
	root string
}

func (l leaving) Run() int {
	defer os.RemoveAll(l.root)
	return l.m.Run()
}
