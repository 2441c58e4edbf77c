package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// guard bounds a wait that only a bug makes long: it fails the test with
// what did not happen instead of hanging until the test binary's timeout.
const guard = time.Minute

// rawDial connects to the server in dir as a client that speaks the
// protocol by hand, sends the preface and reads the greeting.
func rawDial(t *testing.T, dir string) (net.Conn, response) {
	t.Helper()
	nc, err := net.Dial("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	// An agent that refuses the connection may have closed it already;
	// its greeting, with the refusal, came first.
	nc.Write([]byte(preface))
	var hello response
	nc.SetReadDeadline(time.Now().Add(guard))
	if err := newStream(nc, maxResponse, 0).recv(&hello); err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return nc, hello
}

// waitDropped waits until the server closes nc.
func waitDropped(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(guard))
	_, err := io.Copy(io.Discard, nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the connection is still open after %v", what, guard)
	}
}

// TestHugeMessageDropped: a message whose length says 1 GiB is refused from
// its length alone: the connection is dropped, and the 32 MiB sent after
// the length are not read into memory.
func TestHugeMessageDropped(t *testing.T) {
	s := serve(t, NewServer(testEngines))
	nc, _ := rawDial(t, s.dir)
	junk := make([]byte, 32<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	wrote := make(chan error, 1)
	go func() {
		// the long form of 1<<30: the negated byte count, then the bytes.
		_, err := nc.Write([]byte{0xfc, 0x40, 0, 0, 0})
		if err == nil {
			_, err = nc.Write(junk)
		}
		wrote <- err
	}()
	waitDropped(t, nc, "a 1 GiB length")
	<-wrote
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	if grew > 4<<20 {
		t.Errorf("the agent's process allocated %d MiB for a refused message", grew>>20)
	}
	t.Logf("allocated %d KiB while refusing the message", grew>>10)
	if !strings.Contains(s.logs.String(), "message too large") {
		t.Errorf("the log does not say why the client was dropped:\n%s", s.logs)
	}
	s.dial(t) // and the server still serves
}

// TestHalfMessageDropped: a client that sends half a message and stops is
// dropped after the frame timeout; the server goes on serving.
func TestHalfMessageDropped(t *testing.T) {
	srv := NewServer(testEngines)
	srv.FrameTimeout = 50 * time.Millisecond
	s := serve(t, srv)
	nc, _ := rawDial(t, s.dir)
	if _, err := nc.Write([]byte{100, 1, 2, 3}); err != nil { // 3 of 100 bytes
		t.Fatal(err)
	}
	waitDropped(t, nc, "half a message")
	if _, err := s.dial(t).Status(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestConnectionCap: the server serves MaxConns connections at once; the
// next one is refused with a message that says why, and is served once a
// connection ends; a client that did not wait for the greeting waits for
// that, and its first call is served.
func TestConnectionCap(t *testing.T) {
	s := serve(t, NewServer(testEngines))
	var clients []*Client
	for range 64 {
		clients = append(clients, s.dial(t))
	}
	_, err := Dial(s.dir)
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "serves at most 64 connections at once") {
		t.Fatalf("the 65th connection: %v, want a refusal", err)
	}
	// A client that sends its first request without waiting for the
	// greeting is refused as well, and waits: its call is served once a
	// connection ends.
	refusals := strings.Count(s.logs.String(), "refused a client: too many connections")
	lazy, err := connect(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lazy.Close()
	served := make(chan error, 1)
	go func() {
		_, err := lazy.Status(context.Background())
		served <- err
	}()
	for strings.Count(s.logs.String(), "refused a client: too many connections") == refusals {
		select {
		case err := <-served:
			t.Fatalf("a call over the cap was answered (%v) while 64 connections were open", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	clients[0].Close()
	if err := <-served; err != nil {
		t.Fatalf("the waiting call, once a connection ended: %v", err)
	}
	clients[1].Close()
	deadline := time.Now().Add(guard)
	for {
		c, err := Dial(s.dir)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection after one ended: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failingListener fails its first n accepts as a process out of file
// descriptors does.
type failingListener struct {
	net.Listener
	n int
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n > 0 {
		l.n--
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestAcceptErrorRetried: a failed accept (too many open files) is retried
// after a pause; the server does not stop.
func TestAcceptErrorRetried(t *testing.T) {
	dir, ln := listen(t)
	s := serveOn(t, NewServer(testEngines), dir, &failingListener{Listener: ln, n: 3})
	c, err := Dial(s.dir)
	if err != nil {
		t.Fatalf("Dial after failed accepts: %v", err)
	}
	defer c.Close()
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(s.logs.String(), "accepting a client failed"); n != 3 {
		t.Errorf("%d failed accepts logged, want 3:\n%s", n, s.logs)
	}
}

// TestRefusedPeerLearnsNoBuild: a peer of another user gets the refusal and
// the protocol version, not the build of the program that serves.
func TestRefusedPeerLearnsNoBuild(t *testing.T) {
	srv := NewServer(testEngines)
	srv.UID = os.Getuid() + 1 // as if this test ran as another user
	srv.Build = "/usr/bin/sesame 123 456"
	s := serve(t, srv)
	_, hello := rawDial(t, s.dir)
	if hello.Err == nil || hello.Build != "" {
		t.Fatalf("greeting to another user: error %v, build %q; want a refusal without the build", hello.Err.decode(), hello.Build)
	}
}

// spinVault registers Spin, a vault whose get hangs until its deadline of
// 10 minutes, and Store, a secretstore with a password, unlocked.
func spinVault(t *testing.T, r *Remote) {
	t.Helper()
	ctx := context.Background()
	spin := filepath.Join(t.TempDir(), "spin.wasm")
	if err := os.WriteFile(spin, testwasm.WAT(t, "internal/agent/testdata/spin.wat"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := engine.Run(ctx, r, engine.RegisterRequest{Registration: engine.Registration{Name: "Spin", Extension: spin, Grants: engine.Grants{Timeout: 10 * time.Minute}}}); err != nil {
		t.Fatal(err)
	}
	if err := engine.Run(ctx, r, engine.RegisterRequest{Registration: engine.Registration{Name: "Store", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true},
		Parameters: map[string]any{"authentication": "password", "password_timeout": int64(900)}}}); err != nil {
		t.Fatal(err)
	}
	if err := engine.Run(ctx, r, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, r, engine.SetRequest{Name: "db", Value: secretValue, Vault: "Store"}); err != nil {
		t.Fatal(err)
	}
}

// TestStopWhileStuck: Stop ends the server while a request hangs in a
// vault (a loop with a 10-minute deadline): the request is canceled, Serve
// returns, and the unlocked vault's key is gone.
func TestStopWhileStuck(t *testing.T) {
	ctx := context.Background()
	f := newFiles(t)
	s := serve(t, NewServer(testEngines))
	r := f.remote(t, s.dial(t))
	spinVault(t, r)
	stuck := make(chan error, 1)
	go func() {
		_, err := engine.Do(ctx, f.remote(t, s.dial(t)), engine.GetRequest{Name: "x", Vault: "Spin"})
		stuck <- err
	}()
	waitLogged(t, s, "spinning")

	var store *engine.Engine
	s.srv.mu.Lock()
	for _, e := range s.srv.engines {
		store = e.(*engine.Engine)
	}
	s.srv.mu.Unlock()
	if err := s.dial(t).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The keys go first: gone by the time Stop answered (the engine may
	// also be closed by then, if the canceled request ended at once).
	if _, err := store.Get(ctx, engine.GetRequest{Name: "db", Vault: "Store"}); err == nil || !errors.Is(err, engine.ErrLocked) && !strings.Contains(err.Error(), "closed") {
		t.Errorf("the stopped agent's engine after Stop: %v, want locked", err)
	}
	select {
	case reason := <-s.reason:
		if reason != "stop request" {
			t.Errorf("Serve stopped for %q", reason)
		}
		s.reason <- "stopped"
	case <-time.After(guard):
		t.Fatalf("Serve did not return within %v of Stop while a request hung", guard)
	}
	if err := <-stuck; err == nil {
		t.Error("the hanging request succeeded")
	}
	again := f.remote(t, serve(t, NewServer(testEngines)).dial(t))
	if _, err := engine.Do(ctx, again, engine.GetRequest{Name: "db", Vault: "Store"}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("a new agent: %v, want ErrLocked", err)
	}
}

// waitLogged waits until the server's log holds what.
func waitLogged(t *testing.T, s *served, what string) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for {
		if strings.Contains(s.logs.String(), what) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q after %v", what, guard)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStopGrace: a request that ignores its cancellation does not hold
// Serve past the grace period.
func TestStopGrace(t *testing.T) {
	srv := NewServer(testEngines)
	srv.Grace = 10 * time.Millisecond
	s := serve(t, srv)
	s.dial(t)        // Serve runs
	srv.conns.Add(1) // a request that never ends
	srv.stop("test")
	select {
	case <-s.reason:
		s.reason <- "stopped"
	case <-time.After(guard):
		t.Fatalf("Serve waited %v for a stuck request, past its grace period", guard)
	}
}

// TestMessageBytesZeroed: once a message is decoded, the bytes the stream
// read it into (its copy of the password) are zeroed, and so are the
// passwords, value and environment bytes of the request once it has been
// served, and the value of a response once sent, whatever the call.
func TestMessageBytesZeroed(t *testing.T) {
	msgs := []*request{
		{Call: engine.SetPasswordRequest{Vault: "S", Old: []byte(password), New: []byte(password)}},
		{Call: engine.SetRequest{Name: "s", Value: engine.Hashtable{"b": []byte(secretValue), "p": []byte(password)}}},
		{Op: opEnv, Env: [][]byte{[]byte("A=" + password)}},
	}
	for _, msg := range msgs {
		name := msg.Op
		if msg.Call != nil {
			name = string(msg.Call.Op())
		}
		t.Run(name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			go newStream(client, maxRequest, 0).send(msg)
			st := newStream(server, maxRequest, 0)
			var req request
			if err := st.recv(&req); err != nil {
				t.Fatal(err)
			}
			if len(st.buf) == 0 && cap(st.buf) == 0 {
				t.Fatal("the stream kept no buffer to check")
			}
			if b := st.buf[:cap(st.buf)]; bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
				t.Fatalf("the stream's copy of the message is not zeroed: %q", b)
			}
			if !reflect.DeepEqual(&req, msg) {
				t.Fatalf("the decoded message %#v is not the one sent", req)
			}
			clearRequest(&req)
			if s := fmt.Sprintf("%s %v", req.Env, req.Call); strings.Contains(s, password) || strings.Contains(s, secretValue) {
				t.Errorf("a served request keeps a secret: %s", s)
			}
		})
	}
	resp := &response{Result: engine.Secret{Value: engine.Hashtable{"b": []byte(secretValue)}}}
	clearResponse(resp)
	if s := fmt.Sprint(resp.Result); strings.Contains(s, secretValue) {
		t.Errorf("a sent response keeps its value: %s", s)
	}
}

// TestDisconnectCancels: a client that goes away in the middle of a request
// (its context canceled, its process killed) has the request canceled: the
// server does not go on serving it to its deadline (10 minutes here).
func TestDisconnectCancels(t *testing.T) {
	f := newFiles(t)
	s := serve(t, NewServer(testEngines))
	spinVault(t, f.remote(t, s.dial(t)))
	ctx, cancel := context.WithCancel(context.Background())
	stuck := make(chan error, 1)
	go func() {
		_, err := engine.Do(ctx, f.remote(t, s.dial(t)), engine.GetRequest{Name: "x", Vault: "Spin"})
		stuck <- err
	}()
	waitLogged(t, s, "spinning")
	cancel()
	<-stuck
	deadline := time.Now().Add(guard)
	for {
		s.srv.mu.Lock()
		busy := s.srv.busy
		s.srv.mu.Unlock()
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request of a client that went away still runs after %v", guard)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
