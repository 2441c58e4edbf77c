//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

// The format primitives on keys behind handles (SPEC.md §5.11), an optional
// addition like the keys themselves: what a vault needs to read and write
// a file format (KeePass's KDBX) whose derived keys should stay in the
// host. A module that uses them needs a host that has them.

//go:wasmimport sesame_v1 key_hash
func hostKeyHash(key uint32, prefix unsafe.Pointer, prefixLen uint32, suffix unsafe.Pointer, suffixLen uint32, n uint32) int32

//go:wasmimport sesame_v1 key_aes_kdf
func hostKeyAESKDF(key uint32, seed unsafe.Pointer, seedLen uint32, rounds uint64) int32

//go:wasmimport sesame_v1 key_argon2
func hostKeyArgon2(key, variant, version uint32, salt unsafe.Pointer, saltLen uint32, passes, memoryKiB, lanes, n uint32) int32

//go:wasmimport sesame_v1 key_aes_cbc
func hostKeyAESCBC(key, encrypt uint32, iv unsafe.Pointer, src unsafe.Pointer, n uint32, dst unsafe.Pointer) uint32

//go:wasmimport sesame_v1 key_chacha20
func hostKeyChaCha20(key uint32, nonce unsafe.Pointer, counter uint32, src unsafe.Pointer, n uint32, dst unsafe.Pointer) uint32

// Hash makes the key SHA-256 (n = 32) or SHA-512 (n = 64) of prefix, k
// and suffix (each at most abi.KeyMaxInfo bytes): how KDBX derives its
// cipher and HMAC keys from the transformed key and a seed.
func (k Key) Hash(prefix, suffix []byte, n int) (Key, error) {
	if (n != 32 && n != 64) || len(prefix) > abi.KeyMaxInfo || len(suffix) > abi.KeyMaxInfo {
		return 0, &HostError{Func: abi.ImportKeyHash, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyHash, hostKeyHash(uint32(k), ptr(prefix), uint32(len(prefix)), ptr(suffix), uint32(len(suffix)), uint32(n)))
}

// AESKDF derives a 32-byte key from the 32-byte k with KeePass's AES-KDF:
// rounds of AES-256-ECB under the 32-byte seed, then SHA-256. The call's
// deadline holds (an error wrapping abi.DeadlineExceeded).
func (k Key) AESKDF(seed []byte, rounds uint64) (Key, error) {
	if len(seed) != abi.KeyAESKDFSeed {
		return 0, &HostError{Func: abi.ImportKeyAESKDF, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyAESKDF, hostKeyAESKDF(uint32(k), ptr(seed), uint32(len(seed)), rounds))
}

// Argon2 derives a key of n bytes from the 32-byte k with Argon2d
// (abi.KeyArgon2D) or Argon2id (abi.KeyArgon2ID), of version
// abi.KeyArgon2V13 or abi.KeyArgon2V10, under the bounds of SPEC.md §5.11
// and the call's deadline.
func (k Key) Argon2(variant, version uint32, salt []byte, passes, memoryKiB, lanes uint32, n int) (Key, error) {
	if n < abi.KeyMinBytes || n > abi.KeyMaxBytes {
		return 0, &HostError{Func: abi.ImportKeyArgon2, Status: abi.InvalidArgument}
	}
	return keyResult(abi.ImportKeyArgon2, hostKeyArgon2(uint32(k), variant, version, ptr(salt), uint32(len(salt)), passes, memoryKiB, lanes, uint32(n)))
}

// AESCBC encrypts (encrypt true) or decrypts data, whole 16-byte blocks,
// in place with AES-256-CBC under the 32-byte k and the 16-byte iv, in
// calls of at most abi.KeyMaxCipher bytes.
func (k Key) AESCBC(encrypt bool, iv, data []byte) error {
	if len(iv) != abi.KeyAESBlock || len(data)%abi.KeyAESBlock != 0 {
		return &HostError{Func: abi.ImportKeyAESCBC, Status: abi.InvalidArgument}
	}
	enc := uint32(0)
	if encrypt {
		enc = 1
	}
	next := make([]byte, abi.KeyAESBlock)
	copy(next, iv)
	for len(data) > 0 {
		chunk := data[:min(len(data), abi.KeyMaxCipher)]
		var last [abi.KeyAESBlock]byte
		if !encrypt {
			copy(last[:], chunk[len(chunk)-abi.KeyAESBlock:]) // the next IV, before it is decrypted
		}
		if s := abi.Status(hostKeyAESCBC(uint32(k), enc, ptr(next), ptr(chunk), uint32(len(chunk)), ptr(chunk))); s != abi.OK {
			return &HostError{Func: abi.ImportKeyAESCBC, Status: s.Normalize()}
		}
		if encrypt {
			copy(last[:], chunk[len(chunk)-abi.KeyAESBlock:])
		}
		copy(next, last[:])
		data = data[len(chunk):]
	}
	return nil
}

// ChaCha20 XORs data in place with the ChaCha20 stream (RFC 8439) of the
// 32-byte k and the 12-byte nonce, from block counter 0.
func (k Key) ChaCha20(nonce, data []byte) error {
	if len(nonce) != abi.KeyChaChaNonce {
		return &HostError{Func: abi.ImportKeyChaCha20, Status: abi.InvalidArgument}
	}
	counter := uint32(0)
	for len(data) > 0 {
		chunk := data[:min(len(data), abi.KeyMaxCipher)]
		if s := abi.Status(hostKeyChaCha20(uint32(k), ptr(nonce), counter, ptr(chunk), uint32(len(chunk)), ptr(chunk))); s != abi.OK {
			return &HostError{Func: abi.ImportKeyChaCha20, Status: s.Normalize()}
		}
		counter += uint32(len(chunk) / 64)
		data = data[len(chunk):]
	}
	return nil
}
