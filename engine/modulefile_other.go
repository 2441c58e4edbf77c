//go:build !unix

package engine

// openModuleFlags: no named pipes or O_NOFOLLOW here; the regular-file check
// after the open still refuses what is not a file.
const openModuleFlags = 0
