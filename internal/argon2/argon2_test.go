package argon2

import (
	"bytes"
	"encoding/hex"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestRFC9106Vectors checks the three test vectors of RFC 9106 §5, which
// use every input (secret and associated data too) and four lanes.
func TestRFC9106Vectors(t *testing.T) {
	tests := []struct {
		v    Variant
		want string
	}{
		{D, "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"},
		{I, "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
		{ID, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"},
	}
	for _, tt := range tests {
		got, err := Key(bytes.Repeat([]byte{1}, 32), Params{
			Variant: tt.v, Version: Version13, Time: 3, MemoryKiB: 32, Lanes: 4,
			Salt: bytes.Repeat([]byte{2}, 16), Secret: bytes.Repeat([]byte{3}, 8),
			Associated: bytes.Repeat([]byte{4}, 12), TagLen: 32,
		})
		if err != nil {
			t.Fatal(err)
		}
		if h := hex.EncodeToString(got); h != tt.want {
			t.Errorf("variant %d: got %s, want %s", tt.v, h, tt.want)
		}
	}
}

// TestReferenceCLI checks Argon2d in both versions, without secret or
// associated data, against the RFC's reference implementation: the
// outputs of Debian's argon2 command (echo -n password | argon2
// somesalt12345678 -d -t 2 -m 10 -p 2 -l 32 [-v 10] -r).
func TestReferenceCLI(t *testing.T) {
	for v, want := range map[uint32]string{
		Version13: "b2a253f150e901c0cd49fcaaac75627e115a10181def29889cb16414b875743a",
		Version10: "3a4009949878fa476174b6df686ec896c45d2b24d965d92867db54dbb621779a",
	} {
		got, err := Key([]byte("password"), Params{Variant: D, Version: v, Time: 2, MemoryKiB: 1024, Lanes: 2, Salt: []byte("somesalt12345678"), TagLen: 32})
		if err != nil {
			t.Fatal(err)
		}
		if h := hex.EncodeToString(got); h != want {
			t.Errorf("version %#x: got %s, want %s", v, h, want)
		}
	}
}

// TestSameAsXCrypto compares Argon2i and Argon2id with golang.org/x/crypto
// over shapes the RFC vectors do not reach: more than one address block a
// segment, one lane and several, tags longer than 64 bytes.
func TestSameAsXCrypto(t *testing.T) {
	for _, c := range []struct{ time, mem, lanes, tag uint32 }{
		{1, 64, 1, 32}, {2, 1024, 2, 32}, {3, 2048, 4, 100}, {1, 515, 3, 64},
	} {
		pw, salt := []byte("password"), []byte("somesalt12345678")
		for _, v := range []Variant{I, ID} {
			got, err := Key(pw, Params{Variant: v, Version: Version13, Time: c.time, MemoryKiB: c.mem, Lanes: c.lanes, Salt: salt, TagLen: c.tag})
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			if v == I {
				want = xargon2.Key(pw, salt, c.time, c.mem, uint8(c.lanes), c.tag)
			} else {
				want = xargon2.IDKey(pw, salt, c.time, c.mem, uint8(c.lanes), c.tag)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("variant %d %+v: differs from x/crypto", v, c)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Params{Variant: D, Version: Version13, Time: 1, MemoryKiB: 8, Lanes: 1, Salt: make([]byte, 8), TagLen: 32}
	for name, mut := range map[string]func(*Params){
		"variant": func(p *Params) { p.Variant = 3 },
		"version": func(p *Params) { p.Version = 0x12 },
		"time":    func(p *Params) { p.Time = 0 },
		"lanes":   func(p *Params) { p.Lanes = 0 },
		"memory":  func(p *Params) { p.Lanes = 2 },
		"salt":    func(p *Params) { p.Salt = p.Salt[:7] },
		"tag":     func(p *Params) { p.TagLen = 3 },
	} {
		p := ok
		mut(&p)
		if _, err := Key(nil, p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Key(nil, ok); err != nil {
		t.Error(err)
	}
}

// TestStopped: a closed Done stops the derivation.
func TestStopped(t *testing.T) {
	done := make(chan struct{})
	close(done)
	_, err := Key([]byte("pw"), Params{Variant: D, Version: Version13, Time: 1, MemoryKiB: 64, Lanes: 1, Salt: make([]byte, 8), TagLen: 32, Done: done})
	if err != ErrStopped {
		t.Fatalf("got %v, want ErrStopped", err)
	}
}

// BenchmarkKey derives with KeePassXC's default Argon2 memory (64 MiB, one
// pass, two lanes): ours, and x/crypto's Argon2id (whose block function
// is assembly on amd64) as the yardstick.
func BenchmarkKey(b *testing.B) {
	pw, salt := []byte("password"), []byte("somesalt12345678")
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			Key(pw, Params{Variant: ID, Version: Version13, Time: 1, MemoryKiB: 64 << 10, Lanes: 2, Salt: salt, TagLen: 32})
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			xargon2.IDKey(pw, salt, 1, 64<<10, 2, 32)
		}
	})
}
