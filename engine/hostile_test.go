package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The hostile extensions of issue 6, each registered as a vault next to two
// healthy ones (go-vault over host storage, and the built-in secretstore) in
// one engine. Every case runs one hostile call and checks that it fails (or,
// for floods that the host cuts, succeeds) with a clear error that names the
// vault and the cause; then that the healthy vaults still answer, with the
// same secrets, the same metadata and the same bytes in their storage files;
// that the hostile vault's own data is intact; and that no secret value
// reached an error or a log line. docs/SECURITY.md lists the cases.

// Distinctive secret values: none may ever appear in an error or a log.
const (
	healthySecret = "healthy-secret-7f3a9c"
	healthyPass   = "healthy-cred-pw-2b8e41"
	safeSecret    = "safe-secret-91c2d0"
	hostileOwn    = "hostile-own-secret-5d1e77"
	envSecret     = "env-secret-c0ffee42"
)

var allSecrets = []string{healthySecret, healthyPass, safeSecret, hostileOwn, envSecret}

// logRecorder keeps every log record the engine emits, as text.
type logRecorder struct {
	mu      sync.Mutex
	records []string
	watch   map[string]chan struct{} // closed when a message containing the key is logged
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, b.String())
	for k, ch := range r.watch {
		if strings.Contains(rec.Message, k) {
			close(ch)
			delete(r.watch, k)
		}
	}
	return nil
}

// when returns a channel closed once a message containing s is logged.
func (r *logRecorder) when(s string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watch == nil {
		r.watch = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	r.watch[s] = ch
	return ch
}

// since returns the records logged after the first n.
func (r *logRecorder) since(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.records[n:]...)
}

func (r *logRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.records)
}

// wat assembles WebAssembly text with wat2wasm into dir/name.wasm and
// returns its path.
func wat(t testing.TB, dir, name, src string) string {
	t.Helper()
	out := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(out, testwasm.WATSource(t, src), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// watBytes writes b as a WAT string literal.
func watBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%02x", c)
	}
	return s.String()
}

// watVault is a module with the marker, a memory, and a sesame_manifest
// that outputs manifest; imports and fields are spliced in.
func watVault(manifest, imports, fields string) string {
	return `(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "log" (func $log (param i32 i32 i32) (result i32)))
` + imports + `
  (memory (export "memory") 1)
  (data (i32.const 0x8000) "` + watBytes([]byte(manifest)) + `")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0x8000) (i32.const ` + fmt.Sprint(len(manifest)) + `)))
    (i32.const 0))
` + fields + `)`
}

// outputs is a get export that outputs the constant b.
func outputs(b []byte) string {
	return `(data (i32.const 0x9000) "` + watBytes(b) + `")
  (func (export "sesame_get") (param i32) (result i32)
    (drop (call $output (i32.const 0x9000) (i32.const ` + fmt.Sprint(len(b)) + `)))
    (i32.const 0))
`
}

const plainManifest = `{"abi":1,"name":"wat-hostile","version":"1"}`

