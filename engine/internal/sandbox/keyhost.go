package sandbox

import (
	"context"
	"crypto/rand"

	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
)

// The host functions of SPEC.md §5.8 over a vault's keyTable (keys.go).
// Functions that make a key return its handle (a positive i32) or
// -(status); the others a status, or a length like kv_get. Plain text is
// read from guest memory in place and decrypted straight into it, so the
// Go heap holds only cipher text, additional data and salts.

// keyCall returns the call, or nil when the host function runs outside one.
func keyCall(ctx context.Context) *call {
	c := callFrom(ctx)
	if c == nil || c.keys == nil {
		return nil
	}
	return c
}

// handleResult is the i32 result of a function that makes a key.
func handleResult(h uint32, s abi.Status) uint64 {
	if s != abi.OK {
		return neg32(s)
	}
	return api.EncodeI32(int32(h))
}

// view returns the guest's bytes [ptr, ptr+n) without copying them, valid
// until the host function returns, or the status for a range outside memory
// or longer than max.
func view(mod api.Module, ptr, n uint32, max int) ([]byte, abi.Status) {
	if uint64(n) > uint64(max) {
		return nil, abi.TooLarge
	}
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, abi.InvalidArgument
	}
	return b, abi.OK
}

// viewTwo is view of the two ranges (pointer, length) in args[0:4], each of
// at most max bytes.
func viewTwo(mod api.Module, args []uint64, max int) (a, b []byte, s abi.Status) {
	a, s = view(mod, api.DecodeU32(args[0]), api.DecodeU32(args[1]), max)
	if s == abi.OK {
		b, s = view(mod, api.DecodeU32(args[2]), api.DecodeU32(args[3]), max)
	}
	return a, b, s
}

// keyLength checks the length of a key to make.
func keyLength(n uint32) abi.Status {
	if n < abi.KeyMinBytes || n > abi.KeyMaxBytes {
		return abi.InvalidArgument
	}
	return abi.OK
}

// key_generate(len) -> handle
func hostKeyGenerate(ctx context.Context, _ api.Module, stack []uint64) {
	c, n := keyCall(ctx), api.DecodeU32(stack[0])
	if c == nil || keyLength(n) != abi.OK {
		stack[0] = neg32(abi.InvalidArgument)
		return
	}
	stack[0] = handleResult(c.keys.create(c.id, int(n), func(dst []byte) abi.Status {
		if _, err := rand.Read(dst); err != nil {
			return abi.Unavailable
		}
		return abi.OK
	}))
}

// key_import(ptr, len) -> handle
func hostKeyImport(ctx context.Context, mod api.Module, stack []uint64) {
	c, n := keyCall(ctx), api.DecodeU32(stack[1])
	if c == nil || keyLength(n) != abi.OK {
		stack[0] = neg32(abi.InvalidArgument)
		return
	}
	b, s := view(mod, api.DecodeU32(stack[0]), n, abi.KeyMaxBytes)
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.create(c.id, int(n), func(dst []byte) abi.Status {
		copy(dst, b)
		return abi.OK
	}))
}

// key_argon2id(pw, pw_len, salt, salt_len, time, memory_kib, threads, len) -> handle
func hostKeyArgon2id(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	in, s := readKDFArgs(mod, c, stack[:7], api.DecodeU32(stack[7]))
	if s != abi.OK {
		in.wipe()
		stack[0] = neg32(s)
		return
	}
	key, s := derive(ctx, c.kdfTurn, in)
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.create(c.id, len(key), func(dst []byte) abi.Status {
		copy(dst, key)
		return abi.OK
	}))
	clear(key)
}

// key_hkdf(key, salt, salt_len, info, info_len, len) -> handle
func hostKeyHKDF(ctx context.Context, mod api.Module, stack []uint64) {
	c, n := keyCall(ctx), api.DecodeU32(stack[5])
	if c == nil || keyLength(n) != abi.OK {
		stack[0] = neg32(abi.InvalidArgument)
		return
	}
	salt, info, s := viewTwo(mod, stack[1:5], abi.KeyMaxInfo)
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.derive(c.id, int(n), api.DecodeU32(stack[0]), salt, info))
}

// key_wrap(kek, key, ad, ad_len, dst, cap) -> length
func hostKeyWrap(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	ad, s := view(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), abi.KeyMaxAD)
	dst, capacity := api.DecodeU32(stack[4]), api.DecodeU32(stack[5])
	if c == nil || (s == abi.OK && !fits(mod, dst, capacity)) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	var n int
	var box []byte
	s = c.keys.use2(api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), func(kek, key []byte) (s abi.Status) {
		n = len(key) + abi.KeyOverhead
		box, s = sealFitting(kek, key, ad, capacity)
		return s
	})
	answerBox(mod, stack, dst, box, n, s)
}

// key_unwrap(kek, box, box_len, ad, ad_len) -> handle
func hostKeyUnwrap(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	box, s := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.KeyMaxBytes+abi.KeyOverhead)
	var ad []byte
	if s == abi.OK {
		ad, s = view(mod, api.DecodeU32(stack[3]), api.DecodeU32(stack[4]), abi.KeyMaxAD)
	}
	switch {
	case c == nil:
		s = abi.InvalidArgument
	case s == abi.TooLarge, s == abi.OK && keyLength(uint32(len(box)-min(len(box), abi.KeyOverhead))) != abi.OK:
		s = abi.InvalidArgument // no box of a key has this length
	}
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.createFrom(c.id, len(box)-abi.KeyOverhead, api.DecodeU32(stack[0]), func(kek, dst []byte) abi.Status {
		return openInto(dst, kek, box, ad)
	}))
}

