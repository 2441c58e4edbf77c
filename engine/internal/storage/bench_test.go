package storage

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The numbers in doc.go come from
//
//	go test -run '^$' -bench . -benchtime 2s ./engine/internal/storage/
//
// Keys are "key-%08d", values 64 bytes. Get and Set pick keys spread over
// the whole store; Set overwrites, so the store keeps its size.

var benchSizes = []int{10, 100_000}

const benchValue = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func benchKey(i int) []byte { return fmt.Appendf(nil, "key-%08d", i) }

func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	s := openTest(b, Options{})
	fillStore(b, s.Path(), func(put func(k, v string)) {
		for i := range n {
			put(string(benchKey(i)), benchValue)
		}
	})
	return s
}

// spread maps the i-th operation to a key index spread over n keys.
func spread(i, n int) int { return (i * 7919) % n }

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Get(ctx, benchKey(spread(i, n))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallOfTwoReads is a secretstore get's storage: two reads (a
// fixed key, then a record), as two plain reads and as one WithCall call.
func BenchmarkCallOfTwoReads(b *testing.B) {
	for _, n := range benchSizes {
		for _, call := range []bool{false, true} {
			b.Run(fmt.Sprintf("keys=%d/call=%t", n, call), func(b *testing.B) {
				s := benchStore(b, n)
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					ctx, done := context.Background(), func() {}
					if call {
						ctx, done = WithCall(ctx)
					}
					if _, err := s.Get(ctx, benchKey(0)); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Get(ctx, benchKey(spread(i, n))); err != nil {
						b.Fatal(err)
					}
					done()
				}
			})
		}
	}
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	value := []byte(strings.ToUpper(benchValue))
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := s.Set(ctx, benchKey(spread(i, n)), value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkList reads one page of 100 keys from the middle of the store.
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.List(ctx, []byte("key-"), benchKey(spread(i, n)), 100); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBatchScan scans, in pages of 256, keys that only a batch holds,
// among other writes of it: the secretstore's end of an import's batch
// reads its pending entries so (extensions/secretstore/batch.c), one per
// secret, beside the records it wrote.
func BenchmarkBatchScan(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 2000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			s := openTest(b, Options{})
			batch := s.Batch()
			defer batch.Discard()
			for i := range n {
				for _, prefix := range []string{"p/", "s/"} {
					if err := batch.Set(ctx, fmt.Appendf(nil, "%s%08d", prefix, spread(i, n)), []byte(benchValue)); err != nil {
						b.Fatal(err)
					}
				}
			}
			for b.Loop() {
				var after []byte
				for seen := 0; ; {
					page, more, err := batch.Scan(ctx, []byte("p/"), after, 256, 1<<20)
					if err != nil {
						b.Fatal(err)
					}
					seen += len(page)
					if !more {
						if seen != n {
							b.Fatalf("scanned %d entries, want %d", seen, n)
						}
						break
					}
					after = page[len(page)-1].Key
				}
			}
		})
	}
}

// BenchmarkGetParallel runs Gets from GOMAXPROCS goroutines on one Store.
func BenchmarkGetParallel(b *testing.B) {
	ctx := context.Background()
	s := benchStore(b, 100_000)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := s.Get(ctx, benchKey(spread(i, 100_000))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpenPerRead is the first design tried for reads, rejected: a
// read-only handle opened and closed for each Get, as writes still do.
func BenchmarkOpenPerRead(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				db, err := openDB(ctx, s.Path(), false, deadlineOf(ctx), nil)
				if err != nil {
					b.Fatal(err)
				}
				err = db.View(func(tx *bolt.Tx) error {
					if v := tx.Bucket(bucketData).Get(benchKey(spread(i, n))); v == nil {
						return fmt.Errorf("missing key")
					}
					return nil
				})
				db.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHeldOpen is the rejected alternative for comparison: one bbolt
// handle kept open for the life of the process. It is what the
// open-per-operation design pays for letting other processes in.
func BenchmarkHeldOpen(b *testing.B) {
	for _, n := range benchSizes {
		path := filepath.Join(b.TempDir(), "held.db")
		fillStore(b, path, func(put func(k, v string)) {
			for i := range n {
				put(string(benchKey(i)), benchValue)
			}
		})
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("Get/keys=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				err := db.View(func(tx *bolt.Tx) error {
					if v := tx.Bucket(bucketData).Get(benchKey(spread(i, n))); v == nil {
						return fmt.Errorf("missing key")
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Set/keys=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				err := db.Update(func(tx *bolt.Tx) error {
					return tx.Bucket(bucketData).Put(benchKey(spread(i, n)), []byte(benchValue))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		db.Close()
	}
}

// BenchmarkCompact rewrites a store of 100 000 keys of 256-byte values
// (the size of a secretstore's record and its share of the manifest),
// whose file holds the free pages that a batch of 2000 random keys leaves:
// what a rekey of 100 000 secrets compacts.
func BenchmarkCompact(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	value := []byte(strings.Repeat(benchValue, 4))
	s := openTest(b, Options{})
	fillStore(b, s.Path(), func(put func(k, v string)) {
		for i := range n {
			put(string(benchKey(i)), string(value))
		}
	})
	value = bytes.ToUpper(value)
	if err := s.update(ctx, "bench", func(data, _ *bolt.Bucket) error {
		for i := range 2000 {
			if err := data.Put(benchKey(spread(i, n)), value); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
