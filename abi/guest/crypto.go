//go:build wasip1

package guest

import (
	"time"
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

// Key derivation and the keyring (SPEC.md §5.6 and §5.7). Neither needs a
// grant.
//
// KDFArgon2id runs Argon2id in the host, natively: compiled to wasm it is
// many times slower, and a vault would have to weaken its parameters to meet
// its deadline. The keyring is one slot per vault in host memory, shared by
// every instance of the vault in the process and never written to disk:
// where a vault keeps the key it unlocked, since the host discards instances
// at will and runs several at once.

//go:wasmimport sesame_v1 kdf_argon2id
func hostKDFArgon2id(password unsafe.Pointer, passwordLen uint32, salt unsafe.Pointer, saltLen uint32, passes, memoryKiB, threads uint32, dst unsafe.Pointer, dstLen uint32) uint32

//go:wasmimport sesame_v1 keyring_set
func hostKeyringSet(key unsafe.Pointer, keyLen uint32, ttlMillis uint32) uint32

//go:wasmimport sesame_v1 keyring_get
func hostKeyringGet(dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 keyring_clear
func hostKeyringClear() uint32

// Bounds of KDFArgon2id's parameters (SPEC.md §5.6). The host answers
// INVALID_ARGUMENT outside them.
const (
	KDFMaxPassword  = 1 << 10
	KDFMinSalt      = 8
	KDFMaxSalt      = 64
	KDFMaxTime      = 10
	KDFMinMemoryKiB = 8 << 10
	KDFMaxMemoryKiB = 1 << 20
	KDFMaxThreads   = 16
	KDFMinKey       = 16
	KDFMaxKey       = 64
)

// KeyringMax is the largest value the keyring holds (SPEC.md §5.7).
const KeyringMax = 4 << 10

// KDFArgon2id derives keyLen bytes from password and salt with Argon2id
// (RFC 9106): passes (the t parameter) over memoryKiB KiB of memory with threads lanes.
// The host runs it natively, at most two derivations at once per process;
// the wait for a turn counts against the call's deadline. The caller owns
// (and should clear) the result.
//
// Parameters outside the bounds above return an error wrapping
// abi.InvalidArgument, without a host call.
func KDFArgon2id(password, salt []byte, passes, memoryKiB, threads uint32, keyLen int) ([]byte, error) {
	switch {
	case len(password) > KDFMaxPassword, len(salt) < KDFMinSalt, len(salt) > KDFMaxSalt,
		passes < 1, passes > KDFMaxTime, memoryKiB < KDFMinMemoryKiB, memoryKiB > KDFMaxMemoryKiB,
		threads < 1, threads > KDFMaxThreads, keyLen < KDFMinKey, keyLen > KDFMaxKey:
		return nil, &HostError{Func: abi.ImportKDF, Status: abi.InvalidArgument}
	}
	key := make([]byte, keyLen)
	s := abi.Status(hostKDFArgon2id(ptr(password), uint32(len(password)), ptr(salt), uint32(len(salt)),
		passes, memoryKiB, threads, ptr(key), uint32(len(key))))
	if s != abi.OK {
		clear(key)
		return nil, &HostError{Func: abi.ImportKDF, Status: s.Normalize()}
	}
	return key, nil
}

// KeyringSet puts key (at most KeyringMax bytes) in the vault's keyring slot,
// replacing what was there. With ttl > 0 the slot empties itself ttl after
// the call (rounded up to a millisecond; at most about 49 days); ttl <= 0
// keeps it until KeyringClear or until the host closes the vault. The host
// copies key: the caller may clear it afterwards.
func KeyringSet(key []byte, ttl time.Duration) error {
	if len(key) > KeyringMax {
		return &HostError{Func: abi.ImportKeyringSet, Status: abi.TooLarge}
	}
	var ms uint32
	if ttl > 0 {
		m := (ttl + time.Millisecond - 1) / time.Millisecond
		if m > 0xffffffff {
			return &HostError{Func: abi.ImportKeyringSet, Status: abi.InvalidArgument}
		}
		ms = uint32(m)
	}
	if s := abi.Status(hostKeyringSet(ptr(key), uint32(len(key)), ms)); s != abi.OK {
		return &HostError{Func: abi.ImportKeyringSet, Status: s.Normalize()}
	}
	return nil
}

// KeyringGet returns a copy of the vault's keyring slot, or an error
// wrapping abi.NotFound when it is empty or has expired. The caller owns
// (and should clear) the result.
func KeyringGet() ([]byte, error) {
	buf := make([]byte, 64)
	for range kvRetries {
		n := hostKeyringGet(ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			clear(buf)
			return nil, &HostError{Func: abi.ImportKeyringGet, Status: negStatus(n)}
		case n <= int64(len(buf)):
			return buf[:n:n], nil
		case n > KeyringMax:
			clear(buf)
			return nil, &HostError{Func: abi.ImportKeyringGet, Status: abi.Internal}
		}
		clear(buf)
		buf = make([]byte, n)
	}
	clear(buf)
	return nil, &HostError{Func: abi.ImportKeyringGet, Status: abi.Unavailable}
}

// KeyringClear zeroes and empties the vault's keyring slot.
func KeyringClear() error {
	if s := abi.Status(hostKeyringClear()); s != abi.OK {
		return &HostError{Func: abi.ImportKeyringClear, Status: s.Normalize()}
	}
	return nil
}

// Keys behind handles (SPEC.md §5.8), an optional addition to ABI v1: the
// host keeps the keys and the guest holds a Key, a handle that names one.
// No key byte enters guest memory: a vault derives its key from the
// password, unwraps its master key with it, derives subkeys, and seals,
// opens and hashes with them, all in the host. A module that uses them
// needs a host that has them (sesame 0.3 and later); an older host refuses
// it at load, naming the first such import.
//
// A key made in a call is wiped when the call ends, unless it is kept
// (Key.Keep): a kept key belongs to the vault's keyring and lives as long
// as what KeyringSet put there, shared by every instance. The usual unlock:
//
//	pk, err := guest.KeyArgon2id(password, salt, 3, 64<<10, 4, 32)
//	master, err := pk.Unwrap(wrapped, ad)   // a wrong password: abi.PermissionDenied
//	records, err := master.Derive(storeID, []byte("record key"), 32)
//	err = records.Keep()
//	err = guest.KeyringSet(binary.LittleEndian.AppendUint32(nil, uint32(records)), timeout)
//
// and each later call reads the handle back from KeyringGet. A handle that
// is gone (the vault was locked, the timeout fired) fails with an error
// wrapping abi.NotFound: the vault is locked.

//go:wasmimport sesame_v1 key_generate
func hostKeyGenerate(n uint32) int32

//go:wasmimport sesame_v1 key_import
func hostKeyImport(key unsafe.Pointer, n uint32) int32

//go:wasmimport sesame_v1 key_argon2id
func hostKeyArgon2id(password unsafe.Pointer, passwordLen uint32, salt unsafe.Pointer, saltLen uint32, passes, memoryKiB, threads, n uint32) int32

//go:wasmimport sesame_v1 key_hkdf
func hostKeyHKDF(key uint32, salt unsafe.Pointer, saltLen uint32, info unsafe.Pointer, infoLen uint32, n uint32) int32

//go:wasmimport sesame_v1 key_wrap
func hostKeyWrap(kek, key uint32, ad unsafe.Pointer, adLen uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 key_unwrap
func hostKeyUnwrap(kek uint32, box unsafe.Pointer, boxLen uint32, ad unsafe.Pointer, adLen uint32) int32

//go:wasmimport sesame_v1 key_seal
func hostKeySeal(key uint32, src unsafe.Pointer, n uint32, ad unsafe.Pointer, adLen uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 key_open
func hostKeyOpen(key uint32, box unsafe.Pointer, n uint32, ad unsafe.Pointer, adLen uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 key_hmac
func hostKeyHMAC(key uint32, src unsafe.Pointer, n uint32, dst unsafe.Pointer) uint32

//go:wasmimport sesame_v1 key_keep
func hostKeyKeep(key uint32) uint32

//go:wasmimport sesame_v1 key_release
func hostKeyRelease(key uint32) uint32

// Key is a handle to a key the host holds for this vault: a positive
// number, meaningless to any other vault, and not secret.
type Key uint32

// keyResult turns the i32 result of a function that makes a key into a Key.
func keyResult(fn string, h int32) (Key, error) {
	if h <= 0 {
		return 0, &HostError{Func: fn, Status: negStatus(int64(h))}
	}
	return Key(h), nil
}

// GenerateKey makes a random key of n bytes (abi.KeyMinBytes to
// abi.KeyMaxBytes; the AEAD functions need abi.KeyAEADBytes).
func GenerateKey(n int) (Key, error) {
	if n < abi.KeyMinBytes || n > abi.KeyMaxBytes {
		return 0, &HostError{Func: abi.ImportKeyGenerate, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyGenerate, hostKeyGenerate(uint32(n)))
}

// ImportKey hands the host a key the guest already holds in clear (a store
// without a password, a key file): it has been in guest memory, so prefer
// keys the host makes. The caller should clear b afterwards.
func ImportKey(b []byte) (Key, error) {
	if len(b) < abi.KeyMinBytes || len(b) > abi.KeyMaxBytes {
		return 0, &HostError{Func: abi.ImportKeyImport, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyImport, hostKeyImport(ptr(b), uint32(len(b))))
}

// KeyArgon2id derives a key of n bytes from password and salt with
// Argon2id, under the bounds and the deadline of KDFArgon2id.
func KeyArgon2id(password, salt []byte, passes, memoryKiB, threads uint32, n int) (Key, error) {
	switch {
	case len(password) > KDFMaxPassword, len(salt) < KDFMinSalt, len(salt) > KDFMaxSalt,
		passes < 1, passes > KDFMaxTime, memoryKiB < KDFMinMemoryKiB, memoryKiB > KDFMaxMemoryKiB,
		threads < 1, threads > KDFMaxThreads, n < KDFMinKey, n > KDFMaxKey:
		return 0, &HostError{Func: abi.ImportKeyArgon2id, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyArgon2id, hostKeyArgon2id(ptr(password), uint32(len(password)),
		ptr(salt), uint32(len(salt)), passes, memoryKiB, threads, uint32(n)))
}

// Derive makes a subkey of n bytes with HKDF-SHA256 (RFC 5869) from k,
// salt and info (each at most abi.KeyMaxInfo bytes): one key per purpose.
func (k Key) Derive(salt, info []byte, n int) (Key, error) {
	if n < abi.KeyMinBytes || n > abi.KeyMaxBytes || len(salt) > abi.KeyMaxInfo || len(info) > abi.KeyMaxInfo {
		return 0, &HostError{Func: abi.ImportKeyHKDF, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyHKDF, hostKeyHKDF(uint32(k), ptr(salt), uint32(len(salt)), ptr(info), uint32(len(info)), uint32(n)))
}

// Wrap encrypts key under k (a 32-byte key) with the additional data ad,
// for storage: the box is abi.KeyOverhead bytes longer than the key.
func (k Key) Wrap(key Key, ad []byte) ([]byte, error) {
	buf := make([]byte, abi.KeyMaxBytes+abi.KeyOverhead)
	n := hostKeyWrap(uint32(k), uint32(key), ptr(ad), uint32(len(ad)), ptr(buf), uint32(len(buf)))
	switch {
	case n < 0:
		return nil, &HostError{Func: abi.ImportKeyWrap, Status: negStatus(n)}
	case n > int64(len(buf)):
		return nil, &HostError{Func: abi.ImportKeyWrap, Status: abi.Internal}
	}
	return buf[:n:n], nil
}

// Unwrap opens a box that Wrap made under k with the same ad, and returns
// the key it holds. Another key or ad, or a changed byte, is an error
// wrapping abi.PermissionDenied (for a key derived from a password: the
// wrong password).
func (k Key) Unwrap(box, ad []byte) (Key, error) {
	return keyResult(abi.ImportKeyUnwrap, hostKeyUnwrap(uint32(k), ptr(box), uint32(len(box)), ptr(ad), uint32(len(ad))))
}

// Seal encrypts plain under k with XChaCha20-Poly1305 and a random nonce,
// binding ad, and returns the box: nonce, cipher text and tag,
// abi.KeyOverhead bytes longer than plain.
func (k Key) Seal(plain, ad []byte) ([]byte, error) {
	box := make([]byte, len(plain)+abi.KeyOverhead)
	n := hostKeySeal(uint32(k), ptr(plain), uint32(len(plain)), ptr(ad), uint32(len(ad)), ptr(box), uint32(len(box)))
	switch {
	case n < 0:
		return nil, &HostError{Func: abi.ImportKeySeal, Status: negStatus(n)}
	case n != int64(len(box)):
		return nil, &HostError{Func: abi.ImportKeySeal, Status: abi.Internal}
	}
	return box, nil
}

// Open checks and decrypts a box that Seal made under k with the same ad.
// Another key or ad, or a changed byte, is an error wrapping
// abi.PermissionDenied, and nothing is decrypted.
func (k Key) Open(box, ad []byte) ([]byte, error) {
	if len(box) < abi.KeyOverhead {
		return nil, &HostError{Func: abi.ImportKeyOpen, Status: abi.InvalidArgument}
	}
	plain := make([]byte, len(box)-abi.KeyOverhead)
	n := hostKeyOpen(uint32(k), ptr(box), uint32(len(box)), ptr(ad), uint32(len(ad)), ptr(plain), uint32(len(plain)))
	switch {
	case n < 0:
		return nil, &HostError{Func: abi.ImportKeyOpen, Status: negStatus(n)}
	case n != int64(len(plain)):
		return nil, &HostError{Func: abi.ImportKeyOpen, Status: abi.Internal}
	}
	return plain, nil
}

// HMAC returns HMAC-SHA256 of data under k: a stable name for a lookup
// that tells nothing without the key.
func (k Key) HMAC(data []byte) ([abi.KeyHMACBytes]byte, error) {
	var sum [abi.KeyHMACBytes]byte
	if s := abi.Status(hostKeyHMAC(uint32(k), ptr(data), uint32(len(data)), unsafe.Pointer(&sum))); s != abi.OK {
		return sum, &HostError{Func: abi.ImportKeyHMAC, Status: s.Normalize()}
	}
	return sum, nil
}

// Keep makes k outlive this call: it joins the vault's keyring, shared by
// every instance, until the keyring is cleared, its time to live runs out,
// a KeyringSet replaces it after this call, or the vault is locked or
// closed.
func (k Key) Keep() error {
	if s := abi.Status(hostKeyKeep(uint32(k))); s != abi.OK {
		return &HostError{Func: abi.ImportKeyKeep, Status: s.Normalize()}
	}
	return nil
}

// Release wipes k now instead of at the end of the call (or, if kept, with
// the keyring).
func (k Key) Release() error {
	if s := abi.Status(hostKeyRelease(uint32(k))); s != abi.OK {
		return &HostError{Func: abi.ImportKeyRelease, Status: s.Normalize()}
	}
	return nil
}
