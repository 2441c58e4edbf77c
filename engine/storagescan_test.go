package engine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/engine/internal/storage"
)

// TestStorageAreaScanInBatch: a guest's kv_scan inside a batch (an import)
// sees what earlier calls of the batch wrote and not what they deleted;
// outside the batch, nothing of it shows before the commit.
func TestStorageAreaScanInBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := storage.Open(filepath.Join(t.TempDir(), "area.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := storageArea{s}
	for _, k := range []string{"s/1", "s/2"} {
		if err := a.Set(ctx, []byte(k), []byte("stored")); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(ctx context.Context) map[string]string {
		t.Helper()
		page, err := a.Scan(ctx, []byte("s/"), nil, 10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range page {
			got[string(kv.Key)] = string(kv.Value)
		}
		return got
	}
	bctx, _ := withBatch(ctx)
	if err := a.Set(bctx, []byte("s/3"), []byte("batch")); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(bctx, []byte("s/1"), []byte("batch")); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(bctx, []byte("s/2")); err != nil {
		t.Fatal(err)
	}
	if got := scan(bctx); len(got) != 2 || got["s/1"] != "batch" || got["s/3"] != "batch" {
		t.Errorf("in the batch: %v", got)
	}
	if got := scan(ctx); len(got) != 2 || got["s/1"] != "stored" || got["s/2"] != "stored" {
		t.Errorf("outside the batch: %v", got)
	}
}
