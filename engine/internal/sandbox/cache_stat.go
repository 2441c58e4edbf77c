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
