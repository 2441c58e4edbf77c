package agent

import (
	"context"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// BenchmarkGet reads a 32-byte secret from a secretstore vault (no
// password) through an engine in this process and through the agent's
// engine over its socket: the difference is what the socket and the
// encoding add to a command that has the agent.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	value := "0123456789abcdef0123456789abcdef"
	run := func(b *testing.B, e engine.Transport) {
		err := engine.Run(ctx, e, engine.RegisterRequest{Registration: engine.Registration{Name: "Store", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := engine.Do(ctx, e, engine.SetRequest{Name: "s", Value: value, Vault: "Store"}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := engine.Do(ctx, e, engine.GetRequest{Name: "s", Vault: "Store"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("in-process", func(b *testing.B) {
		f := newFiles(b)
		e, err := engine.Open(ctx, f.path, f.opts)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		run(b, e)
	})
	b.Run("agent", func(b *testing.B) {
		f := newFiles(b)
		run(b, f.remote(b, serve(b, NewServer(testEngines)).dial(b)))
	})
}
