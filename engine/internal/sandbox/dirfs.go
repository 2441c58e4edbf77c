package sandbox

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sesamehq/sesame/internal/testonly"
)

// rootFS is the directory mount (SPEC.md §5.4): wazero's file system
// interface over an *os.Root, so that every path a guest names is resolved
// beneath the granted folder, one name at a time from the folder's
// descriptor, whatever links it meets. wazero's own DirFS joins strings and lets the kernel follow
// links freely: a guest that moved the operator's link sub/up -> .. to the
// top of the folder climbed out through it (issue #14).
//
// What the guest may do:
//   - everything beneath the folder, through links that stay beneath it;
//   - nothing through a link that leads out (absolute, or ".." past the
//     top): EPERM, also when the guest moved or hard-linked a link there;
//   - open regular files and folders only: FIFOs, sockets and devices are
//     opened without blocking, seen for what they are, closed and refused
//     with ENOTSUP, so a FIFO cannot hold a call past its deadline;
//   - not create symbolic links (EPERM): the folder is the operator's, and
//     other programs that read it would follow a link the vault made.
//
// A hard link is the file itself: one the operator made in the folder to a
// file elsewhere gives the vault that file, and the guest can only link
// files it can already reach.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root *os.Root
}

// readOnlyFS is the read-only mount: wazero's ReadFS, which refuses every
// change with EROFS but lets an open for reading through whatever else it
// asks: O_RDONLY|O_CREAT|O_TRUNC created and emptied files. Here any open
// that could change a file is refused with EROFS too.
type readOnlyFS struct{ *sysfs.ReadFS }

const changingOpen = experimentalsys.O_WRONLY | experimentalsys.O_RDWR | experimentalsys.O_CREAT |
	experimentalsys.O_TRUNC | experimentalsys.O_APPEND

func (r readOnlyFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	if flag&changingOpen != 0 {
		return nil, experimentalsys.EROFS
	}
	return r.ReadFS.OpenFile(path, flag, perm)
}

// openDir opens the folder granted to a vault, once, when it loads: the
// mount follows the folder if it is moved, and does not see one made again
// in its place.
func openDir(dir string) (*rootFS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &rootFS{root: root}, nil
}

func (d *rootFS) String() string { return d.root.Name() }

// OpenFile opens without blocking and serves regular files and folders
// only. O_NOFOLLOW is checked with Lstat first: os.Root follows a last
// link itself (within the root) even when asked not to, so a link swapped
// in between the two steps is followed, but never out of the folder.
func (d *rootFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	name := local(path)
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		if st, err := d.root.Lstat(name); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	f, err := d.root.OpenFile(name, osFlags(flag), perm)
	if err != nil {
		return nil, errnoOf(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errnoOf(err)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, experimentalsys.ENOTSUP
	}
	return &rootFile{f: f, flag: flag, st: sys.NewStat_t(fi)}, 0
}

func (d *rootFS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := d.root.Lstat(local(path))
	if err != nil {
		return sys.Stat_t{}, errnoOf(err)
	}
	return sys.NewStat_t(fi), 0
}

func (d *rootFS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	fi, err := d.root.Stat(local(path))
	if err != nil {
		return sys.Stat_t{}, errnoOf(err)
	}
	return sys.NewStat_t(fi), 0
}

func (d *rootFS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	errno := errnoOf(d.root.Mkdir(local(path), perm))
	if errno == experimentalsys.ENOTDIR { // as wazero's DirFS: a missing parent
		errno = experimentalsys.ENOENT
	}
	return errno
}

func (d *rootFS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	return errnoOf(d.root.Chmod(local(path), perm))
}

// Rename moves names, links included, within the folder; a link moved
// somewhere it leads out of the folder is refused when followed.
func (d *rootFS) Rename(from, to string) experimentalsys.Errno {
	testonly.BeforeRename(d.root.Name(), to)
	return errnoOf(d.root.Rename(local(from), local(to)))
}

// Link makes a new name, beneath the folder, for a file beneath it; a link
// of a symbolic link is a symbolic link, refused when followed out.
func (d *rootFS) Link(oldPath, newPath string) experimentalsys.Errno {
	return errnoOf(d.root.Link(local(oldPath), local(newPath)))
}

// Rmdir and Unlink look before they remove, because os.Root has one Remove
// for both; if the name changes in between, what goes is still beneath the
// folder.
func (d *rootFS) Rmdir(path string) experimentalsys.Errno {
	name := local(path)
	if fi, err := d.root.Lstat(name); err != nil {
		return errnoOf(err)
	} else if !fi.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errnoOf(d.root.Remove(name))
}

func (d *rootFS) Unlink(path string) experimentalsys.Errno {
	name := local(path)
	if fi, err := d.root.Lstat(name); err != nil {
		return errnoOf(err)
	} else if fi.IsDir() {
		return experimentalsys.EISDIR
	}
	return errnoOf(d.root.Remove(name))
}

func (d *rootFS) Symlink(string, string) experimentalsys.Errno { return experimentalsys.EPERM }

// Readlink reads a link's text, wherever it points: the operator wrote it.
func (d *rootFS) Readlink(path string) (string, experimentalsys.Errno) {
	target, err := d.root.Readlink(local(path))
	if err != nil {
		return "", errnoOf(err)
	}
	return target, 0
}

// Utimens sets the times of what path leads to (wazero calls it only to
// follow links); experimentalsys.UTIME_OMIT leaves a time as it is.
func (d *rootFS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	return errnoOf(d.root.Chtimes(local(path), omittable(atim), omittable(mtim)))
}

// omittable converts a WASI time for os.Root.Chtimes, which leaves a time
// unchanged when it is the zero time.Time.
func omittable(ns int64) time.Time {
	if ns == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// local turns wazero's name of the folder itself into os.Root's. wazero
// hands the rest over cleaned and relative (fs.ValidPath), with a trailing
// slash kept.
func local(path string) string {
	switch path {
	case "", "/":
		return "."
	}
	return path
}

// osFlags converts wazero's open flags. O_NONBLOCK is always set, so that
// opening a FIFO returns at once (it has no effect on regular files and
// folders); O_NOCTTY, so that opening a terminal does not adopt it.
// O_NOFOLLOW is OpenFile's.
func osFlags(o experimentalsys.Oflag) int {
	flag := syscall.O_NONBLOCK | syscall.O_NOCTTY
	switch o & (experimentalsys.O_RDONLY | experimentalsys.O_RDWR | experimentalsys.O_WRONLY) {
	case experimentalsys.O_RDWR:
		flag |= os.O_RDWR
	case experimentalsys.O_WRONLY:
		flag |= os.O_WRONLY
	}
	for _, f := range []struct {
		o    experimentalsys.Oflag
		flag int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC, os.O_SYNC},
		// O_SYNC promises what O_DSYNC and O_RSYNC promise and more, and
		// every system has it: not all have these two.
		{experimentalsys.O_DSYNC, os.O_SYNC},
		{experimentalsys.O_RSYNC, os.O_SYNC},
		{experimentalsys.O_DIRECTORY, oDirectory},
	} {
		if o&f.o != 0 {
			flag |= f.flag
		}
	}
	return flag
}

// errnoOf converts an error of os.Root. The one that is not a system error,
// "path escapes from parent", becomes EPERM, like a path with ".." that
// wazero refuses itself; ENXIO, what opening a socket or a FIFO without a
// reader gives, becomes ENOTSUP like the other special files.
func errnoOf(err error) experimentalsys.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, syscall.ENXIO):
		return experimentalsys.ENOTSUP
	case errors.As(err, &errno), errors.Is(err, fs.ErrClosed):
		return experimentalsys.UnwrapOSError(err)
	}
	return experimentalsys.EPERM
}

