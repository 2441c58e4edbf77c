// Package inotify shares one inotify instance among the watches of a
// process: the engine's watch of its registry's folder (engine's
// watch_linux.go) and the watches behind the storage's idle holds
// (storage's hold_linux.go).
//
// One instance, so that one read of its descriptor (Poll) counts the
// events of every watch: an operation on a vault used to read the
// registry's instance for its freshness check and then the storage's for
// its idle hold, two system calls of ~3 µs each on a virtual machine,
// about a sixth of a secretstore get. An operation marks its context when
// it begins (Begin); a read of the storage under that context uses its
// hold without a poll of its own when a poll that began after the
// operation did has ended (Polled), which the engine's freshness check
// made.
//
// Why that is enough: a poll counts every event the kernel queued before
// it began, and the kernel queues an event within the rename, unlink or
// open that causes it. So every change made before the operation began is
// counted by the time its read looks, as a poll of the read's own would
// count it; a change made after the poll began is concurrent with the
// operation, which may then be ordered before it (the read returns what
// the file held when the poll began: under an idle hold no writer
// commits).
//
// Elsewhere than on Linux there is no instance: Add reports false, and
// Polled false.
package inotify
