package kdbx

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20"

	"github.com/sesamehq/sesame/internal/argon2"
)

// Key is a key held by a Crypto: the composite key, the transformed key
// and the keys derived from it. The codec never looks inside one, so that
// a Crypto can keep them out of the caller's memory (a wasm guest hands
// them to host functions that keep them behind handles).
type Key any

// Hash names a hash function of the format.
type Hash int

const (
	SHA256 Hash = iota
	SHA512
)

// Crypto is the cryptography of the format that touches keys. Everything
// else (the inner stream for protected values, the block hashes of KDBX
// 3.1, the header hash) works on bytes that are in the file and is done
// by the codec itself.
type Crypto interface {
	// Composite returns the composite key: SHA-256 of the concatenation of
	// the raw key parts (SHA-256 of the password, the key file's key).
	Composite(parts ...[]byte) (Key, error)
	// Transform runs the KDF over k and returns the 32-byte transformed key.
	Transform(k Key, kdf *KDF) (Key, error)
	// HashKey returns, as a key, the hash h of prefix, k and suffix in that
	// order: how the format derives its cipher and HMAC keys.
	HashKey(h Hash, prefix []byte, k Key, suffix []byte) (Key, error)
	// AESCBC encrypts or decrypts data, a whole number of blocks, with
	// AES-256-CBC under the 32-byte k; padding is the caller's.
	AESCBC(k Key, iv, data []byte, encrypt bool) ([]byte, error)
	// ChaCha20 XORs data with the ChaCha20 stream of the 32-byte k and the
	// 12-byte nonce (RFC 8439, counter from 0).
	ChaCha20(k Key, nonce, data []byte) ([]byte, error)
	// HMACSHA256 returns the HMAC-SHA-256 of data under k.
	HMACSHA256(k Key, data []byte) ([]byte, error)
	// Forget drops k; a Crypto that holds key memory wipes it.
	Forget(k Key)
}

// GoCrypto is Crypto in Go's own packages, for hosts and tests. Its keys
// are plain byte slices in this process's memory.
type GoCrypto struct{}

type goKey struct{ b []byte }

func (GoCrypto) key(k Key) ([]byte, error) {
	gk, ok := k.(*goKey)
	if !ok || gk.b == nil {
		return nil, errors.New("kdbx: not a live key of this Crypto")
	}
	return gk.b, nil
}

func (GoCrypto) Composite(parts ...[]byte) (Key, error) {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return &goKey{h.Sum(nil)}, nil
}

func (c GoCrypto) Transform(k Key, kdf *KDF) (Key, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	out, err := kdf.Derive(b)
	if err != nil {
		return nil, err
	}
	return &goKey{out}, nil
}

func (c GoCrypto) HashKey(h Hash, prefix []byte, k Key, suffix []byte) (Key, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	return &goKey{HashOf(h, prefix, b, suffix)}, nil
}

// HashOf is SHA-256 or SHA-512 of the concatenation of parts.
func HashOf(h Hash, parts ...[]byte) []byte {
	var d interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	if h == SHA512 {
		d = sha512.New()
	} else {
		d = sha256.New()
	}
	for _, p := range parts {
		d.Write(p)
	}
	return d.Sum(nil)
}

func (c GoCrypto) AESCBC(k Key, iv, data []byte, encrypt bool) ([]byte, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	return AESCBC(b, iv, data, encrypt)
}

// AESCBC is AES-256-CBC without padding over whole blocks.
func AESCBC(key, iv, data []byte, encrypt bool) ([]byte, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("kdbx: AES-256 key of %d bytes", len(key))
	}
	blk, _ := aes.NewCipher(key)
	if len(iv) != aes.BlockSize || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("kdbx: AES-CBC needs a 16-byte IV and whole blocks")
	}
	out := make([]byte, len(data))
	if encrypt {
		cipher.NewCBCEncrypter(blk, iv).CryptBlocks(out, data)
	} else {
		cipher.NewCBCDecrypter(blk, iv).CryptBlocks(out, data)
	}
	return out, nil
}

func (c GoCrypto) ChaCha20(k Key, nonce, data []byte) ([]byte, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	return ChaCha20(b, nonce, data)
}

// ChaCha20 XORs data with the stream of key and a 12-byte nonce.
func ChaCha20(key, nonce, data []byte) ([]byte, error) {
	s, err := chacha20.NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		return nil, fmt.Errorf("kdbx: ChaCha20: %w", err)
	}
	out := make([]byte, len(data))
	s.XORKeyStream(out, data)
	return out, nil
}

func (c GoCrypto) HMACSHA256(k Key, data []byte) ([]byte, error) {
	b, err := c.key(k)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, b)
	m.Write(data)
	return m.Sum(nil), nil
}

func (GoCrypto) Forget(k Key) {
	if gk, ok := k.(*goKey); ok {
		clear(gk.b)
		gk.b = nil
	}
}

// aesKDF is KeePass's AES-KDF: rounds of AES-256-ECB under seed over each
// half of key, then SHA-256 of the result.
func aesKDF(key, seed []byte, rounds uint64) ([]byte, error) {
	if len(key) != 32 || len(seed) != 32 {
		return nil, errors.New("kdbx: AES-KDF needs a 32-byte key and seed")
	}
	blk, _ := aes.NewCipher(seed)
	var buf [32]byte
	copy(buf[:], key)
	for i := uint64(0); i < rounds; i++ {
		blk.Encrypt(buf[:16], buf[:16])
		blk.Encrypt(buf[16:], buf[16:])
	}
	out := sha256.Sum256(buf[:])
	clear(buf[:])
	return out[:], nil
}

// argon2Key runs Argon2d or Argon2id with the KDF's parameters.
func argon2Key(key []byte, k *KDF) ([]byte, error) {
	v := argon2.D
	if k.Kind == Argon2id {
		v = argon2.ID
	}
	if k.MemoryBytes%1024 != 0 || k.MemoryBytes/1024 > 1<<32-1 || k.Iterations > 1<<32-1 {
		return nil, errors.New("kdbx: Argon2 memory or iterations out of range")
	}
	return argon2.Key(key, argon2.Params{
		Variant: v, Version: k.Version, Time: uint32(k.Iterations),
		MemoryKiB: uint32(k.MemoryBytes / 1024), Lanes: k.Parallelism,
		Salt: k.Seed, Secret: k.Secret, Associated: k.Associated, TagLen: 32,
	})
}
