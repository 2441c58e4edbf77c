// Package testwasm builds the guests of this module for the host's tests:
// examples/go-vault, engine/testdata/guests/hostile, any other main package
// written with abi/guest, and the C guests (a folder of .c files, such as
// extensions/dotenv).
//
// A test calls Build with the guest's directory and gets the path of a .wasm
// file compiled for GOOS=wasip1 as a c-shared reactor, the way extension
// authors build theirs. Each directory is built once for each content of its
// sources (cSourcesKey, goSourcesKey), by the first test process that asks
// for it; later ones find it built. The files go to a per-user
// cache directory and are replaced atomically, so that test processes
// running at once do not disturb each other and repeated runs leave no
// litter.
package testwasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/filelock"
	"github.com/sesamehq/sesame/internal/testhome"
)

var (
	rootOnce sync.Once
	root     string
	rootErr  error

	mu     sync.Mutex
	builds = map[string]*build{} // by the directory passed to Build
)

type build struct {
	once sync.Once
	path string
	err  error
}

// ModuleRoot returns the directory of this module's go.mod, found by walking
// up from the working directory (a test runs in its package's directory). It
// fails the test when there is none.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
	r, err := Root()
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	return r
}

// Root is ModuleRoot for callers without a testing.TB.
func Root() (string, error) {
	rootOnce.Do(func() { root, rootErr = findRoot() })
	return root, rootErr
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Build compiles the guest at dir, a slash-separated path relative to the
// module root such as "examples/go-vault", with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false
//
// or, for a folder of .c files (or one .c file), with clang and CFlags,
// once for each content of its sources (cSourcesKey, goSourcesKey), and
// returns the path of the .wasm file. It fails the
// test with the compiler's output when the build fails, and every later test
// that asks for the same dir too.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	path, err := Path(dir)
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	return path
}

// Path is Build for callers without a testing.TB (a testscript Setup): it
// returns the error instead of failing a test.
func Path(dir string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	dir = filepath.ToSlash(filepath.Clean(dir))

	mu.Lock()
	b := builds[dir]
	if b == nil {
		b = new(build)
		builds[dir] = b
	}
	mu.Unlock()

	b.once.Do(func() { b.path, b.err = compile(root, dir) })
	return b.path, b.err
}

// compile builds dir into a directory of its own, then renames the result
// over the shared name, which is atomic: a process that runs at the same time
// reads either file whole, and both come from the same source.
func compile(modRoot, dir string) (string, error) {
	out, err := cacheDir()
	if err != nil {
		return "", err
	}
	// The name tells the guest and the checkout apart: two checkouts of the
	// module must not share a file.
	sum := sha256.Sum256([]byte(filepath.Join(modRoot, dir)))
	final := filepath.Join(out, filepath.Base(dir)+"-"+hex.EncodeToString(sum[:6])+".wasm")
	// The name also tells the guest's sources apart (cSourcesKey,
	// goSourcesKey), so that a process finds it built by an earlier one.
	cfiles, err := cFiles(modRoot, dir)
	if err != nil {
		return "", err
	}
	var key string
	if len(cfiles) > 0 {
		key, err = cSourcesKey(modRoot, cfiles)
	} else {
		key, err = goGuestKey(modRoot, dir)
	}
	if err != nil {
		return "", err
	}
	versions := strings.TrimSuffix(final, ".wasm") + "-v*.wasm" // the guest's file for any sources
	final = strings.TrimSuffix(final, ".wasm") + "-v" + key + ".wasm"
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() {
		return final, nil
	}
	// One build of the guest at a time across processes: the others wait
	// and find it built. The engine's and cmd/sesame's tests start at once
	// and ask for the same guests first, each a link or a clang of up to
	// seconds of CPU.
	unlock, err := lockFile(strings.TrimSuffix(versions, "-v*.wasm") + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() {
		return final, nil
	}
	work, err := os.MkdirTemp(out, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	built := filepath.Join(work, "guest.wasm")

	cmd := buildCommand(modRoot, dir, cfiles, built)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", errors.New("building " + dir + " for wasip1: " + err.Error() + "\n" + strings.TrimSpace(output.String()))
	}
	if err := os.Rename(built, final); err != nil {
		return "", err
	}
	old, _ := filepath.Glob(versions) // built from earlier sources: litter
	for _, o := range old {
		if o != final {
			os.Remove(o)
		}
	}
	return final, nil
}

// lockFile takes the exclusive flock of the file at path, created if
// missing, waiting for it, and returns its release.
func lockFile(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(context.Background(), f, filelock.Exclusive, time.Time{}); err != nil {
		f.Close()
		return nil, err
	}
	return f.Close, nil
}

// CFlags returns the flags of clang for a C guest, the ones `make extensions`
// builds the built-in C extensions with (the Makefile's CEXTFLAGS; a test in
// this package ties the two): a WASI reactor, warnings as errors, the SDK
// header abi/c/sesame.h, no debug sections. Paths on the command line are
// relative to the module root, so the module is the same bytes wherever
// the checkout is.
func CFlags() []string {
	return []string{"--target=wasm32-wasi", "-mexec-model=reactor", "-Oz", "-Wall", "-Wextra", "-Werror", "-Iabi/c", "-Wl,--strip-all"}
}

// cFiles returns the .c files of the guest at dir, sorted, relative to
// modRoot: dir itself when it names a .c file, the .c files in it when it
// is a folder of them, none for a Go guest.
func cFiles(modRoot, dir string) ([]string, error) {
	if strings.HasSuffix(dir, ".c") {
		return []string{dir}, nil
	}
	paths, err := filepath.Glob(filepath.Join(modRoot, dir, "*.c"))
	if err != nil {
		return nil, err
	}
	var cfiles []string
	for _, f := range paths { // Glob sorts
		cfiles = append(cfiles, dir+"/"+filepath.Base(f))
	}
	return cfiles, nil
}

// buildCommand returns the command that builds the guest at dir into out:
// clang with CFlags over cfiles, the directory's .c files, when it has any,
// go build for wasip1 otherwise.
func buildCommand(modRoot, dir string, cfiles []string, out string) *exec.Cmd {
	var cmd *exec.Cmd
	if len(cfiles) > 0 {
		args := CFlags()
		args = append(args, "-o", out)
		args = append(args, cfiles...)
		cmd = exec.Command("clang", args...)
	} else {
		cmd = exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", out, "./"+dir)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	}
	cmd.Dir = modRoot
	return cmd
}

// cacheDir returns the directory for the built guests, which test processes
// share between runs (testhome.SharedCacheDir).
func cacheDir() (string, error) { return testhome.SharedCacheDir() }

// WAT assembles the WebAssembly text file at path (relative to the module
// root) with wat2wasm, from Debian's wabt package, and returns the module.
func WAT(tb testing.TB, path string) []byte {
	tb.Helper()
	src, err := os.ReadFile(filepath.Join(ModuleRoot(tb), path))
	if err != nil {
		tb.Fatal(err)
	}
	return WATSource(tb, string(src))
}

// WATSource assembles WebAssembly text with wat2wasm and its flags (such as
// --no-check, for a module meant to be invalid) and returns the module.
func WATSource(tb testing.TB, src string, flags ...string) []byte {
	tb.Helper()
	tool, err := exec.LookPath("wat2wasm")
	if err != nil {
		tb.Fatal("wat2wasm is needed to assemble test modules: apt-get install wabt")
	}
	dir := tb.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
	if msg, err := exec.Command(tool, append(flags, in, "-o", out)...).CombinedOutput(); err != nil {
		tb.Fatalf("wat2wasm: %v\n%s\n%s", err, msg, src)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
