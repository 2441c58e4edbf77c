package engine_test

import (
	"os"
	"testing"

	"github.com/sesamehq/sesame/internal/testonly"
)

// TestMain derives keys cheaply in this test process and in the copies of
// it that tests start (internal/testonly): every store the tests write is
// read only here. It removes the example vaults that makeExamples built.
func TestMain(m *testing.M) {
	testonly.UseCheapKDF()
	m.Run()
	if examplesOut.dir != "" {
		os.RemoveAll(examplesOut.dir)
	}
}
