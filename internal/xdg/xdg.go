// Package xdg resolves sesame's folders after the XDG Base Directory
// specification: the one place the engine, the agent and the CLI take them
// from, so that a process started by the CLI and the agent it talks to
// agree on every path.
//
// A variable that is unset, empty or relative is ignored, as the
// specification says; the folder under the home folder is used instead.
package xdg

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ConfigDir returns $XDG_CONFIG_HOME/sesame, or ~/.config/sesame.
func ConfigDir() (string, error) { return dir("XDG_CONFIG_HOME", ".config") }

// DataDir returns $XDG_DATA_HOME/sesame, or ~/.local/share/sesame.
func DataDir() (string, error) { return dir("XDG_DATA_HOME", ".local/share") }

// CacheDir returns $XDG_CACHE_HOME/sesame, or ~/.cache/sesame.
func CacheDir() (string, error) { return dir("XDG_CACHE_HOME", ".cache") }

// RuntimeDir returns $XDG_RUNTIME_DIR/sesame, or sesame-UID in the
// temporary folder when XDG_RUNTIME_DIR is unset: the specification leaves
// the fallback to the program, and a folder per user keeps users apart.
func RuntimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sesame")
	}
	return filepath.Join(os.TempDir(), "sesame-"+strconv.Itoa(os.Getuid()))
}

// dir returns $env/sesame when env holds an absolute path, else
// ~/fallback/sesame. Without a home folder it fails rather than guess: a
// vault's storage put in a temporary folder would be lost unnoticed.
func dir(env, fallback string) (string, error) {
	if d := os.Getenv(env); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "sesame"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home folder to put ~/%s/sesame in (set HOME or %s): %w", fallback, env, err)
	}
	return filepath.Join(home, fallback, "sesame"), nil
}
