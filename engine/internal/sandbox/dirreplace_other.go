//go:build !linux

package sandbox

import (
	"context"

	"github.com/sesamehq/sesame/abi"
)

// replace exchanges names with Linux's renameat2 only (macOS's
// renameatx_np with RENAME_SWAP would do the same, and is not written
// yet): UNSUPPORTED here, and the guest falls back to its own compare,
// then rename (SPEC.md §5.4).
func (d *rootFS) replace(context.Context, *call, string, string, [32]byte) abi.Status {
	return abi.Unsupported
}
