package sandbox_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// scanOnce calls kv_scan through the scan guest and returns its result and
// the page the host copied (nil when none).
func scanOnce(t *testing.T, m *sandbox.Module, prefix, after string, capacity uint32) (int64, []abi.KV) {
	t.Helper()
	arg := binary.LittleEndian.AppendUint32(nil, capacity)
	arg = binary.LittleEndian.AppendUint32(arg, uint32(len(prefix)))
	arg = binary.LittleEndian.AppendUint32(arg, uint32(len(after)))
	arg = append(append(arg, prefix...), after...)
	out, err := m.Call(context.Background(), abi.OpGet, arg)
	if err != nil {
		t.Fatal(err)
	}
	r := int64(binary.LittleEndian.Uint64(out))
	if len(out) == 8 {
		return r, nil
	}
	if int64(len(out)-8) != r {
		t.Fatalf("result %d with a page of %d bytes", r, len(out)-8)
	}
	page, err := abi.DecodeEntryList(out[8:])
	if err != nil {
		t.Fatalf("the host's page: %v", err)
	}
	return r, page
}

// scanGuest loads the scan guest on st (nil: no storage grant).
func scanGuest(t *testing.T, st sandbox.Storage) *sandbox.Module {
	return load(t, newHost(t, nil), sandbox.Spec{Vault: "Scan", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/scan.wat"), Storage: st})
}

// TestKVScanPages: a scan of 600 keys under a prefix, among keys outside
// it, takes pages of at most 256 entries in key order, each value with its
// key, and ends with an empty page; after starts a page anywhere.
func TestKVScanPages(t *testing.T) {
	st := newMemStorage()
	var want []string
	for i := range 600 {
		k := fmt.Sprintf("p/%03d", i)
		st.m[k] = []byte(fmt.Sprint("value of ", i))
		want = append(want, k+"="+string(st.m[k]))
	}
	st.m["o"], st.m["q"] = []byte("before"), []byte("after")
	m := scanGuest(t, st)

	var got []string
	after, pages := "", 0
	for {
		r, page := scanOnce(t, m, "p/", after, 64<<10)
		if r < 0 || page == nil {
			t.Fatalf("page %d: result %d", pages, r)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > abi.StorageListPage {
			t.Fatalf("a page of %d entries", len(page))
		}
		pages++
		for _, kv := range page {
			got = append(got, string(kv.Key)+"="+string(kv.Value))
		}
		after = string(page[len(page)-1].Key)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("scanned %d entries, want %d: %.200q", len(got), len(want), got)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3 (256, 256, 88)", pages)
	}
	if _, page := scanOnce(t, m, "p/", "p/597", 64<<10); len(page) != 2 || string(page[0].Key) != "p/598" {
		t.Errorf("after p/597: %q", page)
	}
	if _, page := scanOnce(t, m, "", "p/599", 64<<10); len(page) != 1 || string(page[0].Key) != "q" {
		t.Errorf("no prefix, after p/599: %q", page)
	}
}

// TestKVScanSizes: a page holds as many entries as fit in the guest's
// buffer, and at least one: when even that does not fit, nothing is copied
// and the result is the length it needs, which then fits.
func TestKVScanSizes(t *testing.T) {
	st := newMemStorage()
	for _, k := range []string{"a", "b", "c"} {
		st.m[k] = bytes.Repeat([]byte(k), 10) // an entry is 8+1+10 bytes
	}
	m := scanGuest(t, st)
	for _, c := range []struct {
		capacity uint32
		result   int64
		entries  int // -1: nothing copied
	}{
		{0, 4 + 19, -1},
		{22, 4 + 19, -1},
		{23, 4 + 19, 1},
		{4 + 2*19 - 1, 4 + 19, 1},
		{4 + 2*19, 4 + 2*19, 2},
		{1 << 20, 4 + 3*19, 3},
	} {
		r, page := scanOnce(t, m, "", "", c.capacity)
		if r != c.result || (c.entries < 0) != (page == nil) || (page != nil && len(page) != c.entries) {
			t.Errorf("cap %d: result %d, %d entries; want %d, %d", c.capacity, r, len(page), c.result, c.entries)
		}
	}
	// The empty page, too, is copied only when it fits.
	if r, page := scanOnce(t, m, "z", "", 3); r != 4 || page != nil {
		t.Errorf("empty page in 3 bytes: %d, %v", r, page)
	}
}

// TestKVScanMegabyte: however large the guest's buffer, a page holds at
// most abi.StorageScanBytes, or one entry.
func TestKVScanMegabyte(t *testing.T) {
	st := newMemStorage()
	for _, k := range []string{"a", "b", "c"} {
		st.m[k] = bytes.Repeat([]byte(k), 600<<10)
	}
	st.m["d"] = []byte("d")
	m := scanGuest(t, st)
	for after, want := range map[string]int{"": 1, "a": 1, "b": 2} {
		if _, page := scanOnce(t, m, "", after, 2<<20); len(page) != want {
			t.Errorf("after %q: %d entries in a 2 MiB buffer, want %d", after, len(page), want)
		}
	}
}

// TestKVScanNotGranted: without the storage grant kv_scan answers
// PERMISSION_DENIED.
func TestKVScanNotGranted(t *testing.T) {
	if r, page := scanOnce(t, scanGuest(t, nil), "", "", 1024); r != -int64(abi.PermissionDenied) || page != nil {
		t.Errorf("kv_scan without storage = %d, want -%d", r, abi.PermissionDenied)
	}
}
