package engine_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/kdbx"
	"github.com/sesamehq/sesame/internal/keepassxctest"
)

// The keepass extension, registered as KP over a folder holding a
// database, tested through the engine, and against keepassxc-cli. It is
// the module embedded in sesame (builtin:keepass), as for the other
// built-in extensions: what users run, and what make check proves is
// extensions/keepass rebuilt byte for byte. (Built from its source here,
// it cost every run on an empty build cache the compile of twenty more
// packages for wasip1, about 6 s of CPU, and a link.)

const kp = "KP"

// keepassDB writes into dir a KDBX 4 database (from internal/kdbx's
// testdata, made by KeePassXC: Internet/GitHub and Email) re-keyed to
// password pw and key file keyFile ("" for none, else written to dir) with
// a cheap Argon2d, so that the tests do not wait on the KDF.
func keepassDB(t testing.TB, dir, file, pw, keyFile string) {
	t.Helper()
	data, err := os.ReadFile("../internal/kdbx/testdata/kdbx40.kdbx")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := kdbx.CompositeKey(kdbx.GoCrypto{}, []byte("pw"), nil)
	db, err := kdbx.Decode(data, kdbx.GoCrypto{}, key)
	if err != nil {
		t.Fatal(err)
	}
	var pwb, kf []byte
	if pw != "" {
		pwb = []byte(pw)
	}
	if keyFile != "" {
		kf = make([]byte, 32)
		rand.Read(kf)
		if err := os.WriteFile(filepath.Join(dir, keyFile), kf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newKey, err := kdbx.CompositeKey(kdbx.GoCrypto{}, pwb, kf)
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 32)
	rand.Read(salt)
	if err := db.SetKDF(kdbx.KDF{Kind: kdbx.Argon2d, Seed: salt, Iterations: 1, MemoryBytes: 64 << 10, Parallelism: 1, Version: 0x13}, newKey); err != nil {
		t.Fatal(err)
	}
	out, err := db.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// openKeePass opens an engine whose vault KP is the keepass extension over
// dir with the parameters (lines of TOML).
func openKeePass(t testing.TB, dir string, params ...string) *engine.Engine {
	return openKeePassGrants(t, dir, "", params...)
}

// openKeePassGrants is openKeePass with more grants (a line of TOML).
func openKeePassGrants(t testing.TB, dir, grants string, params ...string) *engine.Engine {
	t.Helper()
	reg := fmt.Sprintf("default = %q\n\n[vaults.%s]\nextension = %q\n\n  [vaults.%s.grants]\n  directory = %q\n  %s\n\n  [vaults.%s.parameters]\n  %s\n",
		kp, kp, "builtin:keepass", kp, dir, grants, kp, strings.Join(params, "\n  "))
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(t.TempDir(), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestKeePassConformance runs the conformance suite on a database opened
// by a key file (authentication = none), so that no unlock is needed. The
// database's recycle bin is off: with it, each of the suite's hundreds of
// removes would keep its entry (a 1 MiB value among them), and every later
// write would rewrite them all, minutes in all (removes into the recycle bin
// are tested with KeePassXC in TestKeePassWithKeePassXC). Each change still
// rewrites the whole file: on a loaded machine a write of 1 MiB can take
// longer than the default deadline of 5 s, so the registration grants 60 s
// (docs/keepass.md says when to).
func TestKeePassConformance(t *testing.T) {
	t.Parallel()
	vaulttest.Run(t, func(t *testing.T) engine.Vault {
		dir := t.TempDir()
		keepassDB(t, dir, "db.kdbx", "", "db.key")
		// Without gzip: the suite is about the vault's behaviour, and gzip
		// was half the work of each of its reads and writes (natively, for
		// this small file); the KeePassXC tests cover gzip.
		rewrite(t, dir, func(db *kdbx.Database) {
			db.XML.Ensure("Meta").Ensure("RecycleBinEnabled").Text = "False"
			db.SetCompression(false)
		})
		e := openKeePassGrants(t, dir, `timeout = "60s"`, `file = "db.kdbx"`, `keyfile = "db.key"`, `authentication = "none"`)
		// The suite wants an empty vault: the testdata's entries go.
		for _, name := range []string{"Internet/GitHub", "Email"} {
			if _, err := e.Remove(ctx, engine.RemoveRequest{Name: name, Vault: kp}); err != nil {
				t.Fatal(err)
			}
		}
		v, err := e.Vault(ctx, kp)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, vaulttest.Options{
		Types:       []abi.Type{abi.TypeBytes, abi.TypeString, abi.TypeSecureString, abi.TypeCredential},
		Concurrency: 4,
	})
}

// TestKeePassUnlock: locked before the unlock, a wrong password is
// ErrLocked and changes nothing, the right one opens the entries
// KeePassXC made, as credentials.
func TestKeePassUnlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keepassDB(t, dir, "Passwords.kdbx", "correct horse", "")
	e := openKeePass(t, dir)
	if _, err := e.Get(ctx, engine.GetRequest{Name: "Internet/GitHub", Vault: kp}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("before the unlock: %v, want ErrLocked", err)
	}
	err := e.Unlock(ctx, engine.UnlockRequest{Vault: kp, Password: []byte("wrong")})
	if !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), `the password or key file does not open "Passwords.kdbx"`) {
		t.Fatalf("a wrong password: %v", err)
	}
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: kp, Password: []byte("correct horse")}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "Internet/GitHub", Vault: kp})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Value.(engine.Credential); !ok || c.UserName != "alice" || c.Password != "s3cret pass" {
		t.Errorf("Internet/GitHub is %#v", s.Value)
	}
}