// The WAT modules, by vault name.
func hostileWAT() map[string]string {
	forged, _ := abi.AppendSecret(nil, abi.Info{Name: "someone-else\x1b[2J", Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte("forged")})
	list, _ := abi.AppendInfoList(nil, []abi.Info{
		{Name: "a\x1b]0;owned\x07", Type: abi.TypeString},
		{Name: "a-ok", Type: abi.TypeString},
		{Name: "zzz-does-not-match", Type: abi.TypeString},
	})
	return map[string]string{
		"NoMarker": `(module
  (memory (export "memory") 1)
  (func (export "sesame_manifest") (result i32) (i32.const 0)))`,
		"MarkerV2": `(module
  (memory (export "memory") 1)
  (func (export "sesame_abi_v2"))
  (func (export "sesame_manifest") (result i32) (i32.const 0)))`,
		"MarkerSig": `(module
  (memory (export "memory") 1)
  (func (export "sesame_abi_v1") (param i32))
  (func (export "sesame_manifest") (result i32) (i32.const 0))
  (func (export "sesame_get") (param i64) (result i32) (i32.const 0)))`,
		"NoExports":  `(module (func (export "sesame_abi_v1")))`,
		"ABI2":       watVault(`{"abi":2,"name":"future","version":"2.0.0"}`, "", ""),
		"BadName":    watVault(`{"abi":1,"name":"Bad Name\u001b[2J","version":""}`, "", ""),
		"NotJSON":    watVault(`{"abi":1,"name":`, "", ""),
		"WantsNet":   watVault(`{"abi":1,"name":"wants-net","version":"1","grants":["network"]}`, "", ""),
		"WantsStore": watVault(`{"abi":1,"name":"wants-store","version":"1","grants":["storage","directory","env"]}`, "", ""),
		"UnknownImports": watVault(plainManifest, `
  (import "sesame_v1" "http_get" (func (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_get_other_vault" (func (param i32 i32) (result i32)))
  (import "env" "getenv" (func (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_open" (func (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_connect" (func (param i32 i32 i32) (result i32)))
  (import "host" "system" (func (param i32 i32) (result i32)))`, ""),
		"Ungranted": watVault(plainManifest, `
  (import "sesame_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_delete" (func $kv_delete (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "kv_scan" (func $kv_scan (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))`, `
  (data (i32.const 0x9000) "../../../../etc/passwd")
  ;; The output is a secret "r" of type bytes whose value is the results:
  ;; this header (name, type, no metadata, value type), then each result at
  ;; 0x100 + 8*i as an i64, in the order of ungrantedResults.
  (data (i32.const 0xf5) "\01\00\00\00r\01\00\00\00\00\01")
  (func (export "sesame_get") (param i32) (result i32)
    (i64.store (i32.const 0x100) (call $kv_get (i32.const 0x9000) (i32.const 2) (i32.const 0x400) (i32.const 16)))
    (i64.store (i32.const 0x108) (i64.extend_i32_u (call $kv_set (i32.const 0x9000) (i32.const 2) (i32.const 0x9000) (i32.const 4))))
    (i64.store (i32.const 0x110) (i64.extend_i32_u (call $kv_delete (i32.const 0x9000) (i32.const 2))))
    (i64.store (i32.const 0x118) (call $kv_list (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x400) (i32.const 64)))
    (i64.store (i32.const 0x120) (i64.extend_i32_u (call $prestat (i32.const 3) (i32.const 0x500))))
    (i64.store (i32.const 0x128) (i64.extend_i32_u (call $path_open (i32.const 3) (i32.const 0) (i32.const 0x9000) (i32.const 22) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0x510))))
    (i64.store (i32.const 0x130) (i64.extend_i32_u (call $path_open (i32.const 0) (i32.const 0) (i32.const 0x9000) (i32.const 22) (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0x510))))
    (i64.store (i32.const 0x138) (i64.extend_i32_u (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 0x520))))
    (i64.store (i32.const 0x140) (i64.extend_i32_u (call $sock_send (i32.const 1) (i32.const 0x600) (i32.const 0) (i32.const 0) (i32.const 0x530))))
    (i64.store (i32.const 0x148) (i64.extend_i32_u (call $sock_recv (i32.const 0) (i32.const 0x600) (i32.const 0) (i32.const 0) (i32.const 0x540) (i32.const 0x544))))
    (drop (call $env_sizes (i32.const 0x550) (i32.const 0x554)))
    (i64.store (i32.const 0x150) (i64.extend_i32_u (i32.load (i32.const 0x550))))
    (i64.store (i32.const 0x158) (call $kv_scan (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x400) (i32.const 64)))
    (drop (call $output (i32.const 0xf5) (i32.const 107)))
    (i32.const 0))
`),
		"Overclaims": watVault(`{"abi":1,"name":"overclaims","version":"1","operations":["get","set","remove","list","unlock","lock","set_password"]}`, "", outputs([]byte{})),
		"BadOutput":  watVault(plainManifest, "", outputs([]byte{0xff, 0xff, 0xff})),
		"Forger": watVault(`{"abi":1,"name":"forger","version":"1","description":"\u001b]0;owned\u0007fine\r\u202e","case_sensitive":true}`, "", outputs(forged)+`
  (data (i32.const 0xa000) "`+watBytes(list)+`")
  (func (export "sesame_list") (param i32) (result i32)
    (drop (call $output (i32.const 0xa000) (i32.const `+fmt.Sprint(len(list))+`)))
    (i32.const 0))
`),
		"HangManifest": `(module
  (import "sesame_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hang: in the manifest")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $log (i32.const 1) (i32.const 0) (i32.const 21)))
    (loop $forever (br $forever))
    (i32.const 0)))`,
		"HangInit": `(module
  (memory (export "memory") 1)
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32) (i32.const 0)))`,
	}
}

