package abi_test

import (
	"bytes"
	"io"
	"testing"
	"testing/cryptotest"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
)

// The vectors of age_unwrap (SPEC.md §5.10, §7.9), kind "age": an identity
// (AGE-SECRET-KEY-1…, its text in hex) and an age file; a valid vector's
// output is the key the file holds, an invalid one is a file that host
// must refuse. age encrypts with fresh randomness, so the files are made
// under a fixed random source (testing/cryptotest): the same on every run,
// until age or Go change how they draw it (then run -update; the vectors
// stay valid, as the check below opens them with age itself).

// ageCases are the age vectors.
func ageCases(t *testing.T) []cryptoCase {
	cryptotest.SetGlobalRandom(t, 16)
	me, other := newAgeIdentity(t), newAgeIdentity(t)
	id := []byte(me.String())
	file := func(plain []byte, to ...*age.X25519Identity) []byte { return ageEncrypt(t, plain, to...) }
	key := seq(0xa0, 32)
	good := file(key, me)
	changed := func(i int) []byte { b := bytes.Clone(good); b[(i+len(b))%len(b)] ^= 1; return b }
	mac := bytes.Index(good, []byte("\n--- ")) + 5
	in := func(f []byte) map[string][]byte { return map[string][]byte{"identity": id, "file": f} }
	return []cryptoCase{
		{name: "age-32", desc: "a 32-byte team key wrapped to one recipient", in: in(good)},
		{name: "age-second-recipient", desc: "a 16-byte key wrapped to two recipients, the identity's second", in: in(file(seq(0, 16), other, me))},
		{name: "age-64", desc: "the longest key", in: in(file(seq(0x40, 64), me))},
		{name: "age-invalid-other", desc: "a file for another identity only", in: in(file(key, other)), err: "not openable"},
		{name: "age-invalid-header-mac", desc: "a byte of the header's MAC changed", in: in(changed(mac)), err: "not openable"},
		{name: "age-invalid-payload", desc: "the last byte of the payload changed", in: in(changed(-1)), err: "not openable"},
		{name: "age-invalid-cut", desc: "the last byte of the payload cut", in: in(good[:len(good)-1]), err: "not openable"},
		{name: "age-invalid-trailing", desc: "a byte after the end of the payload", in: in(append(bytes.Clone(good), 0)), err: "not openable"},
		{name: "age-invalid-length-15", desc: "an authentic file of 15 bytes: no key is that short", in: in(file(seq(0, 15), me)), err: "key length"},
		{name: "age-invalid-length-65", desc: "an authentic file of 65 bytes: no key is that long", in: in(file(seq(0, 65), me)), err: "key length"},
	}
}

func newAgeIdentity(t *testing.T) *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ageEncrypt(t *testing.T, plain []byte, to ...*age.X25519Identity) []byte {
	var rs []age.Recipient
	for _, id := range to {
		rs = append(rs, id.Recipient())
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err == nil {
		_, err = w.Write(plain)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ageOutput is cryptoOutput for kind age: the key the file holds, or why a
// host refuses it.
func ageOutput(in map[string][]byte) ([]byte, string) {
	id, err := age.ParseX25519Identity(string(in["identity"]))
	if err != nil {
		return nil, "not an identity"
	}
	r, err := age.Decrypt(bytes.NewReader(in["file"]), id)
	if err != nil {
		return nil, "not openable"
	}
	key, err := io.ReadAll(r)
	switch {
	case err != nil:
		return nil, "not openable"
	case len(key) < abi.KeyMinBytes || len(key) > abi.KeyMaxBytes:
		return nil, "key length"
	}
	return key, ""
}
