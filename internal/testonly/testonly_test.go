package testonly

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/sesamehq/sesame/internal/testwasm"
)

// hooks are the symbols of the code that only tests may link: what the
// installers install (they themselves may be inlined where they are
// called; what they install is a function value or a type's methods, and
// so has symbols wherever it is used).
var hooks = []string{
	"github.com/sesamehq/sesame/internal/testonly.cheapKDF",
	"github.com/sesamehq/sesame/internal/testonly.(*FakeClock).Now",
	"github.com/sesamehq/sesame/internal/testonly.(*FakeClock).Advance",
	"github.com/sesamehq/sesame/internal/testonly.(*FakeClock).afterFunc",
	"github.com/sesamehq/sesame/internal/testonly.(*FakeClock).advance",
	"github.com/sesamehq/sesame/internal/testonly.noSync",
	"github.com/sesamehq/sesame/internal/testonly.(*rememberedKDF).derive",
	"github.com/sesamehq/sesame/internal/testonly.manyCacheEntries",
	// sandbox.ShareCompiledModules installs these method values.
	"github.com/sesamehq/sesame/engine/internal/sandbox.(*processCache).cacheOf",
	"github.com/sesamehq/sesame/engine/internal/sandbox.(*keeper).get",
	"github.com/sesamehq/sesame/engine/internal/sandbox.(*keeper).keep",
	"github.com/sesamehq/sesame/engine/internal/sandbox.(*keeper).turn",
}

// TestReleaseBinaryHasNoHooks builds sesame-engine, the program of the
// release that links the engine (sesame links none: cmd/sesame's
// TestBuildLinksNothingUnused), as `make build` does (but for -trimpath,
// which changes no symbol and would compile every package again instead of
// reusing the tests' builds) and checks that none of the hooks is in it, so that no release build can derive
// keys cheaply, read a fake time, or load a module compiled by another
// Host without the cache's checks. The same check on the test binaries of
// this package and of the sandbox (which cannot be imported from here),
// which link them all (their tests call them), must find them: it shows
// that the check can see them. (They are built again: the one running has
// no symbol table, which go test strips.) All are linked without DWARF
// (-ldflags=-w), which the linker takes much of its time to write and
// which leaves the symbol table as it is. go test -c runs no vet
// (-vet=off, as make test): vet's facts about every package these
// binaries import, the standard library's too, cost this test 20-25 s of
// CPU on an empty build cache (31-37 s, 11 s without), and make check
// vets.
func TestReleaseBinaryHasNoHooks(t *testing.T) {
	root, dir := testwasm.ModuleRoot(t), t.TempDir()
	bin := filepath.Join(dir, "sesame-engine")
	goCmd(t, root, "test", "-c", "-vet=off", "-ldflags=-w", "-o", dir+string(filepath.Separator), "./internal/testonly", "./engine/internal/sandbox")
	controls := append(symbols(t, filepath.Join(dir, "testonly.test")), symbols(t, filepath.Join(dir, "sandbox.test"))...)
	if m := missing(controls); len(m) != 0 {
		t.Fatalf("the test binaries lack %q: the check would see nothing", m)
	}
	goCmd(t, root, "build", "-tags", "urfave_cli_no_docs", "-ldflags=-w", "-o", bin, "./cmd/sesame-engine")
	got := symbols(t, bin)
	if !slices.Contains(got, "github.com/sesamehq/sesame/engine/internal/sandbox.hostKDF") {
		t.Fatal("sesame-engine has no sandbox.hostKDF: the check looks at the wrong names")
	}
	for _, h := range hooks {
		if slices.Contains(got, h) {
			t.Errorf("the sesame-engine binary links %s, which only tests may", h)
		}
	}
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// symbols lists the names in the symbol table of the program at path,
// read with debug/elf (debug/macho on a Mac). Not with go tool nm: since Go
// 1.25 the go command builds nm from source on first use, which on an empty
// build cache cost this test 29 s of CPU, three quarters of its package's.
func symbols(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		syms, err := f.Symbols()
		if err != nil {
			t.Fatalf("symbol table of %s: %v", path, err)
		}
		for _, s := range syms {
			names = append(names, s.Name)
		}
		return names
	}
	f, err := macho.Open(path)
	if err != nil {
		t.Fatalf("%s is neither an ELF nor a Mach-O program: %v", path, err)
	}
	defer f.Close()
	if f.Symtab == nil {
		t.Fatalf("%s has no symbol table", path)
	}
	for _, s := range f.Symtab.Syms {
		names = append(names, strings.TrimPrefix(s.Name, "_")) // Mach-O's C prefix
	}
	return names
}

