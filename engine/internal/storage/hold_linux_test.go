//go:build linux && !android

package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sesamehq/sesame/engine/internal/inotify"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// needLeases skips a test of idle holds where the kernel grants no lease
// to the user on a file of theirs (leases disabled), or the tests' folder
// is not on a local disk: no hold is kept.
func needLeases(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if !onLocalDisk(dir) {
		t.Skipf("%s is not on a file system known to be local: reads keep no lock between calls", dir)
	}
	path := filepath.Join(dir, "probe")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !noWriters(f) {
		t.Skip("no file leases here: reads keep no lock between calls")
	}
}

// sharedFlock reports whether some process holds a shared flock on the
// file at path, as /proc/locks lists it.
func sharedFlock(t *testing.T, path string) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Skip(err)
	}
	ino := fmt.Sprintf(":%d ", fi.Sys().(*syscall.Stat_t).Ino)
	for line := range strings.Lines(string(locks)) {
		if f := strings.Fields(line); len(f) > 5 && f[1] == "FLOCK" && f[3] == "READ" && strings.Contains(line, ino) {
			return true
		}
	}
	return false
}

// TestIdleHold: a read keeps the file's shared lock once it returns (so
// the next read costs no flock, stat and unlock), and a writer of another
// process, which opens the file and then waits for the lock, gets it: the
// watch sees the open and the hold is given up. Without the watch's
// goroutine the child would wait until its deadline.
func TestIdleHold(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	s.lock.closeWriter() // as writerLinger after the write would
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if !sharedFlock(t, s.Path()) {
		t.Fatal("no shared lock held after a read: reads keep no idle hold")
	}

	cmd, stdin, out := helper(t, "add", s.Path(), "7", "0")
	io.WriteString(stdin, "go\n")
	if !out.Scan() || out.Text() != "won" {
		t.Fatalf("the other process's write: %q, %v", out.Text(), out.Err())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, []byte("k0")); err != nil || string(v) != "7" {
		t.Fatalf("Get after the other process's write = %q, %v; want 7", v, err)
	}
}

// TestNoIdleHold: a Store opened with NoIdleHold keeps no lock after a read
// and watches nothing; while another Store of the same file in the process
// allows a hold, the shared handle keeps one for both.
func TestNoIdleHold(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{NoIdleHold: true})
	mustSet(t, s, "k", "1")
	s.lock.closeWriter() // as writerLinger after the write would
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if sharedFlock(t, s.Path()) || s.lock.reader.watched {
		t.Fatalf("a Store with NoIdleHold left the file locked (%v) or watched (%v) after a read", sharedFlock(t, s.Path()), s.lock.reader.watched)
	}

	both, err := Open(s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	s.lock.reader.shut() // the next read opens the handle again, now that one Store allows a hold
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if !sharedFlock(t, s.Path()) {
		t.Fatal("no idle hold while a Store of the file allows one")
	}
}

