//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

//go:wasmimport sesame_v1 dir_replace
func hostDirReplace(from unsafe.Pointer, fromLen uint32, to unsafe.Pointer, toLen uint32, digest unsafe.Pointer) uint32

// ReplaceFile puts the file from in the place of the file to, both named
// relative to the granted folder (SPEC.md §5.4: "Passwords.kdbx", not
// "/data/Passwords.kdbx"), if to still holds the bytes whose SHA-256 is
// digest, and removes what it held: the atomic end of a read, change,
// write beside, replace, with no instant in which another program's save
// of to is lost. The errors wrap:
//
//   - abi.Conflict: to holds other bytes; nothing changed. from was
//     removed, unless a save of to landed during the call, which is then
//     left under the name from (the guest must not remove it);
//   - abi.Unsupported: the system or its file system cannot exchange two
//     names atomically; nothing changed, and the guest falls back to what
//     it did without this function (compare, then os.Rename);
//   - abi.NotFound: either file is absent; abi.PermissionDenied: no grant,
//     a read-only grant, a name that is a link or not a regular file, or a
//     path that leads out of the folder; abi.InvalidArgument: a name that
//     is not relative and clean, or from and to the same.
func ReplaceFile(from, to string, digest [32]byte) error {
	f, t := []byte(from), []byte(to)
	if s := abi.Status(hostDirReplace(ptr(f), uint32(len(f)), ptr(t), uint32(len(t)), unsafe.Pointer(&digest))); s != abi.OK {
		return &HostError{Func: abi.ImportDirReplace, Status: s.Normalize()}
	}
	return nil
}
