package kdbx

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// cheapCrypto is GoCrypto with a KDF of one hash, so that the fuzz tests
// reach past the key derivation whatever the header asks of it.
type cheapCrypto struct{ GoCrypto }

func (c cheapCrypto) Transform(k Key, kdf *KDF) (Key, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	return &goKey{HashOf(SHA256, b, kdf.Seed)}, nil
}

// testdataDB decodes a database of testdata with GoCrypto.
func testdataDB(tb testing.TB, name string) (*Database, []byte) {
	tb.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	key, _ := CompositeKey(GoCrypto{}, []byte("pw"), nil)
	db, err := Decode(data, GoCrypto{}, key)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return db, data
}

// cheapSeeds are the testdata databases and variants of them in every KDF
// and cipher, encoded under cheapCrypto with the password "pw".
func cheapSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	salt := make([]byte, 32)
	for _, name := range []string{"kdbx31.kdbx", "kdbx40.kdbx"} {
		db, raw := testdataDB(tb, name)
		out = append(out, raw)
		key, _ := CompositeKey(cheapCrypto{}, []byte("pw"), nil)
		db.c = cheapCrypto{}
		kdfs := []KDF{{Kind: AESKDF, Seed: salt, Rounds: 10}}
		if db.h.v4() {
			kdfs = append(kdfs, KDF{Kind: Argon2d, Seed: salt, Iterations: 1, MemoryBytes: 8 << 10, Parallelism: 1, Version: 0x13},
				KDF{Kind: Argon2id, Seed: salt, Iterations: 1, MemoryBytes: 8 << 10, Parallelism: 1, Version: 0x13})
		}
		for i, kdf := range kdfs {
			if err := db.SetKDF(kdf, key); err != nil {
				tb.Fatal(err)
			}
			db.SetCipher([]Cipher{CipherAES256, CipherChaCha20}[i%2])
			db.SetCompression(i%2 == 0)
			b, err := db.Encode()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// TestRoundTrip decodes what Encode wrote, in each version, KDF and
// cipher, and finds the same document and attachments.
func TestRoundTrip(t *testing.T) {
	key, _ := CompositeKey(cheapCrypto{}, []byte("pw"), nil)
	for i, seed := range cheapSeeds(t) {
		db, err := Decode(seed, cheapCrypto{}, key)
		if i == 0 || i == 2 { // the files as KeePassXC wrote them
			continue
		}
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		again, err := db.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(again, cheapCrypto{}, key)
		if err != nil {
			t.Fatalf("seed %d written again: %v", i, err)
		}
		if dump(db.XML) != dump(back.XML) || back.Version() != db.Version() || len(back.Binaries) != len(db.Binaries) {
			t.Errorf("seed %d: differs after a round trip", i)
		}
	}
}

// TestWrongKey: a wrong password is ErrKey in both versions, and so is a
// missing key file.
func TestWrongKey(t *testing.T) {
	kf := make([]byte, 32)
	rand.Read(kf)
	for _, name := range []string{"kdbx31.kdbx", "kdbx40.kdbx"} {
		data, _ := os.ReadFile("testdata/" + name)
		for _, k := range []struct{ pw, kf []byte }{{[]byte("wrong"), nil}, {[]byte("pw"), kf}, {nil, nil}} {
			key, _ := CompositeKey(GoCrypto{}, k.pw, k.kf)
			if _, err := Decode(data, GoCrypto{}, key); !errors.Is(err, ErrKey) {
				t.Errorf("%s: got %v, want ErrKey", name, err)
			}
		}
	}
}

// TestKeyFileRefusals: an XML key file that is damaged is refused, not
// hashed into a key that opens nothing.
func TestKeyFileRefusals(t *testing.T) {
	for name, file := range map[string]string{
		"hash mismatch": `<KeyFile><Meta><Version>2.0</Version></Meta><Key><Data Hash="00000000">` +
			`0001020304050607 08090A0B0C0D0E0F 1011121314151617 18191A1B1C1D1E1F</Data></Key></KeyFile>`,
		"short data":      `<KeyFile><Meta><Version>2.0</Version></Meta><Key><Data>0001</Data></Key></KeyFile>`,
		"unknown version": `<KeyFile><Meta><Version>3.0</Version></Meta><Key><Data>00</Data></Key></KeyFile>`,
		"v1 not base64":   `<KeyFile><Meta><Version>1.0</Version></Meta><Key><Data>!!</Data></Key></KeyFile>`,
	} {
		var kfe *KeyFileError
		if _, err := KeyFileKey([]byte(file)); !errors.As(err, &kfe) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	good := `<KeyFile><Meta><Version>2.0</Version></Meta><Key><Data Hash="630DCD29">` +
		`0001020304050607 08090A0B0C0D0E0F 1011121314151617 18191A1B1C1D1E1F</Data></Key></KeyFile>`
	k, err := KeyFileKey([]byte(good))
	if err != nil || k[31] != 0x1f {
		t.Errorf("a good .keyx: %x, %v", k, err)
	}
}

// TestVersionRefusals: what this package does not read is a FormatError
// that says so.
func TestVersionRefusals(t *testing.T) {
	_, v4 := testdataDB(t, "kdbx40.kdbx")
	for name, mut := range map[string]func([]byte){
		"KDBX 4.2":  func(b []byte) { b[8] = 2 },
		"KDBX 5":    func(b []byte) { b[10] = 5 },
		"KeePass 1": func(b []byte) { b[4] = 0x65 },
		"not KDBX":  func(b []byte) { b[0] = 0 },
	} {
		b := bytes.Clone(v4)
		mut(b)
		var fe *FormatError
		if _, err := Decode(b, GoCrypto{}, nil); !errors.As(err, &fe) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// FuzzDecode: every rejection is ErrKey, a FormatError or a KeyFileError;
// every acceptance writes back into a file that decodes to the same
// document.
func FuzzDecode(f *testing.F) {
	seeds := cheapSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	key, _ := CompositeKey(cheapCrypto{}, []byte("pw"), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := Decode(data, cheapCrypto{}, key)
		if err != nil {
			var fe *FormatError
			if !errors.Is(err, ErrKey) && !errors.As(err, &fe) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			return
		}
		out, err := db.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(out, cheapCrypto{}, key)
		if err != nil {
			t.Fatalf("what Encode wrote does not decode: %v", err)
		}
		if dump(back.XML) != dump(db.XML) {
			t.Fatal("the document changed in a round trip")
		}
	})
}

// FuzzPayload feeds the decrypted content of a KDBX 4 file (inner header
// and XML) to its reader, past the ciphers a fuzzer cannot forge.
func FuzzPayload(f *testing.F) {
	db, _ := testdataDB(f, "kdbx40.kdbx")
	db.SetCompression(false)
	var p bytes.Buffer
	p.Write([]byte{ihStreamID, 4, 0, 0, 0, innerChaCha20, 0, 0, 0, ihStreamKy, 64, 0, 0, 0})
	p.Write(make([]byte, 64))
	p.Write([]byte{ihBinary, 3, 0, 0, 0, 1, 'h', 'i', ihEnd, 0, 0, 0, 0})
	s, _ := newInnerStream(innerChaCha20, make([]byte, 64))
	x, err := encodeXML(db.XML, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(p.Bytes(), x...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &Database{h: db.h, c: GoCrypto{}}
		if err := d.readPayload(data); err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			return
		}
		s, _ := newInnerStream(d.innerID, make([]byte, 64))
		if _, err := encodeXML(d.XML, s); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzKeyFileKey: any file is a key or a KeyFileError, and a key is 32
// bytes.
func FuzzKeyFileKey(f *testing.F) {
	f.Add([]byte(`<KeyFile><Meta><Version>2.0</Version></Meta><Key><Data Hash="630DCD29">000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F</Data></Key></KeyFile>`))
	f.Add([]byte(`<KeyFile><Meta><Version>1.00</Version></Meta><Key><Data>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=</Data></Key></KeyFile>`))
	f.Add(bytes.Repeat([]byte("a"), 64))
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, file []byte) {
		k, err := KeyFileKey(file)
		var kfe *KeyFileError
		if err != nil && !errors.As(err, &kfe) {
			t.Fatalf("an error of no known kind: %v", err)
		}
		if err == nil && len(k) != 32 {
			t.Fatalf("a key of %d bytes", len(k))
		}
	})
}

// TestXMLStructure: the XML reader refuses a document whose tags do not
// nest, which the tokenizer it is built on does not check.
func TestXMLStructure(t *testing.T) {
	plain := &innerStream{func(dst, src []byte) { copy(dst, src) }}
	for _, c := range []struct{ doc, want string }{
		{"<a><b></a>", "unexpected </a>"},
		{"<a><b>x</b></c>", "unexpected </c>"},
		{"<a></a></a>", "unexpected </a>"},
		{"<a><b/>", "ends inside <a>"},
		{"<x:a></y:a>", "unexpected </a>"},
	} {
		_, err := parseXML([]byte(c.doc), plain)
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a FormatError with %q", c.doc, err, c.want)
		}
	}
	if n, err := parseXML([]byte(`<?xml version="1.0"?><a k="v"><!-- c --><b>x &amp; y</b></a>`), plain); err != nil || n.Child("b").Text != "x & y" {
		t.Errorf("a well-formed document: %v", err)
	}
}

// TestUnreferencedBinariesGo: a 4.x write keeps the contents entries and
// history items refer to, renumbered, and drops the others, so that a
// removed attachment's bytes do not stay in the file.
func TestUnreferencedBinariesGo(t *testing.T) {
	db, _ := testdataDB(t, "kdbx40.kdbx")
	key, _ := CompositeKey(GoCrypto{}, []byte("pw"), nil)
	now := time.Now()
	a, b := db.NewEntry(db.Root(), now), db.NewEntry(db.Root(), now)
	db.SetAttachment(a, "gone", []byte("removed secret"))
	db.SetAttachment(b, "kept", []byte("kept content"))
	RemoveAttachment(a, "gone")
	out, err := db.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(out, GoCrypto{}, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range back.Binaries {
		if string(bin.Data) == "removed secret" {
			t.Error("the removed attachment's content is still in the file")
		}
	}
	var got []byte
	back.Entries(func(_ []string, _, e *Node) bool {
		if d, ok, _ := back.Attachment(e, "kept"); ok {
			got = d
		}
		return true
	})
	if string(got) != "kept content" {
		t.Errorf("the kept attachment reads %q", got)
	}
}
