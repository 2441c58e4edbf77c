//go:build !linux

package sandbox

// reserve reports false: outside Linux, guest memory lives in the Go heap.
func reserve(uint64) ([]byte, bool) { return nil, false }

// commit, unmap, wipeMapped and discard are not reached: nothing is mapped.
func commit([]byte) bool  { return false }
func unmap([]byte)        {}
func wipeMapped(b []byte) { clear(b) }
func discard([]byte)      {}