// ungrantedResults names the results of the Ungranted module's get.
var ungrantedResults = []string{
	"kv_get", "kv_set", "kv_delete", "kv_list",
	"fd_prestat_get(3)", "path_open(3, ../etc/passwd)", "path_open(stdin, ../etc/passwd)",
	"sock_accept", "sock_send", "sock_recv", "environment variables", "kv_scan",
}

type hostileEnv struct {
	e       *engine.Engine
	logs    *logRecorder
	dir     string
	files   map[string][]byte // the healthy vaults' storage files, as seeded
	healthy []string          // their paths
}

// seeded is what each vault holds before any hostile call, by vault.
var seeded = map[string]map[string]engine.Secret{
	"Healthy": {
		"db-password": {Info: engine.Info{Name: "db-password", Type: engine.TypeString, Vault: "Healthy", Metadata: engine.Metadata{"owner": "ops", "rotations": int64(3)}}, Value: healthySecret},
		"api":         {Info: engine.Info{Name: "api", Type: engine.TypeCredential, Vault: "Healthy", Metadata: engine.Metadata{}}, Value: engine.Credential{UserName: "bot", Password: healthyPass}},
	},
	"Safe": {
		"token": {Info: engine.Info{Name: "token", Type: engine.TypeSecureString, Vault: "Safe", Metadata: engine.Metadata{"scope": "ci"}}, Value: engine.SecureString(safeSecret)},
	},
	"Hostile": {
		"keep": {Info: engine.Info{Name: "keep", Type: engine.TypeString, Vault: "Hostile", Metadata: engine.Metadata{}}, Value: hostileOwn},
	},
	"Hostile2": {
		"mine": {Info: engine.Info{Name: "mine", Type: engine.TypeString, Vault: "Hostile2", Metadata: engine.Metadata{}}, Value: "hostile2 value"},
	},
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	dir := t.TempDir()
	goVault := testwasm.Build(t, "examples/go-vault")
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")

	// Pinned: the pin is go-vault's, the file is then replaced.
	pinned := filepath.Join(dir, "pinned.wasm")
	good, err := os.ReadFile(goVault)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(good)

	var reg strings.Builder
	fmt.Fprintf(&reg, "default = \"Healthy\"\n")
	vault := func(name, ext, extra string) {
		fmt.Fprintf(&reg, "\n[vaults.%s]\nextension = %q\n%s", name, ext, extra)
	}
	vault("Healthy", goVault, "grants.storage = true\n")
	vault("Safe", "builtin:secretstore", "parameters.authentication = \"none\"\ngrants.storage = true\n")
	// A second of the same extension under another name: the namespace.
	vault("Healthy2", goVault, "grants.storage = true\n")
	// 8 MiB, the grant of the sandbox's TestTrapsDiscardTheInstance: the
	// instrumented module depends on the grant, so each grant a guest is
	// loaded under is a compile of its own (3.5-4 s of CPU for hostile on
	// an empty compile cache), and these tests shared no grant with the
	// sandbox's (32 MiB here, 8 there, the default 64 in both).
	vault("Hostile", hostile, "grants = { storage = true, timeout = \"1s\", memory = \"8MiB\", instances = 2 }\n")
	vault("Hostile2", hostile, "grants.storage = true\n")
	// Hostile's memory grant, but no deadline that could come first: the
	// growth of a Go guest to its limit, each step a collection, took more
	// than a second of a busy machine at 32 MiB, and was stopped by
	// Hostile's deadline instead of its memory limit.
	vault("HostileMem", hostile, "grants = { storage = true, timeout = \"5m\", memory = \"8MiB\" }\n")
	vault("NoStorage", hostile, "")
	vault("Pinned", pinned, fmt.Sprintf("sha256 = %q\ngrants.storage = true\n", hex.EncodeToString(sum[:])))
	for name, src := range hostileWAT() {
		vault(name, wat(t, dir, name, src), "")
	}
	path := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(path, []byte(reg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pinned, good, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &hostileEnv{logs: &logRecorder{}, dir: dir}
	h.e, err = engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: testCache, Logger: slog.New(h.logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.e.Close() })

	for vault, secrets := range seeded {
		for name, s := range secrets {
			if _, err := h.e.Set(ctx, engine.SetRequest{Name: name, Value: s.Value, Vault: vault, Metadata: s.Metadata}); err != nil {
				t.Fatalf("seed %s/%s: %v", vault, name, err)
			}
		}
	}
	// The pinned module changes under its pin only now.
	if err := os.WriteFile(pinned, mustRead(t, hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	h.healthy = []string{h.storagePath("Healthy"), h.storagePath("Safe")}
	h.files = map[string][]byte{}
	for _, p := range h.healthy {
		h.files[p] = mustRead(t, p)
	}
	return h
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *hostileEnv) storagePath(vault string) string {
	regs, _ := h.e.Vaults(ctx)
	for _, r := range regs {
		if strings.EqualFold(r.Name, vault) {
			return engine.StorageFile(filepath.Join(h.dir, "data"), r.Name, r.Extension)
		}
	}
	return ""
}

// intact checks that every seeded secret reads back as seeded, that the
// healthy vaults' files have not changed by a byte, and that Healthy2 (the
// same extension as Healthy) sees nothing of Healthy's.
func (h *hostileEnv) intact(t *testing.T) {
	t.Helper()
	for vault, secrets := range seeded {
		for name, want := range secrets {
			got, err := h.e.Get(ctx, engine.GetRequest{Name: name, Vault: vault})
			if err != nil {
				t.Errorf("%s/%s after the hostile call: %v", vault, name, err)
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s after the hostile call:\n got %+v\nwant %+v", vault, name, got, want)
			}
		}
		infos, err := h.e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: vault})
		if err != nil || len(infos) != len(secrets) {
			t.Errorf("info of %s after the hostile call: %d secrets, %v; want %d", vault, len(infos), err, len(secrets))
		}
	}
	for _, p := range h.healthy {
		if now, err := os.ReadFile(p); err != nil || !bytes.Equal(now, h.files[p]) {
			t.Errorf("the storage file %s changed (%v)", filepath.Base(p), err)
		}
	}
	if infos, err := h.e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Healthy2"}); err != nil || len(infos) != 0 {
		t.Errorf("Healthy2 sees %v, %v: another vault's namespace", infos, err)
	}
}

