package testwasm

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// ReadCalls returns how many read system calls the process has made, as
// the kernel counts them in /proc/self/io (Linux), for a test that bounds
// the reads of an operation: the difference of two calls around it. It
// skips the test where the count is not available.
func ReadCalls(t testing.TB) uint64 {
	t.Helper()
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no syscr in /proc/self/io")
	return 0
}
