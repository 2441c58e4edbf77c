package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// Bad input of issue 6: names, values and metadata at every operation that
// takes them, a corrupt or truncated vaults.toml, a corrupt storage file.
// Every case is a clear error, and nothing stored changes. (Wrong passwords,
// many times: TestSecretStorePassword.)

const badInputSecret = "bad-input-secret-4e1f0a"

// keepers are stored in both vaults of newEngine before the bad input.
var keepers = map[string]engine.Secret{
	"keep": {Info: engine.Info{Name: "keep", Type: engine.TypeString, Metadata: engine.Metadata{"owner": "ops"}}, Value: badInputSecret},
}

func seedKeepers(t *testing.T, e *engine.Engine) {
	t.Helper()
	for _, vault := range []string{"LocalStore", "LocalStore2"} {
		for name, s := range keepers {
			md := s.Metadata
			if vault == "LocalStore2" {
				md = nil // no metadata support
			}
			if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: s.Value, Vault: vault, Metadata: md}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// keptIntact checks that each vault holds the keepers alone, unchanged.
func keptIntact(t *testing.T, e *engine.Engine) {
	t.Helper()
	for _, vault := range []string{"LocalStore", "LocalStore2"} {
		infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: vault})
		if err != nil || len(infos) != len(keepers) {
			t.Errorf("%s holds %+v, %v after bad input; want the keepers alone", vault, infos, err)
		}
		for name, want := range keepers {
			got, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: vault})
			if err != nil || got.Value != want.Value {
				t.Errorf("%s/%s after bad input: %v, %v", vault, name, got.Value, err)
				continue
			}
			if vault == "LocalStore" && !reflect.DeepEqual(got.Metadata, want.Metadata) {
				t.Errorf("%s/%s metadata after bad input: %v", vault, name, got.Metadata)
			}
		}
	}
}

// clearError checks that err is an *engine.Error of op wrapping is, whose
// message is valid UTF-8, one line, has no control character and no secret,
// and says words.
func clearError(t *testing.T, err error, op engine.Op, is error, words ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error; want one wrapping %v", is)
		return
	}
	var ee *engine.Error
	if !errors.As(err, &ee) || ee.Op != op {
		t.Errorf("%v: not an *engine.Error of op %s", err, op)
	}
	if !errors.Is(err, is) {
		t.Errorf("%q does not wrap %v", err, is)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\x00\x1b\r\n\u0085") {
		t.Errorf("unclear message %q", msg)
	}
	if strings.Contains(msg, badInputSecret) || strings.Contains(msg, "very-secret-value") {
		t.Errorf("the message carries a secret value: %q", msg)
	}
	if len(msg) > 1024 {
		t.Errorf("a message of %d bytes", len(msg))
	}
	for _, layer := range []string{"abi: ", abi.ImportModule + "."} {
		if strings.Contains(msg, layer) {
			t.Errorf("%q names an internal layer (%s)", msg, layer)
		}
	}
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("%q does not say %q", msg, w)
		}
	}
}

