//go:build !unix

package fileperm

import (
	"io/fs"
	"os"
)

// Without Unix owners and modes, only links and file types are checked.
const (
	nonblock = 0
	hasModes = false
)

// openNoFollow refuses a link at path; without O_NOFOLLOW it can only look
// first, which a link planted in between escapes.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if isLink(path, nil) {
		return nil, fs.ErrInvalid
	}
	return os.OpenFile(path, flag, perm)
}

func checkOwner(string, fs.FileInfo) error { return nil }

func ownedByRoot(fs.FileInfo) bool { return false }

// isLink reports whether path is a symbolic link; without O_NOFOLLOW, the
// open may have followed it, so OpenFile's caller checked before.
func isLink(path string, _ error) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}
