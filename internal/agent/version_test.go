package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/api"
)

// TestStopOtherVersion: an agent of the release before the codec (whose
// greeting is gob's) cannot be asked to stop; Stop stops it with SIGTERM,
// and a client of DialOrStart, whose first call finds it in its greeting,
// stops it the same way, starts its own and sends the call there. The old
// agent runs in a child process of the test, holding the folder's lock as
// an agent does; so does the new one, started from the test binary.
func TestStopOtherVersion(t *testing.T) {
	if dir := os.Getenv("SESAME_AGENT_TEST_OLD"); dir != "" {
		oldAgent(t, dir)
		return
	}
	if dir := os.Getenv("SESAME_AGENT_TEST_NEW"); dir != "" {
		if _, err := Run(context.Background(), dir, RunOptions{Ready: os.NewFile(3, "ready"), Build: "new build", Engines: testEngines}); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, stop := range []string{"Stop", "DialOrStart"} {
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
			case "DialOrStart":
				servedByNewAgent(t, dir, "the old agent", cmd.Process.Pid)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("the old agent did not stop as on a signal: %v", err)
			}
		})
	}
}

// newAgent is a command that runs an agent of build "new build" in dir, from
// the test binary, for DialOrStart.
func newAgent(dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopOtherVersion$")
	cmd.Env = append(os.Environ(), "SESAME_AGENT_TEST_NEW="+dir)
	return cmd
}

// TestStoppingAgentReplaced: a client of DialOrStart whose first call meets
// an agent that is stopping (its greeting refuses the connection) waits
// for it to end, starts one, and sends the call there.
func TestStoppingAgentReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := checkDir(dir, true); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // an agent that stops as it greets its one client
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		ln.Close()
		newStream(nc, maxResponse, 0).send(&response{Version: Version, Err: encodeError(fmt.Errorf("%w: %w", api.ErrUnavailable, errAgentStopping))})
		nc.Close()
	}()
	servedByNewAgent(t, dir, "a stopping agent", os.Getpid())
}

// servedByNewAgent checks that the first call of a DialOrStart client of
// dir, whose agent is the one named (of process old), is answered by an
// agent it started in its place (newAgent), and stops that one.
func servedByNewAgent(t *testing.T, dir, agent string, old int) {
	t.Helper()
	c, err := DialOrStart(dir, newAgent(dir), "new build")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatalf("the first call, to %s: %v, want it served by a new one", agent, err)
	}
	if st.PID == old || c.Build() != "new build" {
		t.Fatalf("the first call was answered by pid %d of build %q; %s is pid %d", st.PID, c.Build(), agent, old)
	}
	if pid, err := Stop(context.Background(), dir); err != nil || pid != st.PID {
		t.Fatalf("stopping the new agent: pid %d, %v; want pid %d", pid, err, st.PID)
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

// TestPrefaceRefusedByEarlierFraming: a client that sends its first request
// right behind the preface, without waiting for the greeting, reaches an
// agent of an earlier version with nothing that agent reads as a request:
// the framing of every earlier version (a stream's recv, kept since the
// first) refuses the preface's first byte as a length, having read that
// byte alone, and the first version's gob decoder refuses it too.
func TestPrefaceRefusedByEarlierFraming(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		defer client.Close()
		newStream(client, maxRequest, 0).sendAfter(preface, &request{Call: engine.SetRequest{Name: "s", Value: secretValue}})
	}()
	var req request
	err := newStream(server, maxRequest, 0).recv(&req)
	if !errors.Is(err, errProtocol) || !strings.Contains(err.Error(), "bad message length") {
		t.Fatalf("the earlier framing read %+v, %v; want a bad length", req, err)
	}
	rest, _ := io.ReadAll(server)
	if !bytes.HasPrefix(rest, []byte(preface[1:])) {
		t.Fatalf("the earlier framing read more than the preface's first byte: %d bytes left, starting %q", len(rest), rest[:min(len(rest), 8)])
	}
	var v struct{ Op string }
	if err := gob.NewDecoder(strings.NewReader(preface + "\x00\x01")).Decode(&v); err == nil {
		t.Fatalf("gob decoded the preface as %+v", v)
	}
}

// TestCallForOtherBuildRefused: an agent runs no call meant for another
// build (request.Build): a client that did not wait for the greeting, whose
// first call is a set for build B, gets errOtherBuild from the agent of
// build A, and the secret is not there for a client of any build.
func TestCallForOtherBuildRefused(t *testing.T) {
	srv := NewServer(testEngines)
	srv.Build = "A"
	s := serve(t, srv)
	f := newFiles(t)
	register(t, f.remote(t, s.dial(t)), "none")
	c, err := connect(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.want = "B"
	_, err = engine.Do(context.Background(), f.remote(t, c), engine.SetRequest{Name: "s", Value: secretValue, Vault: "Store"})
	if !errors.Is(err, errOtherBuild) {
		t.Fatalf("a set meant for build B, on the agent of build A: %v, want errOtherBuild", err)
	}
	_, err = engine.Do(context.Background(), f.remote(t, s.dial(t)), engine.GetRequest{Name: "s", Vault: "Store"})
	if !errors.Is(err, engine.ErrSecretNotFound) {
		t.Fatalf("get after the refused set: %v, want ErrSecretNotFound", err)
	}
}
