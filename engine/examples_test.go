package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/filelock"
	"github.com/sesamehq/sesame/internal/testhome"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The example vaults of examples/, one per language, each built by the rules
// of mk/examples.mk (the ones `make examples` runs) and loaded through the
// engine with a real storage area on disk, must pass the same conformance
// suite. The toolchains are not optional: a machine without them fails these
// tests with the package to install (CI installs clang, lld, wasi-libc,
// libclang-rt-dev-wasm32, wabt and Node.js with npm).

// exampleVaults are the examples and what the suite must know about each
// beyond its manifest. All four accept every type and every name.
var exampleVaults = []struct {
	name string // the module's file name without .wasm, and its manifest name
	opts vaulttest.Options
}{
	{"go-vault", vaulttest.Options{Concurrency: 4}},
	{"c-vault", vaulttest.Options{Concurrency: 4}},
	{"as-vault", vaulttest.Options{Concurrency: 4}},
	{"wat-vault", vaulttest.Options{Concurrency: 4}},
}

// exampleOps are the operations every example supports, in abi.Ops() order.
var exampleOps = []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpSetMetadata, abi.OpTest}

// examplesCache is the compilation cache the other tests of the package use.
var examplesCache = filepath.Join(os.TempDir(), "sesame-test-wazero-cache")

// examplesOut is the directory that makeExamples builds into, chosen on
// first use (examplesDir).
var examplesOut struct {
	sync.Mutex
	dir string
}

// makeExamples runs `make -f mk/examples.mk EXAMPLES_OUT=DIR goals...` from
// the module root and returns DIR. DIR is one per content of the sources the
// examples are built from (examplesDir), so that make builds each example
// once, and a later test process whose sources did not change finds them
// built (AssemblyScript's compiler alone takes seconds); tests only read
// what is in it. It fails the test, with make's output (which names a
// missing package), when the build fails.
func makeExamples(tb testing.TB, goals ...string) string {
	tb.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		tb.Fatal("make is needed to build the example vaults: apt-get install make")
	}
	examplesOut.Lock()
	defer examplesOut.Unlock()
	root := testwasm.ModuleRoot(tb)
	if examplesOut.dir == "" {
		if examplesOut.dir, err = examplesDir(root); err != nil {
			tb.Fatal(err)
		}
	}
	out := examplesOut.dir
	// Another test process may build into the same folder: one make at a
	// time, so that nobody reads a module while it is written.
	lock, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer lock.Close()
	if err := filelock.Lock(context.Background(), lock, filelock.Exclusive, time.Time{}); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(mk, append([]string{"-s", "-f", "mk/examples.mk", "EXAMPLES_OUT=" + out}, goals...)...)
	cmd.Dir = root
	// Not the settings of a make that runs go test (its jobserver's file
	// descriptors are not inherited); EXAMPLES_* variables do pass through.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "MAKEFLAGS" && name != "MFLAGS" && name != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		tb.Fatalf("building the example vaults: make -f mk/examples.mk %s: %v\n%s", strings.Join(goals, " "), err, strings.TrimSpace(log.String()))
	}
	return out
}

// examplesSources are what the example vaults are built from, relative to
// the module root: their sources, the SDKs they use, the rules, the Go
// module's requirements.
var examplesSources = []string{"examples", "abi", "mk/examples.mk", "go.mod", "go.sum"}