func TestBadInputNames(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	seedKeepers(t, e)
	names := []struct {
		name, says string
	}{
		{"", "cannot be empty"},
		{"*", "wildcards"},
		{"kee?", "wildcards"},
		{"ke*p", "wildcards"},
		{"a\x00b", "control characters"},
		{"a\nb", "control characters"},
		{"a\rb", "control characters"},
		{"\x1b[2Jkeep", "control characters"},
		{"a\u0085b", "control characters"},
		{"a\x7fb", "control characters"},
		{"bad\xffutf8", "valid UTF-8"},
		{strings.Repeat("n", abi.MaxNameBytes+1), "at most 256 bytes, not 257"},
		{strings.Repeat("é", 1000), "at most 256 bytes, not 2000"},
		{strings.Repeat("\x1b", 300), "control characters"},
	}
	ops := map[engine.Op]func(name string) error{
		"set": func(n string) error {
			_, err := e.Set(ctx, engine.SetRequest{Name: n, Value: badInputSecret, Vault: "LocalStore"})
			return err
		},
		"get": func(n string) error { _, err := e.Get(ctx, engine.GetRequest{Name: n}); return err },
		"set-info": func(n string) error {
			_, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: n, Metadata: engine.Metadata{"a": "b"}, Vault: "LocalStore"})
			return err
		},
		"remove": func(n string) error {
			_, err := e.Remove(ctx, engine.RemoveRequest{Name: n, Vault: "LocalStore"})
			return err
		},
	}
	for op, call := range ops {
		for _, c := range names {
			t.Run(string(op)+"/"+fmt.Sprintf("%.12q", c.name), func(t *testing.T) {
				clearError(t, call(c.name), op, engine.ErrInvalidName, c.says)
			})
		}
	}
	// The vault name too: a wildcard, a control character, too long.
	for _, vault := range []string{"Local*", "Local\x1bStore", strings.Repeat("v", 300)} {
		_, err := e.Set(ctx, engine.SetRequest{Name: "keep", Value: "x", Vault: vault})
		if err == nil || !(errors.Is(err, engine.ErrInvalidName) || errors.Is(err, engine.ErrVaultNotFound)) {
			t.Errorf("set in vault %.12q: %v", vault, err)
		}
	}
	keptIntact(t, e)
}

func TestBadInputValues(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	seedKeepers(t, e)
	big := strings.Repeat("v", abi.MaxValueBytes) // the type byte makes it one too many
	table := engine.Hashtable{}
	for i := range abi.MaxHashtableKeys + 1 {
		table[fmt.Sprint("k", i)] = "v"
	}
	cases := []struct {
		name  string
		value any
		is    error
		says  string
	}{
		{"string over the limit", big + badInputSecret, engine.ErrTooLarge, "too large: a value takes at most 1 MiB (1048576 bytes)"},
		{"bytes over the limit", []byte(big + "xx"), engine.ErrTooLarge, "too large: a value takes at most 1 MiB (1048576 bytes)"},
		{"hashtable over the limit", engine.Hashtable{"a": big}, engine.ErrTooLarge, "too large: a value takes at most 1 MiB (1048576 bytes)"},
		{"hashtable of 65 entries", table, engine.ErrTooLarge, "65 entries"},
		{"nested hashtable", engine.Hashtable{"a": engine.Hashtable{"b": badInputSecret}}, engine.ErrInvalidValue, "cannot hold another hashtable"},
		{"empty hashtable key", engine.Hashtable{"": badInputSecret}, engine.ErrInvalidValue, "empty or not UTF-8"},
		{"hashtable keys differing only in case", engine.Hashtable{"user": "a", "User": badInputSecret}, engine.ErrInvalidValue, `hashtable keys "User" and "user" differ only in case`},
		{"string not UTF-8", badInputSecret + "\xff", engine.ErrInvalidValue, "not valid UTF-8"},
		{"credential not UTF-8", engine.Credential{UserName: "u\xff", Password: badInputSecret}, engine.ErrInvalidValue, "not valid UTF-8"},
		{"credential user name with a newline", engine.Credential{UserName: "a\nb", Password: badInputSecret}, engine.ErrInvalidValue, "user name of a credential cannot contain control characters"},
		{"hashtable credential user name with a tab", engine.Hashtable{"k": engine.Credential{UserName: "a\tb", Password: badInputSecret}}, engine.ErrInvalidValue, `user name of a credential in hashtable key "k" cannot contain control characters`},
		{"nil", nil, engine.ErrInvalidValue, "not a secret type"},
		{"int", 42, engine.ErrInvalidValue, "type int is not a secret type"},
		{"struct", struct{ S string }{badInputSecret}, engine.ErrInvalidValue, "is not a secret type"},
		{"pointer to string", new(string), engine.ErrInvalidValue, "is not a secret type"},
	}
	for _, vault := range []string{"LocalStore", "LocalStore2"} {
		for _, c := range cases {
			t.Run(vault+"/"+c.name, func(t *testing.T) {
				// Over an existing secret: it must survive.
				_, err := e.Set(ctx, engine.SetRequest{Name: "keep", Value: c.value, Vault: vault})
				clearError(t, err, "set", c.is, c.says)
				_, err = e.Set(ctx, engine.SetRequest{Name: "new", Value: c.value, Vault: vault})
				clearError(t, err, "set", c.is, c.says)
			})
		}
	}
	keptIntact(t, e)
}

