package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// MaxBatchBytes bounds what one Batch buffers: the keys and values of its
// writes, and what it read of the store. A write past it fails with
// ErrTooLarge, so that a batch costs bounded memory whatever its caller
// sends.
const MaxBatchBytes = 64 << 20

// A Batch collects writes to a Store so that they commit together, in one
// transaction and one fsync, or not at all: the host's side of an import,
// where one commit per secret would cost a commit's fsync per secret.
//
// Until Commit, its writes are in memory only: its own reads see them (a
// Get after a Set returns the new value, a List shows added keys and hides
// deleted ones), no one else's do, and nothing reaches the file. Discarding
// a Batch (never committing it) writes nothing.
//
// Commit is conditional, like SetIf: every key the batch read from the
// store (a Get, or the existence check of an Add or a Delete), it read
// together with its value, and the commit writes only if each still holds
// what was read, absent included; otherwise it fails with ErrChanged and
// writes nothing. Of a batch and another process writing a key the batch
// read, the first to commit wins and the other learns it lost. The keys a
// List returned are not part of the condition (a key another process adds
// meanwhile does not fail the commit), nor are keys the batch wrote without
// reading them (a Set is a blind write, as outside a batch).
//
// The quota is checked at Commit, over the whole batch: a batch that would
// take the store past MaxKeys or MaxBytes fails with ErrQuota and writes
// nothing. Key and value lengths are checked at each write.
//
// A Batch is safe for use by several goroutines; no lock is held between
// its calls, so other Stores and processes read and write the file while
// it fills. Its reads still see one state of the store: a read that finds
// a key the batch read changed since fails with ErrChanged (see read).
type Batch struct {
	s *Store

	mu     sync.Mutex
	writes map[string][]byte // key → value; a nil value: deleted. Made by the first write: most atomic calls (gets) make none
	seen   Seen              // what was read from the store, as SetIf's seen
	bytes  int               // what writes and seen hold
	hasGen bool              // the batch has read the store: gen is set
	gen    generation        // the state of the store its last read saw
	file   os.FileInfo       // the identity of gen's file; nil where unknown
	lost   bool              // a read found a key it read changed: Commit must fail
	ended  bool              // committed or discarded: no longer counted in s.lock.batches
	arena                    // where seen's values are kept
}

// arenaChunk is the size of the chunks an arena hands out values from.
const arenaChunk = 16 << 10

var arenaChunks = sync.Pool{New: func() any { return new([arenaChunk]byte) }}

// An arena keeps the values a batch reads, in chunks that Commit gives back
// for the next batch. A secretstore get reads ~5 KiB through an atomic
// call's batch (its 4 KiB manifest root among them): one allocation per
// value was most of the bytes the engine allocated per get, and so of its
// garbage collection.
type arena struct {
	chunks []*[arenaChunk]byte // in first, unless a batch reads more than 32 KiB
	first  [2]*[arenaChunk]byte
	free   []byte // the rest of the last chunk
}

// keep returns a copy of v (non-nil, even when empty). Callers hold b.mu.
func (a *arena) keep(v []byte) []byte {
	if len(v) == 0 || len(v) > arenaChunk {
		return append(make([]byte, 0, len(v)), v...)
	}
	if len(v) > len(a.free) {
		c := arenaChunks.Get().(*[arenaChunk]byte)
		if a.chunks == nil {
			a.chunks = a.first[:0]
		}
		a.chunks = append(a.chunks, c)
		a.free = c[:]
	}
	out := a.free[:len(v):len(v)]
	copy(out, v)
	a.free = a.free[len(v):]
	return out
}

// recycle zeroes the chunks and gives them back: nothing may use the
// values kept in them after.
func (a *arena) recycle() {
	for i, c := range a.chunks {
		used := c[:]
		if i == len(a.chunks)-1 {
			used = c[:arenaChunk-len(a.free)]
		}
		clear(used)
		arenaChunks.Put(c)
	}
	a.chunks, a.first, a.free = nil, [2]*[arenaChunk]byte{}, nil
}

// generation names a state of a store's file: the handle that read it and
// the last transaction committed to it (a nil handle: no file yet). A
// batch keeps the handle, so that a new one cannot take its address.
type generation struct {
	db   *bolt.DB
	txid int
}

