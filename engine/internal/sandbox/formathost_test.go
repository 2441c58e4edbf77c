package sandbox

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/argon2"
	"github.com/sesamehq/sesame/internal/kdbx"
)

func seq(from byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = from + byte(i)
	}
	return b
}

// TestFormatVectors checks the host's hash and KDFs of SPEC.md §5.11
// against the published vectors (§7.9); the ciphers, which are the
// standard library's, are checked through a guest below.
func TestFormatVectors(t *testing.T) {
	n := func(v keyVector, f string) uint64 {
		var x uint64
		json.Unmarshal(v.Input[f], &x)
		return x
	}
	for _, v := range keyVectors(t, "hash") {
		if v.Error != "" {
			continue // the bounds are the host function's, checked from C
		}
		out := make([]byte, n(v, "length"))
		if hashInto(out, v.bytes(t, "prefix"), v.bytes(t, "key"), v.bytes(t, "suffix")); !bytes.Equal(out, v.out(t)) {
			t.Errorf("%s: %x", v.name, out)
		}
	}
	for _, v := range keyVectors(t, "aes_kdf") {
		if v.Error == "" {
			if out := aesKDF(v.bytes(t, "key"), v.bytes(t, "seed"), n(v, "rounds"), nil); !bytes.Equal(out, v.out(t)) {
				t.Errorf("%s: %x", v.name, out)
			}
		}
	}
	for _, v := range keyVectors(t, "argon2") {
		p := argon2.Params{Variant: argon2.Variant(n(v, "variant")), Version: uint32(n(v, "version")), Salt: v.bytes(t, "salt"),
			Time: uint32(n(v, "time")), MemoryKiB: uint32(n(v, "memory")), Lanes: uint32(n(v, "lanes")), TagLen: uint32(n(v, "length"))}
		if refused := argon2Refused(&p); refused != (v.Error != "") {
			t.Errorf("%s: refused %v", v.name, refused)
			continue
		}
		if v.Error == "" {
			if out, _ := argon2.Key(v.bytes(t, "key"), p); !bytes.Equal(out, v.out(t)) {
				t.Errorf("%s: %x", v.name, out)
			}
		}
	}
}

// TestFormatKeysFromC: sesame.h declares every format primitive with the
// host's signature (the module loads), a C vault gets their documented
// refusals, and what it computes through them, the way a KDBX reader
// derives and uses its keys, is what Go's own crypto computes.
func TestFormatKeysFromC(t *testing.T) {
	ctx := context.Background()
	m, err := keyHost(t, nil).Load(ctx, Spec{Vault: "C", Wasm: buildC(t, "engine/internal/sandbox/testdata/formatkeys.c")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	got, err := m.Call(ctx, abi.OpGet, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	want := formatKeysWant()
	if !bytes.Equal(got, want) {
		t.Errorf("the guest computed\n%x\nwant\n%x", got, want)
	}
	if n := m.keys.live(); n != 0 {
		t.Errorf("%d keys live after the call, want none", n)
	}
}

// formatKeysWant is what testdata/formatkeys.c (and optional.ts's
// "format") computes through the host, computed with Go's crypto.
func formatKeysWant() []byte {
	key, seed := seq(0x80, 32), seq(0x30, 32)
	aesKey, _ := (&kdbx.KDF{Kind: kdbx.AESKDF, Seed: seed, Rounds: 1000}).Derive(key)
	argonKey, _ := (&kdbx.KDF{Kind: kdbx.Argon2d, Seed: seq(0x60, 32), Iterations: 2, MemoryBytes: 64 << 10, Parallelism: 2, Version: 0x13}).Derive(key)
	ck := kdbx.HashOf(kdbx.SHA256, seed, aesKey)
	bk := kdbx.HashOf(kdbx.SHA512, bytes.Repeat([]byte{0xff}, 8), kdbx.HashOf(kdbx.SHA512, seed, argonKey, []byte{1}))
	plain := seq('a', 64)
	want := make([]byte, 0, 160)
	blk, _ := aes.NewCipher(ck)
	cbc := make([]byte, 64)
	cipher.NewCBCEncrypter(blk, seq(0x10, 16)).CryptBlocks(cbc, plain)
	want = append(want, cbc...)
	ch, _ := chacha20.NewUnauthenticatedCipher(ck, seq(0x40, 12))
	stream := make([]byte, 64)
	ch.XORKeyStream(stream, plain)
	want = append(want, stream...)
	mac := hmac.New(sha256.New, bk)
	mac.Write([]byte("header"))
	return mac.Sum(want)
}

// TestFormatKDFStopsAtTheDeadline: an AES-KDF of 2^40 rounds (hours) ends
// with DEADLINE_EXCEEDED at the call's deadline, and the derivation stops
// soon after, giving its process slot back (it would hold it for hours).
func TestFormatKDFStopsAtTheDeadline(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	m, err := h.Load(ctx, Spec{Vault: "Slow", Wasm: buildC(t, "engine/internal/sandbox/testdata/formatkeys.c"), Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Call(ctx, abi.OpGet, []byte("slow"))
	var se *Error
	if !errors.As(err, &se) || se.Status != abi.DeadlineExceeded {
		t.Fatalf("a derivation longer than the deadline: %v, want DEADLINE_EXCEEDED", err)
	}
	// Both slots come back: the derivation stopped.
	kdfSlots <- struct{}{}
	kdfSlots <- struct{}{}
	<-kdfSlots
	<-kdfSlots
}
