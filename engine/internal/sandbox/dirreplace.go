package sandbox

import (
	"context"
	"crypto/sha256"
	"io/fs"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
)

// The host function of SPEC.md §5.4's replace: a file written beside
// another takes its place only if the other still holds the bytes the
// guest read, without the instant between a compare and a rename in which
// another program's save (KeePassXC's, of a database the vault also
// writes) would be lost. The check and the swap are made safe together by
// exchanging the two names atomically and looking at what came out; where
// the system cannot exchange names, the answer is UNSUPPORTED and the
// guest does what it can without it.

// dirCall returns the call when its vault is granted a directory it may
// write; the status otherwise.
func dirCall(ctx context.Context) (*call, abi.Status) {
	return granted(callFrom(ctx), func(c *call) bool { return c.dir != nil })
}

// dir_replace(new, new_len, path, path_len, digest) -> status
func hostDirReplace(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := dirCall(ctx)
	var from, to string
	if s == abi.OK {
		from, s = readName(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	}
	if s == abi.OK {
		to, s = readName(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	}
	var digest []byte
	if s == abi.OK {
		digest, s = read(mod, api.DecodeU32(stack[4]), sha256.Size, sha256.Size)
	}
	if s == abi.OK && from == to {
		s = abi.InvalidArgument
	}
	if s == abi.OK {
		s = c.dir.replace(ctx, c, from, to, [sha256.Size]byte(digest))
	}
	stack[0] = status(s)
}

// readName reads a path of the folder from guest memory: relative, in
// fs.ValidPath's form ("a/b.kdbx", no "..", no "." but alone, which is not
// a file), at most abi.MaxDirName bytes.
func readName(mod api.Module, ptr, n uint32) (string, abi.Status) {
	b, s := read(mod, ptr, n, abi.MaxDirName)
	if s == abi.TooLarge {
		return "", abi.InvalidArgument
	}
	name := string(b)
	if s == abi.OK && (!utf8.ValidString(name) || !fs.ValidPath(name) || name == ".") {
		s = abi.InvalidArgument
	}
	return name, s
}
