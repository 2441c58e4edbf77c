package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/stress"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// Many sesame processes on one vault and one registry. Each test runs the
// sesame command as real processes: the copy of this test binary that
// testscript.Main puts first in $PATH, which TestMain turns into sesame.
// SESAME_STRESS=1 (make stress) raises the counts (stress.Count).

// cliEnv is one user's machine: empty XDG folders, the shared compile
// cache, no agent.
type cliEnv struct {
	t   *testing.T
	exe string
	dir string
	env []string
	seq atomic.Int64 // orders the start and end of processes
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	if _, ok := extensions.Lookup("secretstore"); !ok {
		t.Skip("the builtin secretstore extension is not embedded")
	}
	exe := sesameBinary(t)
	dir := t.TempDir()
	cache, err := testCache(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cliEnv{t: t, exe: exe, dir: dir}
	c.env = append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+cache,
		"SESAME_CONFIG=",
		"SESAME_AGENT=off",
		"GORACE="+goRace(),
	)
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	return c
}

// result is one finished sesame process.
type result struct {
	args           []string
	stdout, stderr string
	code           int // exit status; -1 when it did not exit
	start, end     int64
}

func (r result) String() string {
	return fmt.Sprintf("sesame %s: exit %d\n%s", strings.Join(r.args, " "), r.code, r.stderr)
}

// run runs sesame with args and stdin, and waits for it.
func (c *cliEnv) run(stdin string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.exe, args...)
	cmd.Env = c.env
	cmd.Dir = c.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := result{args: args, start: c.seq.Add(1)}
	err := cmd.Run()
	r.end = c.seq.Add(1)
	r.stdout, r.stderr = out.String(), errb.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		c.t.Errorf("sesame %v: %v", args, err)
		r.code = -1
	}
	if strings.Contains(r.stderr, "DATA RACE") {
		c.t.Errorf("the race detector reported:\n%s", r)
	}
	return r
}

