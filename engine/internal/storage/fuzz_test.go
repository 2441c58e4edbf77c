package storage

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

// FuzzList checks List against a sorted slice of the stored keys, for any
// prefix, after and limit.
func FuzzList(f *testing.F) {
	stored := [][]byte{
		[]byte("a"), []byte("a\x00"), []byte("a/1"), []byte("a/2"), []byte("ab"),
		[]byte("b"), []byte("b\xff"), []byte("\x00"), []byte("\xff"), []byte("\xff\xff\xff"),
	}
	slices.SortFunc(stored, bytes.Compare)
	for _, seed := range []struct {
		prefix, after string
		limit         int
	}{
		{"", "", 100}, {"a", "", 2}, {"a", "a", 100}, {"a/", "a/1", 1}, {"b", "a", 3},
		{"\xff", "\xff", 10}, {"", "\xff\xff\xff\xff", 10}, {"zz", "", 1},
	} {
		f.Add([]byte(seed.prefix), []byte(seed.after), seed.limit)
	}
	s := openTest(f, Options{})
	fillStore(f, s.Path(), func(put func(k, v string)) {
		for _, k := range stored {
			put(string(k), "v")
		}
	})
	f.Fuzz(func(t *testing.T, prefix, after []byte, limit int) {
		if len(prefix) > 64 || len(after) > 64 {
			return
		}
		got, err := s.List(context.Background(), prefix, after, limit)
		if limit < 1 {
			if err == nil {
				t.Fatalf("List with limit %d succeeded", limit)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for _, k := range stored {
			if bytes.HasPrefix(k, prefix) && bytes.Compare(k, after) > 0 && len(want) < limit {
				want = append(want, k)
			}
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Fatalf("List(%q, %q, %d) = %q, want %q", prefix, after, limit, got, want)
		}
	})
}
