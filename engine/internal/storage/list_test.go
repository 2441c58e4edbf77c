package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	for _, k := range []string{"a", "a/1", "a/2", "a/3", "ab", "b", "b/1", "\xff", "\xff\xff"} {
		mustSet(t, s, k, "v")
	}
	tests := []struct {
		name          string
		prefix, after string
		afterNil      bool
		limit         int
		want          string // keys joined by spaces
	}{
		{"all", "", "", true, 100, "a a/1 a/2 a/3 ab b b/1 \xff \xff\xff"},
		{"limit", "", "", true, 3, "a a/1 a/2"},
		{"empty after is from the start", "", "", false, 2, "a a/1"},
		{"after a stored key", "", "a/2", false, 100, "a/3 ab b b/1 \xff \xff\xff"},
		{"after a key not stored", "", "a/25", false, 2, "a/3 ab"},
		{"after the last key", "", "\xff\xff", false, 100, ""},
		{"prefix", "a/", "", true, 100, "a/1 a/2 a/3"},
		{"prefix equal to a key", "a", "", true, 100, "a a/1 a/2 a/3 ab"},
		{"prefix and after", "a/", "a/1", false, 100, "a/2 a/3"},
		{"prefix and after before prefix", "b", "a/3", false, 100, "b b/1"},
		{"prefix and after past prefix", "a/", "b", false, 100, ""},
		{"prefix and after equal to prefix", "a", "a", false, 100, "a/1 a/2 a/3 ab"},
		{"prefix matching nothing", "c", "", true, 100, ""},
		{"prefix 0xff", "\xff", "", true, 100, "\xff \xff\xff"},
		{"prefix longer than keys", "a/1/x", "", true, 100, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var after []byte
			if !tt.afterNil {
				after = []byte(tt.after)
			}
			keys, err := s.List(ctx, []byte(tt.prefix), after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, string(k))
			}
			if strings.Join(got, " ") != tt.want {
				t.Fatalf("List(%q, %q, %d) = %q, want %q", tt.prefix, tt.after, tt.limit, got, tt.want)
			}
		})
	}
}

// TestListPaging walks 1000 keys under a prefix, among keys outside it,
// page by page, for several page sizes.
func TestListPaging(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	var want []string
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range 1000 {
			k := fmt.Sprintf("p/%05d", i)
			want = append(want, k)
			put(k, "v")
			put(fmt.Sprintf("o/%05d", i), "v") // before the prefix
			put(fmt.Sprintf("q/%05d", i), "v") // after it
		}
	})
	for _, limit := range []int{1, 7, 100, 1000, 5000} {
		var got []string
		var after []byte
		pages := 0
		for {
			keys, err := s.List(ctx, []byte("p/"), after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) > limit {
				t.Fatalf("limit %d: page of %d keys", limit, len(keys))
			}
			pages++
			for _, k := range keys {
				got = append(got, string(k))
			}
			if len(keys) < limit {
				break
			}
			after = keys[len(keys)-1]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: paging returned %d keys, want %d in order", limit, len(got), len(want))
		}
		if wantPages := len(want)/limit + 1; pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
}
