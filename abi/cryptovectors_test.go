package abi_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
)

// The vectors of the keys behind handles (SPEC.md §5.8, §7.9): what a host
// must compute for key_seal and key_open, key_wrap and key_unwrap, key_hkdf
// and key_hmac, given the key bytes that only the host sees. A valid
// vector's "input" gives the inputs and "hex" the output; an invalid one
// gives the inputs and, for seal and wrap, in "hex" a box the host must
// refuse. The outputs are computed here by x/crypto's XChaCha20-Poly1305
// and the standard library's HKDF and HMAC, so the files check a host
// against them.

// cryptoKinds are the kinds of these vectors, and the input fields of each
// (valid; invalid).
var cryptoKinds = map[string][2][]string{
	"seal": {{"key", "nonce", "ad", "plaintext"}, {"key", "ad"}},
	"wrap": {{"kek", "key", "nonce", "ad"}, {"kek", "ad"}},
	"hkdf": {{"key", "salt", "info", "length"}, {"key", "salt", "info", "length"}},
	"hmac": {{"key", "data"}, {"key", "data"}},
	"age":  {{"identity", "file"}, {"identity", "file"}}, // agevectors_test.go
}

// cryptoCase is one such vector. in holds the inputs as bytes (length: one
// byte); box is the refused box of an invalid seal or wrap.
type cryptoCase struct {
	name, desc string
	in         map[string][]byte
	box        []byte
	err        string
}

