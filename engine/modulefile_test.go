package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestReadModule: a regular file is read whole; a folder, a canceled read
// and a file past the limit are refused with an error naming the path.
// (Named pipes, devices, sparse 2 GiB files and symbolic links: the script
// extension_modulefile.txtar, through the commands that read modules.)
func TestReadModule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "m.wasm")
	want := bytes.Repeat([]byte("wasm"), 1<<19) // 2 MiB: more than one chunk
	if err := os.WriteFile(file, want, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := engine.ReadModule(ctx, file)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadModule(%s) = %d bytes, %v; want the file's %d bytes", file, len(got), err, len(want))
	}
	if sum := engine.ModuleSHA256(got); len(sum) != 64 || strings.ToLower(sum) != sum {
		t.Errorf("ModuleSHA256 = %q, want 64 lowercase hex digits", sum)
	}

	big := filepath.Join(dir, "big.wasm")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, engine.MaxModuleFile+1); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tt := range []struct{ what, path, want string }{
		{"a folder", dir, "module file " + dir + " is a folder, not a regular file"},
		{"one byte past the limit", big, "module file " + big + " is 67108865 bytes, more than the limit of 64 MiB"},
		{"a missing file", filepath.Join(dir, "none.wasm"), "module file " + filepath.Join(dir, "none.wasm") + ": no such file or directory"},
	} {
		if _, err := engine.ReadModule(ctx, tt.path); err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.what, err, tt.want)
		}
	}
	if _, err := engine.ReadModule(canceled, file); err == nil || !strings.Contains(err.Error(), "module file "+file+": reading stopped: context canceled") {
		t.Errorf("a canceled read: %v, want it stopped, naming the file", err)
	}
}

// ReadModule reads a module into one buffer of the file's size: every
// load of a vault reads its module, megabytes for a Go guest. (It read
// into a buffer of exactly that size, which bytes.Buffer grew to twice
// that, copying the module, to look for the end of the file: three times
// the module's size allocated per read.) Serial: it counts the bytes the
// whole process allocates meanwhile.
func TestReadModuleAllocatesTheModuleOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.wasm")
	const size = 4 << 20
	if err := os.WriteFile(file, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := engine.ReadModule(ctx, file)
	runtime.ReadMemStats(&after)
	if err != nil || len(got) != size {
		t.Fatalf("ReadModule(%s) = %d bytes, %v; want %d bytes", file, len(got), err, size)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > size*3/2 {
		t.Errorf("reading a module of %d bytes allocated %d bytes", size, n)
	}
}