// TestKeePassRefusals: what an entry cannot hold is refused before the
// file is touched.
func TestKeePassRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keepassDB(t, dir, "db.kdbx", "", "db.key")
	before, _ := os.ReadFile(filepath.Join(dir, "db.kdbx"))
	e := openKeePass(t, dir, `file = "db.kdbx"`, `keyfile = "db.key"`, `authentication = "none"`)
	for _, c := range []struct {
		name  string
		value any
		md    engine.Metadata
		want  string
	}{
		{"table", engine.Hashtable{"a": "b"}, nil, "keepass stores bytes, string, securestring and credential, not hashtable"},
		{"a//b", "x", nil, `a name's groups and title must not be empty: "a//b"`},
		{"ctl", "bell\a", nil, `the value of "ctl" has characters a KeePass entry cannot hold`},
		{"meta", "x", engine.Metadata{"Password": "x"}, `metadata key "Password" is one of the entry's own fields`},
	} {
		_, err := e.Set(ctx, engine.SetRequest{Name: c.name, Value: c.value, Metadata: c.md, Vault: kp})
		if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("set %s: %v, want %q", c.name, err, c.want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "db.kdbx")); string(after) != string(before) {
		t.Error("a refused set changed the file")
	}
}

// TestKeePassWithKeePassXC: a database KeePassXC made and filled (password
// and key file) is read through the vault; what the vault writes,
// KeePassXC reads; a change KeePassXC makes between two writes of the
// vault is kept.
func TestKeePassWithKeePassXC(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, key := filepath.Join(dir, "Passwords.kdbx"), filepath.Join(dir, "key.keyx")
	keepassxctest.Run(t, dir, "pw\npw\n", "db-create", "-q", "-p", "--set-key-file", key, db)
	// One keepassxc-cli, in its interactive mode, makes every change and
	// read of KeePassXC's below, opening the file again after each of the
	// vault's writes.
	kx := keepassxctest.Open(t, dir, db, "pw", "-k", key)
	kx.Change("mkdir Internet")
	kx.Change("add -u alice -p Internet/GitHub", keepassxctest.EntryPassword("s3cret"))
	if err := os.Chmod(db, 0o640); err != nil { // the user shares it with a group
		t.Fatal(err)
	}

	e := openKeePass(t, dir, `keyfile = "key.keyx"`)
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: kp, Password: []byte("pw")}); err != nil {
		t.Fatal(err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "Internet/GitHub", Vault: kp})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.Value.(engine.Credential); !ok || c.UserName != "alice" || c.Password != "s3cret" {
		t.Fatalf("Internet/GitHub is %#v", s.Value)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "Cloud/AWS/root", Value: engine.Credential{UserName: "admin", Password: "hunter2"},
		Metadata: engine.Metadata{"account": "1234"}, Vault: kp}); err != nil {
		t.Fatal(err)
	}
	kx.Reopen()
	if got := kx.Do("show -s -a UserName -a Password -a account Cloud/AWS/root"); got != "admin\nhunter2\nblue\n" && got != "admin\nhunter2\n1234\n" {
		t.Errorf("KeePassXC shows %q", got)
	}
	if fi, err := os.Stat(db); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o640 {
		t.Errorf("the database after the vault's write has mode %v, want its 0640 kept", fi.Mode())
	}
	// KeePassXC changes the file (and its KDF seed); the vault's next
	// write starts from KeePassXC's file.
	kx.Change("add -p FromKeePassXC", keepassxctest.EntryPassword("new"))
	if _, err := e.Set(ctx, engine.SetRequest{Name: "Internet/GitHub", Value: engine.Credential{UserName: "alice", Password: "rotated"}, Vault: kp}); err != nil {
		t.Fatal(err)
	}
	kx.Reopen()
	if got := kx.Do("show -s -a Password FromKeePassXC"); got != "new\n" {
		t.Errorf("KeePassXC's entry after the vault's write: %q", got)
	}
	if got := kx.Do("show -s -a Password Internet/GitHub"); got != "rotated\n" {
		t.Errorf("Internet/GitHub after the vault's write: %q", got)
	}
	// The changed entry kept its old version in its history.
	data, _ := os.ReadFile(db)
	kf, _ := os.ReadFile(key)
	ck, _ := kdbx.CompositeKey(kdbx.GoCrypto{}, []byte("pw"), kf)
	d, err := kdbx.Decode(data, kdbx.GoCrypto{}, ck)
	if err != nil {
		t.Fatal(err)
	}
	var hist []string
	d.Entries(func(groups []string, _, e *kdbx.Node) bool {
		if title, _ := kdbx.Field(e, "Title"); title == "GitHub" && e.Child("History") != nil {
			for _, h := range e.Child("History").Children("Entry") {
				pw, _ := kdbx.Field(h, "Password")
				hist = append(hist, pw)
			}
		}
		return true
	})
	if strings.Join(hist, ",") != "s3cret" {
		t.Errorf("GitHub's history holds the passwords %q, want the one before the change", hist)
	}
	// A remove goes to KeePassXC's recycle bin.
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "Cloud/AWS/root", Vault: kp}); err != nil {
		t.Fatal(err)
	}
	kx.Reopen()
	if got := kx.Do(`ls "Recycle Bin"`); got != "root\n" {
		t.Errorf("the recycle bin lists %q", got)
	}
	kx.Close()
}
