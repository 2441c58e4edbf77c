package sandbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
)

// replace puts the file from in the place of the file to, if to holds the
// bytes whose SHA-256 is digest, and removes what to held. It exchanges
// the two names atomically (renameat2 RENAME_EXCHANGE) and then hashes
// what came out: a save by another program that landed at any moment
// before the exchange comes out, differs, and is exchanged back (CONFLICT);
// one that lands after it replaces the guest's file, as a save a moment
// later would. Both names are resolved beneath the folder as every path of
// the mount is (their folders through os.Root, their last names without
// following a link), and both must be regular files. The file from takes
// the permission bits of to first (keepMode).
//
// If a third save lands on to in the instant between the exchange and the
// exchange back, what comes back under from is that save, not the guest's
// file: it is left there, never removed, and the guest, which finds its
// name still taken after a CONFLICT, says where it is.
func (d *rootFS) replace(ctx context.Context, c *call, from, to string, digest [32]byte) abi.Status {
	fromDir, fromBase, err := d.parent(from)
	if err != nil {
		return replaceStatus(err)
	}
	defer fromDir.Close()
	toDir, toBase, err := d.parent(to)
	if err != nil {
		return replaceStatus(err)
	}
	defer toDir.Close()
	ours, err := regular(fromDir, fromBase)
	if err == nil {
		_, err = regular(toDir, toBase)
	}
	if err == nil {
		err = keepMode(fromDir, fromBase, ours, toDir, toBase)
	}
	if err != nil {
		return replaceStatus(err)
	}
	testonly.BeforeRename(d.root.Name(), to)
	if err := exchange(fromDir, fromBase, toDir, toBase); err != nil {
		return replaceStatus(err)
	}
	if holds(ctx, fromDir, fromBase, digest) {
		if err := unix.Unlinkat(fd(fromDir), fromBase, 0); err != nil {
			c.logger.WarnContext(ctx, "the database's old file was left beside it: "+err.Error(), "vault", c.vault, "file", from)
		}
		return abi.OK
	}
	if err := exchange(fromDir, fromBase, toDir, toBase); err != nil {
		c.logger.WarnContext(ctx, "another program's file, changed under the vault's write, is left beside it: "+err.Error(), "vault", c.vault, "file", from)
		return abi.Conflict
	}
	if back, err := regular(fromDir, fromBase); err == nil && back == ours {
		unix.Unlinkat(fd(fromDir), fromBase, 0)
	}
	if ctx.Err() != nil {
		return abi.DeadlineExceeded
	}
	return abi.Conflict
}

// parent opens the folder of name beneath the mount, and returns it with
// name's last element.
func (d *rootFS) parent(name string) (*os.File, string, error) {
	dir, base := path.Split(name)
	f, err := d.root.OpenFile(local(path.Clean("/" + dir)[1:]), os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, "", err
	}
	return f, base, nil
}

func fd(f *os.File) int { return int(f.Fd()) }

// fileKey is what tells two files apart.
type fileKey struct{ dev, ino uint64 }

// errNotRegular: a name given to replace is a link, a folder or a special
// file.
var errNotRegular = errors.New("not a regular file")

// regular returns the identity of the file base names in dir, without
// following a link, if it is a regular file.
func regular(dir *os.File, base string) (fileKey, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(fd(dir), base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fileKey{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileKey{}, errNotRegular
	}
	return fileKey{uint64(st.Dev), st.Ino}, nil
}

// keepMode gives the file fromBase of fromDir, which must still be the
// file ours, the permission bits of toBase in toDir, as a program that
// saves a file in place keeps its mode (KeePassXC does): a database the
// user made readable by a group stays so once a vault has written it. The
// guest cannot set a mode itself (WASI has no chmod), and it creates its
// files 0600. Only the bits rwx of each class are copied, never setuid,
// setgid or sticky. The file is opened without following a link and checked
// to be ours before its mode changes: a name swapped for a link since ours
// was read must not lead the change to a file outside the folder.
func keepMode(fromDir *os.File, fromBase string, ours fileKey, toDir *os.File, toBase string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd(toDir), toBase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := st.Mode & 0o777
	n, err := unix.Openat(fd(fromDir), fromBase, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(n)
	if err := unix.Fstat(n, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || (fileKey{uint64(st.Dev), st.Ino}) != ours {
		return errNotRegular
	}
	if st.Mode&0o7777 == mode {
		return nil
	}
	return unix.Fchmod(n, mode)
}

// exchange swaps the names atomically; errors.ErrUnsupported when the
// kernel or the file system cannot.
func exchange(fromDir *os.File, from string, toDir *os.File, to string) error {
	err := unix.Renameat2(fd(fromDir), from, fd(toDir), to, unix.RENAME_EXCHANGE)
	if err == unix.ENOSYS || err == unix.EINVAL {
		return errors.ErrUnsupported
	}
	return err
}

// holds reports whether base in dir is a regular file (not followed
// through a link) whose bytes have digest as their SHA-256. It reads under
// ctx, false once ctx is done: the guest makes the file as large as it
// likes (a sparse terabyte costs it nothing), and a hash past the call's
// deadline would hold the host there, then replace the file of a call
// already reported as failed.
func holds(ctx context.Context, dir *os.File, base string, digest [32]byte) bool {
	n, err := unix.Openat(fd(dir), base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(n), base)
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return false
	}
	return [32]byte(h.Sum(nil)) == digest
}

// ctxReader reads r until ctx is done, then fails with ctx's error.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// replaceStatus is the status of a failure before anything was exchanged.
func replaceStatus(err error) abi.Status {
	var errno unix.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return abi.NotFound
	case errors.Is(err, errors.ErrUnsupported):
		return abi.Unsupported
	case errors.Is(err, unix.ENOTDIR):
		return abi.NotFound // a file where a folder should be
	case errors.Is(err, errNotRegular), !errors.As(err, &errno), errno == unix.EACCES, errno == unix.EPERM, errno == unix.ELOOP:
		return abi.PermissionDenied // a link, a folder, a path that leads out ("path escapes from parent")
	}
	return abi.Unavailable
}
