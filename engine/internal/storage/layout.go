package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/internal/filelock"
)

// The layout of a database file.
//
//	bucket "data": the vault's keys and values, nothing else
//	bucket "meta": "version" = formatVersion, "keys" and "bytes" = the
//	               quota counters, 8-byte big-endian, updated in the
//	               transaction that changes "data"
//
// The counters make a quota check O(1) instead of a walk over every key.
var (
	bucketData = []byte("data")
	bucketMeta = []byte("meta")

	metaVersion = []byte("version")
	metaKeys    = []byte("keys")
	metaBytes   = []byte("bytes")
)

const formatVersion = 1

// errEmptyFile reports a database file of zero bytes: one whose creator
// died before bbolt wrote its first page. Readers treat it as empty.
var errEmptyFile = errors.New("empty database file")

// errWaitTimeout reports that the lock was not obtained before the deadline.
var errWaitTimeout = filelock.ErrTimeout

// usage is the state of the quota counters.
type usage struct {
	keys  int64
	bytes int64
}

// readBuckets returns the buckets of a read transaction; data is nil when
// the vault has never been written.
func readBuckets(tx *bolt.Tx) (data *bolt.Bucket, err error) {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if err := checkVersion(meta); err != nil {
			return nil, err
		}
	}
	return tx.Bucket(bucketData), nil
}

// writeBuckets returns the buckets of a write transaction, creating them
// and recording the format version on first use.
func writeBuckets(tx *bolt.Tx) (data, meta *bolt.Bucket, err error) {
	if data, err = tx.CreateBucketIfNotExists(bucketData); err != nil {
		return nil, nil, err
	}
	if meta, err = tx.CreateBucketIfNotExists(bucketMeta); err != nil {
		return nil, nil, err
	}
	if meta.Get(metaVersion) == nil {
		if err := meta.Put(metaVersion, encodeCounter(formatVersion)); err != nil {
			return nil, nil, err
		}
	}
	return data, meta, checkVersion(meta)
}

func checkVersion(meta *bolt.Bucket) error {
	v := meta.Get(metaVersion)
	if v == nil {
		return nil
	}
	n, ok := decodeCounter(v)
	if !ok || n != formatVersion {
		return fmt.Errorf("%w: unsupported storage format version (want %d)", ErrUnavailable, formatVersion)
	}
	return nil
}

// readUsage returns the quota counters. If they are missing (a file written
// by something else) it counts them once, walking every key.
func readUsage(data, meta *bolt.Bucket) (usage, error) {
	k, okK := decodeCounter(meta.Get(metaKeys))
	b, okB := decodeCounter(meta.Get(metaBytes))
	if okK && okB {
		return usage{keys: k, bytes: b}, nil
	}
	var u usage
	err := data.ForEach(func(k, v []byte) error {
		u.keys++
		u.bytes += int64(len(k) + len(v))
		return nil
	})
	return u, err
}

func writeUsage(meta *bolt.Bucket, u usage) error {
	if err := meta.Put(metaKeys, encodeCounter(u.keys)); err != nil {
		return err
	}
	return meta.Put(metaBytes, encodeCounter(u.bytes))
}

func encodeCounter(n int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(n))
}

func decodeCounter(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint64(b)
	if n > 1<<62 {
		return 0, false
	}
	return int64(n), true
}
