// Package testonly holds the switches that make the module's tests fast, in
// the manner of age's testOnly hooks: a cheap key derivation in place of
// Argon2id, a clock that a test moves by hand, and writes that are not
// flushed to the disk (NoSync); and ones that let a test
// stop a process at a commit, to kill it there (OnCommit), or act in the
// instant before a file's rename (OnRename) or a storage listing (OnList). The sandbox derives keys
// with Argon2id and reads the time with Now and AfterFunc (and, under a fake
// clock only, gives its guests Now and Sleep), and storage and the registry
// flush their writes when Sync says so; unless a test installs a
// switch, these are argon2.IDKey, time.Now, time.AfterFunc and always.
//
// Only _test.go files may call UseCheapKDF, UseCheapKDFFor, UseFakeClock,
// NoSync and ManyCacheEntries. Nothing else in the module calls them, so the linker
// leaves them, and the cheap
// derivation and the fake clock's code with them, out of every program:
// TestReleaseBinaryHasNoHooks builds cmd/sesame-engine and checks that their
// symbols are absent. A release build can therefore only ever derive with
// the parameters the vault asks for, read the real time, flush its
// writes, and keep no more compiled modules than the sandbox's bound. The sandbox
// has one switch of this kind, which needs wazero and so lives there:
// sandbox.ShareCompiledModules, whose code the same test looks for.
//
// A store whose password was set under the cheap derivation opens only
// under it: the vault still records the parameters it asked for, but the
// key that wraps its master key came from the cheap one. Tests that install
// it do so for the whole test process (in TestMain, and so in every copy of
// the test binary that it runs as sesame), and never read a store written
// by a release build.
package testonly

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// A kdfFunc derives a key of keyLen bytes from password and salt with the
// Argon2id parameters time, memory (KiB) and threads.
type kdfFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

var kdf atomic.Pointer[kdfFunc] // nil: argon2.IDKey

