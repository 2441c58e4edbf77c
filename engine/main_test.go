package engine_test

import (
	"os"
	"testing"

	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain derives keys cheaply in this test process and in the copies of
// it that tests start (internal/testonly): every store the tests write is
// read only here.
//
// The long tests that touch no process-wide state call t.Parallel, so that
// they share the machine's cores (go test starts them once every serial
// test has finished). A test that changes such state (testonly's clock or
// KDF, the environment with t.Setenv) stays serial: nothing runs beside it.
//
// The environment holds envSecret for the whole run, so that
// TestHostileContained, which checks that a guest does not see it, needs
// no t.Setenv and can run in parallel.
func TestMain(m *testing.M) {
	testonly.UseCheapKDF()
	os.Setenv("SESAME_HOSTILE_ENV", envSecret)
	m.Run()
}
