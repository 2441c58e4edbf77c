package storage

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// fillStore writes many keys into the database file at path in one
// transaction, keeping the quota counters right, so tests and benchmarks
// can start from a large store without one fsync per key.
func fillStore(t testing.TB, path string, fill func(put func(k, v string))) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		data, meta, err := writeBuckets(tx)
		if err != nil {
			return err
		}
		u, err := readUsage(data, meta)
		if err != nil {
			return err
		}
		fill(func(k, v string) {
			if err != nil {
				return
			}
			if old := data.Get([]byte(k)); old != nil {
				u.keys--
				u.bytes -= int64(len(k) + len(old))
			}
			u.keys++
			u.bytes += int64(len(k) + len(v))
			err = data.Put([]byte(k), []byte(v))
		})
		if err != nil {
			return err
		}
		return writeUsage(meta, u)
	})
	if err != nil {
		t.Fatal(err)
	}
}
