package engine_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/secretstore/format"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The secretstore extension (extensions/secretstore), compiled to wasm and
// run through the engine with its storage area on disk.
//
// Each engine has its own host keyring, as each process has: an unlock in
// one engine does not unlock another, and a lock in one does not lock
// another. The tests open several engines over one registry and data folder
// to play several processes.

const ssVault = "Store"

// ssEnv is a secretstore vault named Store in a temporary vaults.toml, with
// its data folder: what one user's machine holds.
type ssEnv struct {
	reg, data string
	ext       string // the extension as registered
	grants    string // more lines for the grants table
}

// Parameters of the tests' vaults.
const (
	ssNone     = `authentication = "none"`
	ssPassword = `authentication = "password"`
)

func newSSEnv(t testing.TB, params string) *ssEnv {
	t.Helper()
	dir := t.TempDir()
	s := &ssEnv{reg: filepath.Join(dir, "vaults.toml"), data: filepath.Join(dir, "data")}
	s.setParams(t, params)
	return s
}

// setParams rewrites vaults.toml with the vault's parameters (TOML lines).
func (s *ssEnv) setParams(t testing.TB, params string) {
	t.Helper()
	wasm := testwasm.Build(t, "extensions/secretstore")
	s.ext = wasm
	reg := fmt.Sprintf(`default = %[1]q

[vaults.%[1]s]
extension = %[2]q

  [vaults.%[1]s.grants]
  storage = true
  %[4]s

  [vaults.%[1]s.parameters]
  %[3]s
`, ssVault, wasm, params, s.grants)
	if err := os.WriteFile(s.reg, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// open opens one engine over the environment: one process.
func (s *ssEnv) open(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.Open(ctx, s.reg, &engine.Options{DataDir: s.data, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func (s *ssEnv) dbPath() string {
	return engine.StorageFile(s.data, ssVault, s.ext)
}

var (
	ssPass  = []byte("correct horse battery staple")
	ssPass2 = []byte("Tr0ub4dor&3 but longer")
)

func ssSet(t testing.TB, e *engine.Engine, name string, value any, md engine.Metadata) {
	t.Helper()
	if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: value, Vault: ssVault, Metadata: md}); err != nil {
		t.Fatalf("set %s: %v", name, err)
	}
}

func ssGet(t testing.TB, e *engine.Engine, name string) engine.Secret {
	t.Helper()
	s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return s
}

func ssUnlock(t testing.TB, e *engine.Engine, pw []byte) {
	t.Helper()
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(pw)}); err != nil {
		t.Fatalf("unlock: %v", err)
	}
}

// ssLockedOps runs every operation that needs the key and checks that each
// fails with ErrLocked, naming what to do.
func ssLockedOps(t *testing.T, e *engine.Engine, name string) {
	t.Helper()
	v, err := e.Vault(ctx, ssVault)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]error{
		"engine get": func() error { _, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault}); return err }(),
		"engine set": func() error {
			_, err := e.Set(ctx, engine.SetRequest{Name: name, Value: "v", Vault: ssVault})
			return err
		}(),
		"engine info": func() error { _, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault}); return err }(),
		"engine set-info": func() error {
			_, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: name, Metadata: engine.Metadata{"a": 1}, Vault: ssVault})
			return err
		}(),
		"engine remove":      func() error { _, err := e.Remove(ctx, engine.RemoveRequest{Name: name, Vault: ssVault}); return err }(),
		"vault get":          func() error { _, _, err := v.Get(ctx, name); return err }(),
		"vault stat":         func() error { _, err := v.(engine.Statter).Stat(ctx, name); return err }(),
		"vault set":          v.Set(ctx, name, abi.Value{Type: abi.TypeString, Data: []byte("v")}, nil),
		"vault remove":       v.Remove(ctx, name),
		"vault list":         func() error { _, err := v.List(ctx, "*"); return err }(),
		"vault set_metadata": v.(engine.MetadataSetter).SetMetadata(ctx, name, abi.Metadata{}),
	}
	for op, err := range ops {
		if !errors.Is(err, engine.ErrLocked) && !errors.Is(err, abi.Locked) {
			t.Errorf("%s while locked: %v, want ErrLocked", op, err)
		} else if !strings.Contains(err.Error(), "unlock it") {
			t.Errorf("%s while locked: %q does not say to unlock", op, err)
		}
	}
}

// ssValues are secrets of every type, by name.
func ssValues(tag string) map[string]any {
	return map[string]any{
		"bytes-" + tag:  []byte{0, 1, 2, 255, byte(len(tag))},
		"string-" + tag: "value of " + tag,
		"secure-" + tag: engine.SecureString("secure " + tag),
		"cred-" + tag:   engine.Credential{UserName: "user " + tag, Password: engine.SecureString("pw " + tag)},
		"table-" + tag: engine.Hashtable{
			"a": "x " + tag, "b": []byte(tag), "c": engine.SecureString("y"),
			"d": engine.Credential{UserName: "u", Password: engine.SecureString("p " + tag)},
		},
	}
}

