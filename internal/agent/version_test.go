package agent

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"net"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"syscall"
	"testing"
)

// TestStopOtherVersion: an agent of the release before the codec (whose
// greeting is gob's) cannot be asked to stop; Stop stops it with SIGTERM,
// and a client that would start an agent (DialOrStart's dialBuild) gets
// ErrNotRunning once it is gone, to start its own. The old agent runs in
// a child process of the test, holding the folder's lock as an agent does.
func TestStopOtherVersion(t *testing.T) {
	if dir := os.Getenv("SESAME_AGENT_TEST_OLD"); dir != "" {
		oldAgent(t, dir)
		return
	}
	for _, stop := range []string{"Stop", "dialBuild"} {
		t.Run(stop, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			cmd := exec.Command(os.Args[0], "-test.run=^TestStopOtherVersion$")
			cmd.Env = append(os.Environ(), "SESAME_AGENT_TEST_OLD="+dir)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
				t.Fatalf("the old agent did not start: %q", line)
			}
			if _, err := Dial(dir); !errors.Is(err, errOtherVersion) {
				t.Fatalf("Dial to the old agent: %v, want errOtherVersion", err)
			}
			switch stop {
			case "Stop":
				pid, err := Stop(context.Background(), dir)
				if err != nil || pid != cmd.Process.Pid {
					t.Fatalf("Stop: pid %d, %v; the old agent is pid %d", pid, err, cmd.Process.Pid)
				}
			case "dialBuild":
				if _, err := dialBuild(dir, "new build"); !errors.Is(err, ErrNotRunning) {
					t.Fatalf("dialBuild: %v, want ErrNotRunning once it stopped the old agent", err)
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("the old agent did not stop as on a signal: %v", err)
			}
		})
	}
}

// oldAgent holds dir's lock and answers every connection with a greeting
// of protocol version 1 (gob), until SIGTERM.
func oldAgent(t *testing.T, dir string) {
	ctx, stop := ossignal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := checkDir(dir, true); err != nil {
		t.Fatal(err)
	}
	lock, err := takeLock(filepath.Join(dir, lockName), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			gob.NewEncoder(nc).Encode(struct {
				Version int
				Build   string
			}{1, "old"})
			nc.Close()
		}
	}()
	os.Stdout.WriteString("ready\n")
	<-ctx.Done()
	ln.Close()
}
