package engine_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/stress"
)

// Many writers and readers on one secretstore vault, in goroutines of one
// engine, in several engines, and in processes killed with SIGKILL.
// SESAME_STRESS=1 (make stress) raises the counts (stress.Count).

// stressOp is one set or get, with its start and end on a counter that
// all workers share: an operation that started after another ended came
// after it.
type stressOp struct {
	set        bool
	name       string
	value      string // written, or read
	err        error
	start, end int64
}

// stressLog records operations from many goroutines.
type stressLog struct {
	seq atomic.Int64
	mu  sync.Mutex
	ops []stressOp
}

func (l *stressLog) set(e *engine.Engine, name, value string) {
	op := stressOp{set: true, name: name, value: value, start: l.seq.Add(1)}
	_, op.err = e.Set(ctx, engine.SetRequest{Name: name, Value: value, Vault: ssVault})
	op.end = l.seq.Add(1)
	l.add(op)
}

func (l *stressLog) get(e *engine.Engine, name string) {
	op := stressOp{name: name, start: l.seq.Add(1)}
	s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
	op.end = l.seq.Add(1)
	op.err = err
	if err == nil {
		v, ok := s.Value.(string)
		if !ok {
			op.err = fmt.Errorf("a %T, not a string", s.Value)
		}
		op.value = v
	}
	l.add(op)
}

func (l *stressLog) add(op stressOp) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
}

// check checks the log against what e reads now: every set succeeded;
// every get saw a whole value written to the name and not one overwritten
// before the get began (or, not found, before any write of the name
// ended); every name holds a value no acknowledged write strictly
// followed.
func (l *stressLog) check(t *testing.T, e *engine.Engine) {
	t.Helper()
	writes := map[string][]stressOp{}
	for _, op := range l.ops {
		if !op.set {
			continue
		}
		if op.err != nil {
			t.Errorf("set %s: %v", op.name, op.err)
			continue
		}
		writes[op.name] = append(writes[op.name], op)
	}
	find := func(name, value string) (stressOp, bool) {
		for _, w := range writes[name] {
			if w.value == value {
				return w, true
			}
		}
		return stressOp{}, false
	}
	superseded := func(w stressOp, at int64) bool {
		for _, o := range writes[w.name] {
			if o.start > w.end && o.end < at {
				return true
			}
		}
		return false
	}
	reads := 0
	for _, op := range l.ops {
		if op.set {
			continue
		}
		reads++
		if errors.Is(op.err, engine.ErrSecretNotFound) {
			for _, w := range writes[op.name] {
				if w.end < op.start {
					t.Errorf("get %s: not found after a write of it ended", op.name)
					break
				}
			}
			continue
		}
		if op.err != nil {
			t.Errorf("get %s: %v", op.name, op.err)
			continue
		}
		if !stress.Check(op.name, op.value) {
			t.Errorf("torn read of %s: %q", op.name, op.value)
			continue
		}
		w, ok := find(op.name, op.value)
		if !ok {
			t.Errorf("get %s saw a value nobody wrote: %q", op.name, op.value)
		} else if superseded(w, op.start) {
			t.Errorf("stale read of %s: %.40q was overwritten before the read began", op.name, op.value)
		}
	}
	for name := range writes {
		s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
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
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	if err != nil || len(infos) != len(writes) {
		t.Errorf("the vault lists %d secrets (%v), want %d", len(infos), err, len(writes))
	}
	t.Logf("%d sets, %d gets", len(l.ops)-reads, reads)
}

// TestStressEngineGoroutines runs 8 goroutines on one engine and 4 on each
// of two more engines (processes, as far as the vault can tell), all on
// one secretstore vault created by their first writes: each sets names of
// its own and names they all share, overwriting them, and reads them. The
// store has no password; under SESAME_STRESS also one with a password
// (TestSecretStoreConcurrency covers one in make test).
func TestStressEngineGoroutines(t *testing.T) {
	t.Parallel()
	modes := []string{"none"}
	if stress.Count(0, 1) == 1 {
		modes = append(modes, "password")
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			env := newStressEnv(t, mode)
			engines := []*engine.Engine{env.open(t), env.open(t), env.open(t)}
			workers := []int{8, 4, 4}
			rounds := stress.Count(3, 40)
			if mode == "password" {
				var wg sync.WaitGroup
				for _, e := range engines {
					wg.Go(func() { ssUnlock(t, e, ssPass) })
				}
				wg.Wait()
			}
			var l stressLog
			var wg sync.WaitGroup
			for i, e := range engines {
				for w := range workers[i] {
					wg.Go(func() {
						for r := range rounds {
							n := (i*100+w)*1000 + r
							own := fmt.Sprintf("own-%d-%d-%d", i, w, r%2)
							l.set(e, own, stress.Value(own, n))
							l.get(e, own)
							shared := fmt.Sprintf("shared-%d", r%3)
							l.set(e, shared, stress.Value(shared, n))
							l.get(e, fmt.Sprintf("shared-%d", (r+1)%3))
						}
					})
				}
			}
			wg.Wait()
			e := env.open(t)
			if mode == "password" {
				ssUnlock(t, e, ssPass)
			}
			l.check(t, e)
		})
	}
}

