package engine_test

import (
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
func TestMain(m *testing.M) {
	testonly.UseCheapKDF()
	m.Run()
}
