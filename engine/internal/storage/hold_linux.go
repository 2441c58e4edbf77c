//go:build linux && !android

package storage

import (
	"context"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/sesamehq/sesame/engine/internal/inotify"
)

// The watch behind idle holds (reader_unix.go): with the process's inotify
// instance (package inotify), for each reader that may hold its lock
// between calls, a watch on its file, on the file's folder (events naming
// the file) and on every folder above (the folder itself moved or
// removed).
//
// Two things read its events. A read about to use an idle hold polls the
// descriptor without waiting (one system call, the one of such a read),
// unless its operation's poll did since the operation began
// (inotify.Polled: the engine's freshness check reads the same
// descriptor): the kernel queues an event within the rename, unlink or
// open that causes it, so every change to the path made before the
// operation began is counted by then, as the stat of a fresh check would
// see it. The instance's goroutine waits for events between calls: a
// writer of another process opens the file before it waits for the lock,
// and the goroutine ends the hold that keeps it waiting (Wake), so that
// writers wait for an idle process no longer than for a busy one.

const (
	// A writer opens the file; a change to it, or to its name.
	fileMask = unix.IN_OPEN | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
		unix.IN_MOVE_SELF | unix.IN_DELETE_SELF
	// The file's name made to name another file, or none.
	folderMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR
	// A folder above moved or removed.
	aboveMask = unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR
)

// watchHold starts watching path, the file of r's open handle, for r, and
// reports whether it does: not if path is not its own real path (a
// symbolic link on the way could be changed unseen), or inotify is out of
// instances or watches. The caller checks afterwards that the file at path
// is still r's (a change before the watch began is not reported).
func watchHold(r *reader, path string) bool {
	if real, err := filepath.EvalSymlinks(path); err != nil || real != path || !onLocalDisk(path) {
		return false
	}
	dir := filepath.Dir(path)
	ok := inotify.Add(r, path, fileMask, nil) && inotify.Add(r, dir, folderMask, []byte(filepath.Base(path)))
	for d := dir; ok && d != filepath.Dir(d); {
		d = filepath.Dir(d)
		ok = inotify.Add(r, d, aboveMask, nil)
	}
	if !ok {
		inotify.Remove(r)
	}
	return ok
}

// Noted counts a change the watch saw for r (mask: the inotify event's),
// and that the watch ended if it did, and asks to be woken (Wake). The
// watch calls it under its own lock, so it does not take the gate.
func (r *reader) Noted(mask uint32) (wake bool) {
	r.events.Add(1)
	if mask&(unix.IN_IGNORED|unix.IN_UNMOUNT) != 0 {
		r.lost.Store(true)
	}
	return true
}

// onLocalDisk reports whether the file at path is on a file system of this
// machine's own (localFS). On a network file system inotify sees nothing
// that another machine does, so a writer there, waiting for the lock, would
// never be seen to open the file; and NFSv4 may grant the read lease of
// noWriters while it holds a delegation, so the probe would not say so.
func onLocalDisk(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && localFS(int64(st.Type))
}

// localFS reports whether magic, a file system type of statfs(2), is one
// that lives on this machine's disks or memory: the list is of those
// known, so a file system not on it (NFS, SMB, Ceph, FUSE, 9p, …) keeps
// no idle hold, as before holds.
func localFS(magic int64) bool {
	switch magic {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC, unix.TMPFS_MAGIC,
		unix.F2FS_SUPER_MAGIC, unix.OVERLAYFS_SUPER_MAGIC, unix.REISERFS_SUPER_MAGIC,
		unix.BCACHEFS_SUPER_MAGIC, unix.RAMFS_MAGIC,
		zfsSuperMagic:
		return true
	}
	return false
}

// zfsSuperMagic is OpenZFS's type in statfs(2), which x/sys/unix does not
// name.
const zfsSuperMagic = 0x2fc12fc1

// unwatchHold ends the watches of r.
func unwatchHold(r *reader) { inotify.Remove(r) }

// pollHolds counts, without waiting, the events queued now for the readers
// they concern, unless the operation of ctx polled since it began; those
// other than self are woken (on goroutines of their own: self's caller
// holds self's gate, and may not wait for another's).
func pollHolds(ctx context.Context, self *reader) {
	if !inotify.Polled(ctx) {
		inotify.Poll(self)
	}
}

// noWriters reports whether no one has f's file open for writing, by
// taking a read lease on f and giving it back at once: the kernel grants
// one only then. A writer that opened the file before the watch began, and
// waits for the lock, is found so. (While the lease is held, for the two
// system calls, a writer's open waits for it to be given back.) False when
// leases are unavailable (disabled, or not the owner of the file).
func noWriters(f *os.File) bool {
	ok := false
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			if _, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK); err == nil {
				ok = true
				unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
			}
		})
	}
	return ok
}