// fileOffset is int64 under another name, only so that go vet does not take
// rootFile.Seek, which returns an Errno as wazero's interface says, for a
// wrong io.Seeker.
type fileOffset = int64

// rootFile is a regular file or a folder opened by rootFS.
type rootFile struct {
	experimentalsys.UnimplementedFile
	f    *os.File
	flag experimentalsys.Oflag
	st   sys.Stat_t // at open, for Dev, Ino and IsDir, which do not change
}

func (r *rootFile) Dev() (uint64, experimentalsys.Errno)    { return r.st.Dev, 0 }
func (r *rootFile) Ino() (sys.Inode, experimentalsys.Errno) { return r.st.Ino, 0 }
func (r *rootFile) IsDir() (bool, experimentalsys.Errno)    { return r.st.Mode.IsDir(), 0 }
func (r *rootFile) IsAppend() bool                          { return r.flag&experimentalsys.O_APPEND != 0 }

func (r *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	fi, err := r.f.Stat()
	if err != nil {
		return sys.Stat_t{}, experimentalsys.UnwrapOSError(err)
	}
	return sys.NewStat_t(fi), 0
}

func (r *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := r.f.Read(buf)
	return n, experimentalsys.UnwrapOSError(err) // io.EOF is 0
}

func (r *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := r.f.ReadAt(buf, off)
	return n, experimentalsys.UnwrapOSError(err)
}

// Seek to the start of a folder rewinds its listing.
func (r *rootFile) Seek(offset fileOffset, whence int) (int64, experimentalsys.Errno) {
	n, err := r.f.Seek(offset, whence)
	return n, experimentalsys.UnwrapOSError(err)
}

// Readdir lists up to n entries, with the inode WASI wants of each; an
// empty list is the end.
func (r *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	fis, err := r.f.Readdir(n)
	if err != nil && err != io.EOF {
		return nil, experimentalsys.UnwrapOSError(err)
	}
	dirents := make([]experimentalsys.Dirent, len(fis))
	for i, fi := range fis {
		dirents[i] = experimentalsys.Dirent{Name: fi.Name(), Ino: sys.NewStat_t(fi).Ino, Type: fi.Mode().Type()}
	}
	return dirents, 0
}

func (r *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := r.f.Write(buf)
	return n, experimentalsys.UnwrapOSError(err)
}

func (r *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := r.f.WriteAt(buf, off)
	return n, experimentalsys.UnwrapOSError(err)
}

func (r *rootFile) Truncate(size int64) experimentalsys.Errno {
	if size < 0 {
		return experimentalsys.EINVAL
	}
	return experimentalsys.UnwrapOSError(r.f.Truncate(size))
}

func (r *rootFile) Sync() experimentalsys.Errno     { return experimentalsys.UnwrapOSError(r.f.Sync()) }
func (r *rootFile) Datasync() experimentalsys.Errno { return r.Sync() }

// Utimens by descriptor is not offered; wazero then sets the times through
// rootFS.Utimens by the file's name, beneath the root.
func (r *rootFile) Utimens(int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }

func (r *rootFile) Close() experimentalsys.Errno {
	if err := r.f.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		return experimentalsys.UnwrapOSError(err)
	}
	return 0
}