func TestSecretStoreConformance(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"none", "password"} {
		t.Run(mode, func(t *testing.T) {
			vaulttest.Run(t, func(t *testing.T) engine.Vault {
				env := newSSEnv(t, `authentication = "`+mode+`"`)
				e := env.open(t)
				if mode == "password" {
					ssUnlock(t, e, ssPass)
				}
				v, err := e.Vault(ctx, ssVault)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}, vaulttest.Options{Concurrency: 4})
		})
	}
}

func TestSecretStoreManifest(t *testing.T) {
	t.Parallel()
	e := newSSEnv(t, ssNone).open(t)
	m, err := e.Manifest(ctx, engine.ManifestRequest{Vault: ssVault})
	if err != nil {
		t.Fatal(err)
	}
	want := []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpSetMetadata, abi.OpUnlock, abi.OpLock, abi.OpSetPassword, abi.OpTest}
	if m.Name != "secretstore" || !m.Metadata || m.CaseSensitive || !reflect.DeepEqual(m.Operations, want) || !reflect.DeepEqual(m.Grants, []string{"storage"}) {
		t.Errorf("manifest %+v", m)
	}
}

func TestSecretStoreParameters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ params, want string }{
		{`colour = "blue"`, `unknown parameter "colour"`},
		{`authentication = "maybe"`, `authentication is "maybe"`},
		{`password_timeout = 0`, "password_timeout is 0"},
		{`password_timeout = -2`, "password_timeout is -2"},
		{`password_timeout = 2147484`, "password_timeout is 2147484"},
		{`password_timeout = "soon"`, `password_timeout is "soon"`},
	} {
		e := newSSEnv(t, c.params).open(t)
		_, err := e.Get(ctx, engine.GetRequest{Name: "x", Vault: ssVault})
		if !errors.Is(err, abi.InvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want INVALID_ARGUMENT saying %q", c.params, err, c.want)
		}
	}
	for _, ok := range []string{`password_timeout = -1`, `password_timeout = 2147483`, `authentication = "None"`, `authentication = "PASSWORD"`} {
		e := newSSEnv(t, ok).open(t)
		if err := e.Test(ctx, engine.TestRequest{Vault: ssVault}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestSecretStoreNoneMode(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "nothing", Vault: ssVault}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Fatalf("get from a new store: %v", err)
	}
	if infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault}); err != nil || len(infos) != 0 {
		t.Fatalf("info of a new store: %v, %v", infos, err)
	}
	ssSet(t, e, "a", "1", nil)
	for _, op := range []func() error{
		func() error { return e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass}) },
		func() error { return e.Lock(ctx, engine.LockRequest{Vault: ssVault}) },
		func() error {
			return e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: nil, New: ssPass})
		},
	} {
		if err := op(); !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "does not use a password") {
			t.Errorf("password operation without a password: %v", err)
		}
	}
	// Another process reads it without any unlock.
	if s := ssGet(t, env.open(t), "A"); s.Value != "1" || s.Name != "a" {
		t.Errorf("second engine: %+v", s.Info)
	}
}

func TestSecretStorePassword(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, `password_timeout = -1`)
	e := env.open(t)

	// A new store is locked until its first unlock, which sets the password.
	ssLockedOps(t, e, "first")
	if err := e.Test(ctx, engine.TestRequest{Vault: ssVault}); err != nil {
		t.Errorf("test of a locked vault: %v", err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: nil}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("empty password: %v", err)
	}
	ssUnlock(t, e, ssPass)
	values := ssValues("pw")
	md := engine.Metadata{"owner": "ops", "n": int64(3), "at": time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)}
	for name, v := range values {
		ssSet(t, e, name, v, md)
	}

	// Lock is immediate, for every instance.
	if err := e.Lock(ctx, engine.LockRequest{Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	ssLockedOps(t, e, "string-pw")

	// Wrong passwords are errors and change nothing, not even the file.
	e.Close()
	before, err := os.ReadFile(env.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	e = env.open(t)
	for i := range 12 {
		err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(fmt.Sprintf("guess %d", i))})
		if !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), "wrong password") {
			t.Fatalf("wrong password %d: %v", i, err)
		}
		if _, err := e.Get(ctx, engine.GetRequest{Name: "string-pw", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
			t.Fatalf("after wrong password %d: %v", i, err)
		}
	}
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: []byte("guess"), New: ssPass2}); !errors.Is(err, engine.ErrLocked) {
		t.Errorf("set-password with a wrong old password: %v", err)
	}
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: nil, New: ssPass2}); !errors.Is(err, engine.ErrLocked) {
		t.Errorf("set-password without the old password: %v", err)
	}
	e.Close()
	after, err := os.ReadFile(env.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("wrong passwords changed the storage file")
	}

	// Then the right one works.
	e = env.open(t)
	ssUnlock(t, e, ssPass)
	for name, v := range values {
		if s := ssGet(t, e, name); !reflect.DeepEqual(s.Value, v) || !reflect.DeepEqual(s.Metadata, md) {
			t.Errorf("%s = %#v %v", name, s.Value, s.Metadata)
		}
	}
	// A wrong password while unlocked leaves it unlocked.
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte("nope")}); !errors.Is(err, engine.ErrLocked) {
		t.Errorf("wrong password while unlocked: %v", err)
	}
	ssGet(t, e, "string-pw")
}

