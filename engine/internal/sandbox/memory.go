package sandbox

import (
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// guestMemory is the linear memory of one instance, handed to wazero as its
// memory allocator (experimental.WithMemoryAllocator, in the context of
// InstantiateModule), so that the host decides where guest memory lives and
// when it is wiped.
//
// On Linux it lives outside the Go heap (memory_linux.go): Allocate reserves
// the memory's maximum, the vault's memory grant, as address space with no
// access, and each grow makes the next pages readable and writable, so
// nothing is committed before the guest asks for it, the collector neither
// scans nor keeps it, and the pages go back to the system the moment the
// instance closes. Elsewhere, or when the reservation is refused (a 32-bit
// address space), it is a Go slice that grows by copying and zeroes the
// copy it leaves behind.
//
// A guest's memory holds what its calls handled: secret values, and for a
// vault that keeps its keys itself, keys. So it is zeroed before it is let
// go, in two steps, because wazero and the sandbox each know one moment:
//
//   - Free, which wazero calls as it closes the module, may come while a
//     call of the instance still runs on another goroutine (a runtime closed
//     under a request, proc_exit inside a host function). It zeroes the
//     pages the guest used and returns them to the system, but keeps the
//     range mapped, so that such a call reads zeroes instead of faulting.
//   - release, which the sandbox calls once no call can reach the instance
//     (instance.close, or a failed start), zeroes again what was written
//     since and unmaps the range.
//
// A module has one memory (wazero implements no multi-memory), so one
// guestMemory serves one instance.
type guestMemory struct {
	use *memoryUse

	mu       sync.Mutex
	max      uint64 // the memory's maximum: the bytes reserved
	mapped   []byte // the reservation (Linux): len is max, the first size bytes are accessible
	heap     []byte // the Go slice when nothing is mapped
	size     uint64 // the guest's memory size, in bytes: the part that is accessible
	freed    bool   // Free was called: the memory is no longer counted, nor grown
	released bool
}

// memoryUse counts the guest memory of a Host: what is reserved (address
// space, on Linux) and what the guests have grown into. Tests read it; it
// is the bookkeeping that shows memory is given back.
type memoryUse struct {
	reserved  atomic.Int64
	committed atomic.Int64
}

// Allocate implements experimental.MemoryAllocator: it prepares m for a
// memory of at most max bytes. The capacity wazero suggests is ignored:
// memory grows as the guest asks.
func (m *guestMemory) Allocate(_, max uint64) experimental.LinearMemory {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.max = max
	if b, ok := reserve(max); ok {
		m.mapped = b
		m.use.reserved.Add(int64(max))
	}
	return m
}

// Reallocate implements experimental.LinearMemory: it makes the memory size
// bytes long and returns it, or nil, which wazero turns into memory.grow's
// -1, when size is past the maximum, the system refuses the pages or the
// memory was freed.
func (m *guestMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || m.released || size > m.max {
		return nil
	}
	if m.mapped == nil {
		return m.growHeap(size)
	}
	if size > m.size {
		if !commit(m.mapped[m.size:size]) {
			if m.size == 0 {
				// The first pages, which wazero does not expect to be
				// refused: the Go heap serves instead.
				m.unreserve()
				return m.growHeap(size)
			}
			return nil
		}
		m.use.committed.Add(int64(size - m.size))
		m.size = size
	}
	return m.mapped[:size:size]
}

// growHeap is Reallocate for a memory in the Go heap: a bigger slice (at
// least double, up to the maximum) takes a copy, and the old one is zeroed.
func (m *guestMemory) growHeap(size uint64) []byte {
	if size > uint64(cap(m.heap)) {
		grown := make([]byte, size, min(m.max, max(size, 2*uint64(cap(m.heap)))))
		copy(grown, m.heap)
		clear(m.heap[:cap(m.heap)])
		m.heap = grown
	}
	m.use.committed.Add(int64(size) - int64(m.size))
	m.size = size
	m.heap = m.heap[:size]
	return m.heap
}

// Free implements experimental.LinearMemory; see the type's comment.
func (m *guestMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || m.released {
		return
	}
	m.wipe()
	if m.mapped != nil {
		discard(m.mapped[:m.size])
	}
	m.freed = true
}

// release zeroes the memory and gives it back to the system; see the type's
// comment. It is safe to call more than once, and before Allocate.
func (m *guestMemory) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released {
		return
	}
	m.released = true
	m.wipe()
	if m.mapped != nil {
		m.unreserve()
	} else {
		giveBack(m.heap[:cap(m.heap)], nil)
		m.heap = nil
	}
}

// unreserve gives the reservation, zeroed, back to the system.
func (m *guestMemory) unreserve() {
	giveBack(m.mapped[:m.size], m.mapped)
	m.use.reserved.Add(-int64(m.max))
	m.mapped = nil
}

// giveBack is release's last step: used, what the guest could reach, just
// zeroed, goes back to the system with the reservation mapped (unmapped), or
// to the collector when mapped is nil. A variable, so that tests can see
// what was given back and check it was zeroed (memory_test.go).
var giveBack = func(used, mapped []byte) {
	if mapped != nil {
		unmap(mapped)
	}
}

// wipe zeroes what the guest used and, the first time, uncounts it. The
// accessible range stays as it is until release unmaps it.
func (m *guestMemory) wipe() {
	if m.mapped != nil {
		wipeMapped(m.mapped[:m.size])
	} else {
		clear(m.heap[:cap(m.heap)])
	}
	if !m.freed {
		m.use.committed.Add(-int64(m.size))
	}
}
