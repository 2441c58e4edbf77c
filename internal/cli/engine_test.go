package cli_test

import (
	"github.com/sesamehq/sesame/internal/cli"
	"github.com/sesamehq/sesame/internal/cli/local"
)

// The tests' engine is sesame-engine's. Package cli cannot import local,
// which imports it; this external test package can, and its init runs
// before TestMain.
func init() { cli.SetTestEngine(local.Engine()) }
