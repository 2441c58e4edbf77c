package format

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/sesamehq/sesame/abi"
)

func testSecret() (abi.Info, abi.Value) {
	in := abi.Info{Name: "Database-Password", Type: abi.TypeCredential, Metadata: abi.Metadata{
		"expires": {Kind: abi.MetaDatetime, Time: time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)},
		"owner":   {Kind: abi.MetaString, Str: "ops"},
	}}
	return in, abi.Value{Type: abi.TypeCredential, UserName: "alice", Data: []byte("hunter2")}
}

func TestSealOpen(t *testing.T) {
	m := NewMaster()
	k := m.Keys()
	in, v := testSecret()
	key := k.RecordKey(in.Name)
	if len(key) != RecordKeyLen || !strings.HasPrefix(string(key), PrefixSecret) {
		t.Fatalf("record key %q", key)
	}
	if !bytes.Equal(k.RecordKey("DATABASE-password"), key) {
		t.Error("record keys of names differing in case differ")
	}
	rec, err := k.Seal(key, in, v)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(rec, []byte("hunter2")) || bytes.Contains(rec, []byte("Database")) || bytes.Contains(rec, []byte("alice")) {
		t.Error("plain text in the record")
	}
	gotIn, gotV, err := k.Open(key, rec, "database-PASSWORD")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotIn, in) || !reflect.DeepEqual(gotV, v) {
		t.Errorf("Open = %+v %+v", gotIn, gotV)
	}
	rec2, _ := k.Seal(key, in, v)
	if bytes.Equal(rec[2:2+NonceSize], rec2[2:2+NonceSize]) {
		t.Error("two seals share a nonce")
	}

	// Another store's keys neither find nor open the record.
	other := NewMaster().Keys()
	if bytes.Equal(other.RecordKey(in.Name), key) {
		t.Error("two stores hash a name alike")
	}
	if _, _, err := other.Open(key, rec, ""); !errors.Is(err, ErrAuth) {
		t.Errorf("Open under another store: %v", err)
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	k := NewMaster().Keys()
	in, v := testSecret()
	key := k.RecordKey(in.Name)
	rec, err := k.Seal(key, in, v)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(rec)) }
	cases := map[string]struct {
		key, rec []byte
		want     error
	}{
		"another key":  {k.RecordKey("other"), rec, ErrAuth},
		"type byte":    {key, mutate(func(b []byte) []byte { b[1] = byte(abi.TypeString); return b }), ErrAuth},
		"nonce":        {key, mutate(func(b []byte) []byte { b[5] ^= 1; return b }), ErrAuth},
		"ciphertext":   {key, mutate(func(b []byte) []byte { b[len(b)/2] ^= 0x80; return b }), ErrAuth},
		"tag":          {key, mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrAuth},
		"truncated":    {key, rec[:len(rec)-1], ErrAuth},
		"version":      {key, mutate(func(b []byte) []byte { b[0] = 2; return b }), ErrCorrupt},
		"invalid type": {key, mutate(func(b []byte) []byte { b[1] = 9; return b }), ErrCorrupt},
		"too short":    {key, rec[:recordHeader+TagSize-1], ErrCorrupt},
		"appended":     {key, append(bytes.Clone(rec), 0), ErrAuth},
		"record of other": {key, func() []byte {
			r, _ := k.Seal(k.RecordKey("other"), abi.Info{Name: "other", Type: v.Type}, v)
			return r
		}(), ErrAuth},
	}
	for name, c := range cases {
		for _, lookup := range []string{in.Name, ""} {
			if _, got, err := k.Open(c.key, c.rec, lookup); !errors.Is(err, c.want) || got.Data != nil {
				t.Errorf("%s (lookup %q): Open = %v, %v; want %v", name, lookup, got, err, c.want)
			}
		}
	}

	// A record sealed under the right key but naming another secret (a
	// writer bug) is refused by a lookup, and caught by CheckName.
	wrong, _ := k.Seal(key, abi.Info{Name: "other", Type: v.Type}, v)
	if _, _, err := k.Open(key, wrong, in.Name); !errors.Is(err, ErrAuth) {
		t.Errorf("record naming another secret: %v", err)
	}
	if got, _, err := k.Open(key, wrong, ""); err != nil || k.CheckName(key, got.Name) || !k.CheckName(key, in.Name) {
		t.Errorf("CheckName of a record naming another secret: %v", err)
	}
	if _, _, err := k.Open(key, rec, "Database-Passwort"); !errors.Is(err, ErrAuth) {
		t.Errorf("lookup of another name: %v", err)
	}
}

