package testhome

import (
	"bytes"
	"os"
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
	for _, v := range vars {
		f.seen[v.env] = os.Getenv(v.env)
	}
	return 7
}

// TestEnter checks that every variable points into one new folder, that the
// key is in place, and that the folder is gone once the tests ran.
func TestEnter(t *testing.T) {
	for _, v := range vars {
		t.Setenv(v.env, "/nowhere")
	}
	f := &fakeM{}
	m, err := Enter(f)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(os.Getenv("HOME"))
	key, err := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "sesame", "cache.key"))
	if err != nil || !bytes.Equal(key, CacheKey()) {
		t.Fatalf("the cache key in the test home: %q, %v", key, err)
	}
	if code := m.Run(); code != 7 || !f.ran {
		t.Fatalf("Run returned %d (ran: %v), want the tests' 7", code, f.ran)
	}
	for env, dir := range f.seen {
		if !strings.HasPrefix(dir, root+string(filepath.Separator)) {
			t.Errorf("%s = %q during the tests, not in the test home %s", env, dir, root)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the test home %s is still there after the tests: %v", root, err)
	}
}
