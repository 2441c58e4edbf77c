package engine_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// declared returns the names that file declares with one of kinds
// ("const", "var", "type"), for which keep is true.
func declared(t *testing.T, file, kinds string, keep func(string) bool) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || !strings.Contains(kinds, g.Tok.String()) {
			continue
		}
		for _, s := range g.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if keep(n.Name) {
						names = append(names, n.Name)
					}
				}
			case *ast.TypeSpec:
				if keep(s.Name.Name) {
					names = append(names, s.Name.Name)
				}
			}
		}
	}
	return names
}

// TestCodes: Codes lists every sentinel errors.go declares (a sentinel
// that is not a Code, an errors.New, would be missing), each once and with
// a message of its own; an ABI status is the sentinel of its number.
func TestCodes(t *testing.T) {
	sentinels := declared(t, "errors.go", "const var", func(n string) bool { return strings.HasPrefix(n, "Err") })
	codes := engine.Codes()
	if len(codes) != len(sentinels) {
		t.Errorf("Codes lists %d codes; errors.go declares %d sentinels: %s", len(codes), len(sentinels), strings.Join(sentinels, " "))
	}
	seen := map[engine.Code]bool{}
	texts := map[string]bool{}
	for _, c := range codes {
		text := c.Error()
		switch {
		case seen[c]:
			t.Errorf("code %d listed twice", uint32(c))
		case strings.HasPrefix(text, "error "):
			t.Errorf("code %d has no message", uint32(c))
		case texts[text]:
			t.Errorf("two codes say %q", text)
		}
		seen[c], texts[text] = true, true
	}
	for s := abi.NotFound; s.Known(); s++ {
		if !seen[engine.Code(s)] {
			t.Errorf("the ABI status %v has no sentinel", s)
		}
	}
	if !errors.Is(engine.ErrSecretNotFound, engine.Code(abi.NotFound)) || errors.Is(engine.ErrSecretNotFound, abi.NotFound) {
		t.Error("a sentinel is its Code, and not the abi.Status of the same number")
	}
}

// TestOperations: Operations lists every request type op.go declares, each
// with an operation name of its own.
func TestOperations(t *testing.T) {
	types := declared(t, "op.go", "type", func(n string) bool { return strings.HasSuffix(n, "Request") && n != "Request" })
	ops := engine.Operations()
	listed := map[string]bool{}
	names := map[engine.Op]bool{}
	for _, op := range ops {
		listed[reflect.TypeOf(op.Request).Name()] = true
		if names[op.Request.Op()] {
			t.Errorf("two requests are operation %q", op.Request.Op())
		}
		names[op.Request.Op()] = true
	}
	for _, n := range types {
		if !listed[n] {
			t.Errorf("%s is not in Operations: the agent cannot carry it", n)
		}
	}
	if len(ops) != len(types) {
		t.Errorf("Operations lists %d requests; op.go declares %d", len(ops), len(types))
	}
}