func TestConfig(t *testing.T) {
	m := NewMaster()
	kek := bytes.Repeat([]byte{7}, 32)
	salt := NewSalt()
	c, err := WrapMaster(m, kek, DefaultKDF(), salt, 1234567)
	if err != nil {
		t.Fatal(err)
	}
	raw := c.Marshal()
	if bytes.Contains(raw, m.Key[:]) {
		t.Fatal("master key in plain text")
	}
	p, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Created != 1234567 || p.KDF != DefaultKDF() || !bytes.Equal(p.Salt, salt) || p.ID != m.ID {
		t.Errorf("parsed %+v", p)
	}
	got, err := p.Unwrap(kek)
	if err != nil || !got.Equal(m) {
		t.Fatalf("Unwrap = %v", err)
	}
	if _, err := p.Unwrap(bytes.Repeat([]byte{8}, 32)); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
	// Every header byte is bound: a change is a wrong password, never a
	// weaker derivation or another store id.
	for i := range len(raw) {
		b := bytes.Clone(raw)
		b[i] ^= 1
		p, err := ParseConfig(b)
		if err != nil {
			continue
		}
		if _, err := p.Unwrap(kek); err == nil {
			t.Errorf("flipping byte %d still unwraps", i)
		}
	}
	for _, n := range []int{0, 20, len(raw) - 1} {
		if _, err := ParseConfig(raw[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

func TestKeyRecord(t *testing.T) {
	m := NewMaster()
	got, created, err := ParseKeyRecord(m.MarshalKeyRecord(-5))
	if err != nil || !got.Equal(m) || created != -5 {
		t.Fatalf("round trip: %v", err)
	}
	if _, _, err := ParseKeyRecord(m.Marshal()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("keyring blob taken for a key record: %v", err)
	}
	blob, err := ParseMaster(m.Marshal())
	if err != nil || !blob.Equal(m) {
		t.Fatalf("keyring blob: %v", err)
	}
	k := m.Keys()
	pk, err := ParseKeys(k.Marshal())
	if err != nil || pk.ID() != m.ID || !bytes.Equal(pk.RecordKey("x"), k.RecordKey("x")) {
		t.Fatalf("keyring keys: %v", err)
	}
	in, v := testSecret()
	rec, _ := k.Seal(k.RecordKey(in.Name), in, v)
	if _, _, err := pk.Open(k.RecordKey(in.Name), rec, in.Name); err != nil {
		t.Errorf("keys from the keyring blob cannot open a record: %v", err)
	}
	if _, err := ParseKeys(m.Marshal()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("master taken for keys: %v", err)
	}
	m.Clear()
	if m.Key != [MasterKeySize]byte{} {
		t.Error("Clear left key bytes")
	}
}

// BenchmarkArgon2id measures the derivation of a password store's key with
// DefaultKDF. Natively it is what the host's kdf_argon2id costs; built for
// wasip1 and run in wazero, it is what the same derivation would cost inside
// the guest (README.md):
//
//	go test -run '^$' -bench Argon2id ./internal/secretstore/format/
//	GOOS=wasip1 GOARCH=wasm go test -c -o /tmp/format.wasm ./internal/secretstore/format/
//	go run github.com/tetratelabs/wazero/cmd/wazero run /tmp/format.wasm -test.run '^$' -test.bench Argon2id
func BenchmarkArgon2id(b *testing.B) {
	salt, p := NewSalt(), DefaultKDF()
	for b.Loop() {
		argon2.IDKey([]byte("correct horse battery staple"), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	}
}

// BenchmarkRecord measures what the vault does with the cryptography on
// every get: derive the subkeys, hash the name, open a record.
func BenchmarkRecord(b *testing.B) {
	m := NewMaster()
	k := m.Keys()
	in, v := testSecret()
	key := k.RecordKey(in.Name)
	rec, _ := k.Seal(key, in, v)
	b.Run("Keys", func(b *testing.B) {
		for b.Loop() {
			m.Keys()
		}
	})
	b.Run("RecordKey", func(b *testing.B) {
		for b.Loop() {
			k.RecordKey(in.Name)
		}
	})
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := k.Open(key, rec, in.Name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Seal", func(b *testing.B) {
		for b.Loop() {
			k.Seal(key, in, v)
		}
	})
}
