package testwasm

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
)

// The Go guests of this module.
const (
	goVault = "examples/go-vault"
	hostile = "engine/testdata/guests/hostile"
)

// wantExports are the exports of SPEC.md §4 with their types: the number of
// i32 parameters and whether there is an i32 result.
var wantExports = map[string]struct {
	params int
	result bool
}{
	abi.Marker:            {0, false},
	abi.ExportManifest:    {0, true},
	abi.ExportInit:        {2, true},
	abi.ExportGet:         {1, true},
	abi.ExportStat:        {1, true},
	abi.ExportSet:         {3, true},
	abi.ExportRemove:      {1, true},
	abi.ExportList:        {1, true},
	abi.ExportSetMetadata: {2, true},
	abi.ExportUnlock:      {1, true},
	abi.ExportLock:        {0, true},
	abi.ExportSetPassword: {2, true},
	abi.ExportTest:        {0, true},
	"_initialize":         {0, false},
}

func TestModuleRoot(t *testing.T) {
	root := ModuleRoot(t)
	if _, err := os.Stat(root + "/abi/SPEC.md"); err != nil {
		t.Fatalf("ModuleRoot = %s: %v", root, err)
	}
}

// TestGuestShape builds the guests and checks what the host checks before
// it instantiates a module (SPEC.md §2): the marker, the exports and their
// types, memory, and imports from the allowed modules only.
func TestGuestShape(t *testing.T) {
	for _, dir := range []string{goVault, hostile} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			path := Build(t, dir)
			if again := Build(t, dir); again != path {
				t.Errorf("second Build = %s, want %s", again, path)
			}
			wasm, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes (%.2f MiB)", dir, len(wasm), float64(len(wasm))/(1<<20))

			m := newFakeHost(t, path).module // compiled by wazero, as the host does

			exports := m.ExportedFunctions()
			for name, want := range wantExports {
				f, ok := exports[name]
				if !ok {
					t.Errorf("no export %s", name)
					continue
				}
				wantParams := slices.Repeat([]api.ValueType{api.ValueTypeI32}, want.params)
				var wantResults []api.ValueType
				if want.result {
					wantResults = []api.ValueType{api.ValueTypeI32}
				}
				if !slices.Equal(f.ParamTypes(), wantParams) || !slices.Equal(f.ResultTypes(), wantResults) {
					t.Errorf("export %s has type %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), wantParams, wantResults)
				}
			}
			if _, ok := exports["_start"]; ok {
				t.Error("exports _start: not built as a reactor")
			}
			if _, ok := m.ExportedMemories()["memory"]; !ok {
				t.Error("no exported memory")
			}

			for _, f := range m.ImportedFunctions() {
				module, name, _ := f.Import()
				switch module {
				case abi.ImportModule:
					known := []string{abi.ImportInput, abi.ImportOutput, abi.ImportError, abi.ImportLog,
						abi.ImportKVGet, abi.ImportKVSet, abi.ImportKVDelete, abi.ImportKVList, abi.ImportKVScan}
					if !slices.Contains(known, name) {
						t.Errorf("imports %s.%s, which SPEC.md does not define", module, name)
					}
				case "wasi_snapshot_preview1":
				default:
					t.Errorf("imports %s.%s from a module that is not allowed", module, name)
				}
			}
		})
	}
}

// CFlags are the Makefile's CEXTFLAGS, with which `make extensions` builds
// the committed C extensions: the tests load what the binary embeds.
func TestCFlagsAreTheMakefiles(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(ModuleRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CEXTFLAGS\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no CEXTFLAGS line")
	}
	if got := strings.Fields(string(m[1])); !slices.Equal(got, CFlags()) {
		t.Errorf("Makefile's CEXTFLAGS = %q, CFlags = %q", got, CFlags())
	}
}

// The C extensions that the tests build (the Makefile's CEXTENSIONS) are
// the committed ones, byte for byte (clang is deterministic given the flags
// and the relative paths), and each is at most 100 KB.
func TestCExtensionIsReproducible(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(ModuleRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CEXTENSIONS\s*:=\s*(.*)$`).FindSubmatch(mk)
	if m == nil || len(strings.Fields(string(m[1]))) == 0 {
		t.Fatal("Makefile: no CEXTENSIONS line")
	}
	for _, name := range strings.Fields(string(m[1])) {
		built, err := os.ReadFile(Build(t, "extensions/"+name))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(ModuleRoot(t), "extensions", name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, committed) {
			t.Errorf("extensions/%s.wasm (%d bytes) is not what its source builds to (%d bytes): run make extensions", name, len(committed), len(built))
		}
		// Issue 13's bound on a built-in C guest: what a command pays to
		// decode and compile on every start without the agent.
		if len(committed) > 100_000 {
			t.Errorf("extensions/%s.wasm is %d bytes, over the 100 KB a built-in guest may take", name, len(committed))
		}
	}
}
