package engine_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestDatetimeOffset: a datetime keeps the UTC offset it was given in, in a
// vault that declares datetime_offset (examples/go-vault); a vault that
// does not (c-vault, which walks the metadata encoding and knows only kinds
// 1 to 3, and an in-process memvault) gets it in UTC, the same instant, and
// keeps working.
func TestDatetimeOffset(t *testing.T) {
	t.Parallel()
	e, _ := emptyEngine(t)
	govault, err := testwasm.Path("examples/go-vault")
	if err != nil {
		t.Fatal(err)
	}
	cvault := filepath.Join(makeExamples(t, "examples-c"), "c-vault.wasm")
	for name, ext := range map[string]string{"Go": govault, "C": cvault} {
		reg := engine.Registration{Name: name, Extension: ext, Grants: engine.Grants{Storage: true}}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Mount("Mem", memvault.New(memvault.Options{})); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 2, 3, 4, 5, 6, 7, time.FixedZone("CET", 3600))
	for vault, want := range map[string]string{
		"Go":  "2024-02-03T04:05:06.000000007+01:00",
		"C":   "2024-02-03T03:05:06.000000007Z",
		"Mem": "2024-02-03T03:05:06.000000007Z",
	} {
		md := engine.Metadata{"at": at}
		if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Vault: vault, Value: "v", Metadata: md}); err != nil {
			t.Fatalf("%s: %v", vault, err)
		}
		sec, err := e.Get(ctx, engine.GetRequest{Name: "s", Vault: vault})
		if err != nil {
			t.Fatalf("%s: %v", vault, err)
		}
		got, _ := sec.Metadata["at"].(time.Time)
		if got.Format(time.RFC3339Nano) != want || !got.Equal(at) {
			t.Errorf("%s: at = %v, want %s", vault, sec.Metadata["at"], want)
		}
	}
}
