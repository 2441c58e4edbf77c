package storage

import (
	"context"
	"sync"
)

// callKey is the context key of WithCall.
type callKey struct{}

// call is the scope of WithCall: the read lock it holds, if any, and the
// read transaction its reads share. It is the context WithCall returns
// too, which context.WithValue would make an allocation more.
type call struct {
	context.Context            // WithCall's parent
	mu              sync.Mutex // held while a read uses snap, and to change the fields
	held            *reader    // the reader whose shared lock the call holds, as one of its holders
	snap            snapshot   // the hold's read transaction
	ended           bool       // release was called: the call takes no more holds
}

// WithCall returns a context under which the reads of a Store make one
// call, and the function that ends it, which must be called. A vault call
// that reads its store several times passes it (a secretstore get reads
// a record, the index and the root).
//
// The call's first read takes the file's shared lock, checks the file and
// begins a read transaction, as every read does, and the call then keeps
// the lock and the transaction for its later reads, until done or its
// first write: one flock, stat and unlock, and one transaction, per call
// rather than per read. So the reads of a call see one state of one file:
// they run in one read transaction; a commit, replacement or removal by
// another process or handle during the call is seen once it ends. Other
// reads of the process that overlap the call share its lock and its check,
// each in a transaction of its own, as overlapping reads always have
// (reader_unix.go).
//
// While a call keeps the lock, writers of the file in other processes, and
// other handles of this one, wait for it (up to their deadlines), as they
// wait for a single read: the hold is bounded by the call's own deadline,
// and a vault can only delay the writers of its own store, whose data it
// holds anyway. A write of the call itself first ends the hold, so the call
// cannot wait for itself and reads what it wrote. Where reads open the file
// each time (not flock-based systems), WithCall changes nothing.
func WithCall(ctx context.Context) (context.Context, func()) {
	c := &call{Context: ctx}
	return c, c.release
}

// Value returns c for callKey, and the parent's values.
func (c *call) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// callOf returns the call of ctx, or nil.
func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// holding returns the reader whose lock c holds, or nil. c may be nil.
func (c *call) holding() *reader {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// read calls fn with c's snapshot if c holds r's
// lock, and reports whether it did. A read that fails other than with a
// sentinel (or panics) ends the hold and marks the handle stale. c may be
// nil.
func (c *call) read(r *reader, fn func(*snapshot) error) (ok bool, err error) {
	if c == nil {
		return false, nil
	}
	c.mu.Lock()
	if c.held != r {
		c.mu.Unlock()
		return false, nil
	}
	failed := true // stays true on a panic
	defer func() {
		c.mu.Unlock()
		if failed {
			c.drop(true, false)
		}
	}()
	err = fn(&c.snap)
	failed = err != nil && !isSentinel(err)
	return true, err
}

// hold makes c keep a holder of r's lock and the read transaction of snap,
// and reports whether it did: not once c has ended or while it holds
// another. c may be nil.
func (c *call) hold(r *reader, snap snapshot) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.held != nil {
		return false
	}
	c.held, c.snap = r, snap
	return true
}

// drop ends c's hold, if any: it ends the transaction and uncounts the
// holder, marking the handle stale if failed (a read failed on it), and
// keeps the call open unless end. c may be nil.
func (c *call) drop(failed, end bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	r, snap := c.held, c.snap
	c.held, c.snap = nil, snapshot{}
	c.ended = c.ended || end
	c.mu.Unlock()
	if r != nil {
		r.leave(snap, failed, !failed)
	}
}

// release is WithCall's done: it ends the hold and the call.
func (c *call) release() { c.drop(false, true) }