// TestSecretStoreTimeout: an unlock with password_timeout = 1 holds for one
// second and no longer, on the fake clock of internal/testonly (the
// keyring's), which the test moves instead of waiting; a new unlock opens
// the vault again.
func TestSecretStoreTimeout(t *testing.T) {
	clock := testonly.UseFakeClock(t)
	env := newSSEnv(t, ssPassword+"\n  password_timeout = 1")
	e := env.open(t)
	ssUnlock(t, e, ssPass)
	ssSet(t, e, "k", "v", nil)
	clock.Advance(999 * time.Millisecond)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "k", Vault: ssVault}); err != nil {
		t.Fatalf("get before the timeout of 1 s: %v", err)
	}
	clock.Advance(time.Millisecond)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "k", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("get once the timeout of 1 s has passed: %v, want ErrLocked", err)
	}
	ssUnlock(t, e, ssPass)
	if s := ssGet(t, e, "k"); s.Value != "v" {
		t.Errorf("after a new unlock: %v", s.Value)
	}
}

func TestSecretStoreSetPassword(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssPassword)
	e := env.open(t)

	// On a new store, set-password with no old password sets the first.
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: []byte("old"), New: ssPass}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("set-password with an old password on a new store: %v", err)
	}
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: nil, New: ssPass}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	for i := range 50 {
		name := fmt.Sprintf("Secret-%02d", i)
		v := any(fmt.Sprintf("value %d", i))
		if i%5 == 0 {
			v = engine.Credential{UserName: name, Password: engine.SecureString(fmt.Sprint(i))}
		}
		want[name] = v
		ssSet(t, e, name, v, engine.Metadata{"i": int64(i)})
	}
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: bytes.Clone(ssPass), New: bytes.Clone(ssPass2)}); err != nil {
		t.Fatal(err)
	}
	ssGet(t, e, "Secret-00") // still unlocked
	if err := e.Lock(ctx, engine.LockRequest{Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	e.Close()

	e = env.open(t)
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("old password after the change: %v", err)
	}
	ssUnlock(t, e, ssPass2)
	for name, v := range want {
		if s := ssGet(t, e, name); !reflect.DeepEqual(s.Value, v) || s.Metadata["i"] == nil {
			t.Errorf("%s after the change: %#v, %v", name, s.Value, s.Metadata)
		}
	}
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "secret-*", Vault: ssVault})
	if err != nil || len(infos) != 50 {
		t.Errorf("info after the change: %d, %v", len(infos), err)
	}
}

// An unlock lives in the engine (the process) that made it.
func TestSecretStoreSecondEngine(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssPassword)
	e1, e2 := env.open(t), env.open(t)
	ssUnlock(t, e1, ssPass)
	ssSet(t, e1, "shared", "one", nil)
	if _, err := e2.Get(ctx, engine.GetRequest{Name: "shared", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second engine before its own unlock: %v", err)
	}
	if err := e2.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass2}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second engine, other password: %v", err)
	}
	ssUnlock(t, e2, ssPass)
	if s := ssGet(t, e2, "shared"); s.Value != "one" {
		t.Errorf("second engine reads %v", s.Value)
	}
	if err := e1.Lock(ctx, engine.LockRequest{Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	ssGet(t, e2, "shared") // locking one process does not lock another
	if _, err := e1.Get(ctx, engine.GetRequest{Name: "shared", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
		t.Errorf("first engine after its lock: %v", err)
	}
}

func TestSecretStoreMigration(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssNone)
	e := env.open(t)
	values := ssValues("mig")
	for name, v := range values {
		ssSet(t, e, name, v, engine.Metadata{"m": "x"})
	}
	e.Close()
	if !ssHasKey(t, env.dbPath(), format.KeyMaster) {
		t.Fatal("no c/key in a store without a password")
	}

	// none → password: unlock does not migrate; set-password gives the
	// store a password and a new master key, every secret kept.
	oldKey, oldRecords := ssMaster(t, env.dbPath(), nil), ssRecords(t, env.dbPath())
	env.setParams(t, ssPassword)
	e = env.open(t)
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(ssPass)}); !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), "set-password") {
		t.Fatalf("unlock of a store created without a password: %v, want ErrLocked naming set-password", err)
	}
	if !ssHasKey(t, env.dbPath(), format.KeyMaster) || ssHasKey(t, env.dbPath(), format.KeyConfig) {
		t.Fatal("a refused unlock wrote")
	}
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, New: bytes.Clone(ssPass)}); err != nil {
		t.Fatalf("first password of a store created without one: %v", err)
	}
	for name, v := range values {
		if s := ssGet(t, e, name); !reflect.DeepEqual(s.Value, v) || s.Metadata["m"] != "x" {
			t.Errorf("%s after adding a password: %#v %v", name, s.Value, s.Metadata)
		}
	}
	e.Close()
	if ssHasKey(t, env.dbPath(), format.KeyMaster) || !ssHasKey(t, env.dbPath(), format.KeyConfig) {
		t.Fatal("after adding a password: c/key kept or c/config missing")
	}
	ssOldKeyGone(t, env.dbPath(), oldKey, ssPass, oldRecords)
	e = env.open(t)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "string-mig", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("new engine after adding a password: %v", err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass2}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("another password after adding one: %v", err)
	}
	e.Close()

	// password → none: locked until the password is given once.
	env.setParams(t, ssNone)
	e = env.open(t)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "string-mig", Vault: ssVault}); !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), "remove the password") {
		t.Fatalf("password store under authentication = none: %v", err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass2}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("removing the password with a wrong one: %v", err)
	}
	ssUnlock(t, e, ssPass)
	if s := ssGet(t, env.open(t), "cred-mig"); !reflect.DeepEqual(s.Value, values["cred-mig"]) {
		t.Errorf("after removing the password: %#v", s.Value)
	}
}

