package sandbox

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/vectors"
)

// keyVector is a vector of abi/vectors for the keys behind handles
// (README.md there): inputs as hex strings (length a number), the output or
// the refused box in hex, and error when the host must refuse it.
type keyVector struct {
	name  string
	Kind  string
	Input map[string]json.RawMessage
	Hex   string
	Error string
}

func (v keyVector) bytes(t testing.TB, field string) []byte {
	var s string
	if err := json.Unmarshal(v.Input[field], &s); err != nil {
		t.Fatalf("%s: input.%s: %v", v.name, field, err)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: input.%s: %v", v.name, field, err)
	}
	return b
}

func (v keyVector) out(t *testing.T) []byte {
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		t.Fatalf("%s: hex: %v", v.name, err)
	}
	return b
}

// keyVectors returns the vectors of kind.
func keyVectors(t testing.TB, kind string) []keyVector {
	names, _ := fs.Glob(vectors.FS(), kind+"-*.json")
	var out []keyVector
	for _, name := range names {
		raw, err := fs.ReadFile(vectors.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		v := keyVector{name: name}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	if len(out) < 3 {
		t.Fatalf("%d vectors of kind %s", len(out), kind)
	}
	return out
}

// TestKeyVectors checks the host's primitives, and its bounds, against the
// published vectors (SPEC.md §7.9).
func TestKeyVectors(t *testing.T) {
	for _, v := range keyVectors(t, "seal") {
		key, ad, box := v.bytes(t, "key"), v.bytes(t, "ad"), v.out(t)
		if v.Error == "" {
			plain := v.bytes(t, "plaintext")
			if got := sealBox(nil, key, v.bytes(t, "nonce"), plain, ad); !bytes.Equal(got, box) {
				t.Errorf("%s: sealBox = %x", v.name, got)
			}
			if got := make([]byte, len(plain)); !openBox(got, key, box, ad) || !bytes.Equal(got, plain) {
				t.Errorf("%s: openBox", v.name)
			}
		} else if len(box) >= abi.KeyOverhead && openInto(nil, key, box, ad) == abi.OK {
			t.Errorf("%s: opened, want refused (%s)", v.name, v.Error)
		}
	}
	for _, v := range keyVectors(t, "wrap") {
		kek, ad, box := v.bytes(t, "kek"), v.bytes(t, "ad"), v.out(t)
		if v.Error == "" {
			if got := sealBox(nil, kek, v.bytes(t, "nonce"), v.bytes(t, "key"), ad); !bytes.Equal(got, box) {
				t.Errorf("%s: wrap = %x", v.name, got)
			}
			continue
		}
		// key_unwrap refuses a box whose length is no key's, then one that
		// is not authentic.
		if keyLength(uint32(len(box)-abi.KeyOverhead)) == abi.OK && openInto(nil, kek, box, ad) == abi.OK {
			t.Errorf("%s: unwrapped, want refused (%s)", v.name, v.Error)
		}
	}
	for _, v := range keyVectors(t, "hkdf") {
		var n uint32
		json.Unmarshal(v.Input["length"], &n)
		key, salt, info := v.bytes(t, "key"), v.bytes(t, "salt"), v.bytes(t, "info")
		refused := keyLength(n) != abi.OK || keyLength(uint32(len(key))) != abi.OK || len(salt) > abi.KeyMaxInfo || len(info) > abi.KeyMaxInfo
		if refused != (v.Error != "") {
			t.Errorf("%s: refused %v, want %v", v.name, refused, v.Error != "")
			continue
		}
		if !refused {
			got := make([]byte, n)
			if hkdfSHA256(got, key, salt, info); !bytes.Equal(got, v.out(t)) {
				t.Errorf("%s: hkdf = %x", v.name, got)
			}
		}
	}
	for _, v := range keyVectors(t, "age") {
		id, err := age.ParseX25519Identity(string(v.bytes(t, "identity")))
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		var buf [abi.KeyMaxBytes + 1]byte
		n, s := ageDecrypt(buf[:], v.bytes(t, "file"), id)
		switch {
		case (s != abi.OK) != (v.Error != ""):
			t.Errorf("%s: age_unwrap answers %s, want refused: %v", v.name, s, v.Error != "")
		case v.Error == "not openable" && s != abi.PermissionDenied, v.Error == "key length" && s != abi.InvalidArgument:
			t.Errorf("%s: age_unwrap answers %s for %q", v.name, s, v.Error)
		case s == abi.OK && !bytes.Equal(buf[:n], v.out(t)):
			t.Errorf("%s: age_unwrap = %x", v.name, buf[:n])
		}
	}
	for _, v := range keyVectors(t, "hmac") {
		key := v.bytes(t, "key")
		if refused := keyLength(uint32(len(key))) != abi.OK; refused != (v.Error != "") {
			t.Errorf("%s: refused %v, want %v", v.name, refused, v.Error != "")
		} else if !refused && !bytes.Equal(hmacSHA256(nil, key, v.bytes(t, "data")), v.out(t)) {
			t.Errorf("%s: hmac differs", v.name)
		}
	}
}

// TestKeyVectorsThroughAGuest runs the seal and hmac vectors through a
// guest: it imports the vector's key and opens the box, or hashes the data,
// with the host functions.
func TestKeyVectorsThroughAGuest(t *testing.T) {
	m, _ := keyVault(t, keyHost(t, nil), "Vectors", nil)
	dash := func(b []byte) string {
		if len(b) == 0 {
			return "-"
		}
		return hex.EncodeToString(b)
	}
	for _, v := range keyVectors(t, "seal") {
		box := v.out(t)
		if len(box) < abi.KeyOverhead {
			continue // the guest SDK refuses it before the host sees it
		}
		cmd := strings.Join([]string{"cmd open", dash(v.bytes(t, "key")), dash(box[:24]), dash(v.bytes(t, "ad")), dash(box[24:])}, " ")
		got, _ := get(t, m, cmd)
		want := "sesame_v1.key_open: permission denied"
		if v.Error == "" {
			want = hex.EncodeToString(v.bytes(t, "plaintext"))
		}
		if got != want {
			t.Errorf("%s: %q, want %q", v.name, got, want)
		}
	}
	for _, v := range keyVectors(t, "hmac") {
		got, _ := get(t, m, "cmd hmac "+dash(v.bytes(t, "key"))+" "+dash(v.bytes(t, "data")))
		want := v.Hex
		if v.Error != "" {
			want = "sesame_v1.key_import: invalid argument"
		}
		if got != want {
			t.Errorf("%s: %q, want %q", v.name, got, want)
		}
	}
}
