package storage

import (
	"context"
	"os"
	"sync"
)

// callKey is the context key of WithCall.
type callKey struct{}

// call is the scope of WithCall: the read lock it holds, if any.
type call struct {
	mu    sync.Mutex
	held  *reader  // the reader whose shared lock the call holds, as one of its holders
	file  *os.File // held's file when the hold began: a hold on another file is void
	ended bool     // release was called: the call takes no more holds
}

// WithCall returns a context under which the reads of a Store make one
// call, and the function that ends it, which must be called. A vault call
// that reads its store several times passes it (a secretstore get reads
// c/config, then the record).
//
// The call's first read takes the file's shared lock and checks the file,
// as every read does, and the call then keeps the lock, and the check, for
// its later reads, until done or its first write: one flock, stat and
// unlock per call rather than per read (~10 µs a read here). So the reads
// of a call see one state of one file, as if they had run in one read
// transaction; a commit, replacement or removal by another process or
// handle during the call is seen once it ends. Other reads of the process
// that overlap the call share its lock and its check, as overlapping reads
// always have (reader_unix.go).
//
// While a call keeps the lock, writers of the file in other processes, and
// other handles of this one, wait for it (up to their deadlines), as they
// wait for a single read: the hold is bounded by the call's own deadline,
// and a vault can only delay the writers of its own store, whose data it
// holds anyway. A write of the call itself first ends the hold, so the call
// cannot wait for itself and reads what it wrote. Where reads open the file
// each time (not flock-based systems), WithCall changes nothing.
func WithCall(ctx context.Context) (context.Context, func()) {
	c := new(call)
	return context.WithValue(ctx, callKey{}, c), c.release
}

// callOf returns the call of ctx, or nil.
func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// holding returns the reader whose lock c holds and its file then, or nil.
// c may be nil.
func (c *call) holding() (*reader, *os.File) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held, c.file
}

// hold makes c keep a holder of r's lock on file, and reports whether it
// did: not once c has ended or while it holds another. c may be nil.
func (c *call) hold(r *reader, file *os.File) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.held != nil {
		return false
	}
	c.held, c.file = r, file
	return true
}

// drop ends c's hold, if any, marking the handle stale if failed (a read
// failed on it), and keeps the call open unless end. c may be nil.
func (c *call) drop(failed, end bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	r, file := c.held, c.file
	c.held, c.file = nil, nil
	c.ended = c.ended || end
	c.mu.Unlock()
	if r != nil {
		r.unhold(file, failed)
	}
}

// release is WithCall's done: it ends the hold and the call.
func (c *call) release() { c.drop(false, true) }