// ssOldKeyGone checks the closed store at path, whose master key was old
// before a change to a new one, and whose records were before: its master
// now is another, its records, as many as before, all open under the new
// one and none under old, and the file's bytes hold neither old's key nor
// its id nor any record old sealed (the file was compacted).
func ssOldKeyGone(t *testing.T, path string, old *format.Master, password []byte, before map[string][]byte) {
	t.Helper()
	m := ssMaster(t, path, password)
	if m.Equal(old) || m.ID == old.ID {
		t.Fatal("the store kept its master key (or its id)")
	}
	k, ok := m.Keys(), old.Keys()
	count := 0
	for key, rec := range ssRecords(t, path) {
		if !strings.HasPrefix(key, format.PrefixSecret) {
			continue
		}
		count++
		if _, _, err := k.Open([]byte(key), rec, ""); err != nil {
			t.Errorf("record %.10s… does not open under the new key: %v", key, err)
		}
		if _, _, err := ok.Open([]byte(key), rec, ""); err == nil {
			t.Errorf("record %.10s… still opens under the old key", key)
		}
	}
	n := 0
	for key := range before {
		if strings.HasPrefix(key, format.PrefixSecret) {
			n++
		}
	}
	if count != n {
		t.Errorf("%d records after the change, want %d", count, n)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, old.Key[:]) {
		t.Error("the old master key is still in the file's bytes")
	}
	if bytes.Contains(raw, old.ID[:]) {
		t.Error("the old store id (in its key record and wrapped key) is still in the file's bytes")
	}
	for key, rec := range before {
		if strings.HasPrefix(key, format.PrefixSecret) && bytes.Contains(raw, rec[len(rec)-format.TagSize:]) {
			t.Errorf("the tag of record %.10s…, sealed under the old key, is still in the file's bytes", key)
		}
	}
}

