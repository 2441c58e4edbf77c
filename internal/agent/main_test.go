package agent

import (
	"context"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/testhome"
	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain derives keys cheaply in this test process (internal/testonly):
// every store the tests write is read only here; and writes them without a
// flush to the disk (testonly.NoSync), which no test here checks. The tests
// run in a home of their own (internal/testhome), never the user's.
func TestMain(m *testing.M) {
	testonly.UseCheapKDF()
	testonly.NoSync()
	testonly.ManyCacheEntries() // the folder of the engine's tests (engineTestCache)
	testhome.MustEnter(m).Run()
}

// testEngines are the engine's, as sesame-engine gives them to Run.
var testEngines = Engines{
	Open: func(ctx context.Context, path string, opts *api.Options) (Engine, error) {
		e, err := engine.Open(ctx, path, opts)
		if err != nil {
			return nil, err // not a nil *engine.Engine in an Engine
		}
		return e, nil
	},
	WithEnv: engine.WithEnv,
}
