package fileperm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrUntrusted is wrapped by every *Error: a file or folder that someone
// else than the user (or root) could have written.
var ErrUntrusted = errors.New("untrusted file")

// Error reports a file or folder sesame refuses, and how to fix it.
type Error struct {
	Path    string // the file or folder at fault
	Problem string // "can be written by its group (mode 0664)", …
	Fix     string // a shell command, or what to do
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s; sesame does not trust it (fix: %s)", e.Path, e.Problem, e.Fix)
}

func (e *Error) Unwrap() error { return ErrUntrusted }

// CheckDir checks that dir is a folder (or a link to one) that only the
// user or root can change, and so is every folder above it, following the
// path as written and the path its links resolve to. A missing folder is an
// error wrapping fs.ErrNotExist.
func CheckDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := checkChain(abs); err != nil {
		return err
	}
	target, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	if target == abs {
		return nil
	}
	return checkChain(target)
}

// checkChain checks abs and each folder above it with Lstat, from abs up.
func checkChain(abs string) error {
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			err = checkOwner(p, fi)
		case !fi.IsDir():
			err = &Error{Path: p, Problem: "is not a folder", Fix: "remove it, or choose another path"}
		default:
			err = checkDirInfo(p, fi)
		}
		if err != nil {
			return err
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// MkdirAll creates dir and the missing folders above it, each with Mkdir
// and mode 0700, once the folder they go in passes CheckDir, then checks
// dir as CheckDir does (a link planted where a folder was missing is seen
// there, never followed unchecked).
func MkdirAll(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var missing []string
	p := abs
	for ; ; p = filepath.Dir(p) {
		_, err := os.Lstat(p)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			break
		}
		missing = append(missing, p)
	}
	if err := CheckDir(p); err != nil || len(missing) == 0 {
		return err // with nothing missing, p is dir: checked
	}
	for i := len(missing) - 1; i >= 0; i-- {
		// EEXIST: made meanwhile by another process, or planted; the
		// check below decides.
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return CheckDir(abs)
}

// Open opens the existing file at path for reading, once it and every
// folder on the way to it pass the checks of CheckDir and CheckFile. A
// link at path is followed if it belongs to the user or root; the file is
// then opened at its target, with O_NOFOLLOW, and checked again through
// the open descriptor, so what is read is what was checked. A FIFO does
// not block the open. A missing file is an error wrapping fs.ErrNotExist.
func Open(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, err
	}
	target := abs
	if fi.Mode()&fs.ModeSymlink != 0 {
		if err := checkOwner(abs, fi); err != nil {
			return nil, err
		}
		if target, err = filepath.EvalSymlinks(abs); err != nil {
			return nil, err
		}
	}
	if err := CheckDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	if target != abs {
		if err := CheckDir(filepath.Dir(target)); err != nil {
			return nil, err
		}
	}
	return OpenFile(target, os.O_RDONLY|nonblock, 0)
}

// OpenFile is os.OpenFile with O_NOFOLLOW added (a link at path is refused
// with an *Error), then CheckFile on the open file. With O_CREATE it
// creates the file with mode perm; O_NOFOLLOW makes it refuse a link there,
// even one pointing nowhere, so nothing is created at a link's target. It
// does not check the folders: callers check them once (CheckDir, MkdirAll).
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := openNoFollow(path, flag, perm)
	if err != nil {
		if isLink(path, err) {
			return nil, linkError(path)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = CheckFile(path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CheckFile checks fi, the Lstat or Stat of path: a regular file (not a
// link) that belongs to the user or root and that neither its group nor
// others can write.
func CheckFile(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return linkError(path)
	case !fi.Mode().IsRegular():
		return &Error{Path: path, Problem: "is not a regular file", Fix: "remove it"}
	}
	if err := checkOwner(path, fi); err != nil {
		return err
	}
	return checkMode(path, fi)
}

// linkError refuses a link where sesame names the file itself (a lock
// file, a storage file): no one but an intruder puts a link there.
func linkError(path string) error {
	return &Error{Path: path, Problem: "is a symbolic link, where sesame keeps a file of its own", Fix: "rm " + path}
}

// checkDirInfo checks the owner and mode of a folder.
func checkDirInfo(path string, fi fs.FileInfo) error {
	if err := checkOwner(path, fi); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSticky != 0 && ownedByRoot(fi) {
		return nil // /tmp: see the package documentation
	}
	return checkMode(path, fi)
}

// checkMode refuses a file or folder its group or others can write.
func checkMode(path string, fi fs.FileInfo) error {
	if !hasModes {
		return nil
	}
	perm := fi.Mode().Perm()
	var who string
	switch perm & 0o022 {
	case 0:
		return nil
	case 0o020:
		who = "its group"
	case 0o002:
		who = "every user"
	default:
		who = "its group and every user"
	}
	return &Error{Path: path, Problem: fmt.Sprintf("can be written by %s (mode %04o)", who, perm), Fix: "chmod go-w " + path}
}