// Batch starts an empty batch of writes to s. It ends with Commit or
// Discard: until then the process keeps its read-write handle of the file
// for the commit to come (batchLingers, lock.go).
func (s *Store) Batch() *Batch {
	s.lock.batches.Add(1)
	return &Batch{s: s, seen: Seen{}}
}

// Discard ends a batch that will not commit: nothing of it is written. It
// does nothing after Commit or another Discard, so a caller may defer it.
func (b *Batch) Discard() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.end()
}

// end uncounts the batch from its path's batches, once. Callers hold b.mu.
func (b *Batch) end() {
	if !b.ended {
		b.ended = true
		b.s.lock.batches.Add(-1)
		b.recycleSeen()
	}
}

// lookup returns the value of key as the batch sees it: its own write, or
// the store's value (recorded in seen). ok is false when the key is absent.
// Callers do not hold b.mu.
func (b *Batch) lookup(ctx context.Context, op string, key []byte) (value []byte, ok bool, err error) {
	b.mu.Lock()
	v, written := b.writes[string(key)]
	if !written {
		v, written = b.seen[string(key)]
	}
	b.mu.Unlock()
	if written {
		return v, v != nil, nil
	}
	v, err = b.read(ctx, key)
	if err != nil {
		return nil, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.grow(op, len(key)+len(v)); err != nil {
		return nil, false, err
	}
	b.seen[string(key)] = v
	return v, v != nil, nil
}

// read returns the store's value of key, nil when it is absent, from a
// state of the store in which every key the batch read before still holds
// what it read. The reads of one call share a transaction; those of a
// batch of several calls (an import, and the confirmation that may come
// between its reads and its writes) do not, and another process may write
// between two of them. When the store changed since the batch's last read,
// what the batch read is checked again in the state read now: if it still
// holds, every read so far is what this state would give; if not, the
// batch cannot commit, and the read fails at once with ErrChanged rather
// than show the caller an old value beside a new one (a secretstore
// bucket's index from before another process's write and its infos from
// after, which the vault reported as tampering).
func (b *Batch) read(ctx context.Context, key []byte) ([]byte, error) {
	var v []byte
	seen := b.observer()
	err := b.s.view(ctx, "get", func(snap *snapshot) error {
		if got := snap.get(key); got != nil {
			// got points into the memory map, which Close unmaps.
			b.mu.Lock()
			v = b.keep(got)
			b.mu.Unlock()
		}
		return seen(snap)
	})
	return v, err
}

// observer returns the check of read for a state of the store that one of
// the batch's reads, listings or scans is about to show: when the store
// changed since the batch's last read, what the batch read must still hold
// there, or the batch is lost and the caller gets ErrChanged. A listing
// shows a state as much as a read does: an unlock that found no c/config
// and then listed records that another process wrote after creating one
// took the store for one that had lost its key record
// (TestSecretStoreFirstUnlockInterleaved).
func (b *Batch) observer() func(*snapshot) error {
	b.mu.Lock()
	had, last := b.hasGen, b.gen
	b.mu.Unlock()
	return func(snap *snapshot) error {
		g := generation{}
		if snap.tx != nil {
			g = generation{snap.tx.DB(), snap.tx.ID()}
		}
		if had && g == last {
			return nil // the common case, without the batch's lock under the file's
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.hasGen && g == b.gen {
			return nil
		}
		if b.hasGen && !b.seen.holdIn(snap.get) {
			b.lost = true
			return ErrChanged
		}
		b.hasGen, b.gen, b.file = true, g, snap.file
		return nil
	}
}

// Changed reports whether a read of the batch found that another writer
// changed a key the batch had read: the batch can no longer commit, and a
// caller whose vault failed on that read's ErrChanged can say so.
func (b *Batch) Changed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lost
}

// grow counts n more buffered bytes, refusing to pass MaxBatchBytes.
// Callers hold b.mu.
func (b *Batch) grow(op string, n int) error {
	if b.bytes+n > MaxBatchBytes {
		return b.s.fail(context.Background(), op, fmt.Errorf("%w: a batch holds at most %d bytes of keys and values", ErrTooLarge, MaxBatchBytes))
	}
	b.bytes += n
	return nil
}

// Get is Store.Get as the batch sees the store: its own writes first.
func (b *Batch) Get(ctx context.Context, key []byte) ([]byte, error) {
	v, err := b.View(ctx, key)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(v), nil
}

// View is Get without the copy: the value it returns is the batch's own,
// which the caller must only read, and only until the batch's next write
// of key or its Commit. It saves a copy of every value a caller passes on at once (the
// engine copies it into the guest's memory): a secretstore read returns
// its 4 KiB manifest root at each get.
func (b *Batch) View(ctx context.Context, key []byte) ([]byte, error) {
	if err := b.s.checkKey(key); err != nil {
		return nil, b.s.fail(ctx, "get", err)
	}
	v, ok, err := b.lookup(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, b.s.fail(ctx, "get", ErrNotFound)
	}
	return v, nil
}

// Set is Store.Set, buffered until Commit.
func (b *Batch) Set(ctx context.Context, key, value []byte) error {
	return b.put(ctx, "set", key, value, false)
}

// Add is Store.Add, buffered until Commit: ErrExists when key is present as
// the batch sees the store. Commit checks that a key found absent is still
// absent.
func (b *Batch) Add(ctx context.Context, key, value []byte) error {
	return b.put(ctx, "add", key, value, true)
}

func (b *Batch) put(ctx context.Context, op string, key, value []byte, add bool) error {
	if err := b.s.checkKey(key); err != nil {
		return b.s.fail(ctx, op, err)
	}
	if len(value) > b.s.opts.MaxValueBytes {
		return b.s.fail(ctx, op, fmt.Errorf("%w: value is %d bytes, limit %d", ErrTooLarge, len(value), b.s.opts.MaxValueBytes))
	}
	var check func(present bool) error
	if add {
		if _, _, err := b.lookup(ctx, op, key); err != nil {
			return err
		}
		check = func(present bool) error {
			if present {
				return b.s.fail(ctx, op, ErrExists)
			}
			return nil
		}
	}
	// Non-nil even when empty: nil marks a deletion.
	return b.write(op, key, append(make([]byte, 0, len(value)), value...), check)
}

// Delete is Store.Delete, buffered until Commit: ErrNotFound when key is
// absent as the batch sees the store.
func (b *Batch) Delete(ctx context.Context, key []byte) error {
	if err := b.s.checkKey(key); err != nil {
		return b.s.fail(ctx, "delete", err)
	}
	if _, _, err := b.lookup(ctx, "delete", key); err != nil {
		return err
	}
	return b.write("delete", key, nil, func(present bool) error {
		if !present {
			return b.s.fail(ctx, "delete", ErrNotFound)
		}
		return nil
	})
}

// write buffers value (nil: a deletion) under key. check, if not nil, is
// called first with whether key is present as the batch sees the store
// (which lookup has read), under the batch's lock: of two Adds of one key
// at once, one gets ErrExists.
func (b *Batch) write(op string, key, value []byte, check func(present bool) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	old, had := b.writes[string(key)]
	if check != nil {
		v := old
		if !had {
			v = b.seen[string(key)]
		}
		if err := check(v != nil); err != nil {
			return err
		}
	}
	n := len(value) - len(old)
	if !had {
		n += len(key)
	}
	if err := b.grow(op, n); err != nil {
		return err
	}
	if b.writes == nil {
		b.writes = map[string][]byte{}
	}
	b.writes[string(key)] = value
	return nil
}

// List is Store.List as the batch sees the store: the keys it added are
// listed, those it deleted are not. Like a read, it fails with ErrChanged
// rather than list a state of the store in which a key the batch read no
// longer holds what it read.
func (b *Batch) List(ctx context.Context, prefix, after []byte, limit int) ([][]byte, error) {
	for {
		keys, err := b.s.list(ctx, prefix, after, limit, b.observer())
		if err != nil {
			return nil, err
		}
		page, next := b.merge(keys, prefix, after, limit)
		if len(page) > 0 || next == nil {
			return page, nil
		}
		// Every key of the store's page was deleted by the batch; an empty
		// page would end the caller's iteration early.
		after = next
	}
}

// merge returns the page of keys, read from the store after after, as the
// batch sees it, and, when the store's page was full, its last key, where
// the store's next page starts.
func (b *Batch) merge(keys [][]byte, prefix, after []byte, limit int) (page [][]byte, next []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A full page ends at its last key; a short one at the store's end.
	// The batch's keys up to there join it.
	if len(keys) == limit {
		next = keys[len(keys)-1]
	}
	inPage := make(map[string]bool, len(keys))
	for _, k := range keys {
		inPage[string(k)] = true
	}
	for k, v := range b.writes {
		kb := []byte(k)
		if v == nil || inPage[k] || !bytes.HasPrefix(kb, prefix) || bytes.Compare(kb, after) <= 0 || (next != nil && bytes.Compare(kb, next) > 0) {
			continue
		}
		keys = append(keys, kb)
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.DeleteFunc(keys, func(k []byte) bool {
		v, written := b.writes[string(k)]
		return written && v == nil
	})
	return keys[:min(len(keys), limit)], next
}

// Scan is Store.Scan as the batch sees the store: the values it wrote
// replace the store's, the keys it added are scanned, those it deleted are
// not. As with List, what Scan returned is not part of the commit's
// condition: a guest that needs a key to be unchanged at the commit reads
// it with Get.
func (b *Batch) Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]Entry, bool, error) {
	for {
		entries, more, err := b.s.scan(ctx, prefix, after, limit, maxBytes, b.observer())
		if err != nil {
			return nil, false, err
		}
		var next []byte
		if more {
			next = entries[len(entries)-1].Key
		}
		page, more := b.mergeEntries(entries, prefix, after, next, limit, maxBytes)
		if len(page) > 0 || next == nil {
			return page, more, nil
		}
		// The batch deleted every entry of the store's page.
		after = next
	}
}

