//go:build linux || darwin

package sandbox

import (
	"fmt"
	"io/fs"
	"strconv"
	"syscall"
)

// fileID is what a seal records of its entry's stat (see sealedCache).
type fileID struct {
	dev, ino, size, mtime, ctime int64 // times in nanoseconds
}

func (id fileID) String() string {
	return fmt.Sprintf("%d %d %d %d %d", id.dev, id.ino, id.size, id.mtime, id.ctime)
}

func parseFileID(f []string) (fileID, bool) {
	var n [5]int64
	for i, s := range f {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fileID{}, false
		}
		n[i] = v
	}
	return fileID{n[0], n[1], n[2], n[3], n[4]}, true
}

func idOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	mtime, ctime := statTimes(st)
	return fileID{int64(st.Dev), int64(st.Ino), st.Size, mtime, ctime}, true
}

// readSeal reads the seal file at path: its content, or "unsealed" when
// there is none, or "unreadable seal" when it is not a regular file (a
// link, which O_NOFOLLOW refuses, or a FIFO, which O_NONBLOCK opens
// without waiting for a writer) or is larger than a seal. One descriptor,
// opened, checked with fstat, read and closed with plain system calls:
// every compile reads the seal of every entry in the folder, and os.Open's
// way (a stat before, the runtime's poller registration and flag
// queries) took twice the system calls.
func readSeal(path string) (data []byte, problem string, err error) {
	fd, err := -1, syscall.EINTR
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	}
	switch {
	case err == syscall.ENOENT:
		return nil, "unsealed", nil
	case err == syscall.ELOOP:
		return nil, "unreadable seal", nil
	case err != nil:
		return nil, "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, "", &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > maxSeal {
		return nil, "unreadable seal", nil
	}
	buf := make([]byte, maxSeal+1)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, "", &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n > maxSeal {
		return nil, "unreadable seal", nil // grown since the fstat
	}
	return buf[:n], "", nil
}
