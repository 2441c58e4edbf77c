//go:build linux

package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestOptionalFromAssemblyScript: the bindings of examples/as-vault declare
// kv_scan (§5.3), http_request and http_response (§5.9), the age functions
// (§5.10), the format primitives (§5.11) and dir_replace (§5.4) with the
// host's signatures (the module loads), and an AssemblyScript vault,
// compiled by the pinned asc, gets from each what Go computes or the host
// holds: pages that need a larger buffer, a response that needs
// http_response, a key through age and back, the KDBX key schedule, a file
// replaced.
func TestOptionalFromAssemblyScript(t *testing.T) {
	ctx := context.Background()
	wasm := testwasm.AssemblyScript(t, "engine/internal/sandbox/testdata/optional.ts")
	h := keyHost(t, nil)
	call := func(t *testing.T, spec Spec, name string) ([]byte, error) {
		t.Helper()
		spec.Vault, spec.Wasm = "AS", wasm
		m, err := h.Load(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		return m.Call(ctx, abi.OpGet, []byte(name))
	}
	t.Run("kv_scan", func(t *testing.T) {
		big := strings.Repeat("v", 1000) // more than the guest's first buffer
		st := &mapStore{m: map[string][]byte{"a1": []byte("x"), "a2": []byte(big), "a3": []byte("yy"), "b": []byte("z")}}
		got, err := call(t, Spec{Storage: st}, "scan")
		if want := "a1=x;a2=" + big + ";a3=yy;"; err != nil || string(got) != want {
			t.Errorf("the pages read %.40q… (%v), want %.40q…", got, err, want)
		}
	})
	t.Run("http", func(t *testing.T) {
		body := strings.Repeat("fine ", 100) // more than the guest's first buffer
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Test", "1")
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(body))
		}))
		defer srv.Close()
		got, err := call(t, Spec{HTTP: &HTTPGrant{Origins: []string{srv.URL}}}, "http "+srv.URL+"/x")
		if want := "418 " + body; err != nil || string(got) != want {
			t.Errorf("the response read %.40q… (%v), want %.40q…", got, err, want)
		}
	})
	t.Run("age", func(t *testing.T) {
		if got, err := call(t, Spec{Identity: newIdentity(t)}, "age"); err != nil || string(got) != "ok" {
			t.Errorf("granted: %q, %v", got, err)
		}
		var se *Error
		if _, err := call(t, Spec{}, "age"); !errors.As(err, &se) || se.Status != abi.PermissionDenied {
			t.Errorf("not granted: %v, want PERMISSION_DENIED", err)
		}
	})
	t.Run("format", func(t *testing.T) {
		got, err := call(t, Spec{}, "format")
		if want := formatKeysWant(); err != nil || string(got) != string(want) {
			t.Errorf("the guest computed %x (%v)\nwant %x", got, err, want)
		}
	})
	t.Run("dir_replace", func(t *testing.T) {
		dir := t.TempDir()
		for name, content := range map[string]string{"db": "old", ".new": "new"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		other := sha256.Sum256([]byte("other"))
		var se *Error
		if _, err := call(t, Spec{Dir: dir}, "replace "+hex.EncodeToString(other[:])); !errors.As(err, &se) || se.Status != abi.Conflict {
			t.Errorf("a digest of other bytes: %v, want CONFLICT", err)
		}
		if err := os.WriteFile(filepath.Join(dir, ".new"), []byte("new"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := sha256.Sum256([]byte("old"))
		_, err := call(t, Spec{Dir: dir}, "replace "+hex.EncodeToString(old[:]))
		checkFiles(t, dir, map[string]string{"db": "new"})
		if err != nil {
			t.Errorf("the digest of what db holds: %v", err)
		}
	})
}