// mergeEntries returns the page of entries, read from the store after
// after and up to next (nil: to the store's end), as the batch sees it,
// within Scan's bounds, and whether entries remain past it. Of the keys
// the batch adds, only the first limit+1 can reach the page, and only the
// values the page keeps are copied: a secretstore batch's end scans its
// pending entries, one per secret and none in the store, a page at a
// time, and copying and sorting every one of them for each page made the
// scan quadratic (bench_test.go, BenchmarkBatchScan).
func (b *Batch) mergeEntries(entries []Entry, prefix, after, next []byte, limit, maxBytes int) ([]Entry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.writes) == 0 {
		return entries, next != nil // the store's page, within the bounds already
	}
	at := make(map[string]int, len(entries))
	for i, e := range entries {
		at[string(e.Key)] = i
	}
	var added []string
	for k, v := range b.writes {
		if !inPage(k, prefix, after, next) {
			continue
		}
		if i, ok := at[k]; ok {
			entries[i].Value = v // nil when deleted; copied below if kept
		} else if v != nil {
			added = append(added, k)
		}
	}
	slices.Sort(added)
	for _, k := range added[:min(len(added), limit+1)] {
		entries = append(entries, Entry{Key: []byte(k), Value: b.writes[k]})
	}
	entries = slices.DeleteFunc(entries, func(e Entry) bool { return e.Value == nil })
	slices.SortFunc(entries, func(x, y Entry) int { return bytes.Compare(x.Key, y.Key) })
	more, size := next != nil, 0
	for i, e := range entries {
		size += len(e.Key) + len(e.Value)
		if i == limit || (i > 0 && size > maxBytes) {
			entries, more = entries[:i], true
			break
		}
	}
	for i, e := range entries {
		if _, ok := b.writes[string(e.Key)]; ok {
			entries[i].Value = bytes.Clone(e.Value) // the batch's own, which its next write may change
		}
	}
	return entries, more
}