// Argon2id is argon2.IDKey, or the cheap derivation once a test has
// installed it.
func Argon2id(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if f := kdf.Load(); f != nil {
		return (*f)(password, salt, time, memory, threads, keyLen)
	}
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// UseCheapKDF makes Argon2id derive with the least parameters Argon2id
// allows (one pass over 8 KiB, one thread), whatever the caller asks for,
// for the rest of the process. Tests only: see the package comment.
func UseCheapKDF() {
	f := kdfFunc(cheapKDF)
	kdf.Store(&f)
}

// UseCheapKDFFor is UseCheapKDF until tb's test ends, for a test in a
// package whose other tests derive for real: one that unlocks again and
// again, or reads keys out of a store, where the derivation's cost is not
// what it checks. The switch is process-wide: the package's tests that run
// at the same time (parallel ones) derive cheaply too, so only a test that
// runs alone, as tests without t.Parallel do, may use it.
func UseCheapKDFFor(tb Cleaner) {
	f := kdfFunc(cheapKDF)
	old := kdf.Swap(&f)
	tb.Cleanup(func() { kdf.Store(old) })
}

// UseRealKDF gives Argon2id back its real derivation until tb's test ends,
// for a test that reads stores written under it (the fixtures of earlier
// releases). The derivation is argon2.IDKey, but remembered: a derivation
// asked for again with the same arguments, as the tests that read a
// fixture do when they check its records from outside the engine, unlock
// it, and open it again, gives the key it gave, without the 64 MiB and
// three passes again (about 0.4 s of CPU each).
func UseRealKDF(tb Cleaner) {
	r := &rememberedKDF{keys: map[string][]byte{}}
	f := kdfFunc(r.derive)
	old := kdf.Swap(&f)
	tb.Cleanup(func() { kdf.Store(old) })
}

// rememberedKDF is argon2.IDKey, remembering the keys it derived.
type rememberedKDF struct {
	mu   sync.Mutex
	keys map[string][]byte // by the arguments, encoded
}

func (r *rememberedKDF) derive(password, salt []byte, t, mem uint32, threads uint8, keyLen uint32) []byte {
	in := fmt.Sprintf("%q %q %d %d %d %d", password, salt, t, mem, threads, keyLen)
	r.mu.Lock()
	defer r.mu.Unlock() // one derivation at a time: none is asked for twice at once
	if k, ok := r.keys[in]; ok {
		return slices.Clone(k)
	}
	k := argon2.IDKey(password, salt, t, mem, threads, keyLen)
	r.keys[in] = slices.Clone(k)
	return k
}

// UseOverlappingKDF keeps the cheap derivation until tb's test ends, but
// makes each derivation wait until n of them are under way at once (or, for
// one left alone, whose partner derives no more, a fifth of a second), for a
// test whose point is what happens while derivations overlap: two
// password changes whose reads and writes interleave, first unlocks that
// race. The real derivation made them overlap by taking long, at a second
// of CPU each; meeting makes them overlap for nothing.
func UseOverlappingKDF(tb Cleaner, n int) {
	m := &meeting{n: n}
	f := kdfFunc(func(password, salt []byte, t, mem uint32, threads uint8, keyLen uint32) []byte {
		m.meet()
		return cheapKDF(password, salt, t, mem, threads, keyLen)
	})
	old := kdf.Swap(&f)
	tb.Cleanup(func() { kdf.Store(old) })
}

// meeting lets callers of meet through in groups of n.
type meeting struct {
	n       int
	mu      sync.Mutex
	arrived int
	met     chan struct{} // closed when the group waiting now is complete
}

// meet returns once n callers (this one included) have arrived since the
// last group went through, or after a fifth of a second alone.
func (m *meeting) meet() {
	m.mu.Lock()
	if m.met == nil {
		m.met = make(chan struct{})
	}
	met := m.met
	if m.arrived++; m.arrived == m.n {
		close(met)
		m.met, m.arrived = nil, 0
	}
	m.mu.Unlock()
	t := time.NewTimer(200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-met:
	case <-t.C:
		m.mu.Lock()
		if m.met == met { // still waiting: leave the group
			m.arrived--
		}
		m.mu.Unlock()
	}
}

// cheapKDF still depends on the password and the salt, so that a wrong
// password still fails to unwrap a key; it ignores the cost parameters.
func cheapKDF(password, salt []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
	return argon2.IDKey(password, salt, 1, 8, 1, keyLen)
}

// A Timer is what AfterFunc returns: Stop reports whether it stopped the
// timer before it ran, as time.Timer's does.
type Timer interface{ Stop() bool }

// A fake is what Now and AfterFunc ask once a test has installed one.
// Nothing but UseFakeClock makes one, so that no program but a test links
// the fake clock's code.
type fake interface {
	Now() time.Time
	afterFunc(d time.Duration, f func()) Timer
	advance(d time.Duration)
}

var clock atomic.Pointer[fake] // nil: the real time

// Now is time.Now, or the fake clock's time while a test runs one.
func Now() time.Time {
	if c := clock.Load(); c != nil {
		return (*c).Now()
	}
	return time.Now()
}

// AfterFunc is time.AfterFunc, or a timer of the fake clock, which runs f
// once Advance moves the clock d past the time of the call.
func AfterFunc(d time.Duration, f func()) Timer {
	if c := clock.Load(); c != nil {
		return (*c).afterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}

// Faked reports whether a test runs a fake clock: the sandbox then gives
// guests its time, and makes their sleeps move it (Sleep).
func Faked() bool { return clock.Load() != nil }

// Sleep is time.Sleep, or, on a fake clock, an Advance by d at once.
func Sleep(d time.Duration) {
	if c := clock.Load(); c != nil {
		(*c).advance(d)
		return
	}
	time.Sleep(d)
}

// Cleaner is the part of testing.TB that UseFakeClock needs (this package
// does not import testing, which would come along into every program).
type Cleaner interface{ Cleanup(func()) }

// UseFakeClock makes Now and AfterFunc follow a fake clock that starts at
// the real time and moves only when Advance moves it, until tb's test ends.
// The test must not run in parallel with others that read the time through
// this package. Tests only: see the package comment.
func UseFakeClock(tb Cleaner) *FakeClock {
	c := &FakeClock{now: time.Now()}
	f := fake(c)
	if !clock.CompareAndSwap(nil, &f) {
		panic("testonly: a fake clock is already in use")
	}
	tb.Cleanup(func() { clock.Store(nil) })
	return c
}

// A FakeClock is a clock that moves only by Advance.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *FakeClock
	when time.Time
	f    func()
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d, and then runs, in this goroutine
// and in the order of their times, the functions of the timers that are
// due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, left []*fakeTimer
	for _, t := range c.timers {
		if t.when.After(c.now) {
			left = append(left, t)
		} else {
			due = append(due, t)
		}
	}
	c.timers = left
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.when.Compare(b.when) })
	for _, t := range due {
		t.f()
	}
}

func (c *FakeClock) advance(d time.Duration) { c.Advance(d) }

func (c *FakeClock) afterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, when: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop removes the timer; it reports whether it had not run yet.
func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

var listHook atomic.Pointer[func(prefix []byte)] // nil: none

