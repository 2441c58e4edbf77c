package cli

import (
	"context"
	"io"
)

// testEngine is the engine in the process of this package's tests, set by
// engine_test.go (package cli_test, which may import internal/cli/local)
// before TestMain runs.
var testEngine *Engine

// SetTestEngine sets testEngine.
func SetTestEngine(e *Engine) { testEngine = e }

// run is the command as sesame-engine runs it: the in-process engine of
// the tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Main(ctx, args, stdin, stdout, stderr, testEngine)
}