func seq(from byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

func rep(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

func cryptoCases() []cryptoCase {
	key, nonce := seq(0x80, 32), seq(0x40, 24)
	ladies := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	sealed := func(ad []byte) []byte { return refSeal(key, nonce, []byte("a record"), ad) }
	changed := func(b []byte, i int) []byte { b = bytes.Clone(b); b[(i+len(b))%len(b)] ^= 1; return b }
	return []cryptoCase{
		{name: "seal-xchacha-draft", desc: "the inputs of draft-irtf-cfrg-xchacha-03 §A.3.1: the box is the nonce, the draft's cipher text, its tag", in: map[string][]byte{
			"key": key, "nonce": nonce, "ad": []byte{0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7}, "plaintext": ladies}},
		{name: "seal-empty", desc: "no plain text, no additional data: nonce and tag only", in: map[string][]byte{"key": key, "nonce": nonce, "ad": {}, "plaintext": {}}},
		{name: "seal-record", desc: "an encoded secret bound to its name", in: map[string][]byte{"key": rep(7, 32), "nonce": rep(9, 24), "ad": []byte("db/password"), "plaintext": []byte("\x02hunter2")}},
		{name: "seal-invalid-tag", desc: "the last byte of the tag changed", in: map[string][]byte{"key": key, "ad": []byte("n")}, box: changed(sealed([]byte("n")), -1), err: "not authentic"},
		{name: "seal-invalid-ciphertext", desc: "the first byte of the cipher text changed", in: map[string][]byte{"key": key, "ad": []byte("n")}, box: changed(sealed([]byte("n")), 24), err: "not authentic"},
		{name: "seal-invalid-nonce", desc: "a byte of the nonce changed", in: map[string][]byte{"key": key, "ad": []byte("n")}, box: changed(sealed([]byte("n")), 3), err: "not authentic"},
		{name: "seal-invalid-ad", desc: "sealed with additional data \"a\", opened with \"b\" (a record moved to another name)", in: map[string][]byte{"key": key, "ad": []byte("b")}, box: sealed([]byte("a")), err: "not authentic"},
		{name: "seal-invalid-key", desc: "opened under another key", in: map[string][]byte{"key": rep(1, 32), "ad": []byte("n")}, box: sealed([]byte("n")), err: "not authentic"},
		{name: "seal-invalid-short", desc: "39 bytes: shorter than a nonce and a tag", in: map[string][]byte{"key": key, "ad": {}}, box: sealed(nil)[:39], err: "too short"},

		{name: "wrap-master-key", desc: "a 32-byte master key wrapped under a password's key, bound to the store's header", in: map[string][]byte{"kek": key, "key": rep(0xaa, 32), "nonce": nonce, "ad": []byte("sesame secretstore v1 master key\x00\x01\x01")}},
		{name: "wrap-16", desc: "the shortest key, no additional data", in: map[string][]byte{"kek": key, "key": seq(0, 16), "nonce": rep(0, 24), "ad": {}}},
		{name: "wrap-64", desc: "the longest key", in: map[string][]byte{"kek": rep(0xff, 32), "key": seq(0x10, 64), "nonce": nonce, "ad": []byte("x")}},
		{name: "wrap-invalid-ad", desc: "wrapped with additional data \"a\", unwrapped with \"b\"", in: map[string][]byte{"kek": key, "ad": []byte("b")}, box: refSeal(key, nonce, rep(0xaa, 32), []byte("a")), err: "not authentic"},
		{name: "wrap-invalid-length-15", desc: "an authentic box of 15 bytes: no key is that short", in: map[string][]byte{"kek": key, "ad": {}}, box: refSeal(key, nonce, rep(0xaa, 15), nil), err: "key length"},
		{name: "wrap-invalid-length-65", desc: "an authentic box of 65 bytes: no key is that long", in: map[string][]byte{"kek": key, "ad": {}}, box: refSeal(key, nonce, rep(0xaa, 65), nil), err: "key length"},

		{name: "hkdf-rfc5869-1", desc: "RFC 5869 A.1: 22-byte key, 13-byte salt, 10-byte info, 42 bytes", in: map[string][]byte{"key": rep(0x0b, 22), "salt": seq(0, 13), "info": seq(0xf0, 10), "length": {42}}},
		{name: "hkdf-no-salt", desc: "an empty salt is 32 zero bytes", in: map[string][]byte{"key": key, "salt": {}, "info": []byte("record key"), "length": {32}}},
		{name: "hkdf-64", desc: "the longest subkey, from the longest key, with a salt longer than a block", in: map[string][]byte{"key": seq(1, 64), "salt": rep(0x5a, 100), "info": []byte("name key"), "length": {64}}},
		{name: "hkdf-invalid-length-65", desc: "a subkey of 65 bytes", in: map[string][]byte{"key": key, "salt": {}, "info": {}, "length": {65}}, err: "key length"},
		{name: "hkdf-invalid-length-15", desc: "a subkey of 15 bytes", in: map[string][]byte{"key": key, "salt": {}, "info": {}, "length": {15}}, err: "key length"},
		{name: "hkdf-invalid-info", desc: "info of 1025 bytes", in: map[string][]byte{"key": key, "salt": {}, "info": rep('i', abi.KeyMaxInfo+1), "length": {32}}, err: "info too long"},

		{name: "hmac-rfc4231-1", desc: "RFC 4231 test case 1: a 20-byte key", in: map[string][]byte{"key": rep(0x0b, 20), "data": []byte("Hi There")}},
		{name: "hmac-name", desc: "a folded secret name under a 32-byte name key", in: map[string][]byte{"key": key, "data": []byte("db/password")}},
		{name: "hmac-64", desc: "the longest key, no data", in: map[string][]byte{"key": seq(0x20, 64), "data": {}}},
		{name: "hmac-invalid-key-15", desc: "a key of 15 bytes: no key is that short", in: map[string][]byte{"key": rep(1, 15), "data": []byte("x")}, err: "key length"},
	}
}

// refSeal is the reference box: nonce ‖ XChaCha20-Poly1305.
func refSeal(key, nonce, plain, ad []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err)
	}
	return aead.Seal(bytes.Clone(nonce), nonce, plain, ad)
}

// cryptoOutput computes a valid vector's output, or reports why its inputs
// are refused: what a host must do.
func cryptoOutput(kind string, in map[string][]byte, box []byte) ([]byte, string) {
	keyOK := func(k []byte) bool { return len(k) >= abi.KeyMinBytes && len(k) <= abi.KeyMaxBytes }
	switch kind {
	case "seal", "wrap":
		k := in["key"]
		if kind == "wrap" {
			k = in["kek"]
		}
		if box == nil { // valid: seal
			plain := in["plaintext"]
			if kind == "wrap" {
				plain = in["key"]
			}
			return refSeal(k, in["nonce"], plain, in["ad"]), ""
		}
		if len(box) < abi.KeyOverhead {
			return nil, "too short"
		}
		aead, _ := chacha20poly1305.NewX(k)
		plain, err := aead.Open(nil, box[:24], box[24:], in["ad"])
		switch {
		case err != nil:
			return nil, "not authentic"
		case kind == "wrap" && !keyOK(plain):
			return nil, "key length"
		}
		return plain, ""
	case "hkdf":
		n := int(in["length"][0])
		switch {
		case !keyOK(in["key"]) || n < abi.KeyMinBytes || n > abi.KeyMaxBytes:
			return nil, "key length"
		case len(in["salt"]) > abi.KeyMaxInfo, len(in["info"]) > abi.KeyMaxInfo:
			return nil, "info too long"
		}
		out, err := hkdf.Key(sha256.New, in["key"], in["salt"], string(in["info"]), n)
		if err != nil {
			panic(err)
		}
		return out, ""
	case "age":
		return ageOutput(in)
	case "hmac":
		if !keyOK(in["key"]) {
			return nil, "key length"
		}
		m := hmac.New(sha256.New, in["key"])
		m.Write(in["data"])
		return m.Sum(nil), ""
	}
	panic("unknown kind " + kind)
}