// engine opens an engine in this process over the machine's user registry.
func (c *cliEnv) engine() *engine.Engine {
	c.t.Helper()
	cache, _ := testCache(filepath.Join(c.dir, "config"))
	e, err := engine.Open(context.Background(), filepath.Join(c.dir, "config", "sesame", "vaults.toml"), &engine.Options{
		DataDir: filepath.Join(c.dir, "data", "sesame"), CacheDir: cache,
		CacheKey: filepath.Join(c.dir, "config", "sesame", "cache.key"),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { e.Close() })
	return e
}

// write is one set of a name: value, and the process that wrote it.
type write struct {
	name, value string
	r           result
}

// read is one get of a name.
type read struct {
	name string
	r    result
}

// TestStressCLIWriters runs 8 lanes of sesame processes at once on a
// machine that has no vault yet, so that the first ones also race to create
// the registry and the store. Each lane sets its own two names (overwriting
// them), sets two names all lanes share, and reads the shared names. Every
// process must succeed; every read must see a whole value written to that
// name, and no value older than one whose write ended before the read
// began; afterwards every name holds the last value written to it (for the
// shared names: a value no acknowledged write strictly followed).
func TestStressCLIWriters(t *testing.T) {
	c := newCLIEnv(t)
	const lanes = 8
	ops := stress.Count(2, 30)
	var (
		mu     sync.Mutex
		writes []write
		reads  []read
		wg     sync.WaitGroup
	)
	for lane := range lanes {
		wg.Go(func() {
			for k := lane % 3; k < lane%3+ops; k++ {
				switch k % 3 {
				case 0, 1:
					name := fmt.Sprintf("own-%d-%d", lane, k/3%2)
					if k%3 == 1 {
						name = fmt.Sprintf("shared-%d", k%2)
					}
					value := stress.Value(name, lane*1000+k)
					r := c.run(value, "set", name, "--stdin")
					mu.Lock()
					writes = append(writes, write{name, value, r})
					mu.Unlock()
				case 2:
					name := fmt.Sprintf("shared-%d", k/3%2)
					r := c.run("", "get", name, "--as-plain-text")
					mu.Lock()
					reads = append(reads, read{name, r})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	checkStress(t, c.engine(), "LocalStore", writes, reads)
}

// checkStress checks the writes and reads of a stress test, then what the
// vault holds.
func checkStress(t *testing.T, e *engine.Engine, vault string, writes []write, reads []read) {
	t.Helper()
	byName := map[string][]write{}
	for _, w := range writes {
		if w.r.code != 0 {
			t.Errorf("a write failed: %s", w.r)
			continue
		}
		if w.r.stdout != "" {
			t.Errorf("set printed %q", w.r.stdout)
		}
		byName[w.name] = append(byName[w.name], w)
	}
	// superseded reports whether an acknowledged write of name began after
	// w ended and ended before the moment at.
	superseded := func(w write, at int64) bool {
		for _, o := range byName[w.name] {
			if o.r.start > w.r.end && o.r.end < at {
				return true
			}
		}
		return false
	}
	find := func(name, value string) (write, bool) {
		for _, w := range byName[name] {
			if w.value == value {
				return w, true
			}
		}
		return write{}, false
	}
	for _, rd := range reads {
		if rd.r.code != 0 {
			// Not found is right only before any write of the name ended.
			for _, w := range byName[rd.name] {
				if w.r.end < rd.r.start {
					t.Errorf("read of %s failed after the write of %s ended: %s", rd.name, w.value[:20], rd.r)
					break
				}
			}
			if !strings.Contains(rd.r.stderr, "secret not found") {
				t.Errorf("a read failed: %s", rd.r)
			}
			continue
		}
		v, ok := strings.CutSuffix(rd.r.stdout, "\n")
		if !ok || !stress.Check(rd.name, v) {
			t.Errorf("torn read of %s: %q", rd.name, rd.r.stdout)
			continue
		}
		w, ok := find(rd.name, v)
		if !ok {
			t.Errorf("read of %s saw a value nobody wrote: %q", rd.name, v)
			continue
		}
		if superseded(w, rd.r.start) {
			t.Errorf("stale read of %s: %q was overwritten before the read began", rd.name, v)
		}
	}
	for name := range byName {
		s, err := e.Get(context.Background(), engine.GetRequest{Name: name, Vault: vault})
		if err != nil {
			t.Errorf("acknowledged %s: %v", name, err)
			continue
		}
		v, _ := s.Value.(string)
		w, ok := find(name, v)
		switch {
		case !ok:
			t.Errorf("%s holds %.40q, which no acknowledged write wrote", name, v)
		case superseded(w, 1<<62):
			t.Errorf("%s holds %.40q, overwritten by a later acknowledged write: lost", name, v)
		}
	}
	infos, err := e.Info(context.Background(), engine.InfoRequest{Pattern: "*", Vault: vault})
	if err != nil || len(infos) != len(byName) {
		t.Errorf("the vault lists %d secrets (%v), want %d", len(infos), err, len(byName))
	}
	t.Logf("%d writes and %d reads by separate processes", len(writes), len(reads))
}

// TestStressCLIRegister runs sesame vault register and unregister from 8
// processes at once against one registry: no registration is lost, and no
// removed one comes back. The vaults are examples/wat-vault, whose check
// (register loads the extension while it holds the registry's lock) is
// quick.
func TestStressCLIRegister(t *testing.T) {
	c := newCLIEnv(t)
	e := c.engine()
	wasm := filepath.Join(c.dir, "wat-vault.wasm")
	if err := os.WriteFile(wasm, testwasm.WAT(t, "examples/wat-vault/vault.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	const procs, removals = 8, 2
	per := stress.Count(1, 5)
	for i := range removals {
		err := e.Register(context.Background(), engine.RegisterRequest{Registration: engine.Registration{
			Name: fmt.Sprintf("Old%d", i), Extension: wasm, Grants: engine.Grants{Storage: true},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for j := range per {
				args := []string{"vault", "register", fmt.Sprintf("New%d-%d", p, j),
					"--extension", wasm, "--grant", "storage=true", "--param", fmt.Sprintf("p=%d", j)}
				if r := c.run("", args...); r.code != 0 || r.stdout != "" || r.stderr != "" {
					t.Errorf("%s%s", r, r.stdout)
				}
			}
			if p < removals {
				if r := c.run("", "vault", "unregister", fmt.Sprintf("Old%d", p)); r.code != 0 {
					t.Error(r)
				}
			}
		})
	}
	wg.Wait()
	r := c.run("", "vault", "list", "--json")
	var list []struct {
		Name    string `json:"name"`
		Default bool   `json:"default"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("vault list --json: %v\n%s", err, r)
	}
	got := map[string]bool{}
	for _, v := range list {
		got[v.Name] = true
	}
	for p := range procs {
		for j := range per {
			if name := fmt.Sprintf("New%d-%d", p, j); !got[name] {
				t.Errorf("registration %s is lost", name)
			}
		}
	}
	for i := range removals {
		if name := fmt.Sprintf("Old%d", i); got[name] {
			t.Errorf("unregistered %s is back", name)
		}
	}
	if len(list) != procs*per {
		t.Errorf("%d vaults registered, want %d", len(list), procs*per)
	}
	t.Logf("%d registrations and %d removals by %d processes", procs*per, removals, procs+removals)
}
