package storage

import (
	"context"
	"errors"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// usageOf reads the quota counters stored in the file and checks them
// against a walk over every key.
func usageOf(t testing.TB, path string) usage {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored, counted usage
	err = db.View(func(tx *bolt.Tx) error {
		data, meta := tx.Bucket(bucketData), tx.Bucket(bucketMeta)
		if data == nil || meta == nil {
			return errors.New("missing bucket")
		}
		var ok1, ok2 bool
		stored.keys, ok1 = decodeCounter(meta.Get(metaKeys))
		stored.bytes, ok2 = decodeCounter(meta.Get(metaBytes))
		if !ok1 || !ok2 {
			return errors.New("missing counters")
		}
		return data.ForEach(func(k, v []byte) error {
			counted.keys++
			counted.bytes += int64(len(k) + len(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored != counted {
		t.Fatalf("stored counters %+v, but the keys add up to %+v", stored, counted)
	}
	return stored
}

func TestQuota(t *testing.T) {
	ctx := context.Background()
	// At most 3 keys and 30 bytes of key+value.
	s := openTest(t, Options{MaxKeys: 3, MaxBytes: 30})

	steps := []struct {
		name       string
		op         string // set, delete
		key, value string
		wantErr    error
		want       usage // counters after the step
	}{
		{"first", "set", "a", "123456789", nil, usage{1, 10}},
		{"second", "set", "b", "123456789", nil, usage{2, 20}},
		{"bytes over quota", "set", "c", "1234567890", ErrQuota, usage{2, 20}},
		{"bytes at quota", "set", "c", "123456789", nil, usage{3, 30}},
		{"keys over quota", "set", "d", "", ErrQuota, usage{3, 30}},
		{"grow over quota", "set", "a", "1234567890", ErrQuota, usage{3, 30}},
		{"overwrite same size", "set", "a", "987654321", nil, usage{3, 30}},
		{"overwrite smaller", "set", "a", "1", nil, usage{3, 22}},
		{"overwrite larger", "set", "a", "12345", nil, usage{3, 26}},
		{"delete frees a key", "delete", "b", "", nil, usage{2, 16}},
		{"delete absent changes nothing", "delete", "b", "", ErrNotFound, usage{2, 16}},
		{"key over bytes by one", "set", "d", "12345678901234", ErrQuota, usage{2, 16}},
		{"key fits again", "set", "d", "1234567890123", nil, usage{3, 30}},
		{"delete all", "delete", "a", "", nil, usage{2, 24}},
		{"delete all 2", "delete", "c", "", nil, usage{1, 14}},
		{"delete all 3", "delete", "d", "", nil, usage{0, 0}},
	}
	for _, st := range steps {
		var err error
		if st.op == "set" {
			err = s.Set(ctx, []byte(st.key), []byte(st.value))
		} else {
			err = s.Delete(ctx, []byte(st.key))
		}
		if !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		if got := usageOf(t, s.Path()); got != st.want {
			t.Fatalf("%s: usage %+v, want %+v", st.name, got, st.want)
		}
	}
}

// TestQuotaShrinkAllowed: a store over a quota that was lowered still
// accepts writes that do not grow it.
func TestQuotaShrinkAllowed(t *testing.T) {
	ctx := context.Background()
	big := openTest(t, Options{})
	mustSet(t, big, "a", strings.Repeat("x", 100))
	mustSet(t, big, "b", "x")
	small, err := Open(big.Path(), Options{MaxKeys: 1, MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if err := small.Set(ctx, []byte("c"), nil); !errors.Is(err, ErrQuota) {
		t.Fatalf("new key over the key quota: err = %v, want ErrQuota", err)
	}
	if err := small.Set(ctx, []byte("a"), []byte("shorter")); err != nil {
		t.Fatalf("shrinking a value over the byte quota: %v", err)
	}
	if err := small.Set(ctx, []byte("b"), []byte("xx")); !errors.Is(err, ErrQuota) {
		t.Fatalf("growing a value over the byte quota: err = %v, want ErrQuota", err)
	}
	if got := usageOf(t, small.Path()); got != (usage{2, 1 + 7 + 1 + 1}) {
		t.Fatalf("usage %+v", got)
	}
}

// TestQuotaRecount: a file whose counters are missing is counted once.
func TestQuotaRecount(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "a", "1")
	mustSet(t, s, "b", "22")
	db, err := bolt.Open(s.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMeta) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, "c", "333")
	if got := usageOf(t, s.Path()); got != (usage{3, 2 + 3 + 4}) {
		t.Fatalf("usage %+v", got)
	}
	if err := s.Delete(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if got := usageOf(t, s.Path()); got != (usage{2, 3 + 4}) {
		t.Fatalf("usage %+v", got)
	}
}

func TestFormatVersion(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "a", "1")
	db, err := bolt.Open(s.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaVersion, encodeCounter(99)) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, []byte("a")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get from a newer format: err = %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx, []byte("a"), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set into a newer format: err = %v, want ErrUnavailable", err)
	}
}
