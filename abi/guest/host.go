//go:build wasip1

package guest

import (
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

// The host functions of module sesame_v1 (SPEC.md §5). A pointer argument
// is only read or written during the call, and the compiler keeps what it
// points to alive until the call returns.

//go:wasmimport sesame_v1 input
func hostInput(idx uint32, dst unsafe.Pointer, capacity uint32) int32

//go:wasmimport sesame_v1 output
func hostOutput(src unsafe.Pointer, n uint32) uint32

//go:wasmimport sesame_v1 error
func hostError(msg string) uint32

//go:wasmimport sesame_v1 log
func hostLog(level uint32, msg string) uint32

//go:wasmimport sesame_v1 kv_get
func hostKVGet(key unsafe.Pointer, keyLen uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 kv_set
func hostKVSet(key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32) uint32

//go:wasmimport sesame_v1 kv_add
func hostKVAdd(key unsafe.Pointer, keyLen uint32, value unsafe.Pointer, valueLen uint32) uint32

//go:wasmimport sesame_v1 kv_delete
func hostKVDelete(key unsafe.Pointer, keyLen uint32) uint32

//go:wasmimport sesame_v1 kv_list
func hostKVList(prefix unsafe.Pointer, prefixLen uint32, after unsafe.Pointer, afterLen uint32, dst unsafe.Pointer, capacity uint32) int64

// kv_scan is optional (SPEC.md §5.3): only a guest that calls KVScanPage or
// KVEntries imports it.
//
//go:wasmimport sesame_v1 kv_scan
func hostKVScan(prefix unsafe.Pointer, prefixLen uint32, after unsafe.Pointer, afterLen uint32, dst unsafe.Pointer, capacity uint32) int64

// ptr returns the address of b's first byte, or nil for a nil slice. The
// host never touches it when the length passed with it is zero.
func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// negStatus turns a negative i32/i64 result into its status (SPEC.md §5).
func negStatus(n int64) abi.Status {
	if n >= 0 || n < -0xffffffff {
		return abi.Internal
	}
	return abi.Status(-n).Normalize()
}

// argument reads argument idx of the current call into a new buffer. n is
// the length the export received; the host's answer wins if it differs. A
// failure is the host's fault and reports INTERNAL.
func argument(idx, n uint32) ([]byte, error) {
	buf := make([]byte, n)
	for range 2 {
		got := hostInput(idx, ptr(buf), uint32(len(buf)))
		switch {
		case got < 0:
			return nil, Error(abi.Internal, "guest: "+abi.ImportModule+".input("+strconv.Itoa(int(idx))+"): "+negStatus(int64(got)).String())
		case int(got) <= len(buf):
			return buf[:got], nil
		case got > abi.MaxCallBytes:
			return nil, Error(abi.Internal, "guest: argument "+strconv.Itoa(int(idx))+" of "+strconv.Itoa(int(got))+" bytes exceeds the call limit")
		}
		buf = make([]byte, got)
	}
	return nil, Error(abi.Internal, "guest: argument "+strconv.Itoa(int(idx))+" changed length during the call")
}

// stringArgument reads argument idx, which must be UTF-8 text. what names it
// in a message ("name", "pattern").
func stringArgument(idx, n uint32, what string) (string, error) {
	b, err := argument(idx, n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", Error(abi.InvalidArgument, "guest: argument "+strconv.Itoa(int(idx))+" ("+what+") is not UTF-8")
	}
	return string(b), nil
}

// output sets the result of the current call to a copy of b. The host
// refuses more than 16 MiB with TOO_LARGE.
func output(b []byte) error {
	s := abi.Status(hostOutput(ptr(b), uint32(len(b))))
	switch s {
	case abi.OK:
		return nil
	case abi.TooLarge:
		return Error(abi.TooLarge, "guest: the host refused an output of "+strconv.Itoa(len(b))+" bytes")
	}
	return Error(abi.Internal, "guest: "+abi.ImportModule+".output: "+s.String())
}

// setError sends msg as the message of the current call's status, cut to
// the host's 4 KiB limit on a character boundary.
func setError(msg string) {
	hostError(truncate(msg, abi.MaxMessageBytes))
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
