package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"
	"sync"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/poly1305" //lint:ignore SA1019 the AEAD below is built from it so that its key state can be wiped; see sealBox
)

// The primitives of the key handles (SPEC.md §5.8), written so that every
// copy of a key they make is one this file wipes. golang.org/x/crypto's
// chacha20poly1305 and the standard library's crypto/hmac and crypto/hkdf
// compute the same things, but each keeps a copy of the key (or of its
// pads) in a heap object of its own that nothing can reach to wipe; the
// tests check these functions against them.

// sealBox encrypts plain under the 32-byte key with XChaCha20-Poly1305 and
// the 24-byte nonce, with additional data ad, and appends the box
// (nonce ‖ cipher text ‖ tag) to dst. It is the AEAD of RFC 8439 §2.8 with
// XChaCha20 (draft-irtf-cfrg-xchacha) as its cipher, as x/crypto's NewX.
func sealBox(dst, key, nonce, plain, ad []byte) []byte {
	c, err := chacha20.NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		panic("sandbox: sealBox: " + err.Error()) // the callers check the sizes
	}
	defer wipeCipher(c)
	var polyKey [32]byte
	defer clear(polyKey[:])
	c.XORKeyStream(polyKey[:], polyKey[:])
	c.SetCounter(1)
	out := append(dst, nonce...)
	n := len(out)
	out = append(out, make([]byte, len(plain)+poly1305.TagSize)...)
	ct := out[n : n+len(plain)]
	c.XORKeyStream(ct, plain)
	var tag [poly1305.TagSize]byte
	polyTag(&tag, &polyKey, ad, ct)
	copy(out[n+len(plain):], tag[:])
	return out
}

// openBox checks box (nonce ‖ cipher text ‖ tag) under key and ad, and
// reports whether it is authentic; if so, and dst is not nil, it decrypts
// the box into dst, which must be len(box) - KeyOverhead bytes long. dst
// may be guest memory, but must not overlap box.
func openBox(dst, key, box, ad []byte) bool {
	nonce, ct, tag := box[:24], box[24:len(box)-poly1305.TagSize], box[len(box)-poly1305.TagSize:]
	c, err := chacha20.NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		panic("sandbox: openBox: " + err.Error())
	}
	defer wipeCipher(c)
	var polyKey [32]byte
	defer clear(polyKey[:])
	c.XORKeyStream(polyKey[:], polyKey[:])
	c.SetCounter(1)
	var want [poly1305.TagSize]byte
	polyTag(&want, &polyKey, ad, ct)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		return false
	}
	if dst != nil {
		c.XORKeyStream(dst, ct)
	}
	return true
}

// polyTag is Poly1305 over ad and ct, each padded to 16 bytes, then their
// lengths (RFC 8439 §2.8). The one-time key is the cipher's first block,
// which tells nothing of the key.
func polyTag(tag *[16]byte, polyKey *[32]byte, ad, ct []byte) {
	m := poly1305.New(polyKey)
	var pad [16]byte
	m.Write(ad)
	m.Write(pad[:(16-len(ad)%16)%16])
	m.Write(ct)
	m.Write(pad[:(16-len(ct)%16)%16])
	var lens [16]byte
	binary.LittleEndian.PutUint64(lens[:8], uint64(len(ad)))
	binary.LittleEndian.PutUint64(lens[8:], uint64(len(ct)))
	m.Write(lens[:])
	m.Sum(tag[:0])
}

// wipeCipher zeroes a cipher's state: its key words and any key stream it
// buffered.
func wipeCipher(c *chacha20.Cipher) { *c = chacha20.Cipher{} }

// An hmacState is what hmacSHA256 works in: two SHA-256 states and its
// buffers, pooled, since as new values per HMAC (and buffers the hashes'
// interface made escape) they were six allocations of a secretstore get.
// It goes back to the pool wiped: the hashes reset (their chaining values,
// which stand for the pads, overwritten), the buffers zeroed.
type hmacState struct {
	inner, outer hash.Hash
	pad          [sha256.BlockSize]byte
	sum, mac     [sha256.Size]byte
}

var hmacStates = sync.Pool{New: func() any { return &hmacState{inner: sha256.New(), outer: sha256.New()} }}

func (st *hmacState) wipe() {
	resetAll(st.inner, st.outer)
	clear(st.pad[:])
	clear(st.sum[:])
	clear(st.mac[:])
}

// hmacSHA256 appends HMAC-SHA256 (RFC 2104) of the parts under key to dst.
func hmacSHA256(dst, key []byte, parts ...[]byte) []byte {
	if len(key) > sha256.BlockSize {
		panic("sandbox: hmacSHA256: key longer than a block") // keys are at most 64 bytes
	}
	st := hmacStates.Get().(*hmacState)
	defer hmacStates.Put(st)
	defer st.wipe()
	copy(st.pad[:], key)
	for i := range st.pad {
		st.pad[i] ^= 0x36
	}
	st.inner.Write(st.pad[:])
	for _, p := range parts {
		st.inner.Write(p)
	}
	st.inner.Sum(st.sum[:0])
	for i := range st.pad {
		st.pad[i] ^= 0x36 ^ 0x5c
	}
	st.outer.Write(st.pad[:])
	st.outer.Write(st.sum[:])
	return append(dst, st.outer.Sum(st.mac[:0])...)
}

func resetAll(hs ...hash.Hash) {
	for _, h := range hs {
		h.Reset()
	}
}

// hkdfSHA256 writes HKDF-SHA256 (RFC 5869) of ikm, salt and info to out,
// at most 255 × 32 bytes (here: at most 64). An empty salt is 32 zero
// bytes, as the RFC says.
func hkdfSHA256(out, ikm, salt, info []byte) {
	var prk [sha256.Size]byte
	defer clear(prk[:])
	hkdfExtract(&prk, ikm, salt)
	hkdfExpand(out, prk[:], info)
}

// hkdfExtract writes HKDF-SHA256's pseudorandom key of ikm and salt to prk
// (RFC 5869 §2.2): PRK = HMAC(salt, IKM).
func hkdfExtract(prk *[sha256.Size]byte, ikm, salt []byte) {
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	// A salt longer than a block is first hashed, as HMAC's key; it is not
	// secret.
	if len(salt) > sha256.BlockSize {
		s := sha256.Sum256(salt)
		salt = s[:]
	}
	hmacSHA256(prk[:0], salt, ikm)
}

// hkdfExpand writes HKDF-SHA256's output of the pseudorandom key prk and
// info to out (RFC 5869 §2.3), at most 255 × 32 bytes.
func hkdfExpand(out, prk, info []byte) {
	var t [sha256.Size]byte
	defer clear(t[:])
	prev := t[:0]
	for i := byte(1); len(out) > 0; i++ {
		hmacSHA256(t[:0], prk, prev, info, []byte{i})
		prev = t[:]
		out = out[copy(out, t[:]):]
	}
}