// clean checks that text (an error or log line) carries no secret value and
// no control character.
func clean(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range allSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s carries a secret value: %q", what, text)
		}
	}
	if i := strings.IndexFunc(text, func(r rune) bool {
		return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
	}); i >= 0 {
		t.Errorf("%s carries a control character at %d: %q", what, i, text)
	}
}

// wantErr checks that err wraps is, names the vault, and says each of words.
func wantErr(t *testing.T, err error, is error, vault string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the hostile call succeeded; want an error wrapping %v", is)
	}
	if !errors.Is(err, is) {
		t.Errorf("error %q does not wrap %v", err, is)
	}
	msg := err.Error()
	if !strings.Contains(msg, "vault "+vault) {
		t.Errorf("error %q does not name vault %s", msg, vault)
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
}

func getValue(t *testing.T, e *engine.Engine, name, vault string) string {
	t.Helper()
	s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: vault})
	if err != nil {
		t.Fatalf("get %s from %s: %v", name, vault, err)
	}
	switch v := s.Value.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	t.Fatalf("get %s from %s: a %T", name, vault, s.Value)
	return ""
}

func TestHostileContained(t *testing.T) {
	t.Parallel() // its deadlines are mostly waiting
	h := newHostileEnv(t)
	e := h.e
	get := func(name, vault string) func(t *testing.T) error {
		return func(*testing.T) error { _, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: vault}); return err }
	}
	cases := []struct {
		name  string
		vault string
		call  func(t *testing.T) error
		check func(t *testing.T, err error)
	}{
		// Runaway computation: stopped at the vault's deadline (1 s).
		{"endless loop", "Hostile", get("loop", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrDeadline, "Hostile", "did not finish before its deadline", "1s")
		}},
		{"sleep past the deadline", "Hostile", get("sleep", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrDeadline, "Hostile", "did not finish before its deadline")
		}},
		{"deep recursion", "Hostile", get("recurse", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "extension trapped in sesame_get")
		}},
		{"memory growth past the limit", "HostileMem", get("oom", "HostileMem"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "HostileMem", "extension trapped in sesame_get")
		}},
		{"a trap (panic)", "Hostile", get("panic", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "extension trapped in sesame_get")
			if strings.Contains(err.Error(), "panic on request") {
				t.Errorf("the guest's stderr reached the error: %v", err)
			}
		}},
		{"proc_exit", "Hostile", get("exit", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "extension exited with code 3 in sesame_get")
		}},

		// Floods: cut at the host's limits.
		{"huge output (32 MiB)", "Hostile2", get("bigout", "Hostile2"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrTooLarge, "Hostile2")
		}},
		{"huge error message (1 MiB)", "Hostile", get("bigerr", "Hostile"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "eeee")
			if n := len(err.Error()); n > abi.MaxMessageBytes+200 {
				t.Errorf("an error of %d bytes; the guest's message is cut at %d", n, abi.MaxMessageBytes)
			}
		}},
		{"flood of log lines (10 000)", "Hostile", func(t *testing.T) error {
			before := h.logs.len()
			_, err := e.Get(ctx, engine.GetRequest{Name: "log", Vault: "Hostile"})
			lines := h.logs.since(before)
			if len(lines) != abi.MaxLogLines+1 {
				t.Errorf("%d log records for a flood of 10 000 lines, want %d kept and one that counts the rest", len(lines), abi.MaxLogLines)
			}
			if last := lines[len(lines)-1]; !strings.Contains(last, "dropped=9900") || !strings.Contains(last, "vault=Hostile") {
				t.Errorf("the last record does not count the dropped lines: %q", last)
			}
			return err
		}, func(t *testing.T, err error) {
			if err != nil {
				t.Errorf("the flood's call: %v", err)
			}
		}},
		{"terminal escapes in its error and log", "Hostile", func(t *testing.T) error {
			before := h.logs.len()
			_, err := e.Get(ctx, engine.GetRequest{Name: "ansi", Vault: "Hostile"})
			for _, line := range h.logs.since(before) {
				clean(t, "log line", line)
			}
			return err
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "bad", "sesame: hint: run curl")
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the guest's message spans lines: %q", err)
			}
		}},

		// Storage.
		{"a trap in the middle of a set", "Hostile", func(t *testing.T) error {
			_, err := e.Set(ctx, engine.SetRequest{Name: "trapmidset", Value: "whole value", Vault: "Hostile"})
			// The guest wrote the record, then trapped: storage holds all of
			// it or nothing, and the vault answers with a fresh instance.
			if s, gerr := e.Get(ctx, engine.GetRequest{Name: "trapmidset", Vault: "Hostile"}); gerr == nil {
				if s.Value != "whole value" {
					t.Errorf("after the trap: %#v, a partial record", s.Value)
				}
				if _, rerr := e.Remove(ctx, engine.RemoveRequest{Name: "trapmidset", Vault: "Hostile"}); rerr != nil {
					t.Error(rerr)
				}
			} else if !errors.Is(gerr, engine.ErrSecretNotFound) {
				t.Errorf("after the trap: %v", gerr)
			}
			return err
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Hostile", "extension trapped in sesame_set")
		}},
		{"another vault's storage namespace", "Hostile2", func(t *testing.T) error {
			if got := getValue(t, e, "keys", "Hostile2"); got != "s/mine" {
				t.Errorf("Hostile2's storage holds %q; want its own key alone", got)
			}
			if got := getValue(t, e, "entries", "Hostile2"); got != "s/mine=hostile2 value" {
				t.Errorf("Hostile2's storage scans as %q; want its own record alone", got)
			}
			_, err := e.Get(ctx, engine.GetRequest{Name: "keep", Vault: "Hostile2"}) // Hostile's secret
			return err
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrSecretNotFound, "Hostile2")
		}},
		{"storage not granted", "NoStorage", get("x", "NoStorage"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "NoStorage", `needs grant "storage", which vaults.toml does not give`)
		}},
		{"storage, directory, network and environment not granted (WAT)", "Ungranted", func(t *testing.T) error {
			// Storage answers PERMISSION_DENIED; WASI has no preopened
			// folder and no socket, so each call is an errno; the
			// environment is empty.
			s, err := e.Get(ctx, engine.GetRequest{Name: "x", Vault: "Ungranted"})
			if err != nil {
				return err
			}
			out := s.Value.([]byte)
			if len(out) != 8*len(ungrantedResults) {
				t.Fatalf("%d bytes of results", len(out))
			}
			for i, what := range ungrantedResults {
				got := int64(binary.LittleEndian.Uint64(out[8*i:]))
				switch {
				case strings.HasPrefix(what, "kv_") && got != -3 && got != 3:
					t.Errorf("%s without the storage grant: %d, want PERMISSION_DENIED", what, got)
				case what == "environment variables" && got != 0:
					t.Errorf("%d environment variables visible", got)
				case what != "environment variables" && got == 0:
					t.Errorf("%s succeeded", what)
				}
				t.Logf("%s: %d", what, got)
			}
			return nil
		}, nil},

		// Host files, environment, arguments.
		{"the host's files", "Hostile", func(t *testing.T) error {
			got := getValue(t, e, "escape", "Hostile")
			for _, line := range strings.Split(got, "\n") {
				if strings.Contains(line, ": ok") {
					t.Errorf("the guest reached a host file: %s", line)
				}
			}
			for _, p := range []string{"/tmp/hostile-was-here", "hostile-was-here"} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("the guest created %s on the host", p)
					os.Remove(p)
				}
			}
			t.Logf("escape attempts:\n%s", got)
			return nil
		}, nil},
		{"the host's environment and arguments", "Hostile", func(t *testing.T) error {
			// TestMain put envSecret in the process's environment.
			if got := getValue(t, e, "env", "Hostile"); got != "" {
				t.Errorf("the guest sees the environment %q", got)
			}
			if got := getValue(t, e, "args", "Hostile"); strings.Contains(got, "/") {
				t.Errorf("the guest sees the host's arguments %q", got)
			}
			return nil
		}, nil},

		// Modules that do not follow the ABI: refused at load, by name.
		{"missing ABI marker", "NoMarker", get("x", "NoMarker"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "NoMarker", "module does not follow sesame ABI v1: missing export sesame_abi_v1")
		}},
		{"wrong ABI marker (v2 only)", "MarkerV2", get("x", "MarkerV2"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "MarkerV2", "missing export sesame_abi_v1")
		}},
		{"marker and export of the wrong type", "MarkerSig", get("x", "MarkerSig"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "MarkerSig", "export sesame_abi_v1 has the wrong signature", "export sesame_get has the wrong signature")
		}},
		{"missing exports", "NoExports", get("x", "NoExports"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "NoExports", "missing export sesame_manifest", `missing memory export "memory"`)
		}},
		{"unknown imports (network, another vault, the host)", "UnknownImports", get("x", "UnknownImports"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "UnknownImports",
				"imports unknown function sesame_v1.http_get", "imports unknown function sesame_v1.kv_get_other_vault",
				"imports unknown function env.getenv", "imports unknown function wasi_snapshot_preview1.sock_open",
				"imports unknown function wasi_snapshot_preview1.sock_connect", "imports unknown function host.system")
		}},
		{"manifest of ABI 2", "ABI2", get("x", "ABI2"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "ABI2", "abi is 2, want 1")
		}},
		{"manifest with a bad name and no version", "BadName", get("x", "BadName"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "BadName", "is not of the form [a-z0-9][a-z0-9-]*", "version is empty")
		}},
		{"manifest that is not JSON", "NotJSON", get("x", "NotJSON"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "NotJSON", "manifest is not valid JSON")
		}},
		{"sha256 pin, module changed", "Pinned", get("db-password", "Pinned"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "Pinned", "does not match the pin")
		}},
		{"manifest hangs (caller's deadline)", "HangManifest", func(t *testing.T) error {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // the start's own limit is 30 s
			defer cancel()
			_, err := e.Get(c, engine.GetRequest{Name: "x", Vault: "HangManifest"})
			return err
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "HangManifest", "sesame_manifest did not finish before its deadline")
		}},
		{"_initialize hangs (caller's deadline)", "HangInit", func(t *testing.T) error {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond) // the start's own limit is 30 s
			defer cancel()
			_, err := e.Get(c, engine.GetRequest{Name: "x", Vault: "HangInit"})
			return err
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "HangInit", "_initialize did not finish before its deadline")
		}},

		// Capabilities and metadata it declares but does not have.
		{"grants it asks for that are not given", "WantsStore", get("x", "WantsStore"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "WantsStore", `needs grant "storage"`, `needs grant "directory"`, `needs grant "env"`)
		}},
		{"a grant that does not exist (network)", "WantsNet", get("x", "WantsNet"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "WantsNet", `needs grant "network", which vaults.toml does not give`)
		}},
		{"operations listed but not exported", "Overclaims", func(t *testing.T) error {
			var errs []error
			_, err := e.Set(ctx, engine.SetRequest{Name: "x", Value: "v", Vault: "Overclaims"})
			errs = append(errs, err)
			_, err = e.Remove(ctx, engine.RemoveRequest{Name: "x", Vault: "Overclaims"})
			errs = append(errs, err)
			errs = append(errs, e.Unlock(ctx, engine.UnlockRequest{Vault: "Overclaims", Password: []byte("pw")}))
			errs = append(errs, e.SetPassword(ctx, engine.SetPasswordRequest{Vault: "Overclaims", Old: nil, New: []byte("pw")}))
			_, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "Overclaims"})
			errs = append(errs, err)
			for i, err := range errs[:len(errs)-1] {
				wantErr(t, err, engine.ErrUnsupported, "Overclaims")
				_ = i
			}
			return errs[len(errs)-1]
		}, func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrUnsupported, "Overclaims", "cannot list")
		}},
		{"output that does not decode", "BadOutput", get("x", "BadOutput"), func(t *testing.T, err error) {
			wantErr(t, err, engine.ErrExtension, "BadOutput", "extension output does not follow the ABI")
		}},
		{"another secret's name, names with escapes", "Forger", func(t *testing.T) error {
			s, err := e.Get(ctx, engine.GetRequest{Name: "asked-for", Vault: "Forger"})
			if err != nil {
				return err
			}
			if s.Name != "asked-for" {
				t.Errorf("get reports the secret %q for the name asked-for", s.Name)
			}
			infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "a*", Vault: "Forger"})
			if len(infos) != 1 || infos[0].Name != "a-ok" {
				t.Errorf("info a* = %+v; want a-ok alone (no escapes, no names that do not match)", infos)
			}
			mf, _ := e.Manifest(ctx, engine.ManifestRequest{Vault: "Forger"})
			clean(t, "description", mf.Description)
			return err
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.logs.len()
			err := c.call(t)
			if c.check != nil {
				c.check(t, err)
			} else if err != nil {
				t.Errorf("%s: %v", c.vault, err)
			}
			if err != nil {
				t.Logf("%s: %v", c.vault, err)
				clean(t, "error", err.Error())
			}
			for _, line := range h.logs.since(before) {
				clean(t, "log line", line)
			}
			h.intact(t)
		})
	}
}