func TestBadInputMetadata(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	seedKeepers(t, e)
	many := engine.Metadata{}
	for i := range abi.MaxMetadataKeys + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	huge := engine.Metadata{}
	for i := range 5 {
		huge[fmt.Sprint("k", i)] = strings.Repeat("m", abi.MaxMetaStringLen)
	}
	cases := []struct {
		name string
		md   engine.Metadata
		is   error
		says string
	}{
		{"float", engine.Metadata{"when": 1.5}, engine.ErrInvalidValue, `metadata key "when" has type float64`},
		{"slice", engine.Metadata{"who": []string{badInputSecret}}, engine.ErrInvalidValue, `metadata key "who" has type []string`},
		{"bytes", engine.Metadata{"b": []byte(badInputSecret)}, engine.ErrInvalidValue, `has type []uint8`},
		{"bool", engine.Metadata{"b": true}, engine.ErrInvalidValue, "has type bool"},
		{"nil value", engine.Metadata{"n": nil}, engine.ErrInvalidValue, `metadata key "n"`},
		{"uint64 out of range", engine.Metadata{"n": uint64(1 << 63)}, engine.ErrInvalidValue, "integer out of range"},
		{"65 keys", many, engine.ErrInvalidValue, "65 keys exceed 64"},
		{"20 KiB in all", huge, engine.ErrInvalidValue, "exceeds 16384 bytes"},
		{"string of 4097 bytes", engine.Metadata{"s": strings.Repeat("s", abi.MaxMetaStringLen+1)}, engine.ErrInvalidValue, "longer than 4096 bytes"},
		{"key of 257 bytes", engine.Metadata{strings.Repeat("k", 257): "v"}, engine.ErrInvalidValue, "longer than 256 bytes"},
		{"empty key", engine.Metadata{"": "v"}, engine.ErrInvalidValue, "metadata"},
		{"key not UTF-8", engine.Metadata{"k\xff": "v"}, engine.ErrInvalidValue, "metadata"},
		{"value not UTF-8", engine.Metadata{"k": "v\xff"}, engine.ErrInvalidValue, "metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Set(ctx, engine.SetRequest{Name: "keep", Value: "replaced", Vault: "LocalStore", Metadata: c.md})
			clearError(t, err, "set", c.is, c.says)
			_, err = e.SetInfo(ctx, engine.SetInfoRequest{Name: "keep", Metadata: c.md, Vault: "LocalStore"})
			clearError(t, err, "set-info", c.is, c.says)
			// Checked before the vault's metadata support, too.
			_, err = e.Set(ctx, engine.SetRequest{Name: "keep", Value: "replaced", Vault: "LocalStore2", Metadata: c.md})
			clearError(t, err, "set", c.is, c.says)
		})
	}
	keptIntact(t, e)
}

