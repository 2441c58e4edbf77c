//go:build linux

package inotify

import (
	"bytes"
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Watcher is told of the events of the watches it added.
type Watcher interface {
	// Noted is told of one event of one of the watcher's watches (mask:
	// the event's): one that the watch's mask selects and, in a folder
	// watched for a name, that names it or nothing; unix.IN_Q_OVERFLOW
	// when the kernel lost events (every watch of every watcher is told);
	// unix.IN_IGNORED or unix.IN_UNMOUNT when the watch is over, removed
	// by the kernel, or the instance failed. It is called with the
	// instance locked, so it must not block nor call the package; it
	// reports whether the watcher wants Wake called once the lock is
	// released.
	Noted(mask uint32) (wake bool)
	// Wake is called after Noted asked for it: by Poll on a goroutine of
	// its own (unless the watcher is Poll's self), by the instance's
	// goroutine directly.
	Wake()
}

// instance is the process's inotify instance: its descriptor, and the
// watchers of each watch. Two things read its events: Poll, without
// waiting, for an operation that must count every event queued before it
// began; and a goroutine that waits for events between operations, so
// that a watcher learns of one (a writer of another process opening a
// file) when no operation polls.
type instance struct {
	mu      sync.Mutex      // held to read the descriptor and to change the fields
	conn    syscall.RawConn // the descriptor's, for the goroutine's wait; nil until started
	fd      int             // read by its number: the goroutine's wait keeps the file's Read locked
	buf     []byte
	entries map[int32][]entry // by watch descriptor
	failed  bool              // the instance could not be made, or its descriptor failed: no watches
}

// An entry is one watcher's interest in one watch.
type entry struct {
	w    Watcher
	mask uint32 // the events it wants (the kernel's mask is the union of its entries')
	name []byte // in a folder: only events naming it, or nothing, count; nil: every event
}

var shared = &instance{entries: map[int32][]entry{}}

// polled is when the last poll that read the queue empty began (clock).
var polled atomic.Int64

// epoch is the origin of clock.
var epoch = time.Now()

// clock returns the monotonic time since epoch, in nanoseconds.
func clock() int64 { return int64(time.Since(epoch)) }

// Add watches path for w: the events of mask (inotify_add_watch(2)'s;
// IN_ONLYDIR and the like apply to this watch), and in a folder watched
// for name (non-nil) those naming it or nothing. It reports whether the
// watch is made: not when inotify is out of instances or watches, or path
// cannot be watched. A watch of a path that another watcher watches too
// shares its kernel watch.
func Add(w Watcher, path string, mask uint32, name []byte) bool {
	in := shared
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.startLocked() {
		return false
	}
	wd, err := unix.InotifyAddWatch(in.fd, path, mask|unix.IN_MASK_ADD)
	if err != nil {
		return false
	}
	in.entries[int32(wd)] = append(in.entries[int32(wd)], entry{w: w, mask: mask, name: name})
	return true
}

// Remove ends the watches of w, and the kernel's watches that no watcher
// needs then.
func Remove(w Watcher) {
	in := shared
	in.mu.Lock()
	defer in.mu.Unlock()
	for wd, es := range in.entries {
		kept := es[:0]
		for _, e := range es {
			if e.w != w {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 {
			in.entries[wd] = kept
			continue
		}
		delete(in.entries, wd)
		unix.InotifyRmWatch(in.fd, uint32(wd))
	}
}

// Poll reads, without waiting, every event queued now, and tells the
// watchers they concern. Those that ask to be woken are, each on a
// goroutine of its own, but self: its caller acts on what it was told
// (and may hold what Wake would wait for). self may be nil.
func Poll(self Watcher) {
	in := shared
	in.mu.Lock()
	woken, _ := in.drainLocked()
	in.mu.Unlock()
	for _, w := range woken {
		if w != self {
			go w.Wake()
		}
	}
}

// beganKey is the context key of Begin.
type beganKey struct{}

// began is Begin's context: a context of its own type rather than
// context.WithValue, whose value would be boxed (one allocation more per
// operation).
type began struct {
	context.Context
	at int64 // clock
}

func (b *began) Value(key any) any {
	if key == (beganKey{}) {
		return b
	}
	return b.Context.Value(key)
}

// Begin returns ctx marked as the context of an operation that begins now:
// see Polled.
func Begin(ctx context.Context) context.Context {
	return &began{Context: ctx, at: clock()}
}

// Polled reports whether, since the operation of ctx began (Begin), a
// poll began and read the queue empty (Poll, or the instance's
// goroutine): every event queued before the operation began has then been
// told. False when ctx is not an operation's.
func Polled(ctx context.Context) bool {
	b, ok := ctx.Value(beganKey{}).(*began)
	return ok && polled.Load() > b.at
}

// startLocked makes the descriptor and its goroutine, once, and reports
// whether the instance works.
func (in *instance) startLocked() bool {
	if in.conn != nil || in.failed {
		return !in.failed
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		in.failed = true // no instance left (fs.inotify.max_user_instances)
		return false
	}
	f := os.NewFile(uintptr(fd), "inotify") // never closed: the process's
	if in.conn, err = f.SyscallConn(); err != nil {
		f.Close()
		in.failed = true
		return false
	}
	in.fd = fd
	in.buf = make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	go in.serve()
	return true
}

// serve waits for events and tells the watchers they concern, for as long
// as the descriptor works.
func (in *instance) serve() {
	for {
		var woken []Watcher
		pending := true
		err := in.conn.Read(func(uintptr) bool {
			in.mu.Lock()
			woken, pending = in.drainLocked()
			in.mu.Unlock()
			return len(woken) > 0 || !pending // false: wait until readable
		})
		if err != nil {
			// Waiting failed (the descriptor is not pollable): no
			// watcher would learn of an event between operations, which
			// a storage's idle hold depends on, so no watch stays.
			in.mu.Lock()
			woken = append(woken, in.failLocked()...)
			in.mu.Unlock()
		}
		for _, w := range woken {
			w.Wake()
		}
		if err != nil || !pending {
			return
		}
	}
}

// failLocked ends the instance: every watcher is told that its watches
// are over, and no new one starts. It returns those that ask to be woken.
func (in *instance) failLocked() []Watcher {
	in.failed = true
	var woken []Watcher
	for wd, es := range in.entries {
		for _, e := range es {
			if e.w.Noted(unix.IN_IGNORED) {
				woken = append(woken, e.w)
			}
		}
		delete(in.entries, wd)
	}
	return woken
}

// drainLocked reads every event queued now and tells the watchers they
// concern, returning those that ask to be woken. pending is false when the
// descriptor failed (failLocked). It does not wait.
func (in *instance) drainLocked() (woken []Watcher, pending bool) {
	start := clock()
	for !in.failed {
		n, err := unix.Read(in.fd, in.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			polled.Store(start) // polls run under in.mu: later ones begin later
			return woken, true
		case err != nil || n <= 0:
			return append(woken, in.failLocked()...), false
		}
		woken = in.scanLocked(in.buf[:n], woken)
	}
	return woken, false
}

// scanLocked tells the events of buf to the watchers they concern.
func (in *instance) scanLocked(buf []byte, woken []Watcher) []Watcher {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			break
		}
		name := bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00")
		buf = buf[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 { // events were lost: every watcher is told
			for _, es := range in.entries {
				for _, e := range es {
					woken = tell(woken, e.w, ev.Mask)
				}
			}
			continue
		}
		gone := ev.Mask&(unix.IN_IGNORED|unix.IN_UNMOUNT) != 0 // the watch is over
		for _, e := range in.entries[ev.Wd] {
			if gone || e.selects(ev.Mask, name) {
				woken = tell(woken, e.w, ev.Mask)
			}
		}
		if gone {
			delete(in.entries, ev.Wd)
		}
	}
	return woken
}

// selects reports whether the event (mask, name) is one e wants.
func (e entry) selects(mask uint32, name []byte) bool {
	return mask&e.mask != 0 && (e.name == nil || len(name) == 0 || bytes.Equal(name, e.name))
}

// tell tells w of the event mask, adding it to woken if it asks.
func tell(woken []Watcher, w Watcher, mask uint32) []Watcher {
	if w.Noted(mask) {
		woken = append(woken, w)
	}
	return woken
}