func missing(got []string) []string {
	var m []string
	for _, h := range hooks {
		if !slices.Contains(got, h) {
			m = append(m, h)
		}
	}
	return m
}

// TestArgon2id: without the hook, Argon2id is argon2.IDKey with the
// parameters asked for; with it, a cheap derivation that still depends on
// the password and the salt.
func TestArgon2id(t *testing.T) {
	t.Cleanup(func() { kdf.Store(nil) })
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	real := argon2.IDKey(pw, salt, 2, 64, 2, 32)
	if got := Argon2id(pw, salt, 2, 64, 2, 32); !bytes.Equal(got, real) {
		t.Fatal("Argon2id without the hook is not argon2.IDKey")
	}
	UseCheapKDF()
	cheap := Argon2id(pw, salt, 2, 64, 2, 32)
	switch {
	case bytes.Equal(cheap, real):
		t.Fatal("the cheap derivation gives the real key")
	case len(cheap) != 32:
		t.Fatalf("the cheap key has %d bytes, want 32", len(cheap))
	case bytes.Equal(Argon2id([]byte("wrong"), salt, 2, 64, 2, 32), cheap):
		t.Fatal("the cheap derivation ignores the password")
	case bytes.Equal(Argon2id(pw, []byte("fedcba9876543210"), 2, 64, 2, 32), cheap):
		t.Fatal("the cheap derivation ignores the salt")
	}
}

// TestCheapKDFFor: UseCheapKDFFor installs the cheap derivation for one
// test, and Argon2id is argon2.IDKey again once that test ends.
func TestCheapKDFFor(t *testing.T) {
	pw, salt := []byte("correct horse battery staple"), []byte("0123456789abcdef")
	real := argon2.IDKey(pw, salt, 2, 64, 2, 32)
	t.Run("cheap", func(t *testing.T) {
		UseCheapKDFFor(t)
		if bytes.Equal(Argon2id(pw, salt, 2, 64, 2, 32), real) {
			t.Fatal("under UseCheapKDFFor, Argon2id gives the real key")
		}
	})
	if !bytes.Equal(Argon2id(pw, salt, 2, 64, 2, 32), real) {
		t.Fatal("after the test that used UseCheapKDFFor, Argon2id is not argon2.IDKey")
	}
}

// TestFakeClock: Now, AfterFunc and Sleep follow the fake clock until the
// test ends, timers run when Advance passes their time, in order, a
// stopped one never runs, and Sleep moves the clock at once.
func TestFakeClock(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		c := UseFakeClock(t)
		start := Now()
		var ran []string
		AfterFunc(2*time.Second, func() { ran = append(ran, "two") })
		AfterFunc(time.Second, func() { ran = append(ran, "one") })
		stopped := AfterFunc(time.Second, func() { ran = append(ran, "stopped") })
		if !stopped.Stop() {
			t.Error("Stop of a pending timer reports false")
		}
		c.Advance(999 * time.Millisecond)
		if len(ran) != 0 || Now().Sub(start) != 999*time.Millisecond {
			t.Fatalf("after 999 ms: ran %q, clock moved %v", ran, Now().Sub(start))
		}
		c.Advance(5 * time.Second)
		if !slices.Equal(ran, []string{"one", "two"}) {
			t.Fatalf("after 6 s: ran %q, want one, two", ran)
		}
		if stopped.Stop() {
			t.Error("Stop of a stopped timer reports true")
		}
		if !Faked() {
			t.Error("Faked reports false under a fake clock")
		}
		Sleep(time.Hour) // at once
		if d := Now().Sub(start); d != time.Hour+6*time.Second-time.Millisecond {
			t.Errorf("after a sleep of an hour, the clock moved %v", d)
		}
	})
	if Faked() {
		t.Error("Faked reports true after the test")
	}
	// The test's end gave the real clock back.
	if d := time.Since(Now()); d < -time.Minute || d > time.Minute {
		t.Errorf("after the test, Now is %v off the real time", d)
	}
}