// TestBadInputRegistry: every truncation of a valid vaults.toml, and some
// corruptions, either open (what remains is a valid registry) or fail with
// an error that names the file and a line; the file is never changed, and a
// command that would write it refuses to.
func TestBadInputRegistry(t *testing.T) {
	root := testwasm.ModuleRoot(t)
	valid := mustRead(t, filepath.Join(root, "vaults.toml"))
	// The repository's registry, with a vault that uses every kind of key.
	valid = append(valid, []byte(`
[vaults.Full]
extension   = "ext/full.wasm"
sha256      = "`+strings.Repeat("ab", 32)+`"
description = "every key"
  [vaults.Full.parameters]
  mode = "x"
  n    = 3
  [vaults.Full.grants]
  storage   = true
  env       = ["HOME", "USER"]
  memory    = "32MiB"
  timeout   = "2s"
  instances = 2
`)...)
	lineOf := regexp.MustCompile(`vaults\.toml:(\d+): `)
	dir := t.TempDir()
	path := filepath.Join(dir, "vaults.toml")

	try := func(t *testing.T, doc []byte) {
		t.Helper()
		if err := os.WriteFile(path, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), NoCache: true})
		if err == nil {
			e.Close()
			return
		}
		if !errors.Is(err, engine.ErrRegistry) {
			t.Errorf("open of %q: %v; want ErrRegistry", doc, err)
		}
		m := lineOf.FindStringSubmatch(err.Error())
		if m == nil {
			t.Errorf("open: %q names no line of vaults.toml\n(document %q)", err, doc)
		} else if n, _ := strconv.Atoi(m[1]); n < 1 || n > bytes.Count(doc, []byte("\n"))+1 {
			t.Errorf("open: %q names line %d, past the end of the document", err, n)
		}
		if !utf8.ValidString(err.Error()) {
			t.Errorf("open: the message is not valid UTF-8: %q", err)
		}
		if now := mustRead(t, path); !bytes.Equal(now, doc) {
			t.Errorf("the corrupt registry was changed")
		}
	}

	opened, failed := 0, 0
	for n := range len(valid) {
		doc := valid[:n]
		before := t.Failed()
		try(t, doc)
		if t.Failed() && !before {
			t.Fatalf("(truncated to %d bytes)", n)
		}
		if e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), NoCache: true}); err == nil {
			opened++
			e.Close()
		} else {
			failed++
		}
	}
	t.Logf("%d truncations: %d open, %d fail with a line", len(valid), opened, failed)

	corrupt := map[string][]byte{
		"NUL bytes":          bytes.Replace(valid, []byte("storage = true"), []byte("storage = \x00\x00"), 1),
		"invalid UTF-8":      bytes.Replace(valid, []byte("encrypted"), []byte("encr\xffpted"), 1),
		"unclosed table":     bytes.Replace(valid, []byte("[vaults.LocalStore2]"), []byte("[vaults.LocalStore2"), 1),
		"unclosed string":    bytes.Replace(valid, []byte(`"builtin:dotenv"`), []byte(`"builtin:dotenv`), 1),
		"binary garbage":     append(append([]byte(nil), valid[:200]...), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0}, 40)...),
		"duplicate vault":    append(append([]byte(nil), valid...), []byte("\n[vaults.LocalStore]\nextension = \"builtin:secretstore\"\n")...),
		"a table in a value": bytes.Replace(valid, []byte(`memory    = "32MiB"`), []byte(`memory    = { a = 1 }`), 1),
		"BOM in the middle":  bytes.Replace(valid, []byte("[vaults.Full]"), []byte("\ufeff[vaults.Full]"), 1),
	}
	for name, doc := range corrupt {
		t.Run(name, func(t *testing.T) {
			try(t, doc)
			if _, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), NoCache: true}); err == nil {
				t.Errorf("a registry with %s opened", name)
			}
		})
	}

	// An engine open on a good file that turns corrupt: each command that
	// reads it once the engine looks again (after its recheck window, the
	// clock here) fails with the line, and one that would write it
	// (register) writes nothing.
	if err := os.WriteFile(path, valid, 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(dir, "data"), NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	clock := testonly.UseFakeClock(t)
	engine.NoWatch(e)
	bad := corrupt["unclosed string"]
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute)) // a new stamp, whatever the clock's grain
	clock.Advance(100 * time.Millisecond)
	_, err = e.Get(ctx, engine.GetRequest{Name: "x"})
	if !errors.Is(err, engine.ErrRegistry) || lineOf.FindString(err.Error()) == "" {
		t.Errorf("get over a registry that turned corrupt: %v", err)
	}
	err = e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "New", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}}})
	if !errors.Is(err, engine.ErrRegistry) || lineOf.FindString(err.Error()) == "" {
		t.Errorf("register over a corrupt registry: %v", err)
	}
	if now := mustRead(t, path); !bytes.Equal(now, bad) {
		t.Error("register changed the corrupt registry")
	}
}

