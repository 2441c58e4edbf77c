package abi

import "strconv"

// Status is the result code of a guest export or a host import (SPEC.md §6).
// A Status other than OK is an error, so errors.Is(err, abi.NotFound) works on
// anything that wraps one.
type Status uint32

// The status codes of ABI version 1.
const (
	OK               Status = 0
	NotFound         Status = 1
	InvalidArgument  Status = 2
	PermissionDenied Status = 3
	Locked           Status = 4
	Conflict         Status = 5
	Unsupported      Status = 6
	Unavailable      Status = 7
	TooLarge         Status = 8
	Internal         Status = 9
	DeadlineExceeded Status = 10
)

var statusNames = [...]string{
	OK:               "ok",
	NotFound:         "not found",
	InvalidArgument:  "invalid argument",
	PermissionDenied: "permission denied",
	Locked:           "locked",
	Conflict:         "conflict",
	Unsupported:      "unsupported",
	Unavailable:      "unavailable",
	TooLarge:         "too large",
	Internal:         "internal error",
	DeadlineExceeded: "deadline exceeded",
}

// Known reports whether s is a status code of this ABI version.
func (s Status) Known() bool { return int(s) < len(statusNames) }

// Normalize maps codes unknown to this version to Internal, as SPEC.md §6 asks.
func (s Status) Normalize() Status {
	if s.Known() {
		return s
	}
	return Internal
}

func (s Status) String() string {
	if s.Known() {
		return statusNames[s]
	}
	return "status " + strconv.FormatUint(uint64(s), 10)
}

// Error implements error; the text is the status name.
func (s Status) Error() string { return s.String() }
