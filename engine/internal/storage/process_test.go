package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file re-run the test binary as child processes that
// share one database file with the parent, each child doing what
// TestHelperProcess does for the mode named in helperEnv.

const helperEnv = "SESAME_STORAGE_HELPER"

// helper starts the test binary as a child running mode on path.
func helper(t *testing.T, mode, path string, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(),
		helperEnv+"="+mode,
		"SESAME_STORAGE_PATH="+path,
		"SESAME_STORAGE_ARGS="+strings.Join(args, " "))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stdin, bufio.NewScanner(stdout)
}

// TestHelperProcess is the body of the child processes; run directly, it
// does nothing.
//
//	multi ID N: wait for a line on stdin, then N times: set key "cID/i" to
//	  itself and print "ack cID/i", set "shared" to 64 copies of byte ID,
//	  read "shared" and fail if it is not 64 copies of one byte.
//	add ID ROUND: wait for a line on stdin, then add key "kROUND" with the
//	  value ID and print "won" or "lost" (ErrExists).
//	kill ROUND: set "rROUND/i" for i = 0, 1, ... forever, printing
//	  "ack rROUND/i" after each Set returns.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := strings.Fields(os.Getenv("SESAME_STORAGE_ARGS"))
	die := func(err error) {
		fmt.Fprintf(os.Stderr, "helper %s %v: %v\n", mode, args, err)
		os.Exit(2)
	}
	s, err := Open(os.Getenv("SESAME_STORAGE_PATH"), Options{})
	if err != nil {
		die(err)
	}
	switch mode {
	case "multi":
		id, _ := strconv.Atoi(args[0])
		n, _ := strconv.Atoi(args[1])
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			die(err)
		}
		for i := range n {
			key := fmt.Sprintf("c%02d/%03d", id, i)
			if err := s.Set(ctx, []byte(key), []byte(key)); err != nil {
				die(err)
			}
			fmt.Println("ack", key)
			if err := s.Set(ctx, []byte("shared"), bytes.Repeat([]byte{byte(id)}, 64)); err != nil {
				die(err)
			}
			v, err := s.Get(ctx, []byte("shared"))
			if err != nil {
				die(err)
			}
			if !uniform(v, 64) {
				die(fmt.Errorf("torn read of the shared key: %x", v))
			}
		}
	case "add":
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			die(err)
		}
		switch err := s.Add(ctx, []byte("k"+args[1]), []byte(args[0])); {
		case err == nil:
			fmt.Println("won")
		case errors.Is(err, ErrExists):
			fmt.Println("lost")
		default:
			die(err)
		}
	case "kill":
		value := bytes.Repeat([]byte("x"), 4096)
		for i := 0; ; i++ {
			key := fmt.Sprintf("r%s/%05d", args[0], i)
			copy(value, key)
			if err := s.Set(ctx, []byte(key), value[:1024+i%4*1024]); err != nil {
				die(err)
			}
			fmt.Println("ack", key)
		}
	default:
		die(errors.New("unknown mode"))
	}
	s.Close()
	os.Exit(0)
}

// TestManyProcesses: 8 processes write their own keys and overwrite one
// shared key while they, and the parent, read it. Every acknowledged write
// must be there at the end, no read may see a torn value, and the quota
// counters must match the keys.
func TestManyProcesses(t *testing.T) {
	const procs, writes = 8, 8
	path := filepath.Join(t.TempDir(), "vault", "multi.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
		acked []string
	}
	children := make([]*child, procs)
	for i := range children {
		cmd, stdin, out := helper(t, "multi", path, strconv.Itoa(i), strconv.Itoa(writes))
		children[i] = &child{cmd: cmd, stdin: stdin, out: out}
	}
	for _, c := range children { // start them together
		fmt.Fprintln(c.stdin, "go")
	}

	// The parent reads the shared key until the children are done.
	done := make(chan struct{})
	var readerErr error
	var reads int
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			v, err := s.Get(context.Background(), []byte("shared"))
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				readerErr = err
				return
			}
			reads++
			if !uniform(v, 64) {
				readerErr = fmt.Errorf("torn read of the shared key: %x", v)
				return
			}
		}
	})

	var wg sync.WaitGroup
	for _, c := range children {
		wg.Go(func() {
			for c.out.Scan() {
				if key, ok := strings.CutPrefix(c.out.Text(), "ack "); ok {
					c.acked = append(c.acked, key)
				}
			}
		})
	}
	wg.Wait()
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	close(done)
	rwg.Wait()
	if readerErr != nil {
		t.Fatalf("parent reader: %v", readerErr)
	}

	ctx := context.Background()
	for i, c := range children {
		if len(c.acked) != writes {
			t.Errorf("child %d acknowledged %d writes, want %d", i, len(c.acked), writes)
		}
		for _, key := range c.acked {
			if v, err := s.Get(ctx, []byte(key)); err != nil || string(v) != key {
				t.Errorf("acknowledged %s: Get = %q, %v", key, v, err)
			}
		}
	}
	v, err := s.Get(ctx, []byte("shared"))
	if err != nil || !uniform(v, 64) || v[0] >= procs {
		t.Fatalf("shared = %x, %v", v, err)
	}
	if u := usageOf(t, path); u.keys != procs*writes+1 {
		t.Fatalf("usage %+v, want %d keys", u, procs*writes+1)
	}
	t.Logf("parent read the shared key %d times", reads)
}