// inputJSON is the JSON form of inputs: hex strings, and length a number.
func inputJSON(t testing.TB, in map[string][]byte) json.RawMessage {
	m := map[string]any{}
	for k, v := range in {
		if k == "length" {
			m[k] = int(v[0])
		} else {
			m[k] = hex.EncodeToString(v)
		}
	}
	return marshalJSON(t, m)
}

// parseInput reads inputs back, checking that they are exactly the fields
// of their kind.
func parseInput(kind string, valid bool, raw json.RawMessage) (map[string][]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	want := cryptoKinds[kind][1]
	if valid {
		want = cryptoKinds[kind][0]
	}
	in := map[string][]byte{}
	for k, v := range m {
		switch {
		case !slices.Contains(want, k):
			return nil, fmt.Errorf("input has unknown field %q", k)
		case k == "length":
			n, ok := v.(float64)
			if !ok || n < 0 || n > 255 || n != float64(int(n)) {
				return nil, fmt.Errorf("input.length is not a small number: %v", v)
			}
			in[k] = []byte{byte(n)}
		default:
			s, ok := v.(string)
			b, err := hex.DecodeString(s)
			if !ok || err != nil || hex.EncodeToString(b) != s {
				return nil, fmt.Errorf("input.%s is not lower-case hex", k)
			}
			in[k] = b
		}
	}
	for _, k := range want {
		if _, ok := in[k]; !ok {
			return nil, fmt.Errorf("input misses field %q", k)
		}
	}
	return in, nil
}

// generateCryptoVectors renders cryptoCases as vector files into out.
func generateCryptoVectors(t *testing.T, out map[string]vectorFile) {
	t.Helper()
	for _, c := range append(cryptoCases(), ageCases(t)...) {
		kind, _, _ := strings.Cut(c.name, "-")
		if _, ok := cryptoKinds[kind]; !ok {
			t.Fatalf("vector %s: unknown kind", c.name)
		}
		f := vectorFile{Kind: kind, Description: c.desc, Input: inputJSON(t, c.in), Error: c.err}
		got, why := cryptoOutput(kind, c.in, c.box)
		if why != c.err {
			t.Fatalf("vector %s: refused for %q, want %q", c.name, why, c.err)
		}
		if c.err == "" {
			f.Hex = hex.EncodeToString(got)
		} else {
			f.Hex = hex.EncodeToString(c.box)
		}
		out[c.name+".json"] = f
	}
}

// runCryptoVector checks one vector file against the reference.
func runCryptoVector(t *testing.T, v vectorFile) {
	if v.Description == "" {
		t.Error("no description")
	}
	in, err := parseInput(v.Kind, v.Error == "", v.Input)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(v.Hex)
	if err != nil || hex.EncodeToString(b) != v.Hex {
		t.Fatalf("hex is not lower-case hex: %v", err)
	}
	if v.Error == "" {
		got, why := cryptoOutput(v.Kind, in, nil)
		if why != "" || !bytes.Equal(got, b) {
			t.Errorf("output %x (%s), want %s", got, why, v.Hex)
		}
		if v.Kind == "seal" || v.Kind == "wrap" {
			if plain, why := cryptoOutput(v.Kind, in, b); why != "" || (v.Kind == "seal" && !bytes.Equal(plain, in["plaintext"])) {
				t.Errorf("the box does not open: %s", why)
			}
		}
		return
	}
	var box []byte
	if v.Kind == "seal" || v.Kind == "wrap" {
		box = b
	}
	if _, why := cryptoOutput(v.Kind, in, box); why == "" {
		t.Errorf("accepted, want refused: %s", v.Error)
	}
}