// newStressEnv is a secretstore vault with authentication mode, whose
// calls may take a minute: on a loaded machine 16 writers, each waiting
// for the others' fsyncs, can take longer than the default 5 s deadline
// for one call, which fails cleanly but would make the count of
// acknowledged writes depend on the machine's speed.
func newStressEnv(t *testing.T, mode string) *ssEnv {
	params := `authentication = "` + mode + `"`
	env := newSSEnv(t, params)
	env.grants = `timeout = "60s"`
	env.setParams(t, params)
	return env
}

const killHelperEnv = "SESAME_TEST_KILL_HELPER"

// TestStressKillHelper is the child process of TestStressKill: it opens an
// engine on the registry and data folder in $SESAME_TEST_KILL_HELPER,
// prints "ready", and then writes until it is killed, printing "ack NAME N"
// after each set of NAME to value N returns. Even writes create a new name,
// odd ones overwrite the name "shared".
func TestStressKillHelper(t *testing.T) {
	spec := os.Getenv(killHelperEnv)
	if spec == "" {
		t.Skip("run by TestStressKill in a child process")
	}
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	f := strings.Split(spec, "\n") // registry, data folder, round, password
	e, err := engine.Open(ctx, f[0], &engine.Options{DataDir: f[1], CacheDir: testCache})
	if err != nil {
		die(err)
	}
	if _, err := e.Vault(ctx, ssVault); err != nil {
		die(err)
	}
	fmt.Println("ready")
	if f[3] != "" {
		if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(f[3])}); err != nil {
			die(err)
		}
	}
	round, _ := strconv.Atoi(f[2])
	for i := range 100_000 {
		name := fmt.Sprintf("r%03d-%05d", round, i)
		if i%2 == 1 {
			name = "shared"
		}
		n := round*100_000 + i
		if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: stress.Value(name, n), Vault: ssVault}); err != nil {
			die(err)
		}
		fmt.Printf("ack %s %d\n", name, n)
	}
	die(errors.New("never killed"))
}