// TestBadInputCorruptStore: a vault's storage file damaged in several ways.
// Each operation fails with a clear error (never a crash of the process),
// or, where the damage does not touch what it reads, succeeds; and the
// damaged file is left exactly as it was, for recovery.
func TestBadInputCorruptStore(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	wasm := testwasm.Build(t, "examples/c-vault")
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "V", Extension: wasm, Grants: engine.Grants{Storage: true}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if _, err := e.Set(ctx, engine.SetRequest{Name: fmt.Sprint("s", i), Value: fmt.Sprint(badInputSecret, i), Metadata: engine.Metadata{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	db := engine.StorageFile(filepath.Join(filepath.Dir(path), "data"), "V", wasm)
	good := mustRead(t, db)
	page := 4096
	// Damage that every operation must notice; the rest may leave what is
	// read intact (bbolt keeps spare pages at the end of the file).
	noticed := map[string]bool{"garbage of the same size": true, "truncated to one page": true, "both meta pages zeroed": true, "data pages zeroed": true}
	damage := map[string]func([]byte) []byte{
		"garbage of the same size": func(b []byte) []byte { return bytes.Repeat([]byte("not a database "), len(b)/15+1)[:len(b)] },
		"truncated to half":        func(b []byte) []byte { return b[:len(b)/2] },
		"truncated to one page":    func(b []byte) []byte { return b[:page] },
		"truncated mid-page":       func(b []byte) []byte { return b[:2*page+100] },
		"both meta pages zeroed": func(b []byte) []byte {
			b = bytes.Clone(b)
			clear(b[:2*page])
			return b
		},
		"data pages zeroed": func(b []byte) []byte {
			b = bytes.Clone(b)
			clear(b[2*page:])
			return b
		},
		"data pages scrambled": func(b []byte) []byte {
			b = bytes.Clone(b)
			for i := 2 * page; i < len(b); i += 7 {
				b[i] ^= 0x5a
			}
			return b
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			broken := f(good)
			if err := os.WriteFile(db, broken, 0o600); err != nil {
				t.Fatal(err)
			}
			e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(filepath.Dir(path), "data"), CacheDir: testCache})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var errs []error
			_, err = e.Get(ctx, engine.GetRequest{Name: "s1", Vault: "V"})
			errs = append(errs, err)
			_, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: "V"})
			errs = append(errs, err)
			_, err = e.Set(ctx, engine.SetRequest{Name: "s1", Value: "new value", Vault: "V"})
			errs = append(errs, err)
			_, err = e.Set(ctx, engine.SetRequest{Name: "brand-new", Value: "new value", Vault: "V"})
			errs = append(errs, err)
			_, err = e.Remove(ctx, engine.RemoveRequest{Name: "s2", Vault: "V"})
			errs = append(errs, err)
			failed := 0
			for _, err := range errs {
				if err == nil {
					continue
				}
				failed++
				t.Logf("%v", err)
				if !errors.Is(err, engine.ErrUnavailable) && !errors.Is(err, engine.ErrExtension) {
					t.Errorf("%v: want ErrUnavailable or ErrExtension", err)
				}
				if msg := err.Error(); !strings.Contains(msg, "vault V") || !strings.Contains(msg, filepath.Base(db)) || strings.Contains(msg, badInputSecret) {
					t.Errorf("unclear error: %q", msg)
				}
			}
			if noticed[name] && failed != len(errs) {
				t.Errorf("%d of %d operations noticed the damage", failed, len(errs))
			}
			if failed == 0 {
				t.Log("the damage touched nothing that was read")
			}
			if failed == len(errs) {
				if now := mustRead(t, db); !bytes.Equal(now, broken) {
					t.Errorf("the damaged file was changed (%d bytes, was %d)", len(now), len(broken))
				}
			}
		})
	}
}
