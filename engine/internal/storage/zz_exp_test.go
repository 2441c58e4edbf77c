package storage

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func minflt() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

func TestExpFaults(t *testing.T) {
	for _, n := range []int{10, 100000} {
		s := benchStoreT(t, n)
		fi, _ := os.Stat(s.Path())
		ctx := context.Background()
		const N = 2000
		f0 := minflt()
		t0 := time.Now()
		for i := 0; i < N; i++ {
			s.Get(ctx, benchKey(spread(i, n)))
		}
		d := time.Since(t0)
		t.Logf("n=%d size=%d: %v/op, %.1f minflt/op", n, fi.Size(), d/N, float64(minflt()-f0)/N)
		// split phases
		var to, tv, tc time.Duration
		for i := 0; i < N; i++ {
			a := time.Now()
			db, err := bolt.Open(s.Path(), 0600, &bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			b := time.Now()
			db.View(func(tx *bolt.Tx) error { tx.Bucket(bucketData).Get(benchKey(spread(i, n))); return nil })
			c := time.Now()
			db.Close()
			to += b.Sub(a)
			tv += c.Sub(b)
			tc += time.Since(c)
		}
		t.Logf("  open %v view %v close %v", to/N, tv/N, tc/N)
		_ = strings.ToUpper
		_ = fmt.Sprint
	}
}

func benchStoreT(t *testing.T, n int) *Store {
	s := openTest(t, Options{})
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range n {
			put(string(benchKey(i)), benchValue)
		}
	})
	return s
}
