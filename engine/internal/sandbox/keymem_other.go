//go:build !linux

package sandbox

// mapKeyMemory returns n bytes for keys. Outside Linux they are Go heap
// memory, wiped like the rest but neither locked nor kept out of core
// dumps; note says so, once per vault, in its log.
func mapKeyMemory(n int) (mem []byte, unmap func(), note string) {
	return make([]byte, n), func() {}, "key memory is not locked or kept out of core dumps on this system"
}