// ssRemanifest writes the manifest of the closed store at path again, over
// its records as they are: after a test wrote records natively, as the
// vault would have with its own writes.
func ssRemanifest(t testing.TB, path string, password []byte) {
	t.Helper()
	k := ssMaster(t, path, password).Keys()
	recs := map[string][]byte{}
	for key, rec := range ssRecords(t, path) {
		if strings.HasPrefix(key, format.PrefixSecret) {
			recs[key] = rec
		}
	}
	man, err := k.Manifest(recs)
	if err != nil {
		t.Fatal(err)
	}
	ssUpdate(t, path, func(data *bolt.Bucket) error {
		c := data.Cursor()
		for key, _ := c.Seek([]byte(format.PrefixBucket)); bytes.HasPrefix(key, []byte(format.PrefixBucket)); key, _ = c.Seek([]byte(format.PrefixBucket)) {
			if err := data.Delete(key); err != nil {
				return err
			}
		}
		for key, v := range man {
			if err := data.Put([]byte(key), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// ssHasKey reports whether the closed store at path holds key.
func ssHasKey(t testing.TB, path, key string) bool {
	_, ok := ssRecords(t, path)[key]
	return ok
}

// ssRecords returns every key and value of the data bucket of the closed
// store at path.
func ssRecords(t testing.TB, path string) map[string][]byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("data"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ssUpdate changes the data bucket of the closed store at path directly, as
// an attacker with the file would.
func ssUpdate(t testing.TB, path string, fn func(data *bolt.Bucket) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket([]byte("data"))) }); err != nil {
		t.Fatal(err)
	}
}

// ssMaster recovers the master of the closed store at path natively: from
// c/key, or from c/config with the password.
func ssMaster(t testing.TB, path string, password []byte) *format.Master {
	t.Helper()
	recs := ssRecords(t, path)
	if raw, ok := recs[format.KeyMaster]; ok {
		m, _, err := format.ParseKeyRecord(raw)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	c, err := format.ParseConfig(recs[format.KeyConfig])
	if err != nil {
		t.Fatal(err)
	}
	kek := testonly.Argon2id(password, c.Salt, c.KDF.Time, c.KDF.MemoryKiB, c.KDF.Threads, 32) // the sandbox's, cheap here (TestMain)
	m, err := c.Unwrap(kek)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSecretStoreTamper(t *testing.T) {
	t.Parallel()
	env := newSSEnv(t, ssPassword)
	e := env.open(t)
	ssUnlock(t, e, ssPass)
	ssSet(t, e, "Alpha", "alpha value", engine.Metadata{"who": "a"})
	ssSet(t, e, "Bravo", "bravo value", nil)
	ssSet(t, e, "Charlie", []byte("charlie value"), nil)
	ssSet(t, e, "Delta", "delta value", nil)
	e.Close()

	k := ssMaster(t, env.dbPath(), ssPass).Keys()
	key := func(name string) []byte { return k.RecordKey(name) }
	ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
		// Alpha's record copied over Bravo's key.
		if err := data.Put(key("Bravo"), bytes.Clone(data.Get(key("Alpha")))); err != nil {
			return err
		}
		// A ciphertext byte of Charlie flipped.
		c := bytes.Clone(data.Get(key("Charlie")))
		c[len(c)-20] ^= 1
		if err := data.Put(key("Charlie"), c); err != nil {
			return err
		}
		// Delta's type byte changed from string to bytes.
		d := bytes.Clone(data.Get(key("Delta")))
		d[1] = byte(abi.TypeBytes)
		return data.Put(key("Delta"), d)
	})

	e = env.open(t)
	ssUnlock(t, e, ssPass)
	for _, name := range []string{"Bravo", "Charlie", "Delta"} {
		s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
		if err == nil || s.Value != nil {
			t.Errorf("get %s after tampering = %v, %v; want an error and no value", name, s.Value, err)
			continue
		}
		if !errors.Is(err, engine.ErrExtension) || !strings.Contains(err.Error(), "failed authentication") && !strings.Contains(err.Error(), "tampered") {
			t.Errorf("get %s after tampering: %v", name, err)
		}
		if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: "new", Vault: ssVault}); err == nil {
			t.Errorf("set %s over a tampered record succeeded", name)
		}
	}
	if s := ssGet(t, e, "alpha"); s.Value != "alpha value" || s.Name != "Alpha" {
		t.Errorf("the untouched record: %+v", s)
	}
	// Info fails, naming the record that is not the one the manifest
	// names (Bravo's); records changed in place, their tags kept, fail
	// when opened (get), as above.
	_, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	if err == nil || !strings.Contains(err.Error(), `record of "Bravo" is not the version the manifest names`) {
		t.Errorf("info after tampering: %v, want an error naming Bravo", err)
	}
	// A tampered record can still be removed, then written again.
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "Bravo", Vault: ssVault}); err != nil {
		t.Fatal(err)
	}
	ssSet(t, e, "Bravo", "bravo again", nil)
	if s := ssGet(t, e, "BRAVO"); s.Value != "bravo again" {
		t.Errorf("rewritten: %v", s.Value)
	}
	if infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault}); err != nil || len(infos) != 4 {
		t.Errorf("info once Bravo is written again: %v, %v", infos, err)
	}
	e.Close()

	// A changed byte of c/config is a wrong password, for every byte.
	cfg := ssRecords(t, env.dbPath())[format.KeyConfig]
	for _, i := range []int{2, 11, 25, len(cfg) - 1} {
		ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
			b := bytes.Clone(cfg)
			b[i] ^= 1
			return data.Put([]byte(format.KeyConfig), b)
		})
		e = env.open(t)
		if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: ssPass}); err == nil {
			t.Errorf("unlock with byte %d of c/config changed succeeded", i)
		}
		e.Close()
	}
}

