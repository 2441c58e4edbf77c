package storage

import (
	"context"
	"os"
	"sync/atomic"
)

// callKey is the context key of WithCall.
type callKey struct{}

// call is the scope of WithCall: the open file whose identity its reads
// have checked against the path.
type call struct{ checked atomic.Pointer[os.File] }

// WithCall returns a context under which the reads of a Store make one
// call: the check that the file kept open for reads is still the file at
// the path (not replaced or removed since) is made at the call's first read
// only, instead of at each, which saves a stat(2) of the path per read
// (~3 µs here). A vault call that reads its store several times passes it.
//
// The reads of a call thus see one file, and a file replaced or removed
// during the call is seen from the next call on, as if the replacement had
// come just after it. Everything else is still checked at every read: the
// shared lock is taken per read, so each read sees every commit made
// before it, by any process, and a file that has outgrown the map is
// opened again (and then checked again). Writes are not affected: each
// opens the file at the path, and the call's next read checks the path
// again, so a call reads what it wrote. Where reads open the file each time (not
// flock-based systems), WithCall changes nothing.
func WithCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, new(call))
}

// callOf returns the call of ctx, or nil.
func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// unchecked makes the call's next read check the path again: a write opens
// the file at the path, which may not be the one the call has been reading
// if it was replaced, and the call must read what it wrote. c may be nil.
func (c *call) unchecked() {
	if c != nil {
		c.checked.Store(nil)
	}
}
