//go:build !linux && !darwin

package sandbox

import "io/fs"

// fileID: without a stat this package knows how to read, entries are
// hashed in full on every check.
type fileID struct{}

func (fileID) String() string { return "0 0 0 0 0" }

func parseFileID([]string) (fileID, bool) { return fileID{}, true }

func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }
