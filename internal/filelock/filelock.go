// Package filelock holds the two file-system steps that sesame's files
// changed by several processes share: waiting for an flock(2) lock (the
// registry's sidecar lock, the storage files, the agent's folder) and
// syncing a folder so that a file created or renamed in it survives a
// crash (the registry's rename, a new storage file).
//
// Lock exists where syscall has flock: Unix but AIX and Solaris. Callers
// keep their fallback for the other systems next to their own code, since
// what to do without flock differs (the registry serialises within the
// process only; bbolt locks its file itself).
package filelock

import "errors"

// ErrTimeout reports that a lock was not obtained before the deadline.
var ErrTimeout = errors.New("lock wait timed out")
