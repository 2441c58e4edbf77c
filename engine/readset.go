package engine

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/sesamehq/sesame/engine/internal/storage"
)

// A readSet makes one vault call's writes to its storage area conditional
// on what the call read there: each kv_set, kv_add and kv_delete commits
// only if every key the call has read (or written) still holds what the
// call saw; otherwise it writes nothing and the guest gets CONFLICT. It is
// optimistic locking across processes, done by the host in the storage
// transaction that writes (storage.Seen), so that no guest needs to know.
//
// SetPassword runs under one: a password change reads the wrapped master
// key, checks the old password against it, and writes the key wrapped under
// the new password. Without the condition, two processes changing the
// password at once from the same old one both succeed, the last write wins,
// and the first one's user has a password that no longer opens the vault.
type readSet struct {
	mu      sync.Mutex
	seen    storage.Seen
	refused bool // a write was refused: a key changed since the call read it
}

type readSetKey struct{}

// withReadSet returns a context under which the storage calls of a vault
// call go through a new readSet, and that readSet.
func withReadSet(ctx context.Context) (context.Context, *readSet) {
	r := &readSet{seen: storage.Seen{}}
	return context.WithValue(ctx, readSetKey{}, r), r
}

// readSetFrom returns the readSet of ctx, or nil: plain reads and writes.
func readSetFrom(ctx context.Context) *readSet {
	r, _ := ctx.Value(readSetKey{}).(*readSet)
	return r
}

// read records what a Get of key returned.
func (r *readSet) read(key, v []byte, err error) {
	switch {
	case r == nil:
	case err == nil:
		r.note(key, bytes.Clone(v))
	case errors.Is(err, storage.ErrNotFound):
		r.note(key, nil)
	}
}

// wrote records the outcome of a conditional write of key: value now
// (nil: deleted), or a refusal.
func (r *readSet) wrote(key, value []byte, err error) {
	switch {
	case r == nil:
	case err == nil:
		r.note(key, bytes.Clone(value))
	case errors.Is(err, storage.ErrChanged):
		r.mu.Lock()
		r.refused = true
		r.mu.Unlock()
	}
}

func (r *readSet) note(key, v []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[string(key)] = v
}

// condition returns what a write must find: a copy of what was seen, or nil
// (no condition) without a readSet.
func (r *readSet) condition() storage.Seen {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := make(storage.Seen, len(r.seen))
	for k, v := range r.seen {
		c[k] = v
	}
	return c
}

// wasRefused reports whether a write of the call was refused.
func (r *readSet) wasRefused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}