// TestSecretStoreNoPlainText writes distinctive names and values, then looks
// for them, and their base64 and hex forms, in every file of the data
// folder; it also checks the files' and folders' modes.
func TestSecretStoreNoPlainText(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"none", "password"} {
		t.Run(mode, func(t *testing.T) {
			env := newSSEnv(t, `authentication = "`+mode+`"`)
			e := env.open(t)
			if mode == "password" {
				ssUnlock(t, e, ssPass)
			}
			needles := []string{
				"AardvarkSecretName", "BeaverCredentialName", "CapybaraTableName", "DolphinBytesName",
				"zebra-string-value-0001", "yak-secure-value-0002", "xerus-user-name-0003", "walrus-password-0004",
				"vole-table-key-0005", "urchin-table-value-06", "tapir-bytes-value-0007", "sloth-metadata-value8",
				"rhino-metadata-key-09",
			}
			md := engine.Metadata{"rhino-metadata-key-09": "sloth-metadata-value8"}
			ssSet(t, e, "AardvarkSecretName", "zebra-string-value-0001", md)
			ssSet(t, e, "BeaverCredentialName", engine.Credential{UserName: "xerus-user-name-0003", Password: "walrus-password-0004"}, md)
			ssSet(t, e, "CapybaraTableName", engine.Hashtable{"vole-table-key-0005": "urchin-table-value-06", "k": engine.SecureString("yak-secure-value-0002")}, nil)
			ssSet(t, e, "DolphinBytesName", []byte("tapir-bytes-value-0007"), nil)
			ssSet(t, e, "DolphinBytesName", []byte("tapir-bytes-value-0007"), nil) // a rewrite too
			e.Close()

			var secrets [][]byte
			for _, n := range needles {
				secrets = append(secrets, []byte(n), []byte(strings.ToLower(n)))
			}
			if mode == "password" {
				m := ssMaster(t, env.dbPath(), ssPass)
				secrets = append(secrets, m.Key[:])
			}
			files := 0
			err := filepath.WalkDir(env.data, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				st, err := d.Info()
				if err != nil {
					return err
				}
				if d.IsDir() {
					if st.Mode().Perm() != 0o700 {
						t.Errorf("folder %s has mode %v, want 0700", path, st.Mode().Perm())
					}
					return nil
				}
				files++
				if st.Mode().Perm() != 0o600 {
					t.Errorf("file %s has mode %v, want 0600", path, st.Mode().Perm())
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, s := range secrets {
					for _, form := range ssEncodings(s) {
						if bytes.Contains(b, form) {
							t.Errorf("%s holds %q in plain text (as %q)", path, s, form)
						}
					}
				}
				return nil
			})
			if err != nil || files == 0 {
				t.Fatalf("walk: %v, %d files", err, files)
			}
		})
	}
}

// ssEncodings returns s and its hex and base64 forms, the base64 ones at
// each of the three alignments s can have inside a longer encoded text
// (without the characters its neighbours change).
func ssEncodings(s []byte) [][]byte {
	forms := [][]byte{s, []byte(hex.EncodeToString(s)), []byte(strings.ToUpper(hex.EncodeToString(s)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for pad := range 3 {
			e := enc.EncodeToString(append(make([]byte, pad), s...))
			start := 0
			if pad > 0 {
				start = 4
			}
			forms = append(forms, []byte(e[start:len(e)-4]))
		}
	}
	return forms
}

// TestSecretStoreConcurrency runs goroutines through one engine, and several
// engines (processes) over one data folder, all created at the same moment:
// every acknowledged write is there afterwards, and no read is torn.
func TestSecretStoreConcurrency(t *testing.T) {
	for _, mode := range []string{"none", "password"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "password" {
				// The first unlocks race while they derive: with the
				// cheap KDF of the tests (TestMain) alone they would
				// hardly meet.
				testonly.UseOverlappingKDF(t, 2)
			}
			env := newSSEnv(t, `authentication = "`+mode+`"`)
			const engines, workers, rounds = 3, 2, 6
			es := make([]*engine.Engine, engines)
			for i := range es {
				es[i] = env.open(t)
			}
			// Every process creates the store at once: the first unlock (or
			// the first write) of each races the others'.
			var wg sync.WaitGroup
			for i, e := range es {
				wg.Go(func() {
					if mode == "password" {
						if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(ssPass)}); err != nil {
							t.Errorf("engine %d: first unlock: %v", i, err)
							return
						}
					}
					if _, err := e.Set(ctx, engine.SetRequest{Name: fmt.Sprintf("first-%d", i), Value: "first", Vault: ssVault}); err != nil {
						t.Errorf("engine %d: first set: %v", i, err)
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}

			var mu sync.Mutex
			acked := map[string]string{}
			for i := range engines {
				acked[fmt.Sprintf("first-%d", i)] = "first"
			}
			consistent := func(v string) bool {
				id, body, ok := strings.Cut(v, ":")
				return ok && body == strings.Repeat(id, 20)
			}
			for i, e := range es {
				for w := range workers {
					wg.Go(func() {
						for r := range rounds {
							id := fmt.Sprintf("e%dw%dr%d", i, w, r)
							own, val := "own-"+id, id+":"+strings.Repeat(id, 20)
							if _, err := e.Set(ctx, engine.SetRequest{Name: own, Value: val, Vault: ssVault}); err != nil {
								t.Errorf("%s: set: %v", id, err)
								return
							}
							mu.Lock()
							acked[own] = val
							mu.Unlock()
							if _, err := e.Set(ctx, engine.SetRequest{Name: "Shared", Value: val, Vault: ssVault}); err != nil {
								t.Errorf("%s: set shared: %v", id, err)
								return
							}
							for _, name := range []string{"shared", own, fmt.Sprintf("first-%d", (i+1)%engines)} {
								s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
								if err != nil {
									t.Errorf("%s: get %s: %v", id, name, err)
									return
								}
								v, _ := s.Value.(string)
								ok := v == val
								switch {
								case name == "shared":
									ok = consistent(v)
								case strings.HasPrefix(name, "first-"):
									ok = v == "first"
								}
								if !ok {
									t.Errorf("%s: get %s = %q", id, name, v)
								}
							}
						}
					})
				}
			}
			wg.Wait()

			e := env.open(t)
			if mode == "password" {
				ssUnlock(t, e, ssPass)
			}
			for name, want := range acked {
				if s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault}); err != nil || s.Value != want {
					t.Errorf("acknowledged %s: %v, %v", name, s.Value, err)
				}
			}
			infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
			if err != nil || len(infos) != len(acked)+1 {
				t.Errorf("info: %d secrets, %v; want %d", len(infos), err, len(acked)+1)
			}
		})
	}
}

