//go:build linux && !android

package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The watch behind idle holds (reader_unix.go): one inotify instance for
// the process, with, for each reader that may hold its lock between calls,
// a watch on its file, on the file's folder (events naming the file) and
// on every folder above (the folder itself moved or removed).
//
// Two things read its events. A read about to use an idle hold polls the
// descriptor without waiting (one system call, the one of such a read):
// the kernel queues an event within the rename, unlink or open that causes
// it, so every change to the path made before the read began is counted
// by then, as the stat of a fresh check would see it. A goroutine waits
// for events between calls: a writer of another process opens the file
// before it waits for the lock, and the goroutine ends the hold that keeps
// it waiting (wake), so that writers wait for an idle process no longer
// than for a busy one.
type holdWatch struct {
	mu      sync.Mutex      // held to read the descriptor and to change entries
	file    *os.File        // the instance, never closed: fd is read by its number
	conn    syscall.RawConn // file's, for the goroutine's wait
	fd      int
	buf     []byte
	entries map[int32][]holdEntry // by watch descriptor
	failed  bool                  // the instance could not be made: no holds
}

// A holdEntry is one reader's interest in one watch.
type holdEntry struct {
	r    *reader
	name []byte // the folder's watch: only events naming the file count; nil: every event
}

var holds = &holdWatch{entries: map[int32][]holdEntry{}}

const (
	// A writer opens the file; a change to it, or to its name.
	fileMask = unix.IN_OPEN | unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE |
		unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_MASK_ADD
	// The file's name made to name another file, or none.
	folderMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR | unix.IN_MASK_ADD
	// A folder above moved or removed.
	aboveMask = unix.IN_MOVE_SELF | unix.IN_DELETE_SELF | unix.IN_ONLYDIR | unix.IN_MASK_ADD
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
	h := holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.startLocked() {
		return false
	}
	dir := filepath.Dir(path)
	ok := h.addLocked(r, path, fileMask, nil) && h.addLocked(r, dir, folderMask, []byte(filepath.Base(path)))
	for d := dir; ok && d != filepath.Dir(d); {
		d = filepath.Dir(d)
		ok = h.addLocked(r, d, aboveMask, nil)
	}
	if !ok {
		h.removeLocked(r)
	}
	return ok
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
func unwatchHold(r *reader) {
	holds.mu.Lock()
	defer holds.mu.Unlock()
	holds.removeLocked(r)
}

// pollHolds counts, without waiting, the events queued now for the readers
// they concern; those other than self are woken (on goroutines of their
// own: self's caller holds self's gate, and may not wait for another's).
func pollHolds(self *reader) {
	h := holds
	h.mu.Lock()
	woken, _ := h.drainLocked()
	h.mu.Unlock()
	for _, r := range woken {
		if r != self {
			go r.wake()
		}
	}
}

// startLocked makes the inotify instance and its goroutine, once.
func (h *holdWatch) startLocked() bool {
	if h.conn != nil || h.failed {
		return !h.failed
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		h.failed = true
		return false
	}
	f := os.NewFile(uintptr(fd), "inotify")
	if h.conn, err = f.SyscallConn(); err != nil {
		f.Close()
		h.failed = true
		return false
	}
	h.file, h.fd = f, fd
	h.buf = make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	go h.serve()
	return true
}

// serve waits for events and wakes the readers they concern, for as long
// as the descriptor works.
func (h *holdWatch) serve() {
	for {
		var woken []*reader
		pending := true
		err := h.conn.Read(func(uintptr) bool {
			h.mu.Lock()
			woken, pending = h.drainLocked()
			h.mu.Unlock()
			return len(woken) > 0 || !pending // false: wait until readable
		})
		if err != nil {
			// Waiting failed (the descriptor is not pollable): nothing
			// would tell a reader of a waiting writer, so no hold may
			// stay.
			h.mu.Lock()
			woken = append(woken, h.failLocked()...)
			h.mu.Unlock()
		}
		for _, r := range woken {
			r.wake()
		}
		if err != nil || !pending {
			return
		}
	}
}

// failLocked ends the watch: every reader loses its hold's watch, and no
// new one starts. It returns the readers.
func (h *holdWatch) failLocked() []*reader {
	h.failed = true
	var lost []*reader
	for _, es := range h.entries {
		for _, e := range es {
			lost = append(lost, e.r.noted(true))
		}
	}
	return lost
}

// drainLocked reads every event queued now and counts each against the
// readers it concerns, returning them. pending is false when the
// descriptor failed: every reader then loses its watch, and no new one
// starts. (It reads the descriptor itself, not through the file's Read,
// which the goroutine's wait keeps locked.)
func (h *holdWatch) drainLocked() (woken []*reader, pending bool) {
	for !h.failed {
		n, err := unix.Read(h.fd, h.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return woken, true
		case err != nil || n <= 0:
			return append(woken, h.failLocked()...), false
		}
		woken = h.scanLocked(h.buf[:n], woken)
	}
	return woken, false
}

// scanLocked counts the events of buf.
func (h *holdWatch) scanLocked(buf []byte, woken []*reader) []*reader {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			break
		}
		name := bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00")
		buf = buf[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 { // events were lost: every reader checks afresh
			for _, es := range h.entries {
				for _, e := range es {
					woken = append(woken, e.r.noted(false))
				}
			}
			continue
		}
		gone := ev.Mask&(unix.IN_IGNORED|unix.IN_UNMOUNT) != 0 // the watch is over
		for _, e := range h.entries[ev.Wd] {
			if gone || e.name == nil || len(name) == 0 || bytes.Equal(name, e.name) {
				woken = append(woken, e.r.noted(gone))
			}
		}
		if gone {
			delete(h.entries, ev.Wd)
		}
	}
	return woken
}

// addLocked watches path for r with mask.
func (h *holdWatch) addLocked(r *reader, path string, mask uint32, name []byte) bool {
	wd, err := unix.InotifyAddWatch(h.fd, path, mask)
	if err != nil {
		return false
	}
	h.entries[int32(wd)] = append(h.entries[int32(wd)], holdEntry{r: r, name: name})
	return true
}

// removeLocked drops r's entries, and the watches no reader needs then.
func (h *holdWatch) removeLocked(r *reader) {
	for wd, es := range h.entries {
		kept := es[:0]
		for _, e := range es {
			if e.r != r {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 {
			h.entries[wd] = kept
			continue
		}
		delete(h.entries, wd)
		unix.InotifyRmWatch(h.fd, uint32(wd))
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
