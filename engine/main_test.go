package engine_test

import (
	"testing"

	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain derives keys cheaply in this test process and in the copies of
// it that tests start (internal/testonly): every store the tests write is
// read only here.
func TestMain(m *testing.M) {
	testonly.UseCheapKDF()
	m.Run()
}
