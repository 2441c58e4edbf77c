package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/slowstart"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestSlowRegisterHoldsUpNoOne: through the agent, a registration whose
// extension spins as it starts holds up neither a get on another vault nor
// another registration, each from a connection of its own (another
// terminal).
func TestSlowRegisterHoldsUpNoOne(t *testing.T) {
	// The folders come before the server, so that the cleanups (last in,
	// first out) stop the server before they remove them: the agent may
	// still be unwinding the canceled registration, and wrote into the data
	// folder while RemoveAll emptied it ("directory not empty", once under
	// the race detector).
	f := newFiles(t)
	hangDir := t.TempDir()
	started := make(chan struct{})
	srv := NewServer(testEngines)
	srv.Logger = slog.New(&signal{line: slowstart.Started, seen: started})
	s := serve(t, srv)
	first := f.remote(t, s.dial(t))
	register(t, first, "none")
	if _, err := engine.Do(context.Background(), first, engine.SetRequest{Name: "k", Value: secretValue, Vault: "Go"}); err != nil {
		t.Fatal(err)
	}
	hang := filepath.Join(hangDir, "hang.wasm")
	if err := os.WriteFile(hang, testwasm.WAT(t, slowstart.Module), 0o600); err != nil {
		t.Fatal(err)
	}
	govault, err := testwasm.Path("examples/go-vault")
	if err != nil {
		t.Fatal(err)
	}
	quick := engine.Registration{Name: "Quick", Extension: govault, Grants: engine.Grants{Storage: true}}
	other := f.remote(t, s.dial(t))
	slowstart.Check(t, first, other, hang, quick, started, func(t *testing.T) {
		sec, err := engine.Do(context.Background(), other, engine.GetRequest{Name: "k", Vault: "Go"})
		if err != nil || sec.Value != secretValue {
			t.Errorf("get on another vault during the slow registration: %v", err)
		}
	})
}

// signal is a log handler that closes seen when a message containing line
// is logged.
type signal struct {
	line string
	once sync.Once
	seen chan struct{}
}

func (h *signal) Enabled(context.Context, slog.Level) bool { return true }
func (h *signal) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signal) WithGroup(string) slog.Handler            { return h }
func (h *signal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.line) {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}
