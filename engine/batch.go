package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/sesamehq/sesame/engine/internal/storage"
)

// A batchSet makes the storage calls of the vault calls made under one
// context write to a storage.Batch per storage area instead of the file:
// every write of those calls commits together, in one transaction, when
// commit is called, or not at all. Reads see the batch's own writes. It is
// how Import writes a thousand secrets with one fsync, whatever the vault's
// extension: the guest's kv_set returns as always, and the host holds the
// write until the batch commits (SPEC.md §5.3).
type batchSet struct {
	context.Context // withBatch's parent: the set is the context it returns
	mu              sync.Mutex
	batches         []storeBatch // one at most, mostly (commit): a slice, not a map, costs no allocation
	first           [1]storeBatch
}

// A storeBatch is the batch of one storage area.
type storeBatch struct {
	s *storage.Store
	b *storage.Batch
}

type batchKey struct{}

// A batchPhaser is a vault that is told where a batch of its calls begins
// and ends (SPEC.md §5.3, sesame_batch): a wasm vault that exports it can
// then apply what the calls between have in common once, at the end (the
// secretstore's manifest).
type batchPhaser interface {
	batchPhase(ctx context.Context, phase byte) error
}

// batchPhase tells vt, when it is a batchPhaser, that the batch of ctx
// begins or ends (abi.BatchBegin, abi.BatchEnd).
func batchPhase(ctx context.Context, vt Vault, phase byte) error {
	if b, ok := vt.(batchPhaser); ok {
		return b.batchPhase(ctx, phase)
	}
	return nil
}

// withBatch returns a context under which storage calls go to a new
// batchSet, and that batchSet.
func withBatch(ctx context.Context) (context.Context, *batchSet) {
	bs := &batchSet{Context: ctx}
	bs.batches = bs.first[:0]
	return bs, bs
}

// Value returns bs for batchKey, and the parent's values.
func (bs *batchSet) Value(key any) any {
	if key == (batchKey{}) {
		return bs
	}
	return bs.Context.Value(key)
}

// inBatch reports whether ctx has a batchSet: its vault calls are part of a
// batch already.
func inBatch(ctx context.Context) bool {
	_, ok := ctx.Value(batchKey{}).(*batchSet)
	return ok
}

// batchOf returns the batch of the store s under ctx, started on first
// use; nil when ctx has no batchSet.
func batchOf(ctx context.Context, s *storage.Store) *storage.Batch {
	bs, _ := ctx.Value(batchKey{}).(*batchSet)
	if bs == nil {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, sb := range bs.batches {
		if sb.s == s {
			return sb.b
		}
	}
	b := s.Batch()
	bs.batches = append(bs.batches, storeBatch{s, b})
	return b
}

// changed reports whether a read of one of the set's batches found that
// another writer changed what the batch had read (storage.Batch.Changed).
func (bs *batchSet) changed() bool {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, sb := range bs.batches {
		if sb.b.Changed() {
			return true
		}
	}
	return false
}

// commit commits every batch of the set. A vault writes to its own storage
// area only, so there is one batch at most, and its commit is all or
// nothing.
func (bs *batchSet) commit(ctx context.Context) error {
	_, err := bs.commitStores(ctx)
	return err
}

// discard ends the set's batches that commit has not ended: nothing of
// them is written (storage.Batch.Discard). Callers defer it after
// withBatch: until then each batch keeps its file's write handle open for
// a commit to come.
func (bs *batchSet) discard() {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, sb := range bs.batches {
		sb.b.Discard()
	}
	clear(bs.batches)
	bs.batches = bs.batches[:0]
}

// commitStores is commit, and returns the stores it wrote to.
func (bs *batchSet) commitStores(ctx context.Context) ([]*storage.Store, error) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	var errs []error
	var stores []*storage.Store
	for _, sb := range bs.batches {
		if err := sb.b.Commit(ctx); err != nil {
			errs = append(errs, err)
		}
		if sb.b.Len() > 0 {
			stores = append(stores, sb.s)
		}
	}
	clear(bs.batches)
	bs.batches = bs.batches[:0]
	return stores, errors.Join(errs...)
}
