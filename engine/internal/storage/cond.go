package storage

import (
	"bytes"
	"context"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Seen is what a caller read of some keys before it writes: for each key
// (its bytes as a string), the value read, or nil for a key found absent (a
// stored empty value is an empty, non-nil slice).
//
// The conditional writes SetIf, AddIf and DeleteIf check, in the
// transaction that writes and under the file's write lock, that every key
// of Seen still holds what was read; if one does not, they write nothing
// and fail with ErrChanged. A sequence read, check, write is then safe
// against other processes doing the same: of two that read the same state,
// the first to write commits, and the second learns that it lost instead of
// overwriting the first. (A password change is such a sequence: read the
// wrapped key, check the old password, write the new wrap.)
type Seen map[string][]byte

// check returns ErrChanged unless every key of seen holds what seen says.
// A nil Seen checks nothing.
func (seen Seen) check(data *bolt.Bucket) error {
	snap := snapshot{data: data} // one cursor for every key (snapshot.get)
	if !seen.holdIn(snap.get) {
		return ErrChanged
	}
	return nil
}

// holdIn reports whether every key of seen holds what seen says, as get
// reads the store (nil for an absent key). It reads them in key order, so
// that a commit's check of a batch's thousands of keys walks the file's
// pages in order rather than at random.
func (seen Seen) holdIn(get func(key []byte) []byte) bool {
	for _, k := range slices.Sorted(maps.Keys(seen)) {
		want := seen[k]
		got := get([]byte(k))
		if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
			return false
		}
	}
	return true
}

// SetIf is Set, done only if every key of seen holds what seen says;
// otherwise it fails with ErrChanged and writes nothing. A nil seen makes
// it Set.
func (s *Store) SetIf(ctx context.Context, key, value []byte, seen Seen) error {
	return s.put(ctx, "set", key, value, false, seen)
}

// AddIf is Add, done only if every key of seen holds what seen says;
// otherwise it fails with ErrChanged and writes nothing. A nil seen makes
// it Add.
func (s *Store) AddIf(ctx context.Context, key, value []byte, seen Seen) error {
	return s.put(ctx, "add", key, value, true, seen)
}

// DeleteIf is Delete, done only if every key of seen holds what seen says;
// otherwise it fails with ErrChanged and deletes nothing. A nil seen makes
// it Delete.
func (s *Store) DeleteIf(ctx context.Context, key []byte, seen Seen) error {
	return s.del(ctx, key, seen)
}