// TestIdleHoldNotKeptForWriter: a writer that opened the file before this
// process's reads began (so the watch never saw it open) finds the lock
// free after a read: the read keeps no hold while someone has the file
// open for writing.
func TestIdleHoldNotKeptForWriter(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	s.Close()
	writer, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	s, err = Open(s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := syscall.Flock(int(writer.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the waiting writer's lock after a read: %v; want it free", err)
	}
}

// TestIdleHoldSeesPathChanges: under an idle hold no writer commits, but
// the path can still come to name another file without any lock: the
// file's folder moved away and another put in its place, or the file
// replaced by a rename. The next read reads the file now at the path.
func TestIdleHoldSeesPathChanges(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	path := filepath.Join(root, "vaults", "v.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(want string) {
		t.Helper()
		if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != want {
			t.Fatalf("Get = %q, %v; want %q", v, err, want)
		}
	}
	mustSet(t, s, "k", "1")
	get("1")

	// The folder moves; another takes its name.
	if err := os.Rename(filepath.Join(root, "vaults"), filepath.Join(root, "old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "vaults"), 0o700); err != nil {
		t.Fatal(err)
	}
	fillStore(t, path, func(put func(k, v string)) { put("k", "2") })
	get("2")

	// A folder above moves; another takes its name.
	if err := os.Rename(root, root+".old"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root + ".old") })
	if err := os.MkdirAll(filepath.Join(root, "vaults"), 0o700); err != nil {
		t.Fatal(err)
	}
	fillStore(t, path, func(put func(k, v string)) { put("k", "3") })
	get("3")

	// The file is replaced by a rename.
	fillStore(t, path+".new", func(put func(k, v string)) { put("k", "4") })
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	get("4")
}

// TestWriterLingers: the read-write handle a write keeps is closed once no
// write came for writerLinger, and reads keep their idle hold again. While
// it is open the file is open for writing, which rules holds out (for every
// process); a handle kept for ever after one write would have ruled them
// out for good in a long-lived process such as the agent.
func TestWriterLingers(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	if _, err := s.Get(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if writerOpen(t, s) && sharedFlock(t, s.Path()) {
		t.Fatal("a read kept its hold while this process had the file open for writing")
	}
	for deadline := time.Now().Add(10 * time.Second); writerOpen(t, s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the read-write handle is still open %s after the last write (linger %s)", 10*time.Second, writerLinger)
		}
	}
	if _, err := s.Get(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if !sharedFlock(t, s.Path()) {
		t.Fatal("no idle hold after the read-write handle was closed")
	}
}

// writerOpen reports whether s's path has its read-write handle open.
func writerOpen(t *testing.T, s *Store) bool {
	t.Helper()
	if err := s.lock.lock(context.Background(), true, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	defer s.lock.unlock(true)
	return s.lock.writes.fileID() != nil
}

// TestHoldOnlyOnLocalDisks: no idle hold on a network file system, where
// inotify sees no other machine's writer (onLocalDisk); the tests' own
// folder is on a local one, or the tests of holds would test nothing.
func TestHoldOnlyOnLocalDisks(t *testing.T) {
	for _, tt := range []struct {
		name  string
		magic int64
		want  bool
	}{
		{"ext4", unix.EXT4_SUPER_MAGIC, true},
		{"xfs", unix.XFS_SUPER_MAGIC, true},
		{"tmpfs", unix.TMPFS_MAGIC, true},
		{"nfs", unix.NFS_SUPER_MAGIC, false},
		{"smb2", unix.SMB2_SUPER_MAGIC, false},
		{"cifs", unix.CIFS_SUPER_MAGIC, false},
		{"fuse", unix.FUSE_SUPER_MAGIC, false},
		{"ceph", unix.CEPH_SUPER_MAGIC, false},
		{"9p", unix.V9FS_MAGIC, false},
	} {
		if got := localFS(tt.magic); got != tt.want {
			t.Errorf("localFS(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if dir := t.TempDir(); !onLocalDisk(dir) {
		t.Skipf("%s is not on a file system known to be local: holds are not tested here", dir)
	}
}

// TestHoldUsesOperationsPoll: a read under an operation whose poll of the
// inotify instance came after it began (the engine's freshness check,
// inotify.Begin) uses its idle hold without a poll of its own, so a read
// costs no system call; a read under any other context polls. The read
// system calls are counted by the kernel (/proc/self/io).
func TestHoldUsesOperationsPoll(t *testing.T) {
	needLeases(t)
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	s.lock.closeWriter() // as writerLinger after the write would
	reads := func(ctx context.Context) uint64 {
		t.Helper()
		before := testwasm.ReadCalls(t)
		for range 100 {
			if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "1" {
				t.Fatalf("Get = %q, %v", v, err)
			}
		}
		return testwasm.ReadCalls(t) - before
	}
	reads(context.Background()) // the first read takes the lock and keeps it
	if !sharedFlock(t, s.Path()) {
		t.Fatal("no shared lock held after a read: reads keep no idle hold")
	}
	if n := reads(context.Background()); n < 100 {
		t.Fatalf("100 reads with no operation made %d read system calls; want a poll each", n)
	}
	ctx := inotify.Begin(context.Background())
	inotify.Poll(nil)
	if n := reads(ctx); n >= 10 {
		t.Fatalf("100 reads under an operation that polled made %d read system calls; want none but the count's", n)
	}
}

// TestHoldSeesChangeBeforeOperation: a read that uses its hold on the
// strength of its operation's poll still reads the file that replaced its
// own before the operation began: the poll counted the rename for the
// hold. (A change after the operation's poll began is concurrent with
// the operation, which may read either file.)
func TestHoldSeesChangeBeforeOperation(t *testing.T) {
	needLeases(t)
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	s.lock.closeWriter()
	if v, err := s.Get(context.Background(), []byte("k")); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	fillStore(t, s.Path()+".new", func(put func(k, v string)) { put("k", "2") })
	if err := os.Rename(s.Path()+".new", s.Path()); err != nil {
		t.Fatal(err)
	}
	ctx := inotify.Begin(context.Background())
	inotify.Poll(nil)
	if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != "2" {
		t.Fatalf("Get after the file was replaced = %q, %v; want 2", v, err)
	}
}

// TestIdleHoldKeepsTransaction: the read that takes an idle hold over
// uses the read transaction the hold kept (its buckets opened, its cursor
// made) instead of beginning one: under the hold the file is the one that
// transaction reads. A write of the process ends it: the next read sees
// the write.
func TestIdleHoldKeepsTransaction(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "1")
	s.lock.closeWriter()
	get := func(want string) {
		t.Helper()
		if v, err := s.Get(ctx, []byte("k")); err != nil || string(v) != want {
			t.Fatalf("Get = %q, %v; want %q", v, err, want)
		}
	}
	get("1")
	begun := s.lock.reader.db.Stats().TxN
	for range 10 {
		get("1")
	}
	if n := s.lock.reader.db.Stats().TxN - begun; n != 0 {
		t.Fatalf("10 reads under an idle hold began %d read transactions; want 0", n)
	}
	mustSet(t, s, "k", "2")
	get("2")
}

// TestReadsWhileWriting: while this process keeps its read-write handle
// open (an import's batch being prepared), reads keep no idle hold, so each
// takes the flock; but one that follows a check with nothing counted by the
// watch since neither stats the path nor probes for a lease, which the
// kernel refuses while the file is open for writing. Another process's
// write, and a file renamed over the path, are still seen, by a batch and
// outside one.
func TestReadsWhileWriting(t *testing.T) {
	needLeases(t)
	ctx := context.Background()
	s := openTest(t, Options{})
	fill := s.Batch()
	for i := range 100 {
		if err := fill.Set(ctx, fmt.Appendf(nil, "k%d", i), []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := fill.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	keepWriter(t, s)
	stats, probes := countReadChecks(t)

	b := s.Batch()
	defer b.Discard()
	get := func(g interface {
		Get(context.Context, []byte) ([]byte, error)
	}, key, want string) {
		t.Helper()
		if v, err := g.Get(ctx, []byte(key)); err != nil || string(v) != want {
			t.Fatalf("Get(%s) = %q, %v; want %q", key, v, err, want)
		}
	}
	get(b, "k0", "1") // counts the commit's events, and checks the file
	*stats, *probes = 0, 0
	for i := 1; i < 100; i++ {
		get(b, fmt.Sprintf("k%d", i), "1")
	}
	if *stats != 0 || *probes != 0 {
		t.Errorf("99 reads with the read-write handle open and nothing changed made %d stats and %d lease probes; want none", *stats, *probes)
	}
	if !writerOpen(t, s) {
		t.Fatal("the read-write handle was closed: the reads tested nothing")
	}

	cmd, stdin, out := helper(t, "add", s.Path(), "7", "new")
	io.WriteString(stdin, "go\n")
	if !out.Scan() || out.Text() != "won" {
		t.Fatalf("the other process's write: %q, %v", out.Text(), out.Err())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	get(b, "knew", "7")
	get(s, "knew", "7")

	fillStore(t, s.Path()+".new", func(put func(k, v string)) { put("knew", "8") })
	if err := os.Rename(s.Path()+".new", s.Path()); err != nil {
		t.Fatal(err)
	}
	get(s, "knew", "8")
}

// keepWriter keeps s's read-write handle open until s closes: its linger
// no longer closes it.
func keepWriter(t *testing.T, s *Store) {
	t.Helper()
	if err := s.lock.lock(context.Background(), true, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	defer s.lock.unlock(true)
	s.lock.linger.Stop()
}

// countReadChecks counts the stats of the path and the lease probes that
// reads make, until the end of t.
func countReadChecks(t *testing.T) (stats, probes *int) {
	stats, probes = new(int), new(int)
	stat, probe := statPath, probeWriters
	t.Cleanup(func() { statPath, probeWriters = stat, probe })
	statPath = func(path string) (os.FileInfo, error) {
		*stats++
		return stat(path)
	}
	probeWriters = func(f *os.File) bool {
		*probes++
		return probe(f)
	}
	return stats, probes
}
