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