// inPage reports whether key k starts with prefix and sorts after after
// and, unless next is nil, not after next. It compares k as a string, as
// the batch's writes are keyed, without a copy of each key.
func inPage(k string, prefix, after, next []byte) bool {
	return strings.HasPrefix(k, string(prefix)) && k > string(after) && (next == nil || k <= string(next))
}

// Len returns how many keys the batch writes or deletes.
func (b *Batch) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.writes)
}

// Commit writes the batch in one transaction, and returns once it is on
// disk, if every key the batch read still holds what was read; otherwise
// it fails with ErrChanged and writes nothing. A batch that would take the
// store past its quota fails with ErrQuota and writes nothing. A batch
// without writes commits nothing, and does not open the file. Nor does a
// batch whose writes leave every key as the store holds it (see idle): it
// reads the file, writes nothing to it, and has a Len of 0 after. After
// Commit, successful or not, the batch must not be used again.
func (b *Batch) Commit(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.end()
	if len(b.writes) == 0 {
		return nil
	}
	if idle, err := b.idle(ctx); err != nil || idle {
		if idle {
			b.writes = nil
		}
		return err
	}
	keys := make([]string, 0, len(b.writes))
	for k := range b.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys) // bbolt puts sorted keys fastest
	return b.s.update(ctx, "commit", func(data, meta *bolt.Bucket) error {
		if !b.unchangedSince(data.Tx()) {
			if err := b.seen.check(data); err != nil {
				return err
			}
		}
		was, err := readUsage(data, meta)
		if err != nil {
			return err
		}
		u := was
		for _, k := range keys {
			if err := apply(data, &u, []byte(k), b.writes[k]); err != nil {
				return err
			}
		}
		if u.keys > was.keys && u.keys > int64(b.s.opts.MaxKeys) {
			return fmt.Errorf("%w: the store would hold %d keys, limit %d", ErrQuota, u.keys, b.s.opts.MaxKeys)
		}
		if u.bytes > was.bytes && u.bytes > b.s.opts.MaxBytes {
			return fmt.Errorf("%w: the store would hold %d bytes, limit %d", ErrQuota, u.bytes, b.s.opts.MaxBytes)
		}
		return writeUsage(meta, u)
	})
}

