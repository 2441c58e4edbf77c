package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// scanner is Store.Scan or Batch.Scan.
type scanner func(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]Entry, bool, error)

// scanAll walks every page of scan under prefix and returns "key=value"
// joined by spaces, and the number of pages. Each page must respect the
// bounds and advance.
func scanAll(t *testing.T, scan scanner, prefix string, limit, maxBytes int) (string, int) {
	t.Helper()
	var got []string
	var after []byte
	for pages := 1; ; pages++ {
		page, more, err := scan(context.Background(), []byte(prefix), after, limit, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("page of %d entries, limit %d", len(page), limit)
		}
		size := 0
		for _, e := range page {
			size += len(e.Key) + len(e.Value)
			if after != nil && string(e.Key) <= string(after) {
				t.Fatalf("page does not advance: %q after %q", e.Key, after)
			}
			after = e.Key
			got = append(got, string(e.Key)+"="+string(e.Value))
		}
		if len(page) > 1 && size > maxBytes {
			t.Fatalf("page of %d bytes, bound %d", size, maxBytes)
		}
		if !more {
			return strings.Join(got, " "), pages
		}
		if len(page) == 0 {
			t.Fatal("an empty page with more to come")
		}
	}
}

func TestScan(t *testing.T) {
	s := openTest(t, Options{})
	for _, kv := range []string{"a=1", "a/1=22", "a/2=", "a/3=4444", "ab=5", "b=6", "\xff=7"} {
		k, v, _ := strings.Cut(kv, "=")
		mustSet(t, s, k, v)
	}
	tests := []struct {
		name            string
		prefix          string
		limit, maxBytes int
		want            string
		pages           int
	}{
		{"all in one page", "", 100, 1 << 20, "a=1 a/1=22 a/2= a/3=4444 ab=5 b=6 \xff=7", 1},
		{"prefix", "a/", 100, 1 << 20, "a/1=22 a/2= a/3=4444", 1},
		{"limit", "a/", 2, 1 << 20, "a/1=22 a/2= a/3=4444", 2},
		{"bytes", "a/", 100, 8, "a/1=22 a/2= a/3=4444", 2},                         // a/1=22 a/2= is 8 bytes
		{"an entry over the bound alone", "a/", 100, 1, "a/1=22 a/2= a/3=4444", 3}, // one per page
		{"nothing", "c", 100, 1 << 20, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := scanAll(t, s.Scan, tt.prefix, tt.limit, tt.maxBytes)
			if got != tt.want || pages != tt.pages {
				t.Errorf("scanned %q in %d pages, want %q in %d", got, pages, tt.want, tt.pages)
			}
		})
	}
	if _, _, err := s.Scan(context.Background(), nil, nil, 0, 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("limit 0: %v", err)
	}
	if _, _, err := s.Scan(context.Background(), nil, nil, 1, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("maxBytes 0: %v", err)
	}
}

// TestScanEmptyStore: a store never written scans empty.
func TestScanEmptyStore(t *testing.T) {
	s := openTest(t, Options{})
	page, more, err := s.Scan(context.Background(), nil, nil, 10, 10)
	if err != nil || len(page) != 0 || more {
		t.Errorf("Scan = %v, %v, %v", page, more, err)
	}
}

// TestBatchScan: a batch scans the values it wrote, the keys it added and
// not those it deleted, page by page, and never ends a scan early with an
// empty page.
func TestBatchScan(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range 10 {
			put(fmt.Sprintf("p/%02d", i), "old")
		}
		put("q/0", "v")
	})
	b := s.Batch()
	for i := range 6 { // the first two pages of 3
		if err := b.Delete(ctx, fmt.Appendf(nil, "p/%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"p/07a", "p/08", "p/99", "q/1"} {
		if err := b.Set(ctx, []byte(k), []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	want := "p/06=old p/07=old p/07a=new p/08=new p/09=old p/99=new"
	for _, bound := range []struct{ limit, maxBytes int }{{3, 1 << 20}, {100, 1 << 20}, {100, 8}, {1, 1}} {
		if got, _ := scanAll(t, b.Scan, "p/", bound.limit, bound.maxBytes); got != want {
			t.Errorf("limit %d, %d bytes: scanned %q, want %q", bound.limit, bound.maxBytes, got, want)
		}
	}
	// Keys that only the batch holds, more than a page of them (a
	// secretstore batch's pending entries).
	for i := range 7 {
		if err := b.Set(ctx, fmt.Appendf(nil, "r/%d", i), []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	want = "r/0=new r/1=new r/2=new r/3=new r/4=new r/5=new r/6=new"
	for _, limit := range []int{1, 3, 7, 100} {
		if got, _ := scanAll(t, b.Scan, "r/", limit, 1<<20); got != want {
			t.Errorf("limit %d: scanned %q, want %q", limit, got, want)
		}
	}
	if got, _ := scanAll(t, s.Scan, "p/", 100, 1<<20); strings.Contains(got, "new") || !strings.Contains(got, "p/00=old") {
		t.Errorf("the store scans the batch's writes before the commit: %q", got)
	}
}