// TestKill: a child writes keys in a loop and reports each one after Set
// returns; it is killed with SIGKILL at some point. Every key it reported
// must then be readable, and the file consistent. Several rounds, each
// killed after a different number of writes, share one file.
func TestKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kill.db")
	var acked []string
	for round, after := range []int{1, 7, 16, 30} {
		cmd, _, out := helper(t, "kill", path, strconv.Itoa(round))
		n := 0
		for out.Scan() {
			key, ok := strings.CutPrefix(out.Text(), "ack ")
			if !ok {
				continue
			}
			acked = append(acked, key)
			if n++; n == after {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Lines already in the pipe were acknowledged too, and read above.
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, want killed", round, err)
		}

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, key := range acked {
			v, err := s.Get(ctx, []byte(key))
			if err != nil || !bytes.HasPrefix(v, []byte(key)) {
				t.Fatalf("round %d: acknowledged %s: Get = %.20q, %v", round, key, v, err)
			}
		}
		keys, err := s.List(ctx, nil, nil, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		// At most one write was cut short after committing but before
		// its acknowledgement was printed.
		if len(keys) < len(acked) || len(keys) > len(acked)+round+1 {
			t.Fatalf("round %d: %d keys stored, %d acknowledged", round, len(keys), len(acked))
		}
		if u := usageOf(t, path); u.keys != int64(len(keys)) {
			t.Fatalf("round %d: counters %+v for %d keys", round, u, len(keys))
		}
		s.Close()
	}
}

// TestAddOnce: 8 processes add one key at the same moment, over several
// rounds: in each exactly one wins, and the key holds the winner's value.
// (secretstore creates its key record this way.)
func TestAddOnce(t *testing.T) {
	const procs, rounds = 8, 3
	path := filepath.Join(t.TempDir(), "add.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for round := range rounds {
		type child struct {
			stdin io.WriteCloser
			out   *bufio.Scanner
			cmd   *exec.Cmd
		}
		var children []child
		for id := range procs {
			cmd, stdin, out := helper(t, "add", path, strconv.Itoa(id), strconv.Itoa(round))
			children = append(children, child{stdin, out, cmd})
		}
		for _, c := range children {
			io.WriteString(c.stdin, "go\n")
		}
		winner := -1
		for id, c := range children {
			if !c.out.Scan() {
				t.Fatalf("round %d: child %d said nothing", round, id)
			}
			switch c.out.Text() {
			case "won":
				if winner >= 0 {
					t.Fatalf("round %d: children %d and %d both added the key", round, winner, id)
				}
				winner = id
			case "lost":
			default:
				t.Fatalf("round %d: child %d said %q", round, id, c.out.Text())
			}
			if err := c.cmd.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no child added the key", round)
		}
		v, err := s.Get(ctx, []byte("k"+strconv.Itoa(round)))
		if err != nil || string(v) != strconv.Itoa(winner) {
			t.Fatalf("round %d: the key holds %q (%v), want the winner's %d", round, v, err, winner)
		}
	}
	if err := s.Add(ctx, []byte("k0"), []byte("again")); !errors.Is(err, ErrExists) {
		t.Fatalf("Add of a stored key: %v, want ErrExists", err)
	}
}
