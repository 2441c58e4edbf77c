package engine_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// httpVault writes a module whose manifest asks for the http grant and
// whose sesame_test sends GET rawURL through http_request, failing with
// the host's status or when the answer is not 200.
func httpVault(t *testing.T, dir, rawURL string) string {
	t.Helper()
	req, err := abi.AppendHTTPRequest(nil, abi.HTTPRequest{Method: "GET", URL: rawURL})
	if err != nil {
		t.Fatal(err)
	}
	return wat(t, dir, "web", watVault(`{"abi":1,"name":"web","version":"1","grants":["http"]}`,
		`(import "sesame_v1" "http_request" (func $http (param i32 i32 i32 i32) (result i64)))`,
		`(data (i32.const 0x100) "`+watBytes(req)+`")
  (func (export "sesame_test") (result i32)
    (local $n i64)
    (local.set $n (call $http (i32.const 0x100) (i32.const `+fmt.Sprint(len(req))+`) (i32.const 0x1000) (i32.const 0x1000)))
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))))
    ;; the status is the response's first four bytes
    (if (i32.ne (i32.load (i32.const 0x1000)) (i32.const 200)) (then (return (i32.const 9))))
    (i32.const 0))`))
}

// TestHTTPGrant: the http grant goes from a registration through
// vaults.toml to the sandbox; without it the vault does not load, and the
// error names the grant.
func TestHTTPGrant(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer s.Close()
	e, path := emptyEngine(t)
	mod := httpVault(t, filepath.Dir(path), s.URL+"/health")

	err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Web", Extension: mod}})
	if got := engine.MissingGrants(err); !slices.Equal(got, []string{abi.GrantHTTP}) {
		t.Fatalf("registered without the grant: %v; MissingGrants %q", err, got)
	}

	var g engine.Grants
	if err := g.Set("http", s.URL); err != nil {
		t.Fatal(err)
	}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Web", Extension: mod, Grants: g}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Test(ctx, engine.TestRequest{Vault: "Web"}); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Errorf("the server got %d requests, want 1", hits.Load())
	}
	toml, _ := os.ReadFile(path)
	if !strings.Contains(string(toml), `http      = ["`+s.URL+`"]`) {
		t.Errorf("vaults.toml does not list the origin:\n%s", toml)
	}
	regs, err := e.Vaults(ctx)
	if err != nil || len(regs) != 1 || !slices.Equal(regs[0].Grants.HTTP, []string{s.URL}) {
		t.Errorf("vault list: %+v, %v", regs, err)
	}

	if err := g.Set("http", "http://localhost"); !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "no port") {
		t.Errorf("an origin without a port: %v", err)
	}
}

// TestHTTPGrantFiles: the TLS files of the http grant pass the checks of
// the project's other files, and a client key others can read is refused,
// naming the file and the fix.
func TestHTTPGrantFiles(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	dir := filepath.Dir(path)
	mod := httpVault(t, dir, "https://127.0.0.1:1/")
	for name, mode := range map[string]os.FileMode{"cert.pem": 0o644, "key.pem": 0o644, "ca.pem": 0o666} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("-"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), mode)
	}
	register := func(set ...string) error {
		var g engine.Grants
		for i := 0; i < len(set); i += 2 {
			if err := g.Set(set[i], set[i+1]); err != nil {
				t.Fatal(err)
			}
		}
		return e.Register(ctx, engine.RegisterRequest{AllowClobber: true, Registration: engine.Registration{Name: "Web", Extension: mod, Grants: g}})
	}
	err := register("http", "https://127.0.0.1:1", "client_cert", "cert.pem", "client_key", "key.pem")
	if err == nil || !strings.Contains(err.Error(), "grant client_key: "+filepath.Join(dir, "key.pem")+" can be read by other users (mode 0644)") ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key others can read: %v", err)
	}
	err = register("http", "https://127.0.0.1:1", "ca_file", "ca.pem")
	if err == nil || !strings.Contains(err.Error(), "grant ca_file: "+filepath.Join(dir, "ca.pem")+" can be written by") {
		t.Errorf("a CA file others can write: %v", err)
	}
	os.Chmod(filepath.Join(dir, "ca.pem"), 0o644)
	err = register("http", "https://127.0.0.1:1", "ca_file", "ca.pem")
	if err == nil || !strings.Contains(err.Error(), "grant ca_file: no PEM certificate in it") {
		t.Errorf("a CA file without a certificate: %v", err)
	}
}
