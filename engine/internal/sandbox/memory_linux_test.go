package sandbox

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapping returns the range of the reservation behind in's memory.
func mapping(t *testing.T, in *instance) []byte {
	t.Helper()
	in.mem.mu.Lock()
	defer in.mem.mu.Unlock()
	if in.mem.mapped == nil {
		t.Fatal("the instance's memory is not mapped outside the Go heap")
	}
	return in.mem.mapped
}

// residentPages asks the kernel how many pages of b are in memory; its
// error is ENOMEM when b is not mapped.
func residentPages(b []byte) (int, error) {
	in := make([]byte, (len(b)+unix.Getpagesize()-1)/unix.Getpagesize())
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(&in[0])))
	if errno != 0 {
		return 0, errno
	}
	return bytes.Count(in, []byte{1}), nil
}

// TestMemoryUnmappedOnClose: the memory of a closed instance is zeroed and
// unmapped, as the kernel reports (mincore: ENOMEM).
func TestMemoryUnmappedOnClose(t *testing.T) {
	m, start := loadKeys(t, newTestHost(t))
	in := <-m.pool.idle
	b := mapping(t, in)
	m.pool.idle <- in
	if n, err := residentPages(b); err != nil || n == 0 {
		t.Fatalf("the live instance's memory: %d pages in memory, %v", n, err)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGivenBack(t, start, "the closed instance's memory")
	if _, err := residentPages(b); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("mincore on the closed instance's memory: %v, want ENOMEM (not mapped)", err)
	}
}

// TestMemoryFreedByWazeroStaysReadable: when wazero closes a module on its
// own (its runtime closed under a request, proc_exit), the memory is zeroed
// and its pages returned, but the range stays mapped, so that a call still
// running reads zeroes instead of faulting; the sandbox unmaps it when it
// discards the instance.
func TestMemoryFreedByWazeroStaysReadable(t *testing.T) {
	ctx := context.Background()
	m, start := loadKeys(t, newTestHost(t))
	defer m.Close(ctx)
	in := <-m.pool.idle
	b := mapping(t, in)
	size := in.mod.Memory().Size()
	in.mod.Close(ctx) // wazero's close: Free
	if n, err := residentPages(b); err != nil || n != 0 {
		t.Errorf("the memory wazero freed: %d pages still in memory, %v", n, err)
	}
	if !allZero(b[:size]) { // a call still running would read this
		t.Error("the memory wazero freed does not read as zeroes")
	}
	m.pool.put(ctx, in, false)
	checkGivenBack(t, start, "the discarded instance's memory")
	if _, err := residentPages(b); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("mincore on the discarded instance's memory: %v, want ENOMEM (not mapped)", err)
	}
}

// TestMemoryFirstPagesRefused: when the system refuses to commit an
// instance's first pages (here: a hole punched in the reservation), the
// memory moves to the Go heap instead of failing wazero's instantiation,
// and the reservation is given back.
func TestMemoryFirstPagesRefused(t *testing.T) {
	use := &memoryUse{}
	m := &guestMemory{use: use}
	m.Allocate(0, 4<<16)
	if m.mapped == nil {
		t.Fatal("nothing was reserved")
	}
	if _, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(unsafe.Pointer(&m.mapped[0])), 1<<16, 0); errno != 0 {
		t.Fatal(errno)
	}
	b := m.Reallocate(2 << 16)
	if len(b) != 2<<16 || m.mapped != nil {
		t.Fatalf("Reallocate: %d bytes, still mapped: %v; want the Go heap's", len(b), m.mapped != nil)
	}
	b[len(b)-1] = 1
	if r, c := use.reserved.Load(), use.committed.Load(); r != 0 || c != 2<<16 {
		t.Errorf("reserved %d, committed %d; want 0 and %d", r, c, 2<<16)
	}
	m.release()
}