// TestHostileStartDoesNotHoldUpOtherVaults: while one vault's extension
// hangs as it starts (its manifest never returns), the other vaults of the
// same engine answer. The engine used to hold its lock while an extension
// started, so every vault waited for the hostile one's deadline.
func TestHostileStartDoesNotHoldUpOtherVaults(t *testing.T) {
	t.Parallel()
	h := newHostileEnv(t)
	// HangManifest spins for the start's limit of 30 s: Healthy answers
	// first only if it does not wait for the hostile start.
	hanging := h.logs.when("hang: in the manifest")
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hostileDone := make(chan error, 1)
	go func() {
		_, err := h.e.Get(hctx, engine.GetRequest{Name: "x", Vault: "HangManifest"})
		hostileDone <- err
	}()
	<-hanging // the hostile extension is now starting, and spins
	healthyDone := make(chan error, 1)
	go func() {
		s, err := h.e.Get(ctx, engine.GetRequest{Name: "db-password", Vault: "Healthy"})
		if err == nil && s.Value != healthySecret {
			err = fmt.Errorf("read %v", s.Value)
		}
		healthyDone <- err
	}()
	var err error
	select {
	case err = <-healthyDone:
	case err = <-hostileDone:
		t.Fatalf("the hanging start ended first (%v): the healthy vault waited for it", err)
	}
	select {
	case herr := <-hostileDone:
		t.Fatalf("the hanging start ended (%v) before the healthy vault answered", herr)
	default:
	}
	if err != nil {
		t.Errorf("the healthy vault while another starts: %v", err)
	}
	cancel()
	err = <-hostileDone
	if !errors.Is(err, engine.ErrExtension) || !strings.Contains(err.Error(), "HangManifest") {
		t.Errorf("the canceled start: %v", err)
	}
	h.intact(t)
}

// TestHostileLiesAreCaught: an extension whose manifest says it keeps
// metadata, but which drops it, cannot be caught by the engine at run time
// (a set succeeds, a get returns no metadata); the conformance suite that
// `sesame extension check` runs catches it, and names the failing parts.
func TestHostileLiesAreCaught(t *testing.T) {
	t.Parallel()
	e, _ := emptyEngine(t)
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")
	n := 0
	results := vaulttest.Check(ctx, func() (engine.Vault, func(), error) {
		n++
		name := fmt.Sprintf("Liar%d", n)
		reg := engine.Registration{Name: name, Extension: hostile, Parameters: map[string]any{"lie": "metadata"}, Grants: engine.Grants{Storage: true}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
			return nil, nil, err
		}
		v, err := e.Vault(ctx, name)
		return v, func() {}, err
	}, vaulttest.Options{})
	var failed []string
	for _, r := range results {
		if r.Failed && !strings.Contains(r.Name, "/") {
			failed = append(failed, r.Name)
		}
	}
	t.Logf("failed: %v", failed)
	if !slices.Contains(failed, "Metadata") {
		t.Errorf("the suite did not catch the metadata lie: failed parts %v", failed)
	}
}
