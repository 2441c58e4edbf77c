package xdg

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDirs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	t.Setenv("XDG_DATA_HOME", "relative/data") // ignored: not absolute
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	for _, tt := range []struct {
		name string
		f    func() (string, error)
		want string
	}{
		{"config", ConfigDir, "/cfg/sesame"},
		{"data", DataDir, filepath.Join(home, ".local/share/sesame")},
		{"cache", CacheDir, filepath.Join(home, ".cache/sesame")},
		{"runtime", func() (string, error) { return RuntimeDir(), nil }, "/run/user/7/sesame"},
	} {
		if got, err := tt.f(); err != nil || got != filepath.FromSlash(tt.want) {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// Without a home folder and without the variable, the error says what to set.
func TestNoHome(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	_, err := DataDir()
	if err == nil || !strings.Contains(err.Error(), "(set HOME or XDG_DATA_HOME)") {
		t.Fatalf("got %v, want an error naming HOME and XDG_DATA_HOME", err)
	}
}
