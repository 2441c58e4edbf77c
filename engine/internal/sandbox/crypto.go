package sandbox

import (
	"context"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Key derivation runs in the host: Argon2id inside wasm is many times slower
// than native code, more so under the deadline checks, and a vault should not
// have to weaken its parameters to stay within its deadline.

// Bounds on kdf_argon2id parameters (SPEC.md §5.6), so that a guest cannot
// make the host spend unbounded memory or time. The memory is also bounded
// by the vault's memory grant (call.grant).
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

// hostKDF is kdf_argon2id. Argon2 cannot be interrupted, so the derivation
// runs in a goroutine of its own and the call waits for it only until its
// deadline: past it the guest gets DEADLINE_EXCEEDED at once, and the
// derivation, left to finish, keeps the module's turn and its process slot
// until it does, so that abandoned derivations still count against both
// bounds (one per vault, two per process, each within its vault's grant),
// and its key is zeroed, never delivered.
func hostKDF(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	in, s := readKDFArgs(mod, c, stack[:7], api.DecodeU32(stack[8]))
	dst := api.DecodeU32(stack[7])
	if s == abi.OK && !fits(mod, dst, in.n) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		in.wipe()
		stack[0] = status(s)
		return
	}
	key, s := derive(ctx, c.kdfTurn, in)
	if s == abi.OK {
		mod.Memory().Write(dst, key)
		clear(key)
	}
	stack[0] = status(s)
}

// kdfInput is what a derivation needs: the password (a copy, which derive
// zeroes), the salt, the Argon2id parameters and the key's length.
type kdfInput struct {
	pw, salt []byte
	t, m     uint32
	p        uint8
	n        uint32
}

func (in *kdfInput) wipe() { clear(in.pw) }

// readKDFArgs reads and checks the first seven parameters of kdf_argon2id and
// key_argon2id (password, salt, time, memory, threads) and the key length n
// against the bounds of SPEC.md §5.6.
func readKDFArgs(mod api.Module, c *call, stack []uint64, n uint32) (kdfInput, abi.Status) {
	if c == nil {
		return kdfInput{}, abi.InvalidArgument
	}
	var in kdfInput
	var s abi.Status
	in.pw, s = read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), kdfMaxPassword)
	if s == abi.OK {
		in.salt, s = read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), kdfMaxSalt)
	}
	t, m, p := api.DecodeU32(stack[4]), api.DecodeU32(stack[5]), api.DecodeU32(stack[6])
	switch {
	case s != abi.OK:
	case len(in.salt) < kdfMinSalt, t < 1, t > kdfMaxTime, m < kdfMinMemory, m > kdfMaxMemory,
		p < 1, p > kdfMaxThreads, n < kdfMinKey, n > kdfMaxKey:
		s = abi.InvalidArgument
	case uint64(m)<<10 > c.grant:
		s = abi.TooLarge // more memory than the vault is granted
	}
	in.t, in.m, in.p, in.n = t, m, uint8(p), n
	return in, s
}

// derive runs Argon2id under the module's turn and a process slot, and
// returns the key, or DEADLINE_EXCEEDED as soon as ctx ends. It owns
// in.pw and zeroes it.
func derive(ctx context.Context, turn chan struct{}, in kdfInput) ([]byte, abi.Status) {
	return runKDF(ctx, turn, func(<-chan struct{}) []byte {
		var key []byte
		// argon2.IDKey in every program but tests (internal/testonly)
		erased(func() { key = testonly.Argon2id(in.pw, in.salt, in.t, in.m, in.p, in.n) })
		in.wipe()
		return key
	}, in.wipe)
}