// TestMeetingLetsGroupsThrough: callers of meet wait for one another in
// groups of n, and one left alone goes on after a while.
func TestMeetingLetsGroupsThrough(t *testing.T) {
	m := &meeting{n: 2}
	var second atomic.Bool
	done := make(chan bool)
	go func() {
		m.meet()
		done <- second.Load()
	}()
	for !m.waiting(1) {
		runtime.Gosched()
	}
	second.Store(true)
	m.meet()
	if !<-done {
		t.Fatal("the first caller went through before the second arrived")
	}
	m.meet() // alone: through after a while
	if !m.waiting(0) {
		t.Fatal("a lone caller is still counted after it left")
	}
}

// waiting reports whether k callers wait now.
func (m *meeting) waiting(k int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.arrived == k
}

// TestNoSync: Sync reports true until NoSync, and false after it.
func TestNoSync(t *testing.T) {
	t.Cleanup(func() { syncHook.Store(nil) })
	if !Sync() {
		t.Fatal("Sync reports false with no switch installed")
	}
	NoSync()
	if Sync() {
		t.Fatal("Sync reports true after NoSync")
	}
}

// TestManyCacheEntries: CacheEntries answers the caller's bound until
// ManyCacheEntries, and at least TestCacheEntries after it (a larger bound
// stays).
func TestManyCacheEntries(t *testing.T) {
	t.Cleanup(func() { entriesHook.Store(nil) })
	if n := CacheEntries(64); n != 64 {
		t.Fatalf("CacheEntries(64) = %d with no switch installed", n)
	}
	ManyCacheEntries()
	if n := CacheEntries(64); n != TestCacheEntries {
		t.Errorf("CacheEntries(64) = %d after ManyCacheEntries, want %d", n, TestCacheEntries)
	}
	if n := CacheEntries(2 * TestCacheEntries); n != 2*TestCacheEntries {
		t.Errorf("CacheEntries(%d) = %d after ManyCacheEntries", 2*TestCacheEntries, n)
	}
}

// TestUseRealKDF: under UseRealKDF, Argon2id is argon2.IDKey, asked again
// with the same arguments too (a remembered key, not the caller's copy),
// and another salt gives another key; the derivation before it comes back
// when its test ends.
func TestUseRealKDF(t *testing.T) {
	before := kdf.Load()
	t.Run("real", func(t *testing.T) {
		UseRealKDF(t)
		pw, salt := []byte("password"), []byte("saltsaltsaltsalt")
		want := argon2.IDKey(pw, salt, 1, 64, 1, 32)
		first := Argon2id(pw, salt, 1, 64, 1, 32)
		clear(first) // what a caller does with its key
		if again := Argon2id(pw, salt, 1, 64, 1, 32); !bytes.Equal(again, want) {
			t.Errorf("derived again: %x, want argon2.IDKey's %x", again, want)
		}
		if other := Argon2id(pw, []byte("another salt 16b"), 1, 64, 1, 32); bytes.Equal(other, want) {
			t.Error("another salt gave the same key")
		}
	})
	if kdf.Load() != before {
		t.Error("UseRealKDF's derivation stayed after its test")
	}
}
