package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"unsafe"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// givenBack is the bookkeeping these tests read: for each memory that
// release gave back, keyed by where it began, whether it was all zeroes
// at that moment. It is filled for every test of the package.
var givenBack sync.Map

func init() {
	next := giveBack
	giveBack = func(used, mapped []byte) {
		givenBack.Store(uintptr(unsafe.Pointer(unsafe.SliceData(used))), allZero(used))
		next(used, mapped)
	}
}

// allZero reports whether b holds only zeros. It compares a page at a time
// with bytes.Equal, whose vector code is many times faster than a loop
// over bytes: every instance that any test of the package closes passes
// through here, memory of megabytes each.
func allZero(b []byte) bool {
	var zeros [4096]byte
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// memoryStart returns where the linear memory of in begins, and forgets
// what an earlier memory there was given back as.
func memoryStart(in *instance) uintptr {
	in.mem.mu.Lock()
	defer in.mem.mu.Unlock()
	b := in.mem.heap
	if in.mem.mapped != nil {
		b = in.mem.mapped
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	givenBack.Delete(start)
	return start
}

// checkGivenBack fails t unless the memory that began at start was given
// back, and was zeroed when it was.
func checkGivenBack(t *testing.T, start uintptr, what string) {
	t.Helper()
	zeroed, given := givenBack.Load(start)
	switch {
	case !given:
		t.Errorf("%s was not given back", what)
	case !zeroed.(bool):
		t.Errorf("%s was given back without being zeroed", what)
	}
}

// grow calls testdata/memgrow.wat's get: it grows the memory by pages, then
// by one page, and returns both results of memory.grow and the size after.
func grow(t *testing.T, m *Module, pages uint32) [3]int32 {
	t.Helper()
	out, err := m.Call(context.Background(), abi.OpGet, binary.LittleEndian.AppendUint32(nil, pages))
	if err != nil || len(out) != 12 {
		t.Fatalf("get: %x, %v", out, err)
	}
	var r [3]int32
	for i := range r {
		r[i] = int32(binary.LittleEndian.Uint32(out[4*i:]))
	}
	return r
}

// TestMemoryGrowsAsTheGuestAsks: an instance starts with the pages its
// module declares (the whole grant used to be allocated up front), grows
// page by page up to its grant and no further, and once discarded counts
// no memory.
func TestMemoryGrowsAsTheGuestAsks(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t)
	const page, grant = 64 << 10, 2 << 20
	m, err := h.Load(ctx, Spec{Vault: "Grow", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/memgrow.wat"), Memory: grant, Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	steps := []struct {
		pages uint32
		want  [3]int32 // the two results of memory.grow, and the size after
	}{
		{0, [3]int32{1, 1, 2}},
		{31, [3]int32{-1, 2, 3}}, // 2 + 31 is past the grant's 32 pages
		{29, [3]int32{3, -1, 32}},
	}
	for i, s := range steps {
		if got := grow(t, m, s.pages); got != s.want {
			t.Fatalf("step %d: memory.grow(%d), memory.grow(1), memory.size = %d, want %d", i, s.pages, got, s.want)
		}
		if i == 0 {
			if got := h.memory.committed.Load(); got != 2*page {
				t.Errorf("an instance of 2 pages counts %d bytes, want %d: memory was taken before the guest asked", got, 2*page)
			}
			if got := h.memory.reserved.Load(); got != 0 && got != grant {
				t.Errorf("an instance reserves %d bytes, want its grant of %d (or nothing, in the Go heap)", got, grant)
			}
		}
	}
	// At 2 MiB, past half its grant, the instance was recycled.
	if c, r := h.memory.committed.Load(), h.memory.reserved.Load(); c != 0 || r != 0 {
		t.Errorf("after the instance was discarded, %d bytes are counted and %d reserved, want none", c, r)
	}
}

// TestMemoryZeroedOnClose: closing a module zeroes its instance's memory,
// which held the value of its last call, before giving it back.
func TestMemoryZeroedOnClose(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t)
	m, err := h.Load(ctx, Spec{Vault: "Grow", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/memgrow.wat"), Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	value := []byte("\x00\x00\x00\x00 a value the guest handled")
	if _, err := m.Call(ctx, abi.OpGet, value); err != nil {
		t.Fatal(err)
	}
	in := <-m.pool.idle
	view, _ := in.mod.Memory().Read(0, in.mod.Memory().Size())
	if !bytes.Contains(view, value[4:]) {
		t.Fatal("the instance's memory does not hold the value: the test would prove nothing")
	}
	start := memoryStart(in)
	m.pool.idle <- in
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	checkGivenBack(t, start, "the closed module's memory")
	if c, r := h.memory.committed.Load(), h.memory.reserved.Load(); c != 0 || r != 0 {
		t.Errorf("after the module closed, %d bytes are counted and %d reserved, want none", c, r)
	}
}

// TestHeapMemoryZeroesWhatItLeaves: memory in the Go heap (where nothing
// can be mapped) zeroes the slice it leaves behind when it grows by
// copying, and its last slice on Free; it refuses to grow past its maximum.
func TestHeapMemoryZeroesWhatItLeaves(t *testing.T) {
	use := &memoryUse{}
	m := &guestMemory{use: use, max: 4 << 16} // Allocate's fields, with nothing mapped
	first := m.Reallocate(1 << 16)
	copy(first, "secret")
	second := m.Reallocate(3 << 16)
	if !bytes.HasPrefix(second, []byte("secret")) {
		t.Fatal("growing lost the memory's content")
	}
	if !allZero(first[:cap(first)]) {
		t.Error("the slice left behind by a grow was not zeroed")
	}
	if m.Reallocate(5<<16) != nil {
		t.Error("the memory grew past its maximum")
	}
	if got := use.committed.Load(); got != 3<<16 {
		t.Errorf("committed %d, want %d", got, 3<<16)
	}
	m.Free()
	if !allZero(second[:cap(second)]) {
		t.Error("Free left the memory as it was")
	}
	if m.Reallocate(4<<16) != nil {
		t.Error("a freed memory grew")
	}
	m.release()
	if got := use.committed.Load(); got != 0 {
		t.Errorf("committed %d after release, want 0", got)
	}
}
