package engine_test

import (
	"bytes"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/internal/testwasm"
)

var updateAPI = flag.Bool("update", false, "rewrite docs/api/*.txt from go doc -all")

// publicPackages are the module's packages that other programs may import,
// each with the environment its documentation is read in (the guest SDK's
// functions exist only for wasip1).
var publicPackages = []struct {
	path string
	env  []string
}{
	{path: "engine"},
	{path: "engine/api"},
	{path: "engine/vaulttest"},
	{path: "engine/memvault"},
	{path: "abi"},
	{path: "abi/vectors"},
	{path: "abi/guest", env: []string{"GOOS=wasip1", "GOARCH=wasm"}},
	{path: "extensions"},
}

// TestPublicAPI keeps the documentation of every public package, as
// `go doc -all` prints it, in docs/api: a change of the API, or of its
// documentation, is a diff there that a reviewer sees. After a deliberate
// change, rewrite the files with
//
//	go test ./engine -run TestPublicAPI -update
func TestPublicAPI(t *testing.T) {
	t.Parallel()
	root := testwasm.ModuleRoot(t)
	for _, p := range publicPackages {
		t.Run(p.path, func(t *testing.T) {
			cmd := exec.Command("go", "doc", "-all", "./"+p.path)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), p.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("go doc -all ./%s: %v\n%s", p.path, err, stderr.Bytes())
			}
			file := filepath.Join(root, "docs", "api", strings.ReplaceAll(p.path, "/", "_")+".txt")
			if *updateAPI {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (write it with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the API of %s is not the one in %s: if the change is meant, run go test ./engine -run TestPublicAPI -update and commit the diff\n%s",
					p.path, file, lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestNoExportedVariables fails on an exported package-level variable
// anywhere in the module, tests and examples included: a program could
// reassign it (abi.Ops, vectors.FS and format.DefaultKDF were such). A
// sentinel error made with errors.New is the Go convention and allowed.
func TestNoExportedVariables(t *testing.T) {
	t.Parallel()
	root := testwasm.ModuleRoot(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" || hasGoMod(path)) {
				return filepath.SkipDir // another module (bench), or not Go code of this one
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if name.IsExported() && !sentinel(vs, i) {
						rel, _ := filepath.Rel(root, path)
						t.Errorf("%s:%d: exported variable %s: make it a function or a constant", rel, fset.Position(name.Pos()).Line, name.Name)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sentinel reports whether the i-th name of vs is set to errors.New(...).
func sentinel(vs *ast.ValueSpec, i int) bool {
	if i >= len(vs.Values) {
		return false
	}
	call, ok := vs.Values[i].(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "errors" && sel.Sel.Name == "New"
}

func hasGoMod(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}

// lineDiff lists the lines of want missing from got (-) and those of got
// missing from want (+), in order: enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	in := func(lines []string) map[string]int {
		m := map[string]int{}
		for _, l := range lines {
			m[l]++
		}
		return m
	}
	inW, inG := in(w), in(g)
	var b strings.Builder
	for _, l := range w {
		if inG[l] == 0 {
			b.WriteString("- " + l + "\n")
		} else {
			inG[l]--
		}
	}
	for _, l := range g {
		if inW[l] == 0 {
			b.WriteString("+ " + l + "\n")
		} else {
			inW[l]--
		}
	}
	return b.String()
}