// runKDF runs a key derivation, work, under the module's turn and a
// process slot, and returns its key, or DEADLINE_EXCEEDED as soon as ctx
// ends. work runs in a goroutine of its own and keeps the turn and the slot
// until it returns, so that abandoned derivations still count against both
// bounds; its key is zeroed, never delivered, when the call has gone. A
// derivation that can stop early watches the channel work is given, which
// closes with ctx, and returns nil then. abandon runs instead of work when
// the deadline passes before work starts (to wipe its inputs).
func runKDF(ctx context.Context, turn chan struct{}, work func(done <-chan struct{}) []byte, abandon func()) ([]byte, abi.Status) {
	if !take(ctx, turn) {
		abandon()
		return nil, abi.DeadlineExceeded
	}
	if !take(ctx, kdfSlots) {
		release(turn)
		abandon()
		return nil, abi.DeadlineExceeded
	}
	out := make(chan []byte)
	go func() {
		key := work(ctx.Done())
		<-kdfSlots
		release(turn)
		select {
		case out <- key:
		case <-ctx.Done():
			clear(key) // the call has gone
		}
	}()
	select {
	case key := <-out:
		if key == nil {
			return nil, abi.DeadlineExceeded
		}
		return key, abi.OK
	case <-ctx.Done():
		return nil, abi.DeadlineExceeded
	}
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
// discarding of instances. It is never written to disk. A key with a time
// to live is zeroed by a timer when it runs out, not at the next read: a
// vault nobody calls does not keep it. Once sealed (the host is shutting
// down) the keyring takes no key.
//
// The keys a vault kept (key_keep, keys.go) belong to its keyring too: they
// are wiped whenever its content goes (cleared, expired, sealed), and when
// keyring_set replaces it in a call after the one that kept them ended.
type keyring struct {
	mu      sync.Mutex
	key     []byte
	expires time.Time      // zero: no expiry
	timer   testonly.Timer // zeroes the key at expires
	sealed  bool
	// forgot, when set, is called (outside mu) each time a key the
	// keyring held is zeroed: the module then discards its instances,
	// whose memory may hold copies of it.
	forgot func()
	keys   *keyTable // the vault's keys, of which the kept ones are the keyring's; nil: none
}

const keyringMax = 4 << 10

// set replaces the key with b, which the keyring owns from then on, for
// call: the keys it kept stay, those kept by calls that have ended are
// wiped. It reports false, and zeroes b, when the keyring is sealed.
func (k *keyring) set(b []byte, ttl time.Duration, call uint64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.drop(call)
	if k.sealed {
		clear(b)
		return false
	}
	k.key = b
	if ttl > 0 {
		// time.Now and time.AfterFunc, but for tests that run a fake clock
		k.expires = testonly.Now().Add(ttl)
		k.timer = testonly.AfterFunc(ttl, k.expire)
	}
	return true
}

// with calls fn with the live key, under the lock so that a concurrent
// clear cannot zero it mid-copy. It reports false when there is no key or it
// has expired (and is then zeroed: the timer may not have run yet).
func (k *keyring) with(fn func(key []byte)) bool {
	k.mu.Lock()
	gone := k.key != nil && k.expired() && k.drop(0)
	ok := k.key != nil
	if ok {
		fn(k.key)
	}
	k.mu.Unlock()
	k.notify(gone)
	return ok
}

// expire is the timer's: it zeroes the key once its time is up. A timer
// of a key replaced since finds the new key not expired and leaves it.
func (k *keyring) expire() {
	k.mu.Lock()
	gone := k.expired() && k.drop(0)
	k.mu.Unlock()
	k.notify(gone)
}

// held reports whether the slot holds a key that has not expired, and when
// it expires (the zero time: never).
func (k *keyring) held() (bool, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil || k.expired() {
		return false, time.Time{}
	}
	return true, k.expires
}

func (k *keyring) clear() {
	k.mu.Lock()
	gone := k.drop(0)
	k.mu.Unlock()
	k.notify(gone)
}

// seal zeroes the key and refuses every later one.
func (k *keyring) seal() {
	k.mu.Lock()
	k.sealed = true
	gone := k.drop(0)
	k.mu.Unlock()
	k.notify(gone)
}

// expired reports whether the key's time is up. Callers hold mu.
func (k *keyring) expired() bool {
	return !k.expires.IsZero() && !testonly.Now().Before(k.expires)
}

// drop zeroes and forgets the key and stops its timer, and wipes the kept
// keys; it reports whether there was a key. For keyring_set in a call
// (replacing is not 0), it wipes only the kept keys that call replaces
// (keys.wipeReplaced). Callers hold mu.
func (k *keyring) drop(replacing uint64) bool {
	held := k.key != nil
	switch {
	case k.keys == nil:
	case replacing != 0:
		k.keys.wipeReplaced(replacing)
	case k.keys.wipeKept():
		held = true
	}
	clear(k.key)
	k.key, k.expires = nil, time.Time{}
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
	}
	return held
}

func (k *keyring) notify(gone bool) {
	if gone && k.forgot != nil {
		k.forgot()
	}
}

func hostKeyringSet(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil || c.keyring == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	b, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), keyringMax)
	if s == abi.OK && !c.keyring.set(b, time.Duration(api.DecodeU32(stack[2]))*time.Millisecond, c.id) {
		s = abi.Unavailable
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
