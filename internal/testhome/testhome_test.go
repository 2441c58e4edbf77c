package testhome

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type fakeM struct {
	ran  bool
	seen map[string]string
}

func (f *fakeM) Run() int {
	f.ran = true
	f.seen = map[string]string{}
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "GOCACHE", sharedEnv} {
		f.seen[v] = os.Getenv(v)
	}
	return 7
}

// TestEnter checks that sesame's folders point into one new folder, with
// the key in place; that the go command's cache and the shared cache stay
// in the user's cache folder; and that the test home is gone once the tests
// ran.
func TestEnter(t *testing.T) {
	userCache := t.TempDir()
	for _, v := range vars {
		t.Setenv(v.env, "/nowhere")
	}
	t.Setenv("XDG_CACHE_HOME", userCache)
	t.Setenv("GOENV", filepath.Join(userCache, "no-go-env")) // not the user's, which may set GOCACHE
	t.Setenv("GOCACHE", "")
	t.Setenv(sharedEnv, "")
	f := &fakeM{}
	m, err := Enter(f)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(os.Getenv("XDG_CONFIG_HOME"))
	key, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "sesame", "cache.key"))
	if err != nil || !bytes.Equal(key, CacheKey()) {
		t.Fatalf("the cache key in the test home: %q, %v", key, err)
	}
	if code := m.Run(); code != 7 || !f.ran {
		t.Fatalf("Run returned %d (ran: %v), want the tests' 7", code, f.ran)
	}
	for _, v := range vars {
		if d := f.seen[v.env]; !strings.HasPrefix(d, root+string(filepath.Separator)) {
			t.Errorf("%s = %q during the tests, not in the test home %s", v.env, d, root)
		}
	}
	for env, want := range map[string]string{
		"GOCACHE": filepath.Join(userCache, "go-build"),
		sharedEnv: filepath.Join(userCache, "sesame-testwasm"),
	} {
		if f.seen[env] != want {
			t.Errorf("%s = %q during the tests, want the user's %q", env, f.seen[env], want)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the test home %s is still there after the tests: %v", root, err)
	}
}

// TestEnterKeepsGoEnvCache: a GOCACHE that the user set with go env -w (in
// the settings file) is left to that file, which go still reads: set in the
// environment, the default would override it, and every guest a test builds
// would be compiled again into another cache.
func TestEnterKeepsGoEnvCache(t *testing.T) {
	goenv := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(goenv, []byte("GOFLAGS=-mod=mod\nGOCACHE=/elsewhere/go-build\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOENV", goenv)
	t.Setenv("GOCACHE", "")
	t.Setenv(sharedEnv, "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	f := &fakeM{}
	m, err := Enter(f)
	if err != nil {
		t.Fatal(err)
	}
	m.Run()
	if f.seen["GOCACHE"] != "" {
		t.Errorf("GOCACHE = %q during the tests; want it unset, so that go takes the settings file's", f.seen["GOCACHE"])
	}
}

// TestEnterInHelperKeepsHome: a test process started by one that entered a
// home (a helper, which a test may kill) stays in that home and makes none
// of its own, so that a helper that never returns from its tests leaves
// nothing behind. Without that, each killed helper left a test home in the
// temporary folder.
func TestEnterInHelperKeepsHome(t *testing.T) {
	if os.Getenv("SESAME_TESTHOME_HELPER") != "" {
		if _, err := Enter(&fakeM{}); err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println(os.Getenv("XDG_CONFIG_HOME"))
		os.Exit(0) // as if killed: no Run, no deferred removal
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GOENV", filepath.Join(t.TempDir(), "no-go-env"))
	t.Setenv("GOCACHE", "")
	t.Setenv(sharedEnv, "")
	t.Setenv(homeEnv, "")
	m, err := Enter(&fakeM{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Run() // removes the home
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEnterInHelperKeepsHome$")
	cmd.Env = append(os.Environ(), "SESAME_TESTHOME_HELPER=1", "TMPDIR="+tmp)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the helper: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), os.Getenv("XDG_CONFIG_HOME"); got != want {
		t.Errorf("the helper's XDG_CONFIG_HOME is %q, want its parent's %q", got, want)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("the helper left %s in its temporary folder", e.Name())
	}
}
