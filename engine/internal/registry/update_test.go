package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

func register(name string) func(*Registry) error {
	return func(r *Registry) error { return r.Put(Vault{Name: name, Extension: "builtin:x"}, false) }
}

func TestUpdateCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "vaults.toml")
	r, err := Update(t.Context(), path, func(r *Registry) error {
		if len(r.Vaults) != 0 || r.Path != path {
			t.Errorf("a missing file gave %+v, want an empty registry at %s", r, path)
		}
		if err := register("A")(r); err != nil {
			return err
		}
		return r.SetDefault("a")
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Default != "A" || names(got) != "A" || got.Path != r.Path {
		t.Errorf("Load after Update = %+v, Update returned %+v", got, r)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700 | fs.ModeDir} {
			if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
				t.Errorf("mode of %s = %v, %v; want %v", p, fi.Mode(), err, want)
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 { // vaults.toml and vaults.toml.lock; no temporary file left
		t.Errorf("folder holds %v", entries)
	}
}

func TestUpdateMakesFilePrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(t.Context(), path, register("A")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode() != 0o600 {
		t.Errorf("mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

// TestUpdateWritesNothing checks that the file is left byte for byte as it
// was when the update cannot or must not complete.
func TestUpdateWritesNothing(t *testing.T) {
	errFn := errors.New("changed my mind")
	for _, tt := range []struct {
		name string
		file string // "" = no file
		fn   func(*Registry) error
		want error
		call bool // whether fn is to be called
	}{
		{"corrupt file", "[vaults.A\nextension = 1\n", register("B"), ErrInvalid, false},
		{"invalid file", "[vaults.A]\nextenzion = \"x\"\n", register("B"), ErrInvalid, false},
		{"fn error", "[vaults.A]\nextension = \"builtin:a\"\n", func(r *Registry) error { register("B")(r); return errFn }, errFn, true},
		{"fn error, no file", "", func(r *Registry) error { register("B")(r); return errFn }, errFn, true},
		{"duplicate", "[vaults.A]\nextension = \"builtin:a\"\n", register("a"), ErrVaultExists, true},
		{"invalid result", "[vaults.A]\nextension = \"builtin:a\"\n", func(r *Registry) error { r.Default = "a"; return nil }, ErrInvalid, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "vaults.toml")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			called := false
			r, err := Update(t.Context(), path, func(r *Registry) error { called = true; return tt.fn(r) })
			if !errors.Is(err, tt.want) || r != nil {
				t.Errorf("Update = %v, %v; want an error wrapping %v", r, err, tt.want)
			}
			if called != tt.call {
				t.Errorf("fn called: %v, want %v", called, tt.call)
			}
			got, err := os.ReadFile(path)
			if tt.file == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Update created the file: %q, %v", got, err)
				}
			} else if string(got) != tt.file {
				t.Errorf("file changed to %q", got)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if n := e.Name(); n != "vaults.toml" && n != "vaults.toml.lock" {
					t.Errorf("Update left %s behind", n)
				}
			}
		})
	}
}

func TestUpdateCorruptMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if err := os.WriteFile(path, []byte("default = \"A\"\nversion = 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Update(t.Context(), path, register("B"))
	if want := path + `:2: unknown key "version"`; err == nil || err.Error() != want {
		t.Errorf("Update = %v, want %s", err, want)
	}
}

func TestUpdateSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	link := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(real, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symbolic links:", err)
	}
	if _, err := Update(t.Context(), link, register("A")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
	if r, err := Load(real); err != nil || names(r) != "A" {
		t.Errorf("target = %+v, %v", r, err)
	}
}

func TestUpdateGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vaults.toml")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := Update(t.Context(), path, register(fmt.Sprintf("g%02d", i)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Vaults) != n {
		t.Errorf("%d of %d registrations survived: %s", len(r.Vaults), n, names(r))
	}
}

// TestUpdateLockedInProcess checks that Update waits for another update of
// the same file in this process, and gives up when its context is done.
func TestUpdateLockedInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vaults.toml")
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := Update(t.Context(), path, func(r *Registry) error {
			close(inside)
			<-release
			return register("first")(r)
		})
		done <- err
	}()
	<-inside
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Update(ctx, path, register("second"))
	if !errors.Is(err, context.Canceled) || err.Error() != "registry "+path+" is locked by another update in this process" {
		t.Errorf("Update while locked = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r, err := Load(path); err != nil || names(r) != "first" {
		t.Errorf("registry = %+v, %v; want only first", r, err)
	}
}

const (
	helperEnv   = "SESAME_REGISTRY_HELPER"
	helperCount = 5
)

// TestHelperProcess is not a test: TestUpdateProcesses runs the test binary
// again to run it in other processes. It waits until its standard input is
// closed, so that all helpers start together, then makes helperCount
// registrations.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestUpdateProcesses")
	}
	io.Copy(io.Discard, os.Stdin)
	id := os.Getenv(helperEnv + "_ID")
	for i := range helperCount {
		if _, err := Update(context.Background(), path, register(fmt.Sprintf("p%s-%d", id, i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func TestUpdateProcesses(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" || runtime.GOOS == "js" {
		t.Skip("no inter-process lock on", runtime.GOOS)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary:", err)
	}
	path := filepath.Join(t.TempDir(), "vaults.toml")
	const procs = 8
	var cmds []*exec.Cmd
	var start []io.Closer
	for i := range procs {
		cmd := exec.Command(exe, "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+path, helperEnv+"_ID="+strconv.Itoa(i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, start = append(cmds, cmd), append(start, stdin)
	}
	for _, c := range start {
		c.Close()
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v\n%s", err, cmd.Stdout)
		}
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Vaults) != procs*helperCount {
		t.Errorf("%d of %d registrations survived: %s", len(r.Vaults), procs*helperCount, names(r))
	}
	for i := range procs {
		for j := range helperCount {
			if _, ok := r.Lookup(fmt.Sprintf("p%d-%d", i, j)); !ok {
				t.Errorf("registration p%d-%d is lost", i, j)
			}
		}
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if _, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}