// BeforeList calls the function a test installed with OnList, if any. The
// sandbox calls it when a vault's call asks for a page of its storage's
// keys, before it reads them and while it holds no lock of the storage:
// the instant between two reads of one call, which a test can fill with
// another process's writes instead of hoping that the scheduler does.
func BeforeList(prefix []byte) {
	if f := listHook.Load(); f != nil {
		(*f)(prefix)
	}
}

// OnList makes BeforeList call f until tb's test ends. f runs in the
// goroutine of the vault's call; it sees every listing of every vault of
// the process, and the listings of the calls it makes itself. Tests only:
// see the package comment.
func OnList(tb Cleaner, f func(prefix []byte)) {
	if !listHook.CompareAndSwap(nil, &f) {
		panic("testonly: a list hook is already in use")
	}
	tb.Cleanup(func() { listHook.Store(nil) })
}

var renameHook atomic.Pointer[func(dir, name string)] // nil: none

// BeforeRename calls the function a test installed with OnRename, if any.
// The directory mount calls it just before it renames a file over name, or
// exchanges a file with it, in the granted folder dir: the instant in which
// another program's save would race the vault's, which a test can then
// fill instead of hoping a sleep lands there.
func BeforeRename(dir, name string) {
	if f := renameHook.Load(); f != nil {
		(*f)(dir, name)
	}
}

// OnRename makes BeforeRename call f until tb's test ends. f runs in the
// goroutine of the vault's call; it sees every rename of every vault of
// the process, and should look at dir. Tests only: see the package
// comment.
func OnRename(tb Cleaner, f func(dir, name string)) {
	if !renameHook.CompareAndSwap(nil, &f) {
		panic("testonly: a rename hook is already in use")
	}
	tb.Cleanup(func() { renameHook.Store(nil) })
}

// commitHook is what AtCommit calls; nil: nothing.
var commitHook atomic.Pointer[func(committed bool)]

// AtCommit calls the hook a test installed with OnCommit, if any: the engine
// calls it just before (false) and just after (true) it commits the writes
// of a vault call that must commit whole (a store's upgrade, a rekey).
func AtCommit(committed bool) {
	if f := commitHook.Load(); f != nil {
		(*f)(committed)
	}
}

// OnCommit installs f as the hook of AtCommit for the rest of the process:
// a test's helper process blocks in it, and the test kills the process
// there. Tests only: see the package comment.
func OnCommit(f func(committed bool)) { commitHook.Store(&f) }

// syncHook is what Sync asks once a test has installed NoSync; nil: sync.
var syncHook atomic.Pointer[func() bool]

// Sync reports whether storage must flush a write to the disk (fdatasync,
// fsync of a folder) before it reports it done: always, unless a test
// process has installed NoSync.
func Sync() bool {
	if f := syncHook.Load(); f != nil {
		return (*f)()
	}
	return true
}

// NoSync makes Sync report false for the rest of the process, in a test
// process whose tests do not test what survives a crash of the machine:
// its stores and files are then written without a flush to the disk,
// which only a crash of the machine (not of the process: a process killed
// mid-write, as the crash tests kill theirs, leaves its writes in the
// kernel's page cache) would tell. Tests only: see the package comment.
func NoSync() {
	f := noSync
	syncHook.Store(&f)
}

func noSync() bool { return false }

// entriesHook is what CacheEntries asks once a test has installed
// ManyCacheEntries; nil: the caller's bound.
var entriesHook atomic.Pointer[func(n int) int]

// CacheEntries returns how many entries a compile cache folder keeps: n,
// the sandbox's bound, unless a test process has installed
// ManyCacheEntries.
func CacheEntries(n int) int {
	if f := entriesHook.Load(); f != nil {
		return (*f)(n)
	}
	return n
}

// ManyCacheEntries makes CacheEntries answer at least TestCacheEntries for
// the rest of the process, in a test process whose engines compile into
// the folder that the tests of the engine, the sandbox and the agent share
// (in os.TempDir, with one key; every checkout and run on the machine uses
// it). The sandbox's bound of 64 is a user's: a few extensions, each under
// a grant or two. One run of those tests compiles 70 modules (the engine's
// 43, the sandbox's 27 more: Go and C guests under several memory grants,
// and the hostile tests' WAT), so each check pruned the oldest of a run's
// own entries, and a run on a warm cache compiled about 40 modules again,
// the Go guests among them (10 s of the engine's 45 s of CPU). Tests only:
// see the package comment.
func ManyCacheEntries() {
	f := manyCacheEntries
	entriesHook.Store(&f)
}

// TestCacheEntries is the least bound that ManyCacheEntries gives: room for
// the tests' modules of a few checkouts or commits whose guests differ.
const TestCacheEntries = 256

func manyCacheEntries(n int) int { return max(n, TestCacheEntries) }