// BenchmarkSecretStore measures get, set and list through the engine on a
// password store holding 100, 10 000 and 100 000 secrets (the largest is
// skipped with -short), and get on a store without a password
// (get-nopassword), which derives its keys at every call. Each store is
// made by ssBenchStore. The vault is granted a 60 s deadline, so that a
// slow list is measured rather than cut at the default 5 s.
//
//	go test -run '^$' -bench SecretStore -benchtime 2s ./engine/
func BenchmarkSecretStore(b *testing.B) {
	for _, n := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("secrets=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("-short")
			}
			e := ssBenchStore(b, ssPassword+"\n  password_timeout = -1", n)
			b.Run("get", func(b *testing.B) { ssBenchGet(b, e, n) })
			b.Run("get-nopassword", func(b *testing.B) { ssBenchGet(b, ssBenchStore(b, ssNone, n), n) })
			b.Run("set", func(b *testing.B) {
				defer testwasm.ReportCPU(b)()
				k := n // a value no secret holds: a set of the value stored writes nothing
				for b.Loop() {
					i := rand.IntN(n)
					k++
					if _, err := e.Set(ctx, engine.SetRequest{Name: ssBenchName(i), Value: ssBenchValue(k), Vault: ssVault}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("list", func(b *testing.B) {
				defer testwasm.ReportCPU(b)()
				for b.Loop() {
					infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
					if err != nil {
						b.Fatal(err)
					}
					if len(infos) != n+1 {
						b.Fatalf("%d secrets listed, want %d", len(infos), n+1)
					}
				}
			})
		})
	}
}

// ssBenchStore returns an engine on a store of the vault's parameters
// params holding n secrets, unlocked if it has a password. The store is
// created through the engine, then filled natively in one bbolt
// transaction with records sealed by package format, the vault's own code
// (ssFill): a fill through the engine costs a set (one fsync) per secret.
func ssBenchStore(b *testing.B, params string, n int) *engine.Engine {
	env := newSSEnv(b, params)
	env.grants = `timeout = "60s"`
	env.setParams(b, params)
	open := func() *engine.Engine {
		e := env.open(b)
		if params != ssNone {
			ssUnlock(b, e, ssPass)
		}
		return e
	}
	e := open()
	ssSet(b, e, "probe", "p", nil)
	e.Close()

	fill := ssFill(b, env.dbPath(), n)
	b.Logf("native fill of %d secrets: %v (%.1f µs a secret)", n, fill, float64(fill.Microseconds())/float64(n))

	e = open()
	if s := ssGet(b, e, ssBenchName(n-1)); s.Value != ssBenchValue(n-1) {
		b.Fatalf("filled secret reads %v", s.Value)
	}
	// The fill dropped the storage's quota counters: the first write
	// counts every key again (100 ms at 100 000), which is the fill's
	// cost, not a set's.
	ssSet(b, e, ssBenchName(0), ssBenchValue(0), nil)
	return e
}

// ssBenchGet measures gets of random secrets of the n in e, in CPU time
// too (testwasm.ReportCPU).
func ssBenchGet(b *testing.B, e *engine.Engine, n int) {
	defer testwasm.ReportCPU(b)()
	for b.Loop() {
		if _, err := e.Get(ctx, engine.GetRequest{Name: ssBenchName(rand.IntN(n)), Vault: ssVault}); err != nil {
			b.Fatal(err)
		}
	}
}

func ssBenchName(i int) string  { return fmt.Sprintf("bench-secret-%06d", i) }
func ssBenchValue(i int) string { return fmt.Sprintf("%064d", i) }

// ssFill adds n secrets to the closed store at path in one transaction, in
// key order, and drops the storage layer's quota counters, which it then
// counts again. It returns the time of sealing and writing.
func ssFill(b testing.TB, path string, n int) time.Duration {
	k := ssMaster(b, path, ssPass).Keys()
	start := time.Now()
	type record struct{ key, rec []byte }
	recs := make([]record, n)
	for i := range n {
		name := ssBenchName(i)
		key := k.RecordKey(name)
		rec, err := k.Seal(key, abi.Info{Name: name, Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte(ssBenchValue(i))})
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = record{key, rec}
	}
	slices.SortFunc(recs, func(x, y record) int { return bytes.Compare(x.key, y.key) })
	ssUpdate(b, path, func(data *bolt.Bucket) error {
		for _, r := range recs {
			if err := data.Put(r.key, r.rec); err != nil {
				return err
			}
		}
		meta := data.Tx().Bucket([]byte("meta"))
		if err := meta.Delete([]byte("keys")); err != nil {
			return err
		}
		return meta.Delete([]byte("bytes"))
	})
	ssRemanifest(b, path, ssPass)
	return time.Since(start)
}

// TestSecretStoreConcurrentSetPassword: two processes (two engines on one
// registry and data folder) change the password at the same moment, from
// the same old password to different new ones, round after round. Each
// round exactly one succeeds; the other fails with a clear error and writes
// nothing; the vault then opens with the winner's password and never with
// the loser's. Without the host's conditional write both succeed, and the
// first one's new password no longer opens the vault.
//
// The derivations meet (testonly.UseOverlappingKDF): with the cheap KDF of
// the tests (TestMain) alone, one change is over before the other engine
// reads, and no round would meet the conflict.
func TestSecretStoreConcurrentSetPassword(t *testing.T) {
	testonly.UseOverlappingKDF(t, 2) // the two changes derive at the same moment
	env := newSSEnv(t, ssPassword)
	e1, e2 := env.open(t), env.open(t)
	current := []byte("round 0")
	if err := e1.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: nil, New: bytes.Clone(current)}); err != nil {
		t.Fatal(err)
	}
	ssSet(t, e1, "kept", "value", nil)
	const rounds = 4
	for r := 1; r <= rounds; r++ {
		engines := []*engine.Engine{e1, e2}
		news := [][]byte{fmt.Appendf(nil, "round %d by one", r), fmt.Appendf(nil, "round %d by two", r)}
		errs := make([]error, 2)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i, e := range engines {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				errs[i] = e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: bytes.Clone(current), New: bytes.Clone(news[i])})
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		won := -1
		switch {
		case errs[0] == nil && errs[1] == nil:
			t.Fatalf("round %d: both changes succeeded; one password silently lost", r)
		case errs[0] != nil && errs[1] != nil:
			t.Fatalf("round %d: both failed: %v; %v", r, errs[0], errs[1])
		case errs[0] == nil:
			won = 0
		default:
			won = 1
		}
		lost := errs[1-won]
		// Most rounds both read the old record and the second write is
		// refused; a loser that reads only after the winner's write finds
		// its old password wrong.
		if !errors.Is(lost, engine.ErrConflict) && !errors.Is(lost, engine.ErrLocked) {
			t.Fatalf("round %d: the loser's error %v wraps neither ErrConflict nor ErrLocked", r, lost)
		}
		if errors.Is(lost, engine.ErrConflict) && !strings.Contains(lost.Error(), "another process changed the password at the same moment") {
			t.Errorf("round %d: the conflict is not explained: %v", r, lost)
		}
		t.Logf("round %d: engine %d won; the other: %v", r, won+1, lost)

		// A third process opens the vault with the winner's password only.
		e3 := env.open(t)
		if err := e3.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(news[1-won])}); !errors.Is(err, engine.ErrLocked) {
			t.Fatalf("round %d: the loser's password: %v, want ErrLocked", r, err)
		}
		ssUnlock(t, e3, news[won])
		if s := ssGet(t, e3, "kept"); s.Value != "value" {
			t.Fatalf("round %d: kept = %v", r, s.Value)
		}
		e3.Close()
		current = news[won]
	}
}

