package sandbox

import "golang.org/x/sys/unix"

// lockMemory is unix.Mlock, a variable so that a test can make it refuse
// as RLIMIT_MEMLOCK would (the tests run as root, where it never does).
var lockMemory = unix.Mlock

// mapKeyMemory returns n bytes of memory outside the Go heap for keys:
// mapped anonymously, left out of core dumps (MADV_DONTDUMP) and locked so
// that it is never swapped. It never fails: where a step is refused (most
// often mlock, past RLIMIT_MEMLOCK) the keys still work, and note says what
// they lack, for the vault's log. A map refused altogether falls back to
// the Go heap (still wiped), and says so.
func mapKeyMemory(n int) (mem []byte, unmap func(), note string) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]byte, n), func() {}, "key memory could not be mapped outside the Go heap (" + err.Error() + "): keys may be swapped to disk and appear in core dumps"
	}
	if err := unix.Madvise(b, unix.MADV_DONTDUMP); err != nil {
		note = "key memory could not be left out of core dumps (" + err.Error() + ")"
	}
	locked := lockMemory(b) == nil
	if !locked {
		note = join(note, "key memory could not be locked (RLIMIT_MEMLOCK, see ulimit -l): keys may be swapped to disk")
	}
	return b, func() {
		if locked {
			unix.Munlock(b)
		}
		unix.Munmap(b)
	}, note
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