// idle reports whether committing the batch would change nothing: every
// key it writes already holds that value in the store, every key it
// deletes is absent, and every key it read still holds what it read (else
// the commit must fail with ErrChanged, which Commit's transaction
// reports). Such a batch is one whose vault found everything as it should
// be: `sesame import` of a file imported before, whose sets all report
// their secrets unchanged, and where what is left of the batch is the
// secretstore's mark, set at the batch's begin and deleted at its end, a
// key the store never held. Its commit would still be a transaction, with
// its fsync, a new transaction id and a new mtime, on every run of a job
// that imports the same file: a store rewritten for nothing, a change for
// backups to copy, a failure on a read-only mount. The check is a read
// transaction, which writes nothing to the file, of the store's present
// state (a call's held transaction is that too: writers wait for the
// hold), so a blind write over a value changed since is still written. It
// stops at the first key that differs, in key order: in a batch of
// changes, one of the first (BenchmarkImport/secretstore, batches of 2000
// new secrets, measured the same with and without it). Callers hold b.mu.
func (b *Batch) idle(ctx context.Context) (bool, error) {
	idle := false
	err := b.s.view(ctx, "commit", func(snap *snapshot) error {
		if !Seen(b.writes).holdIn(snap.get) {
			return nil
		}
		g := generation{}
		if snap.tx != nil {
			g = generation{snap.tx.DB(), snap.tx.ID()}
		}
		idle = (b.hasGen && g == b.gen) || b.seen.holdIn(snap.get)
		return nil
	})
	return idle, err
}

// recycleSeen gives back the arena of what the batch read, once it is
// committed (or not); a read of the batch after would fail on the nil map
// rather than find the arena's next values. Callers hold b.mu.
func (b *Batch) recycleSeen() {
	b.seen = nil
	b.recycle()
}

// unchangedSince reports whether tx, the commit's write transaction, starts
// from the very state of the store that the batch's last read saw: the same
// file (a compaction writes a new one, whose transaction ids start again)
// and no commit since (ids only grow). Every key the batch read then still
// holds what it read (read made sure that all did in that state), and the
// commit need not read them again: thousands of keys in an import's batch.
// Callers hold b.mu.
func (b *Batch) unchangedSince(tx *bolt.Tx) bool {
	w := b.s.lock.writes.fileID()
	return b.hasGen && b.file != nil && w != nil && os.SameFile(b.file, w) && tx.ID()-1 == b.gen.txid
}

// apply writes value (nil: deletes) under key in data, keeping u, the
// quota counters, right.
func apply(data *bolt.Bucket, u *usage, key, value []byte) error {
	old := data.Get(key)
	if old != nil {
		u.keys--
		u.bytes -= int64(len(key) + len(old))
	}
	if value == nil {
		if old == nil {
			return nil // added and deleted again within the batch
		}
		return data.Delete(key)
	}
	u.keys++
	u.bytes += int64(len(key) + len(value))
	return data.Put(key, value)
}
