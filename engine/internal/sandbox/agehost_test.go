package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// ageVault loads testdata/keyvault granted the identity id (nil: not
// granted).
func ageVault(t *testing.T, id *age.X25519Identity) *Module {
	t.Helper()
	wasm, err := os.ReadFile(testwasm.Build(t, "engine/internal/sandbox/testdata/keyvault"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := keyHost(t, nil).Load(context.Background(), Spec{Vault: "Team", Wasm: wasm, Instances: 1,
		Storage: &mapStore{m: map[string][]byte{}}, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ageCmd runs a keyvault command whose arguments are bytes, in hex.
func ageCmd(t *testing.T, m *Module, cmd string, args ...[]byte) string {
	t.Helper()
	words := []string{"cmd", cmd}
	for _, a := range args {
		w := hex.EncodeToString(a)
		if w == "" {
			w = "-" // the guest decodes it as nothing
		}
		words = append(words, w)
	}
	got, _ := get(t, m, strings.Join(words, " "))
	return got
}

func probe(key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("probe"))
	return hex.EncodeToString(mac.Sum(nil))
}

func recipients(ids ...*age.X25519Identity) []byte {
	var rs []string
	for _, id := range ids {
		rs = append(rs, id.Recipient().String())
	}
	return []byte(strings.Join(rs, "\n"))
}

// wrapFor has the guest wrap key to ids' recipients and returns the age
// file.
func wrapFor(t *testing.T, m *Module, key []byte, ids ...*age.X25519Identity) []byte {
	t.Helper()
	out := ageCmd(t, m, "agewrap", key, recipients(ids...))
	file, err := hex.DecodeString(out)
	if err != nil {
		t.Fatalf("agewrap: %s", out)
	}
	return file
}

// TestAgeWrapUnwrap: the guest wraps a key to two members; each member's
// age opens the file to the key; the guest granted the identity unwraps
// its own copy into a key that computes the same HMAC; it learns its
// recipient.
func TestAgeWrapUnwrap(t *testing.T) {
	me, other := newIdentity(t), newIdentity(t)
	m := ageVault(t, me)
	if got := ageCmd(t, m, "agerecipient"); got != me.Recipient().String() {
		t.Fatalf("agerecipient = %q, want %s", got, me.Recipient())
	}
	key := make([]byte, 32)
	rand.Read(key)
	file := wrapFor(t, m, key, me, other)
	for _, id := range []*age.X25519Identity{me, other} {
		r, err := age.Decrypt(bytes.NewReader(file), id)
		if err != nil {
			t.Fatalf("age cannot open the wrapped file with a member's identity: %v", err)
		}
		if got, _ := io.ReadAll(r); !bytes.Equal(got, key) {
			t.Fatalf("the file holds %x, want the key", got)
		}
	}
	if got := ageCmd(t, m, "ageunwrap", file); got != probe(key) {
		t.Fatalf("ageunwrap: %s, want the key's HMAC %s", got, probe(key))
	}
	// A file made by age itself, of a 16-byte key.
	short := ageFile(t, key[:16], me)
	if got := ageCmd(t, m, "ageunwrap", short); got != probe(key[:16]) {
		t.Fatalf("ageunwrap of age's own file: %s", got)
	}
}

// ageFile encrypts plain to ids with age itself.
func ageFile(t *testing.T, plain []byte, ids ...*age.X25519Identity) []byte {
	t.Helper()
	var buf bytes.Buffer
	var rs []age.Recipient
	for _, id := range ids {
		rs = append(rs, id.Recipient())
	}
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAgeNotGranted: without the grant identity every age function is
// PERMISSION_DENIED, whatever its arguments.
func TestAgeNotGranted(t *testing.T) {
	m := ageVault(t, nil)
	id := newIdentity(t)
	key := make([]byte, 32)
	for cmd, args := range map[string][][]byte{
		"agerecipient": nil,
		"agewrap":      {key, recipients(id)},
		"ageunwrap":    {ageFile(t, key, id)},
	} {
		if got := ageCmd(t, m, cmd, args...); !strings.HasSuffix(got, ": permission denied") {
			t.Errorf("%s without the grant: %q, want permission denied", cmd, got)
		}
	}
}

// TestAgeUnwrapHostile: a file the identity cannot open is PERMISSION_DENIED
// (another identity's, any byte changed in its header or payload, cut, not
// an age file); an authentic one that holds no key is INVALID_ARGUMENT.
func TestAgeUnwrapHostile(t *testing.T) {
	me, other := newIdentity(t), newIdentity(t)
	m := ageVault(t, me)
	key := make([]byte, 32)
	rand.Read(key)
	good := wrapFor(t, m, key, me)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	header := bytes.Index(good, []byte("\n---"))
	cases := map[string][]byte{
		"another identity's":   wrapFor(t, m, key, other),
		"a changed stanza":     flip(bytes.Index(good, []byte("X25519 ")) + 10),
		"a changed header MAC": flip(header + 6),
		"a changed payload":    flip(len(good) - 20),
		"a changed nonce":      flip(header + 50),
		"cut":                  good[:len(good)-1],
		"cut to the header":    good[:bytes.IndexByte(good[header+1:], '\n')+header+2],
		"not an age file":      []byte("hello"),
		"empty":                nil,
		"with bytes after it":  append(bytes.Clone(good), 0),
		"armored":              []byte("-----BEGIN AGE ENCRYPTED FILE-----\n"),
	}
	for name, file := range cases {
		if got := ageCmd(t, m, "ageunwrap", file); !strings.HasSuffix(got, ": permission denied") {
			t.Errorf("ageunwrap of %s: %q, want permission denied", name, got)
		}
	}
	for name, plain := range map[string][]byte{"15 bytes": make([]byte, 15), "65 bytes": make([]byte, 65), "empty": {}} {
		if got := ageCmd(t, m, "ageunwrap", ageFile(t, plain, me)); !strings.HasSuffix(got, ": invalid argument") {
			t.Errorf("ageunwrap of an authentic file of %s: %q, want invalid argument", name, got)
		}
	}
	if got := ageCmd(t, m, "ageunwrap", good); got != probe(key) {
		t.Fatalf("the untouched file: %s", got)
	}
}

// TestAgeWrapRecipients: the recipient list is checked whole: a malformed
// recipient, an identity given as a recipient, a repeat, an empty entry,
// too many, are INVALID_ARGUMENT, and the answer is a status alone, so
// that nothing of what was given (a secret key pasted by mistake) comes
// back in an error.
func TestAgeWrapRecipients(t *testing.T) {
	me, other := newIdentity(t), newIdentity(t)
	m := ageVault(t, me)
	key := make([]byte, 32)
	r := me.Recipient().String()
	// The last character changed to another of bech32's: the same one
	// would leave r valid (one identity in 32 ends in q).
	changed := r[:len(r)-1] + "q"
	if changed == r {
		changed = r[:len(r)-1] + "p"
	}
	many := make([]string, abi.AgeMaxRecipients+1)
	for i := range many {
		many[i] = newIdentity(t).Recipient().String()
	}
	for name, list := range map[string]string{
		"a malformed recipient":    r + "\nage1xyz",
		"a changed checksum":       changed,
		"an identity":              other.String(),
		"a repeat":                 r + "\n" + r,
		"an empty entry":           r + "\n",
		"an empty list":            "",
		"an SSH key":               "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN",
		"too many":                 strings.Join(many, "\n"),
		"a recipient with a space": " " + r,
		"upper case":               strings.ToUpper(r),
	} {
		got := ageCmd(t, m, "agewrap", key, []byte(list))
		if !strings.HasSuffix(got, ": invalid argument") {
			t.Errorf("agewrap to %s: %q, want invalid argument", name, got)
		}
		if strings.Contains(got, "AGE-SECRET-KEY") || strings.Contains(got, "age1") {
			t.Errorf("agewrap to %s: the error %q quotes what it was given", name, got)
		}
	}
	most := ageCmd(t, m, "agewrap", key, []byte(strings.Join(many[:abi.AgeMaxRecipients], "\n")))
	if _, err := hex.DecodeString(most); err != nil {
		t.Fatalf("agewrap to the most recipients: %s", most)
	}
}

// TestAgeFromC: sesame.h declares the age functions with the host's
// signatures (the module loads), and a C vault gets their documented
// answers: granted, every step passes; not granted, the first is
// PERMISSION_DENIED.
func TestAgeFromC(t *testing.T) {
	wasm := buildC(t, "engine/internal/sandbox/testdata/age.c")
	for _, id := range []*age.X25519Identity{newIdentity(t), nil} {
		m, err := keyHost(t, nil).Load(context.Background(), Spec{Vault: "C", Wasm: wasm, Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Call(context.Background(), abi.OpGet, []byte("x"))
		m.Close(context.Background())
		var se *Error
		switch {
		case id != nil && err != nil:
			t.Errorf("granted: %v", err)
		case id == nil && (!errors.As(err, &se) || se.Status != abi.PermissionDenied):
			t.Errorf("not granted: %v, want permission denied", err)
		}
	}
}
