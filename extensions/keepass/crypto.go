//go:build wasip1

package main

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/kdbx"
)

// hostCrypto is kdbx.Crypto on the host's keys behind handles (SPEC.md
// §5.8, §5.11): the composite key, the transformed key and the cipher and
// HMAC keys never enter this module's memory. Its keys are guest.Key
// handles; those of the unlock (composite, transformed) are kept in the
// vault's keyring and survive this call, the others are released.
type hostCrypto struct {
	u *unlocked
}

func handle(k kdbx.Key) guest.Key {
	h, _ := k.(guest.Key)
	return h
}

// Composite imports the raw key parts (at most 64 bytes: a password's
// hash and a key file's key) and hashes them in the host.
func (c *hostCrypto) Composite(parts ...[]byte) (kdbx.Key, error) {
	var raw []byte
	for _, p := range parts {
		raw = append(raw, p...)
	}
	defer clear(raw)
	if len(raw) == 0 {
		return nil, guest.Error(abi.InvalidArgument, "no password and no key file")
	}
	k, err := guest.ImportKey(raw)
	if err != nil {
		return nil, err
	}
	defer k.Release()
	return k.Hash(nil, nil, 32)
}

// Transform returns the transformed key the keyring holds when the file's
// KDF parameters are those it was derived for (the file was last written
// by sesame, which keeps the KDF seed), and derives it anew otherwise
// (KeePassXC draws a new seed at each save), remembering the new one.
func (c *hostCrypto) Transform(k kdbx.Key, kdf *kdbx.KDF) (kdbx.Key, error) {
	fp := fingerprint(kdf)
	if c.u.transformed != 0 && c.u.fp == fp {
		return c.u.transformed, nil
	}
	var t guest.Key
	var err error
	switch kdf.Kind {
	case kdbx.AESKDF:
		t, err = handle(k).AESKDF(kdf.Seed, kdf.Rounds)
	default:
		if len(kdf.Secret) > 0 || len(kdf.Associated) > 0 {
			return nil, guest.Error(abi.Unsupported, "the database's Argon2 has a secret key or associated data, which the host's Argon2 does not take")
		}
		v := uint32(abi.KeyArgon2D)
		if kdf.Kind == kdbx.Argon2id {
			v = abi.KeyArgon2ID
		}
		t, err = handle(k).Argon2(v, kdf.Version, kdf.Seed, uint32(kdf.Iterations), uint32(kdf.MemoryBytes/1024), kdf.Parallelism, 32)
	}
	if err != nil {
		return nil, fmt.Errorf("the database's key derivation (%s): %w", kdf.Kind, err)
	}
	if err := c.u.replaceTransformed(t, fp); err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

// fingerprint names KDF parameters, so that a transformed key is used only
// for the parameters it was derived with.
func fingerprint(k *kdbx.KDF) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "%d|%x|%d|%d|%d|%d|%d|%x|%x", k.Kind, k.Seed, k.Rounds, k.Iterations,
		k.MemoryBytes, k.Parallelism, k.Version, k.Secret, k.Associated))
}

func (c *hostCrypto) HashKey(h kdbx.Hash, prefix []byte, k kdbx.Key, suffix []byte) (kdbx.Key, error) {
	n := 32
	if h == kdbx.SHA512 {
		n = 64
	}
	return handle(k).Hash(prefix, suffix, n)
}

func (c *hostCrypto) AESCBC(k kdbx.Key, iv, data []byte, encrypt bool) ([]byte, error) {
	out := append([]byte(nil), data...)
	if err := handle(k).AESCBC(encrypt, iv, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *hostCrypto) ChaCha20(k kdbx.Key, nonce, data []byte) ([]byte, error) {
	out := append([]byte(nil), data...)
	if err := handle(k).ChaCha20(nonce, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *hostCrypto) HMACSHA256(k kdbx.Key, data []byte) ([]byte, error) {
	sum, err := handle(k).HMAC(data)
	return sum[:], err
}

// Forget releases a key of this call; the unlock's keys stay.
func (c *hostCrypto) Forget(k kdbx.Key) {
	h := handle(k)
	if h != 0 && h != c.u.composite && h != c.u.transformed {
		h.Release()
	}
}

// unlocked is what the keyring holds: the handles of the composite key
// and of the transformed key, and the fingerprint of the KDF parameters
// the latter was derived with. Handles are not secret.
type unlocked struct {
	composite, transformed guest.Key
	fp                     [32]byte
}

const keyringLen = 4 + 4 + 32

// errLocked is the answer of a vault with a password before its unlock.
var errLocked = guest.Error(abi.Locked, "") // the host says it, and how to unlock

// loadUnlocked reads the keyring; without an unlock it answers errLocked,
// or, with authentication = none, unlocks with the key file alone.
func loadUnlocked() (*unlocked, error) {
	blob, err := guest.KeyringGet()
	switch {
	case errors.Is(err, abi.NotFound) && conf.noPassword:
		return unlock(nil)
	case errors.Is(err, abi.NotFound):
		return nil, errLocked
	case err != nil:
		return nil, err
	case len(blob) != keyringLen:
		guest.KeyringClear()
		return nil, errLocked
	}
	u := &unlocked{
		composite:   guest.Key(binary.LittleEndian.Uint32(blob)),
		transformed: guest.Key(binary.LittleEndian.Uint32(blob[4:])),
	}
	copy(u.fp[:], blob[8:])
	return u, nil
}

// remember keeps u's keys beyond this call and puts their handles in the
// keyring: both are (re)kept by this call, so that the keyring_set, which
// drops the keys kept by calls that have ended, leaves them.
func (u *unlocked) remember() error {
	for _, k := range []guest.Key{u.composite, u.transformed} {
		if k == 0 {
			continue
		}
		if err := k.Keep(); err != nil {
			return err
		}
	}
	blob := binary.LittleEndian.AppendUint32(nil, uint32(u.composite))
	blob = binary.LittleEndian.AppendUint32(blob, uint32(u.transformed))
	return guest.KeyringSet(append(blob, u.fp[:]...), conf.ttl)
}

// replaceTransformed makes t the transformed key of parameters fp.
func (u *unlocked) replaceTransformed(t guest.Key, fp [32]byte) error {
	old := u.transformed
	u.transformed, u.fp = t, fp
	if err := u.remember(); err != nil {
		u.transformed = old
		return err
	}
	if old != 0 && old != t {
		old.Release()
	}
	return nil
}
