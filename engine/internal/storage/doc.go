// Package storage is the host side of the per-vault key-value storage area:
// the namespace a vault extension reaches through the host calls kv_get,
// kv_set, kv_add, kv_delete, kv_list and kv_scan.
//
// Each vault has one bbolt database file; the file is the namespace, and a
// vault names keys, never files, so it cannot reach another vault's data.
//
//	s, err := storage.Open(filepath.Join(dataDir, "vaults", "LocalStore.db"), storage.Options{})
//	if err != nil { ... }
//	defer s.Close()
//	err = s.Set(ctx, []byte("name"), secret)    // on disk when it returns
//	v, err := s.Get(ctx, []byte("name"))        // errors.Is(err, storage.ErrNotFound)
//	keys, err := s.List(ctx, prefix, after, 100) // pages in byte order
//	page, more, err := s.Scan(ctx, prefix, after, 256, 1<<20) // with the values, one transaction a page
//
// # Guarantees
//
//   - Atomic: every Set and Delete is one bbolt transaction, data and quota
//     counters together. A reader sees the old value or the new one.
//   - Conditional: SetIf, AddIf and DeleteIf write only if the keys a
//     caller read still hold what it read (Seen), checked in the writing
//     transaction: of several processes that read, check and write the same
//     record at once, the first write wins and the others get ErrChanged.
//   - Batched: a Batch holds writes in memory, its own reads seeing them,
//     and commits them all in one transaction and one fsync, or none. The
//     commit is conditional like SetIf's: it fails with ErrChanged if a key
//     the batch read has changed since. See "Design: batches" below.
//   - Durable: Set and Delete return after bbolt's commit has fsynced
//     (NoSync is false), so an acknowledged write survives the writer being
//     killed right after, and a crash of the OS. Creating the file also
//     fsyncs its folder.
//   - Shared: any number of goroutines, Stores and processes may use one
//     file at once. Waiting for another user is bounded by the context's
//     deadline, or DefaultWait (10 s) without one, then fails with
//     ErrUnavailable; cancelling the context ends the wait too.
//   - Bounded: keys up to MaxKeyBytes, values up to MaxValueBytes
//     (ErrTooLarge); at most MaxKeys keys and MaxBytes bytes of keys plus
//     values (ErrQuota). The counters live in the "meta" bucket, so a quota
//     check costs the same for 10 keys as for a million.
//   - Discreet: errors name the operation and the file, and may give lengths
//     and limits, but never contain key or value bytes.
//   - Compactable: Compact rewrites the file without the pages of replaced
//     and deleted values (bbolt keeps them until it reuses them), into a
//     new file renamed over the old one under its exclusive lock; every
//     open checks, once it holds the lock, that its file is still the one
//     at the path, and opens it again if a compaction replaced it. The
//     engine compacts after a password change or a rekey, so that an old
//     wrapped key or records under an old key cannot be read from the file.
//   - Private: the file and every folder above it must be the user's (or
//     root's) and writable by no one else, and the file is never a link
//     (package fileperm); folders are created 0700, the file 0600, and each
//     operation opens it with O_NOFOLLOW and checks it again, so a file
//     planted in a shared folder captures nothing.
//
// # Design: how processes share a file
//
// bbolt locks its file with flock(2) for as long as a handle is open:
// exclusively for a read-write handle, shared for a read-only one. A
// process keeping a read-write handle would shut every other process out,
// so no handle is kept locked between operations:
//
//   - A write takes the exclusive lock, runs one transaction, commits
//     (fsync) and releases the lock. Its read-write handle is kept for the
//     next write of the process, as long as no one else writes: under the
//     lock, the newest meta page (read through the map) must still carry
//     the transaction id of the handle's own last commit, and the file must
//     still be the one at the path and hold every page that commit
//     reached; otherwise the handle is closed and the file opened again.
//     A kept handle's free-page list is only right while no other handle
//     commits, which the id shows. The handle is closed 100 ms after the
//     process's last write: open for writing, it rules out every process's
//     idle hold (below); but while a Batch of the path is begun and not
//     committed or discarded, for up to 5 s after the last write, so that
//     an import's batches, each longer than 100 ms to prepare, commit on
//     one handle. See writer_unix.go and lock.go.
//   - Reads share one read-only handle per file and process, kept open for
//     the life of the Stores, but its shared lock is taken only while read
//     transactions run and released as the last one ends. While the lock is
//     released, other processes commit; the next read re-takes the lock and
//     checks that the file is still the one at the path (a stat) and has
//     not outgrown the memory map (the newest meta page's high-water mark,
//     read through the map), reopening the handle if not. This is sound
//     because a read-only bbolt handle keeps no state between transactions
//     but the map (each transaction re-reads the meta pages through it, and
//     a MAP_SHARED map shows what other processes write), and bbolt never
//     shrinks a file. See reader_unix.go.
//   - The reads of one vault call (WithCall, which the engine passes for
//     every guest call) take the lock, make those checks and begin a read
//     transaction at the first read, and keep them until the call ends or
//     writes: its later reads cost no system call and no transaction, and
//     all see one state of the file. Writers wait for the call as for one
//     read; the call's own write ends the hold first. See call.go.
//   - On Linux, the last read to leave may keep the shared lock (an idle
//     hold; not when every Store of the file was opened with NoIdleHold,
//     as a process that reads once and exits opens them), and its read
//     transaction, for the next read, which then
//     makes one system call instead of three (flock, stat, unlock; ~3 µs
//     each on a virtual machine), or none when the engine's operation
//     polled the watch since it began (package inotify), and begins no
//     transaction: while it is held no writer commits, and an inotify
//     watch of the file, its folder and the folders above counts every
//     rename, removal or open, which the next read polls (or its
//     operation did) before it uses the hold. A
//     writer of another process opens the file before it waits for the
//     lock; the watch's goroutine sees the open and releases the hold. No
//     hold is kept while someone has the file open for writing (a read
//     lease, taken and given back, tells), so a writer that began waiting
//     before the watch did is not shut out either. Only on a local file
//     system: inotify sees nothing another machine does. See
//     reader_unix.go and hold_linux.go.
//   - Within a process, flock does not help: it locks open files, not
//     processes, so two handles of one process conflict like two processes
//     (TestLockedByAnotherHandle shows it). Since each operation holds at
//     most one lock and takes none while holding it, this cannot deadlock,
//     but the loser could only poll. So the Stores of one file in one
//     process share a reader/writer lock (lock.go) that hands over at once,
//     prefers waiting writers, and gives up at the deadline; the file lock
//     is then contended only between processes.
//   - The file lock is taken by our own wait (flock_unix.go), handed to
//     bbolt through Options.OpenFile, instead of bbolt's Options.Timeout
//     wait, which polls every 50 ms and cannot be cancelled. Ours backs off
//     from 100 µs to 2 ms and watches the context.
//   - A file that does not exist, or has zero bytes (its creator died before
//     bbolt wrote a page), reads as empty.
//
// Where bbolt locks with fcntl or LockFileEx instead of flock (Windows,
// Solaris, AIX, Android), every read opens and closes its own handle and
// bbolt waits for the lock itself.
//
// # Design: batches
//
// An import writes thousands of records; one transaction each costs an
// fsync each (0.5-2 ms here), which caps it near 1 000 secrets/s whatever
// the guest does. A Batch buffers the writes of many guest calls and
// commits them in one Update. While it fills, no lock is held: other
// processes read and write the file as usual, and the batch's own reads
// go to the file for what it has not written. So the commit re-checks, in
// its transaction under the write lock, every key the batch read (its
// Seen), as a password change does: of a batch and another writer of a key
// it read, the first to commit wins and the other learns it lost
// (ErrChanged), and nothing of a failed batch is written. A batch whose
// writes leave every key as the store holds it (an import of secrets all
// stored already: the secretstore's mark set at the batch's begin and
// deleted at its end, nothing else) commits nothing: Commit finds it so in
// a read transaction, and the file, its mtime and bbolt's transaction id
// stay as they were.
//
// Rejected:
//
//   - A write transaction held open for the batch, the guest calls running
//     inside it: simpler isolation, but the file's exclusive lock held for
//     the whole batch (a thousand guest calls, up to their deadlines) would
//     shut every other process out of the vault, readers included, and a
//     slow or hostile guest would decide for how long.
//   - Committing each write with NoSync and one fsync at the end: a crash
//     would then keep a part of the batch, and a failed call could not undo
//     the writes of the calls before it.
//   - Locking the keys of a batch: bbolt has no record locks, and a lock
//     file per key would cost more than the fsyncs saved.
//
// # Measurements
//
// go test -run '^$' -bench . -benchtime 2s -count 3, Go 1.26.8, linux/amd64,
// a 2-vCPU virtual machine, ext4 on a virtual disk where one fsync takes
// 0.5-2 ms. Keys "key-%08d", values 64 bytes, keys spread over the store; the
// 100 000-key store (35 MB file) is filled in one transaction. Ranges are
// over the three runs.
//
//	                               10 keys           100 000 keys
//	Get, this design               10.5-11.0 µs      11.6-14.3 µs
//	Set, this design               0.52-1.04 ms      0.82-1.36 ms
//	List of 100 keys               13-18 µs          23-29 µs (more pages)
//	Get from 2 goroutines          -                 4.8-7.7 µs per Get
//	rejected: handle per Get       124-262 µs        267-345 µs
//	bbolt handle kept open: Get    1.3-1.5 µs        1.6 µs
//	bbolt handle kept open: Set    0.35-0.70 ms      0.64-1.54 ms
//
// A Set costs its commit: two fdatasyncs, which the open and close of the
// handle (0.1-0.3 ms) add little to, and its cost does not grow with the
// store. Reads are the opposite: the first design opened a read-only handle
// per Get too, and paid 120-350 µs, growing with the store: profiles show
// the time in munmap's TLB shootdown and in page faults on a fresh map, not
// in bbolt. Keeping the map and only taking the lock per read brings a Get
// to ~11 µs at either size (four system calls: flock, fstat, stat, unlock;
// the fstat has since given way to a read of the meta page). The reads of
// one call after the first cost no system call: BenchmarkCallOfTwoReads,
// a secretstore get's two reads, 30 µs as plain reads and 22 µs as one
// call (medians of 6, interleaved, under load: the ratio is the figure).
// Nor a transaction: the call's reads share the one its first read began
// (which also serves the handle's check), and one bbolt cursor; the call
// of two reads went from 32 allocations and 4.0 KiB to 20 and 2.1 KiB, a
// plain Get from 18 to 16 (its transactions from two to one).
// A handle kept open for good would be faster still (1.5 µs) but would lock
// every other process out. The idle hold comes nearest without that: one
// system call per call rather than three. Medians of three runs,
// interleaved with the build before it, on 2 vCPUs at load 12-14: a Get
// 26 -> 11 µs (10 keys) and 23 -> 19 µs (100 000 keys); a call of two
// reads 29 -> 9 µs and 35 -> 19 µs.
//
// Writes the same way: opening a read-write handle per commit mapped the
// file and read its free list, and the commit then faulted in, through the
// fresh map, every page it read; closing it unmapped the file. On a 64 MB
// store (100 000 secretstore secrets) that was 85 % of a set's CPU time. The
// handle kept between writes (writer_unix.go), with a batch's commit that
// does not read again what the batch read when nothing changed since
// (Batch.unchangedSince), took a set through the engine, in engine's
// BenchmarkSecretStore (CPU time per set, two rounds interleaved with the
// build before, one run, 2 vCPUs at load 14-17), from 1.24, 1.37 ms to
// 0.97, 0.72 ms at 100 secrets, and from 3.01, 3.45 ms to 1.39, 0.97 ms at
// 100 000: the ratio from 2.4, 2.5 to 1.4. An import of 100 000 secrets
// (BenchmarkImport/secretstore-100000) went from 4390, 4946 to 5700, 6496
// secrets per CPU-second.
//
// In TestManyProcesses, 8 processes make 128 writes (64 to one shared key)
// while they and the parent read the shared key: ~0.5 s in all, nothing
// lost or torn. TestKill kills a
// writer with SIGKILL after 1, 7, 16 and 30 acknowledged writes; every
// acknowledged key is there afterwards and the counters match the keys.
//
// # Options rejected
//
//   - A read-write handle kept open with its lock, even briefly to batch
//     writes: it shuts other processes out, and saves 0.1-0.3 ms of a write
//     that costs 0.5-2 ms of fsync. (The handle kept now releases its lock
//     after each commit.)
//   - Releasing the lock of a kept read-write handle between writes, as is
//     done for reads, without checking who wrote since: bbolt keeps the
//     free-page list of a read-write handle in memory, and another
//     process's commit makes it stale; the next write would reuse pages
//     still in use (TestWriterKeptAndRenewed). The handle is kept only
//     while the file's transaction id shows that no one else committed.
//   - A lock file beside the database, or a turnstile of byte-range locks,
//     to make waiting writers fair (see Caveats): a second file per vault,
//     or Linux-only OFD locks, for a problem measured as delay, not loss.
//   - For the idle hold (reader_unix.go), dropping the stat alone: the
//     path can come to name another file with no lock taken (its folder,
//     or a folder above, moved; the file renamed over), and the next read
//     would read the old file (TestIdleHoldSeesPathChanges).
//   - The watch read by its goroutine only, without the poll of each read
//     that uses a hold: a rename made just before a read may not have
//     reached the goroutine yet (TestReaderSeesOutsideChanges replaces the
//     file and reads at once).
//   - A hold kept for a time, or until the process idles: writers of other
//     processes poll for the lock and would find no gap while reads go on.
//   - A hold without the lease probe: a writer that opened the file before
//     the watch began, and waits for the lock, would be seen by nothing.
//
// # Caveats
//
//   - flock has no queue. A writer gets in at a moment when no process is
//     reading; readers that overlap without a gap would hold it off until
//     its deadline (ErrUnavailable). A read holds the lock for a few µs, so
//     gaps abound: in TestManyProcesses the parent reads in a tight loop,
//     and the run took 0.46-0.65 s against 0.42-0.73 s with the parent
//     idle (5 runs each, no race detector).
//   - flock is advisory and unreliable on network file systems: keep the
//     files on a local disk.
//   - A process stopped (SIGSTOP, a debugger) while it keeps an idle hold
//     keeps its lock: writers of other processes wait for it until their
//     deadlines, where without holds only a process stopped in the middle
//     of a read would.
//   - A file reached by two paths that are not the same after resolving
//     symbolic links (a hard link) gets two process-level locks; the file
//     lock still orders them, only slower.
package storage
