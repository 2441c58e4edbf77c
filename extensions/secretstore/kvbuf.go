//go:build wasip1

package main

import (
	"unsafe"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// kvGetInto is guest.KVGet into a buffer the caller reuses, for List, which
// reads every record: guest.KVGet's fresh 4 KiB buffer per record is most of
// a listing's garbage. (A guest.KVGetInto in the SDK would make this file
// unnecessary.)
//
//go:wasmimport sesame_v1 kv_get
func hostKVGet(key unsafe.Pointer, keyLen uint32, dst unsafe.Pointer, capacity uint32) int64

// kvGetInto returns the value of key in buf (grown when too small; the
// result aliases it), or an error wrapping abi.NotFound.
func kvGetInto(key, buf []byte) ([]byte, error) {
	buf = buf[:cap(buf)]
	for range 4 {
		n := hostKVGet(unsafe.Pointer(unsafe.SliceData(key)), uint32(len(key)), unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
		switch {
		case n < 0:
			s := abi.Internal
			if n >= -0xffffffff {
				s = abi.Status(-n).Normalize()
			}
			return nil, &guest.HostError{Func: abi.ImportKVGet, Status: s}
		case n <= int64(len(buf)):
			return buf[:n], nil
		case n > abi.MaxStorageValue:
			return nil, &guest.HostError{Func: abi.ImportKVGet, Status: abi.Internal}
		}
		clear(buf)
		buf = make([]byte, n)
	}
	return nil, &guest.HostError{Func: abi.ImportKVGet, Status: abi.Unavailable}
}
