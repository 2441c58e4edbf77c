package sandbox

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/crypto/chacha20"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/argon2"
)

// The format primitives of SPEC.md §5.11 on a vault's keys behind handles:
// what a vault needs to read and write a file format whose keys should not
// enter guest memory (KeePass's KDBX: a composite key hashed, derived with
// AES-KDF or Argon2, hashed with a seed into a cipher key and an HMAC key,
// used with AES-256-CBC or ChaCha20 and HMAC-SHA256). The guest keeps the
// handles; the bytes of the derived keys stay here.
//
// Caveat: crypto/aes keeps its key schedule in a heap object of its own
// that cannot be wiped (as key_seal's note in keycrypto.go says of
// x/crypto's AEAD); ChaCha20's state is wiped after each call.

// key_hash(key, prefix, prefix_len, suffix, suffix_len, len) -> handle
func hostKeyHash(ctx context.Context, mod api.Module, stack []uint64) {
	c, n := keyCall(ctx), api.DecodeU32(stack[5])
	if c == nil || (n != sha256.Size && n != sha512.Size) {
		stack[0] = neg32(abi.InvalidArgument)
		return
	}
	prefix, suffix, s := viewTwo(mod, stack[1:5], abi.KeyMaxInfo)
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.createFrom(c.id, int(n), api.DecodeU32(stack[0]), func(key, dst []byte) abi.Status {
		hashInto(dst, prefix, key, suffix)
		return abi.OK
	}))
}

// hashInto writes SHA-256 (dst of 32 bytes) or SHA-512 (64) of the parts
// to dst, and resets the hash's state, which stands for what it hashed.
func hashInto(dst []byte, parts ...[]byte) {
	h := sha256.New()
	if len(dst) == sha512.Size {
		h = sha512.New()
	}
	defer h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	var sum [sha512.Size]byte
	defer clear(sum[:])
	copy(dst, h.Sum(sum[:0]))
}

// key_aes_kdf(key, seed, seed_len, rounds i64) -> handle
func hostKeyAESKDF(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	seed, s := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.KeyAESKDFSeed)
	if c == nil || s == abi.TooLarge || (s == abi.OK && len(seed) != abi.KeyAESKDFSeed) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	rounds := stack[3]
	stack[0] = formatKDF(ctx, c, api.DecodeU32(stack[0]), func(key []byte, done <-chan struct{}) []byte {
		return aesKDF(key, seed, rounds, done)
	})
}

// aesKDF is KeePass's AES-KDF: rounds of AES-256-ECB under seed over each
// half of the 32-byte key, then SHA-256. It stops, answering nil, when done
// closes; it looks every 2^16 rounds.
func aesKDF(key, seed []byte, rounds uint64, done <-chan struct{}) []byte {
	blk, _ := aes.NewCipher(seed)
	var buf [32]byte
	defer clear(buf[:])
	copy(buf[:], key)
	for i := uint64(0); i < rounds; i++ {
		if i&0xffff == 0 {
			select {
			case <-done:
				return nil
			default:
			}
		}
		blk.Encrypt(buf[:16], buf[:16])
		blk.Encrypt(buf[16:], buf[16:])
	}
	out := make([]byte, sha256.Size)
	hashInto(out, buf[:])
	return out
}

// key_argon2(key, variant, version, salt, salt_len, time, memory_kib, lanes, len) -> handle
func hostKeyArgon2(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	salt, s := read(mod, api.DecodeU32(stack[3]), api.DecodeU32(stack[4]), kdfMaxSalt)
	p := argon2.Params{
		Variant: argon2.Variant(api.DecodeU32(stack[1])), Version: api.DecodeU32(stack[2]), Salt: salt,
		Time: api.DecodeU32(stack[5]), MemoryKiB: api.DecodeU32(stack[6]), Lanes: api.DecodeU32(stack[7]),
		TagLen: api.DecodeU32(stack[8]),
	}
	switch {
	case c == nil, s == abi.TooLarge:
		s = abi.InvalidArgument
	case s != abi.OK:
	case argon2Refused(&p):
		s = abi.InvalidArgument
	case uint64(p.MemoryKiB)<<10 > c.grant:
		s = abi.TooLarge // more memory than the vault is granted
	}
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = formatKDF(ctx, c, api.DecodeU32(stack[0]), func(key []byte, done <-chan struct{}) []byte {
		p.Done = done
		out, err := argon2.Key(key, p)
		if err != nil {
			return nil
		}
		return out
	})
}

// argon2Refused reports whether key_argon2 refuses p (SPEC.md §5.11):
// Argon2i, an unknown version, parameters outside RFC 9106's or the
// host's bounds, a key of another length than 16–64 bytes.
func argon2Refused(p *argon2.Params) bool {
	return (p.Variant != abi.KeyArgon2D && p.Variant != abi.KeyArgon2ID) || p.Check() != nil ||
		p.Time > abi.KeyArgon2MaxTime || p.Lanes > abi.KeyArgon2MaxLane || keyLength(p.TagLen) != abi.OK
}

