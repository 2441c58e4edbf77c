package engine_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
	"unicode"

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

// TestCodes: Codes lists every sentinel api/errors.go declares (a sentinel
// that is not a Code, an errors.New, would be missing), each once and with
// a message of its own; an ABI status is the sentinel of its number.
func TestCodes(t *testing.T) {
	t.Parallel()
	sentinels := declared(t, "api/errors.go", "const var", func(n string) bool { return strings.HasPrefix(n, "Err") })
	codes := engine.Codes()
	if len(codes) != len(sentinels) {
		t.Errorf("Codes lists %d codes; api/errors.go declares %d sentinels: %s", len(codes), len(sentinels), strings.Join(sentinels, " "))
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

// TestOperations: Operations lists every request type api/op.go declares, each
// with an operation name of its own.
func TestOperations(t *testing.T) {
	t.Parallel()
	types := declared(t, "api/op.go", "type", func(n string) bool { return strings.HasSuffix(n, "Request") && n != "Request" })
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
		t.Errorf("Operations lists %d requests; api/op.go declares %d", len(ops), len(types))
	}
}

// TestMethodsTakeTheirRequest: the Engine method of each operation takes
// ctx and the operation's request type, which is the one definition of its
// parameters (RATIONALE.md, "The shape of the public API"); a request with
// no fields (VaultsRequest) leaves its method ctx alone. Its results are
// the request's: R and an error, or an error.
func TestMethodsTakeTheirRequest(t *testing.T) {
	t.Parallel()
	engineType := reflect.TypeFor[*engine.Engine]()
	ctxType := reflect.TypeFor[context.Context]()
	errType := reflect.TypeFor[error]()
	for _, op := range engine.Operations() {
		req := reflect.TypeOf(op.Request)
		name := strings.TrimSuffix(req.Name(), "Request")
		m, ok := engineType.MethodByName(name)
		if !ok {
			t.Errorf("%s has no method Engine.%s", req.Name(), name)
			continue
		}
		in := []reflect.Type{engineType, ctxType}
		if req.NumField() > 0 {
			in = append(in, req)
		}
		var out []reflect.Type
		if op.Result != nil {
			out = append(out, reflect.TypeOf(op.Result))
		}
		out = append(out, errType)
		if want := reflect.FuncOf(in, out, false); m.Type != want {
			t.Errorf("Engine.%s is %v; want %v", name, m.Type, want)
		}
		// The operation's name is the method's, in words: SetInfo is set-info.
		if want := kebab(name); string(op.Request.Op()) != want {
			t.Errorf("%s is operation %q; want %q, its method's name", req.Name(), op.Request.Op(), want)
		}
		// The vault in one place: a field Vault, but where the request has
		// none to name (Vaults) or describes it whole (Register).
		if f, ok := req.FieldByName("Vault"); (!ok || f.Type.Kind() != reflect.String) && req.NumField() > 0 && name != "Register" {
			t.Errorf("%s has no Vault string field", req.Name())
		}
		// WhatIf and Confirm where a secret is written: the embedded Change.
		f, ok := req.FieldByName("Change")
		change := ok && f.Anonymous
		_, batch := op.Result.(engine.ImportResult) // its Actions
		if writes := op.Result == (engine.Action{}) || batch; change != writes {
			t.Errorf("%s: embeds Change = %v, but it returns an Action = %v", req.Name(), change, writes)
		}
	}
}

// kebab writes a Go name in lower case, a hyphen before each inner capital.
func kebab(name string) string {
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