// TestSecretStoreUnlocked: Unlocked lists the vault while its key is in
// the keyring, with the expiry its password_timeout gives (none for -1),
// and no longer once it is locked.
func TestSecretStoreUnlocked(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		timeout string
		ttl     time.Duration // 0: no expiry
	}{{"3600", time.Hour}, {"-1", 0}} {
		env := newSSEnv(t, ssPassword+"\n  password_timeout = "+tt.timeout)
		e := env.open(t)
		if u := e.Unlocked(); len(u) != 0 {
			t.Fatalf("before any unlock: %v", u)
		}
		before := time.Now()
		ssUnlock(t, e, ssPass)
		after := time.Now()
		u := e.Unlocked()
		if len(u) != 1 || u[0].Vault != ssVault {
			t.Fatalf("timeout %s: Unlocked = %v, want %s", tt.timeout, u, ssVault)
		}
		switch exp := u[0].Expires; {
		case tt.ttl == 0 && !exp.IsZero():
			t.Errorf("timeout %s: expires %v, want never", tt.timeout, exp)
		case tt.ttl > 0 && (exp.Before(before.Add(tt.ttl)) || exp.After(after.Add(tt.ttl))):
			t.Errorf("timeout %s: expires %v, want %v after the unlock", tt.timeout, exp, tt.ttl)
		}
		if err := e.Lock(ctx, engine.LockRequest{Vault: ssVault}); err != nil {
			t.Fatal(err)
		}
		if u := e.Unlocked(); len(u) != 0 {
			t.Errorf("timeout %s: after lock: %v", tt.timeout, u)
		}
	}
}