// formatKDF runs derive over a copy of key h under the rules of
// key_argon2id (runKDF: the module's turn, a process slot, the call's
// deadline) and makes the key it returns.
func formatKDF(ctx context.Context, c *call, h uint32, derive func(key []byte, done <-chan struct{}) []byte) uint64 {
	var in []byte
	s := c.keys.use(h, func(key []byte) abi.Status {
		in = append(make([]byte, 0, abi.KeyMaxBytes), key...)
		return abi.OK
	})
	if s != abi.OK {
		return neg32(s)
	}
	if len(in) != abi.KeyCipherBytes {
		clear(in)
		return neg32(abi.InvalidArgument)
	}
	wipe := func() { clear(in) }
	out, s := runKDF(ctx, c.kdfTurn, func(done <-chan struct{}) []byte {
		var out []byte
		erased(func() { out = derive(in, done) })
		wipe()
		return out
	}, wipe)
	if s != abi.OK {
		return neg32(s)
	}
	defer clear(out)
	return handleResult(c.keys.create(c.id, len(out), func(dst []byte) abi.Status {
		copy(dst, out)
		return abi.OK
	}))
}

// key_aes_cbc(key, encrypt, iv, src, len, dst) -> status
func hostKeyAESCBC(ctx context.Context, mod api.Module, stack []uint64) {
	c, encrypt := keyCall(ctx), api.DecodeU32(stack[1])
	iv, s := view(mod, api.DecodeU32(stack[2]), abi.KeyAESBlock, abi.KeyAESBlock)
	src, dst, n := api.DecodeU32(stack[3]), api.DecodeU32(stack[5]), api.DecodeU32(stack[4])
	if c == nil || encrypt > 1 || n%abi.KeyAESBlock != 0 {
		s = abi.InvalidArgument
	}
	in, out, s := cipherRanges(mod, src, dst, n, s)
	if s == abi.OK {
		iv := [abi.KeyAESBlock]byte(iv) // the IV may lie in dst
		s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) abi.Status {
			if len(key) != abi.KeyCipherBytes {
				return abi.InvalidArgument
			}
			blk, _ := aes.NewCipher(key)
			if encrypt == 1 {
				cipher.NewCBCEncrypter(blk, iv[:]).CryptBlocks(out, in)
			} else {
				cipher.NewCBCDecrypter(blk, iv[:]).CryptBlocks(out, in)
			}
			return abi.OK
		})
	}
	stack[0] = status(s)
}

// key_chacha20(key, nonce, counter, src, len, dst) -> status
func hostKeyChaCha20(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	nonce, s := view(mod, api.DecodeU32(stack[1]), abi.KeyChaChaNonce, abi.KeyChaChaNonce)
	counter := api.DecodeU32(stack[2])
	src, dst, n := api.DecodeU32(stack[3]), api.DecodeU32(stack[5]), api.DecodeU32(stack[4])
	if c == nil || uint64(counter)+(uint64(n)+63)/64 > 1<<32 {
		s = abi.InvalidArgument // the 32-bit block counter would wrap
	}
	in, out, s := cipherRanges(mod, src, dst, n, s)
	if s == abi.OK {
		nonce := [abi.KeyChaChaNonce]byte(nonce)
		s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) abi.Status {
			if len(key) != abi.KeyCipherBytes {
				return abi.InvalidArgument
			}
			ch, _ := chacha20.NewUnauthenticatedCipher(key, nonce[:])
			defer wipeCipher(ch)
			ch.SetCounter(counter)
			ch.XORKeyStream(out, in)
			return abi.OK
		})
	}
	stack[0] = status(s)
}

// cipherRanges checks the source and destination of a cipher call: each
// inside memory, at most KeyMaxCipher bytes, and either the same range (in
// place) or apart, since the ciphers cannot work on ranges that overlap
// otherwise. s is the status so far, returned when not OK.
func cipherRanges(mod api.Module, src, dst, n uint32, s abi.Status) (in, out []byte, _ abi.Status) {
	if s != abi.OK {
		return nil, nil, s
	}
	if n > abi.KeyMaxCipher {
		return nil, nil, abi.TooLarge
	}
	in, ok1 := mod.Memory().Read(src, n)
	out, ok2 := mod.Memory().Read(dst, n)
	if !ok1 || !ok2 || (src != dst && uint64(src) < uint64(dst)+uint64(n) && uint64(dst) < uint64(src)+uint64(n)) {
		return nil, nil, abi.InvalidArgument
	}
	return in, out, abi.OK
}