// examplesDir returns the folder for the examples built from the sources
// as they are now, in the tests' shared cache folder
// (testhome.SharedCacheDir, which outlives the process; the user cache
// folder of a test process is its test home's, removed at its end, where
// every run of the engine's tests built every example again, 7 s of CPU
// with AssemblyScript's compiler): its name is a hash of every source
// file (names and contents; node_modules and built modules left out) and of
// clang's version, so that a change of any makes a new folder. Folders
// unused for a week are removed.
func examplesDir(root string) (string, error) {
	h := sha256.New()
	clang, _ := testwasm.ClangVersion() // a missing clang: make names the package
	h.Write(clang)
	for _, top := range examplesSources {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && d.Name() == "node_modules":
				return filepath.SkipDir
			case d.IsDir() || strings.HasSuffix(path, ".wasm"):
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
			h.Write(b)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	shared, err := testhome.SharedCacheDir()
	if err != nil {
		return "", err
	}
	parent := filepath.Join(shared, "examples")
	dir := filepath.Join(parent, hex.EncodeToString(h.Sum(nil)[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	now := time.Now()
	os.Chtimes(dir, now, now)
	old, _ := os.ReadDir(parent)
	for _, o := range old {
		if info, err := o.Info(); err == nil && o.Name() != filepath.Base(dir) && now.Sub(info.ModTime()) > 7*24*time.Hour {
			os.RemoveAll(filepath.Join(parent, o.Name()))
		}
	}
	return dir, nil
}

// TestExamplesOutliveTheTestHome checks that the examples are built where
// the next test process finds them: in the tests' shared cache folder, not
// in this process's test home (XDG_CACHE_HOME, removed when the tests end),
// where each run of this package built all four again.
func TestExamplesOutliveTheTestHome(t *testing.T) {
	t.Parallel()
	dir, err := examplesDir(testwasm.ModuleRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := testhome.SharedCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	home := os.Getenv("XDG_CACHE_HOME") + string(filepath.Separator)
	if !strings.HasPrefix(dir, shared+string(filepath.Separator)) || strings.HasPrefix(dir, home) {
		t.Errorf("examples built in %s: want a folder in the shared %s, not in the test home's %s", dir, shared, home)
	}
}

// openExample registers the module at wasm as the vault "Example" in a fresh
// vaults.toml, with the storage grant, and returns the vault the engine
// hands out for it, over an empty storage area.
func openExample(tb testing.TB, wasm string) engine.Vault {
	tb.Helper()
	dir := tb.TempDir()
	reg := fmt.Sprintf(`default = "Example"

[vaults.Example]
extension = %q

  [vaults.Example.grants]
  storage = true
`, wasm)
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		tb.Fatal(err)
	}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: examplesCache})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	v, err := e.Vault(tb.Context(), "Example")
	if err != nil {
		tb.Fatalf("loading %s: %v", filepath.Base(wasm), err)
	}
	return v
}

// TestExamplesConform builds the four examples with `make examples` and runs
// the conformance suite on each, through the engine. (go-vault's run here is
// the one of the engine's wasm path: TestConformance ran the same suite on the
// same go-vault, with the same grant and options, a second time.)
func TestExamplesConform(t *testing.T) {
	t.Parallel()
	out := makeExamples(t, "examples")
	for _, ex := range exampleVaults {
		t.Run(ex.name, func(t *testing.T) {
			wasm := filepath.Join(out, ex.name+".wasm")
			fi, err := os.Stat(wasm)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes", filepath.Base(wasm), fi.Size())
			// Each implements every operation that a vault without a password
			// has, and keeps metadata: the suite skips nothing but RefusedTypes.
			if m := openExample(t, wasm).Manifest(); m.Name != ex.name || !m.Metadata || !slices.Equal(m.Operations, exampleOps) {
				t.Errorf("manifest: name %q, metadata %v, operations %q; want %q, true, %q", m.Name, m.Metadata, m.Operations, ex.name, exampleOps)
			}
			vaulttest.Run(t, func(t *testing.T) engine.Vault { return openExample(t, wasm) }, ex.opts)
		})
	}
}

// TestExamplesGuestLists checks the lists of the non-Go examples where the
// suite does not look, on one build of the three.
func TestExamplesGuestLists(t *testing.T) {
	t.Parallel()
	out := makeExamples(t, "examples-c", "examples-as", "examples-wat")
	t.Run("Filters", func(t *testing.T) { testGuestListFilters(t, out) })
	t.Run("Large", func(t *testing.T) { testGuestLargeList(t, out) })
}

// testGuestListFilters checks what the suite cannot see, since the host
// filters a list again: c-vault and as-vault match the pattern themselves
// and return exactly the matches, while wat-vault returns every name that
// starts with the pattern's literal prefix (SPEC.md §4 allows a superset).
func testGuestListFilters(t *testing.T, out string) {
	names := []string{"a", "alpha", "alpine", "alpha_2", "beta", "Alpha", "密码", "密钥", "пароль", "x*y", "x?y"}
	patterns := []string{"*", "a*", "al*e", "?", "?????", "*a", "*_?", "密?", "?码", "*ль", "A*", "x*", "zeta*", ""}
	value := abi.Value{Type: abi.TypeString, Data: []byte("v")}
	for _, name := range []string{"c-vault", "as-vault", "wat-vault"} {
		t.Run(name, func(t *testing.T) {
			v := openExample(t, filepath.Join(out, name+".wasm"))
			for _, n := range names {
				if err := v.Set(t.Context(), n, value, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range patterns {
				list, err := v.List(t.Context(), p)
				if err != nil {
					t.Fatalf("List(%q): %v", p, err)
				}
				var got, want []string
				for _, in := range list {
					got = append(got, in.Name)
				}
				literal, _, _ := strings.Cut(strings.ReplaceAll(p, "?", "*"), "*")
				for _, n := range names {
					if abi.Match(p, n, true) || name == "wat-vault" && strings.HasPrefix(n, literal) {
						want = append(want, n)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("List(%q) = %q, want %q", p, got, want)
				}
			}
		})
	}
}

// testGuestLargeList lists 300 secrets with 12 KiB of metadata each:
// more keys than one kv_list page holds (256), so the guests page through
// storage, and 3.7 MB of info records, more than the output buffer of
// wat-vault, which must grow its memory.
func testGuestLargeList(t *testing.T, out string) {
	md := abi.Metadata{}
	for _, k := range []string{"a", "b", "c"} {
		md[k] = abi.MetaValue{Kind: abi.MetaString, Str: strings.Repeat(k, abi.MaxMetaStringLen)}
	}
	value := abi.Value{Type: abi.TypeBytes, Data: []byte{1, 2, 3}}
	const n = 300
	for _, name := range []string{"c-vault", "as-vault", "wat-vault"} {
		t.Run(name, func(t *testing.T) {
			v := openExample(t, filepath.Join(out, name+".wasm"))
			for i := range n {
				if err := v.Set(t.Context(), fmt.Sprintf("big_%03d", i), value, md); err != nil {
					t.Fatal(err)
				}
			}
			list, err := v.List(t.Context(), "big_*")
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != n {
				t.Fatalf("List returned %d secrets, want %d", len(list), n)
			}
			for i, in := range list {
				if want := fmt.Sprintf("big_%03d", i); in.Name != want || len(in.Metadata) != 3 || in.Metadata["c"].Str != md["c"].Str {
					t.Fatalf("List[%d] = %q with %d metadata entries, want %q with 3", i, in.Name, len(in.Metadata), want)
				}
			}
		})
	}
}

// brokenEnv hands the path of broken.wasm to the child process of
// TestExamplesBrokenFailsConformance.
const brokenEnv = "SESAME_TEST_BROKEN_WASM"

// TestExamplesBrokenFailsConformance runs the suite on
// examples/wat-vault/broken.wat (wat-vault answering OK for a missing
// secret) in a child process, and checks that it fails and names the case.
func TestExamplesBrokenFailsConformance(t *testing.T) {
	t.Parallel()
	out := makeExamples(t, "examples-wat")
	broken := filepath.Join(out, "broken.wasm")
	// The broken module loads: what is wrong shows only in its behaviour.
	if m := openExample(t, broken).Manifest(); m.Name != "wat-vault" {
		t.Fatalf("broken.wasm: manifest name %q", m.Name)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBroken$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), brokenEnv+"="+broken)
	output, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the suite on broken.wasm: err = %v, want a failing exit status\n%s", err, output)
	}
	for _, want := range []string{
		"--- FAIL: TestHelperBroken/Overwrite/missing",
		`Get("over_missing"): `,
		"want an error wrapping abi.NotFound",
	} {
		if !bytes.Contains(output, []byte(want)) {
			t.Errorf("the output of the failing suite does not contain %q:\n%s", want, output)
		}
	}
	// What passes must still pass: the bug is in get of a missing name only.
	for _, ok := range []string{"TestHelperBroken/Manifest", "TestHelperBroken/RoundTrip", "TestHelperBroken/List", "TestHelperBroken/Many"} {
		if bytes.Contains(output, []byte("--- FAIL: "+ok+" ")) {
			t.Errorf("%s fails on broken.wasm, which differs from wat-vault only in get of a missing secret:\n%s", ok, output)
		}
	}
}

// TestHelperBroken is the child process of
// TestExamplesBrokenFailsConformance: it runs the suite on the module named
// by $SESAME_TEST_BROKEN_WASM and is expected to fail.
func TestHelperBroken(t *testing.T) {
	wasm := os.Getenv(brokenEnv)
	if wasm == "" {
		t.Skip("run by TestExamplesBrokenFailsConformance in a child process")
	}
	vaulttest.Run(t, func(t *testing.T) engine.Vault { return openExample(t, wasm) }, vaulttest.Options{Concurrency: 4})
}

// TestExamplesBrokenWATMatchesVault checks that broken.wat is vault.wat
// except for its header comment and the lines marked ";; BROKEN", so that the
// broken module keeps following the correct one.
func TestExamplesBrokenWATMatchesVault(t *testing.T) {
	t.Parallel()
	root := testwasm.ModuleRoot(t)
	body := func(name string, drop bool) []string {
		b, err := os.ReadFile(filepath.Join(root, "examples/wat-vault", name))
		if err != nil {
			t.Fatal(err)
		}
		_, module, ok := strings.Cut(string(b), "\n(module\n")
		if !ok {
			t.Fatalf("%s: no line \"(module\"", name)
		}
		var lines []string
		for _, l := range strings.Split(module, "\n") {
			if !drop || !strings.Contains(l, ";; BROKEN") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	vault, broken := body("vault.wat", false), body("broken.wat", true)
	if n := len(body("broken.wat", false)) - len(broken); n != 1 {
		t.Errorf("broken.wat has %d lines marked ;; BROKEN, want 1", n)
	}
	if !slices.Equal(vault, broken) {
		for i := range min(len(vault), len(broken)) {
			if vault[i] != broken[i] {
				t.Fatalf("broken.wat differs from vault.wat in more than the BROKEN line, first at module line %d:\nvault.wat:  %s\nbroken.wat: %s", i+1, vault[i], broken[i])
			}
		}
		t.Fatalf("broken.wat and vault.wat differ in length: %d and %d module lines", len(broken), len(vault))
	}
}

// BenchmarkExamplesGet reads a 32-byte string secret through e.Vault(…).Get
// from each example: the sandbox call, the guest's work and one storage
// read from bbolt on disk (about 11 µs of it). It reports the module's size
// as wasm-bytes.
func BenchmarkExamplesGet(b *testing.B) {
	out := makeExamples(b, "examples")
	value := abi.Value{Type: abi.TypeString, Data: []byte("0123456789abcdef0123456789abcdef")}
	for _, ex := range exampleVaults {
		b.Run(ex.name, func(b *testing.B) {
			wasm := filepath.Join(out, ex.name+".wasm")
			fi, err := os.Stat(wasm)
			if err != nil {
				b.Fatal(err)
			}
			v := openExample(b, wasm)
			if err := v.Set(b.Context(), "bench", value, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := v.Get(b.Context(), "bench"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fi.Size()), "wasm-bytes")
		})
	}
}
