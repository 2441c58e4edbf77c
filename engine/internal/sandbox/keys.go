package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"math"
	"sync"

	"github.com/sesamehq/sesame/abi"
)

// Keys behind handles (SPEC.md §5.8): the host keeps a vault's keys and the
// guest names them by small integers, so that no key byte enters guest
// memory. Each vault (Module) has one keyTable, shared by its instances:
// its keys live in one page of memory outside the Go heap (keymem_*.go),
// locked and left out of core dumps where the system allows, and every
// slot is zeroed when its key goes.
//
// A key made in a call is wiped when the call ends, unless the call keeps
// it (key_keep): a kept key belongs to the vault's keyring (crypto.go) and
// goes when the keyring's content goes (cleared, expired, replaced in a
// later call), on a successful lock, and when the vault is closed or the
// host forgets its keys.

// keySlot is one place for a key in a vault's key memory.
type keySlot struct {
	handle uint32 // 0: the slot is free
	n      int    // the key's length in bytes
	call   uint64 // the call that made it
	kept   uint64 // the call that kept it; 0: not kept
	prk    bool   // the room after the key holds its HKDF extract with salt (extract)
	salt   []byte // that extract's salt, a copy: salts are not secret
}

// keyTable is a vault's keys. Handles count up from a random start, and are
// never given twice while the table lives: a stale handle is told apart
// from one never given, and the handles of two vaults rarely coincide, so a
// handle that strayed from another vault (a guest's bug) is refused instead
// of naming one of this vault's keys.
type keyTable struct {
	vault  string
	logger *slog.Logger

	mu      sync.Mutex
	mem     []byte // len(slots) × abi.KeyMaxBytes; nil until the first key
	unmap   func()
	slots   [abi.KeyHandles]keySlot
	first   uint32 // the first handle given; 0 before
	next    uint32 // the handle the next key gets
	sealed  bool
	running map[uint64]bool // the calls that have begun and not ended
}

// keyStride is the room of one slot in key memory.
const keyStride = abi.KeyMaxBytes

// mapKeys is mapKeyMemory, a variable so that a test can see the memory
// after the table gave it back.
var mapKeys = mapKeyMemory

// lastHandle is the highest handle: handles are positive i32s.
const lastHandle = math.MaxInt32

// find returns the slot of handle h. Callers hold mu.
func (t *keyTable) find(h uint32) (int, abi.Status) {
	if t.first == 0 || h < t.first || h >= t.next {
		return 0, abi.InvalidArgument // never given
	}
	for i := range t.slots {
		if t.slots[i].handle == h {
			return i, abi.OK
		}
	}
	return 0, abi.NotFound // given, and gone since
}

// key returns the bytes of slot i. Callers hold mu.
func (t *keyTable) key(i int) []byte {
	return t.mem[i*keyStride : i*keyStride+t.slots[i].n]
}

// create makes a key of n bytes for call: fill writes it into its slot.
// The key exists only if fill returns OK; otherwise its slot is zeroed and
// fill's status returned.
func (t *keyTable) create(call uint64, n int, fill func(dst []byte) abi.Status) (uint32, abi.Status) {
	return t.make(call, n, nil, func(_ int, dst []byte) abi.Status { return fill(dst) })
}

// createFrom is create from the bytes of key from, a handle the guest gave.
func (t *keyTable) createFrom(call uint64, n int, from uint32, fill func(src, dst []byte) abi.Status) (uint32, abi.Status) {
	return t.make(call, n, &from, func(i int, dst []byte) abi.Status { return fill(t.key(i), dst) })
}

// derive makes a key of n bytes for call: HKDF-SHA256 of key from, salt
// and info (key_hkdf). The extract of from and salt is kept with from
// (extract), so that the subkeys a vault derives from one key with one
// salt, the secretstore's three on each call, cost one extract and an
// expand each.
func (t *keyTable) derive(call uint64, n int, from uint32, salt, info []byte) (uint32, abi.Status) {
	return t.make(call, n, &from, func(i int, dst []byte) abi.Status {
		var scratch [sha256.Size]byte
		defer clear(scratch[:])
		hkdfExpand(dst, t.extract(i, salt, &scratch), info)
		return abi.OK
	})
}

// extract returns the HKDF-SHA256 extract of key i with salt. Where it fits
// in the key's room after the key (keys of at most 32 bytes, as master keys
// are) it is kept there, in the same locked memory, and made again only
// for another salt: it goes with the key, since wipeSlot zeroes the whole
// room. Otherwise it is made in scratch. Callers hold mu.
func (t *keyTable) extract(i int, salt []byte, scratch *[sha256.Size]byte) []byte {
	k := &t.slots[i]
	if k.n+sha256.Size > keyStride {
		hkdfExtract(scratch, t.key(i), salt)
		return scratch[:]
	}
	prk := (*[sha256.Size]byte)(t.mem[i*keyStride+k.n:])
	if !k.prk || !bytes.Equal(k.salt, salt) {
		hkdfExtract(prk, t.key(i), salt)
		k.prk, k.salt = true, append(k.salt[:0], salt...)
	}
	return prk[:]
}

