//go:build unix

package fileperm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

const (
	nonblock = syscall.O_NONBLOCK
	hasModes = true
)

func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
}

// checkOwner refuses a file, folder or link that belongs neither to the
// user running sesame nor to root.
func checkOwner(path string, fi fs.FileInfo) error {
	uid, ok := owner(fi)
	if !ok || uid == 0 || uid == os.Geteuid() {
		return nil
	}
	return &Error{
		Path:    path,
		Problem: fmt.Sprintf("belongs to user %d, not to you (user %d)", uid, os.Geteuid()),
		Fix:     fmt.Sprintf("chown %d %s, or use a file of your own", os.Geteuid(), path),
	}
}

func ownedByRoot(fi fs.FileInfo) bool {
	uid, ok := owner(fi)
	return ok && uid == 0
}

func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// isLink reports whether err, from an open of path with O_NOFOLLOW, means
// that path is a symbolic link: ELOOP on Linux and the BSDs, EMLINK on
// FreeBSD, ENOTDIR nowhere it matters; confirmed with Lstat.
func isLink(path string, err error) bool {
	if !errors.Is(err, syscall.ELOOP) && !errors.Is(err, syscall.EMLINK) {
		return false
	}
	fi, lerr := os.Lstat(path)
	return lerr == nil && fi.Mode()&fs.ModeSymlink != 0
}
