//go:build unix

package engine

import "syscall"

// openModuleFlags open a module file without blocking (a named pipe with no
// writer) and without following a symbolic link at its path.
const openModuleFlags = syscall.O_NONBLOCK | syscall.O_NOFOLLOW