// key_seal(key, src, len, ad, ad_len, dst, cap) -> length
func hostKeySeal(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	plain, s := view(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.MaxCallBytes)
	var ad []byte
	if s == abi.OK {
		ad, s = view(mod, api.DecodeU32(stack[3]), api.DecodeU32(stack[4]), abi.KeyMaxAD)
	}
	dst, capacity := api.DecodeU32(stack[5]), api.DecodeU32(stack[6])
	if c == nil || (s == abi.OK && !fits(mod, dst, capacity)) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	var box []byte
	s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) (s abi.Status) {
		box, s = sealFitting(key, plain, ad, capacity)
		return s
	})
	answerBox(mod, stack, dst, box, len(plain)+abi.KeyOverhead, s)
}

// sealFitting seals plain under key (which must be an AEAD key) with a new
// nonce, when the box fits in capacity bytes; a nil box with OK means it
// does not, and the caller answers with the length instead.
func sealFitting(key, plain, ad []byte, capacity uint32) ([]byte, abi.Status) {
	if len(key) != abi.KeyAEADBytes {
		return nil, abi.InvalidArgument
	}
	n := len(plain) + abi.KeyOverhead
	if n > int(capacity) {
		return nil, abi.OK // the length is the answer
	}
	nonce, s := newNonce()
	if s != abi.OK {
		return nil, s
	}
	return sealBox(make([]byte, 0, n), key, nonce, plain, ad), abi.OK
}

// answerBox ends key_wrap and key_seal: the status s when it is not OK,
// else the box's length n, after copying the box to dst when it was made.
func answerBox(mod api.Module, stack []uint64, dst uint32, box []byte, n int, s abi.Status) {
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	if box != nil {
		mod.Memory().Write(dst, box)
	}
	stack[0] = api.EncodeI64(int64(n))
}

// key_open(key, box, box_len, ad, ad_len, dst, cap) -> length
func hostKeyOpen(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	box, s := read(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.MaxCallBytes)
	var ad []byte
	if s == abi.OK {
		ad, s = view(mod, api.DecodeU32(stack[3]), api.DecodeU32(stack[4]), abi.KeyMaxAD)
	}
	dst, capacity := api.DecodeU32(stack[5]), api.DecodeU32(stack[6])
	if c == nil || (s == abi.OK && (len(box) < abi.KeyOverhead || !fits(mod, dst, capacity))) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	n := len(box) - abi.KeyOverhead
	s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) abi.Status {
		var out []byte // nil when it does not fit: check only
		if n <= int(capacity) {
			out, _ = mod.Memory().Read(dst, uint32(n))
		}
		return openInto(out, key, box, ad)
	})
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	stack[0] = api.EncodeI64(int64(n))
}

// key_hmac(key, src, len, dst) -> status; writes 32 bytes to dst
func hostKeyHMAC(ctx context.Context, mod api.Module, stack []uint64) {
	c := keyCall(ctx)
	data, s := view(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.MaxCallBytes)
	dst := api.DecodeU32(stack[3])
	if c == nil || (s == abi.OK && !fits(mod, dst, abi.KeyHMACBytes)) {
		s = abi.InvalidArgument
	}
	if s == abi.OK {
		var sum [abi.KeyHMACBytes]byte
		s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) abi.Status {
			hmacSHA256(sum[:0], key, data)
			return abi.OK
		})
		if out, ok := mod.Memory().Read(dst, abi.KeyHMACBytes); s == abi.OK && ok {
			copy(out, sum[:]) // in place: sum passed to Write would be allocated
		}
	}
	stack[0] = status(s)
}

// key_keep(key) -> status
func hostKeyKeep(ctx context.Context, _ api.Module, stack []uint64) {
	c := keyCall(ctx)
	if c == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	stack[0] = status(c.keys.keep(c.id, api.DecodeU32(stack[0])))
}

// key_release(key) -> status
func hostKeyRelease(ctx context.Context, _ api.Module, stack []uint64) {
	c := keyCall(ctx)
	if c == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	stack[0] = status(c.keys.release(api.DecodeU32(stack[0])))
}

// openInto checks box under key and ad and, when dst is not nil, decrypts
// it there: PERMISSION_DENIED when it is not authentic (another key or
// additional data, or changed bytes), INVALID_ARGUMENT when key is not an
// AEAD key.
func openInto(dst, key, box, ad []byte) abi.Status {
	if len(key) != abi.KeyAEADBytes {
		return abi.InvalidArgument
	}
	if !openBox(dst, key, box, ad) {
		return abi.PermissionDenied
	}
	return abi.OK
}

// newNonce is a random XChaCha20 nonce: 192 bits never collide in practice,
// so no counter has to be kept across instances and processes.
func newNonce() ([]byte, abi.Status) {
	nonce := make([]byte, abi.KeyNonceBytes)
	if _, err := rand.Read(nonce); err != nil {
		return nil, abi.Unavailable
	}
	return nonce, abi.OK
}
