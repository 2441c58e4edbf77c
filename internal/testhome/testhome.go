// Package testhome gives a test process a home of its own, so that no test
// reads or writes the user's: an engine opened with default options, or a
// sesame started without a home set up, would otherwise put its vaults.toml,
// its stores, its compile cache and the cache's key under ~/.config,
// ~/.local/share and ~/.cache, and talk to the user's agent.
//
// Only tests import it.
package testhome

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// vars are the variables that place sesame's folders (internal/xdg), each
// with the folder of the test home it is pointed at.
var vars = [...]struct{ env, dir string }{
	{"HOME", "home"},
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

// TestingM is what TestMain is given.
type TestingM interface{ Run() int }

// Enter points HOME and the XDG folders of this process (and so of every
// process it starts) at a new temporary folder, with the shared CacheKey in
// its config folder, and returns m wrapped so that its Run removes that
// folder when the tests are done: pass the result on to whatever runs m
// (testscript.Main calls os.Exit, so a deferred removal would never run).
func Enter(m TestingM) (TestingM, error) {
	root, err := os.MkdirTemp("", "sesame-testhome")
	if err != nil {
		return nil, fmt.Errorf("cannot make a test home: %w", err)
	}
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
