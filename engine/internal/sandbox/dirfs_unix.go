//go:build unix

package sandbox

import "syscall"

// oDirectory makes an open fail unless it names a folder.
const oDirectory = syscall.O_DIRECTORY