func (t *keyTable) make(call uint64, n int, from *uint32, fill func(src int, dst []byte) abi.Status) (uint32, abi.Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sealed {
		return 0, abi.Unavailable
	}
	src := -1
	if from != nil {
		i, s := t.find(*from)
		if s != abi.OK {
			return 0, s
		}
		src = i
	}
	free := -1
	for i := range t.slots {
		if t.slots[i].handle == 0 {
			free = i
			break
		}
	}
	switch {
	case free < 0:
		return 0, abi.TooLarge
	case t.next == lastHandle:
		return 0, abi.Unavailable // 2^30 keys made: the vault must be loaded again
	}
	t.allocate()
	dst := t.mem[free*keyStride : free*keyStride+n]
	var s abi.Status
	if erased(func() { s = fill(src, dst) }); s != abi.OK {
		clear(dst)
		return 0, s
	}
	if t.first == 0 {
		t.first = randomFirstHandle()
		t.next = t.first
	}
	h := t.next
	t.next++
	t.slots[free] = keySlot{handle: h, n: n, call: call}
	return h, abi.OK
}

// allocate maps the key memory on the first key, and logs once what it
// lacks (not locked, say). Callers hold mu.
func (t *keyTable) allocate() {
	if t.mem != nil {
		return
	}
	var note string
	t.mem, t.unmap, note = mapKeys(len(t.slots) * keyStride)
	if note != "" {
		t.logger.Warn(note, "vault", t.vault)
	}
}

// randomFirstHandle is a random start for a table's handles, in [1, 2^30].
func randomFirstHandle() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])>>2 + 1
}

// use calls fn with the bytes of key h, under the table's lock so that a
// wipe cannot zero them mid-use. fn must not keep them.
func (t *keyTable) use(h uint32, fn func(key []byte) abi.Status) abi.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, s := t.find(h)
	if s == abi.OK {
		erased(func() { s = fn(t.key(i)) })
	}
	return s
}

// use2 is use with two keys.
func (t *keyTable) use2(a, b uint32, fn func(ka, kb []byte) abi.Status) abi.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, s := t.find(a)
	if s != abi.OK {
		return s
	}
	j, s := t.find(b)
	if s == abi.OK {
		erased(func() { s = fn(t.key(i), t.key(j)) })
	}
	return s
}

// keep makes key h outlive call: it joins the keyring.
func (t *keyTable) keep(call uint64, h uint32) abi.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, s := t.find(h)
	if s == abi.OK {
		t.slots[i].kept = call
	}
	return s
}

// release wipes key h.
func (t *keyTable) release(h uint32) abi.Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, s := t.find(h)
	if s == abi.OK {
		t.wipeSlot(i)
	}
	return s
}

// begin records that call runs, until endCall.
func (t *keyTable) begin(call uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running == nil {
		t.running = map[uint64]bool{}
	}
	t.running[call] = true
}

// endCall wipes the keys call made and did not keep.
func (t *keyTable) endCall(call uint64) {
	t.mu.Lock()
	delete(t.running, call)
	t.mu.Unlock()
	t.wipeWhere(func(k *keySlot) bool { return k.call == call && k.kept == 0 })
}

// wipeKept wipes every kept key, and reports whether there were any.
func (t *keyTable) wipeKept() bool {
	return t.wipeWhere(func(k *keySlot) bool { return k.kept != 0 })
}

// wipeReplaced wipes the keys kept by calls that have ended, but call: the
// keyring call sets replaces them. Keys kept by a call still running (an
// unlock in another instance) stay: its own keyring_set follows, and the
// set after its end wipes them if that set does not name them.
func (t *keyTable) wipeReplaced(call uint64) {
	t.wipeWhere(func(k *keySlot) bool { return k.kept != 0 && k.kept != call && !t.running[k.kept] })
}

// wipe wipes every key; it reports whether there was one.
func (t *keyTable) wipe() bool {
	return t.wipeWhere(func(*keySlot) bool { return true })
}

// seal wipes every key and refuses new ones: the host is shutting down.
func (t *keyTable) seal() {
	t.mu.Lock()
	t.sealed = true
	t.mu.Unlock()
	t.wipe()
}

// free wipes every key and gives the key memory back; the table takes no
// key afterwards. It is the vault's close.
func (t *keyTable) free() {
	t.seal()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mem != nil {
		clear(t.mem)
		t.unmap()
		t.mem, t.unmap = nil, nil
	}
}

// wipeWhere zeroes the keys whose slot matches and frees their slots; it
// reports whether there were any.
func (t *keyTable) wipeWhere(match func(*keySlot) bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	any := false
	for i := range t.slots {
		if t.slots[i].handle != 0 && match(&t.slots[i]) {
			t.wipeSlot(i)
			any = true
		}
	}
	return any
}

// wipeSlot zeroes the whole room of slot i and frees it. Callers hold mu.
func (t *keyTable) wipeSlot(i int) {
	clear(t.mem[i*keyStride : (i+1)*keyStride])
	t.slots[i] = keySlot{}
}