// TestStressKill kills a process with SIGKILL at a random moment while it
// writes secrets, over and over. Rounds come in groups of four on one
// vault, created by the first round of the group (which is sometimes
// killed while creating it); the groups alternate between a store without
// a password and one with. After every kill the next process opens the
// vault and writes on, and an engine of this process finds every
// acknowledged write whole, each name with the value last acknowledged or
// the one being written at a kill since, and nothing else stored. (That
// engine is opened anew on the first and last round of each group.)
//
// A round is killed after a random number of acknowledgements (0 to 8; 0 in
// the first round of a group, which creates the store) and a random pause
// of up to 30 ms (up to 400 ms before the first write, which may unlock or
// create the store), counted from the child's standard output: the pause
// only varies the moment, nothing waits on it.
func TestStressKill(t *testing.T) {
	t.Parallel()
	rounds := stress.Count(12, 200)
	const group = 4
	type expect struct {
		acked  bool     // the first value was acknowledged
		values []string // what the name may hold
	}
	var (
		env     *ssEnv
		pass    string
		expects map[string]*expect
		e       *engine.Engine // the checking engine
	)
	closeEngine := func() {
		if e != nil {
			e.Close()
			e = nil
		}
	}
	defer closeEngine()
	killedIn := map[string]int{}
	for round := range rounds {
		if round%group == 0 {
			mode := "none"
			pass = ""
			if round/group%2 == 1 {
				mode, pass = "password", string(ssPass)
			}
			env = newStressEnv(t, mode)
			expects = map[string]*expect{}
			closeEngine()
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestStressKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+strings.Join([]string{env.reg, env.data, strconv.Itoa(round), pass}, "\n"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		out := bufio.NewScanner(stdout)
		after := rand.IntN(9) // acknowledgements before the kill
		if round%group == 0 {
			after = 0 // while it unlocks or creates the store
		}
		pause := time.Duration(rand.IntN(30_000)) * time.Microsecond
		if after == 0 {
			pause = time.Duration(rand.IntN(400_000)) * time.Microsecond
		}
		n, killed := -1, false // -1: not ready
		// The write the kill may interrupt: the first, or the one after
		// the last acknowledged.
		inflight := fmt.Sprintf("r%03d-%05d", round, 0)
		inflightValue := stress.Value(inflight, round*100_000)
		for out.Scan() {
			line := out.Text()
			if line == "ready" {
				n = 0
			} else if f := strings.Fields(line); len(f) == 3 && f[0] == "ack" {
				i, _ := strconv.Atoi(f[2])
				expects[f[1]] = &expect{acked: true, values: []string{stress.Value(f[1], i)}}
				n++
				inflight = "shared"
				if f[1] == "shared" {
					inflight = fmt.Sprintf("r%03d-%05d", round, i-round*100_000+1)
				}
				inflightValue = stress.Value(inflight, i+1)
			} else {
				t.Fatalf("round %d: helper printed %q", round, line)
			}
			if n == after && !killed {
				killed = true
				go func() {
					time.Sleep(pause)
					cmd.Process.Signal(syscall.SIGKILL)
				}()
			}
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper ended with %v, want killed\n%s", round, err, stderr.Bytes())
		}
		switch {
		case n == 0 && round%group == 0:
			killedIn["creating the store or its first write"]++
		case n == 0:
			killedIn["first write"]++
		default:
			killedIn["later writes"]++
		}
		if x := expects[inflight]; x != nil {
			x.values = append(x.values, inflightValue)
		} else {
			expects[inflight] = &expect{values: []string{inflightValue}}
		}

		if e == nil || round%group == group-1 {
			closeEngine()
			if e, err = engine.Open(ctx, env.reg, &engine.Options{DataDir: env.data, CacheDir: testCache}); err != nil {
				t.Fatalf("round %d: open after the kill: %v", round, err)
			}
			if pass != "" {
				if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(pass)}); err != nil {
					t.Fatalf("round %d: unlock after the kill: %v", round, err)
				}
			}
		}
		for name, x := range expects {
			s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault})
			if errors.Is(err, engine.ErrSecretNotFound) && !x.acked {
				continue
			}
			if err != nil {
				t.Fatalf("round %d: acknowledged %s: %v", round, name, err)
			}
			got, _ := s.Value.(string)
			if !slices.Contains(x.values, got) {
				t.Fatalf("round %d: %s = %.40q, want the acknowledged %.40q", round, name, got, x.values[0])
			}
		}
		infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
		if err != nil {
			t.Fatalf("round %d: info: %v", round, err)
		}
		for _, in := range infos {
			if expects[in.Name] == nil {
				t.Fatalf("round %d: %s is stored but was never written", round, in.Name)
			}
		}
	}
	t.Logf("%d rounds killed: %v", rounds, killedIn)
}
