package sandbox

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reserve maps max bytes of address space with no access and no swap
// reserved (MAP_NORESERVE), left out of core dumps like key memory: nothing
// is committed until commit. It reports false when the system refuses, and
// the memory then lives in the Go heap.
func reserve(max uint64) ([]byte, bool) {
	if max == 0 || max > uint64(^uint(0)>>1) {
		return nil, false
	}
	b, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	unix.Madvise(b, unix.MADV_DONTDUMP) // best effort: the agent writes no core file anyway
	return b, true
}

// commit makes b, pages of a reservation, readable and writable. The pages
// take memory only as the guest touches them.
func commit(b []byte) bool {
	return len(b) == 0 || unix.Mprotect(b, unix.PROT_READ|unix.PROT_WRITE) == nil
}

// unmap gives a reservation back to the system.
func unmap(b []byte) { unix.Munmap(b) }

// wipeMapped zeroes the pages of b that are in memory, which are the pages
// the guest touched (zeroing the others would first bring them in). Where
// the system cannot say which pages are in memory, it zeroes them all.
func wipeMapped(b []byte) {
	if len(b) == 0 {
		return
	}
	page := os.Getpagesize()
	in := make([]byte, (len(b)+page-1)/page)
	if !resident(b, in) {
		clear(b)
		return
	}
	for i := 0; i < len(in); {
		if in[i]&1 == 0 {
			i++
			continue
		}
		j := i
		for j < len(in) && in[j]&1 != 0 {
			j++
		}
		clear(b[i*page : min(j*page, len(b))])
		i = j
	}
}

// discard returns the pages of b to the system, keeping the range mapped:
// it reads as zeroes from then on and takes no memory.
func discard(b []byte) {
	if len(b) > 0 {
		unix.Madvise(b, unix.MADV_DONTNEED)
	}
}

// resident fills in with one byte per page of b whose low bit says whether
// the page is in memory (mincore(2), which x/sys/unix does not wrap).
func resident(b, in []byte) bool {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&in[0])))
	return errno == 0
}
