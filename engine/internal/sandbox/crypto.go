package sandbox

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"golang.org/x/crypto/argon2"

	"github.com/sesamehq/sesame/abi"
)

// Key derivation runs in the host: Argon2id inside wasm is many times slower
// than native code, more so under the deadline checks, and a vault should not
// have to weaken its parameters to stay within its deadline.

// Bounds on kdf_argon2id parameters (SPEC.md §5.6), so that a guest cannot
// make the host spend unbounded memory or time.
const (
	kdfMaxPassword = 1 << 10
	kdfMinSalt     = 8
	kdfMaxSalt     = 64
	kdfMaxTime     = 10
	kdfMinMemory   = 8 << 10 // KiB
	kdfMaxMemory   = 1 << 20 // KiB (1 GiB)
	kdfMaxThreads  = 16
	kdfMinKey      = 16
	kdfMaxKey      = 64
)

// kdfSlots bounds how many derivations run at once in one process. A
// module holds at most one of them (its kdfTurn first): a vault that keeps
// deriving, in every instance it has, leaves the other slot to the other
// vaults' unlocks.
var kdfSlots = make(chan struct{}, 2)

func hostKDF(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	pw, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), kdfMaxPassword)
	var salt []byte
	if s == abi.OK {
		salt, s = read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), kdfMaxSalt)
	}
	t, m, p := api.DecodeU32(stack[4]), api.DecodeU32(stack[5]), api.DecodeU32(stack[6])
	dst, n := api.DecodeU32(stack[7]), api.DecodeU32(stack[8])
	switch {
	case s != abi.OK:
	case len(salt) < kdfMinSalt, t < 1, t > kdfMaxTime, m < kdfMinMemory, m > kdfMaxMemory,
		p < 1, p > kdfMaxThreads, n < kdfMinKey, n > kdfMaxKey:
		s = abi.InvalidArgument
	case !fits(mod, dst, n):
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		clear(pw)
		stack[0] = status(s)
		return
	}
	if !take(ctx, c.kdfTurn) {
		clear(pw)
		stack[0] = status(abi.DeadlineExceeded)
		return
	}
	defer release(c.kdfTurn)
	if !take(ctx, kdfSlots) {
		clear(pw)
		stack[0] = status(abi.DeadlineExceeded)
		return
	}
	key := argon2.IDKey(pw, salt, t, m, uint8(p), n)
	<-kdfSlots
	clear(pw)
	mod.Memory().Write(dst, key)
	clear(key)
	stack[0] = status(abi.OK)
}

// take takes a place in sem, waiting until ctx ends; a nil sem is free.
func take(ctx context.Context, sem chan struct{}) bool {
	if sem == nil {
		return true
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func release(sem chan struct{}) {
	if sem != nil {
		<-sem
	}
}

// keyring is one vault's slot for a key it unlocked, kept in host memory and
// shared by all instances of the vault, so that an unlock survives the
// discarding of instances. It is never written to disk.
type keyring struct {
	mu      sync.Mutex
	key     []byte
	expires time.Time // zero: no expiry
}

const keyringMax = 4 << 10

func (k *keyring) set(b []byte, ttl time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.key)
	k.key = b
	k.expires = time.Time{}
	if ttl > 0 {
		k.expires = time.Now().Add(ttl)
	}
}

// with calls fn with the live key, under the lock so that a concurrent
// clear cannot zero it mid-copy. It reports false when there is no key or it
// has expired (and is then zeroed).
func (k *keyring) with(fn func(key []byte)) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil && !k.expires.IsZero() && !time.Now().Before(k.expires) {
		clear(k.key)
		k.key = nil
	}
	if k.key == nil {
		return false
	}
	fn(k.key)
	return true
}

// held reports whether the slot holds a key that has not expired, and when
// it expires (the zero time: never).
func (k *keyring) held() (bool, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil || (!k.expires.IsZero() && !time.Now().Before(k.expires)) {
		return false, time.Time{}
	}
	return true, k.expires
}

func (k *keyring) clear() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.key)
	k.key = nil
}

func hostKeyringSet(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.keyring == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	b, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), keyringMax)
	if s == abi.OK {
		c.keyring.set(b, time.Duration(api.DecodeU32(stack[2]))*time.Millisecond)
	}
	stack[0] = status(s)
}

func hostKeyringGet(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	dst, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if c == nil || c.keyring == nil || !fits(mod, dst, capacity) {
		stack[0] = neg64(abi.InvalidArgument)
		return
	}
	n := int64(-1)
	ok := c.keyring.with(func(key []byte) {
		n = int64(len(key))
		if len(key) <= int(capacity) {
			mod.Memory().Write(dst, key)
		}
	})
	if !ok {
		stack[0] = neg64(abi.NotFound)
		return
	}
	stack[0] = api.EncodeI64(n)
}

func hostKeyringClear(ctx context.Context, _ api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.keyring == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	c.keyring.clear()
	stack[0] = status(abi.OK)
}
