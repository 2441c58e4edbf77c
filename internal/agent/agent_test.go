package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The distinctive secret values of these tests: none may appear in a log.
const (
	secretValue = "agent-test-secret-6b1f0c"
	password    = "agent-test-password-93ad"
)

// served is a server running on a socket in a folder of its own.
type served struct {
	dir    string
	srv    *Server
	logs   *logBuffer
	reason chan string
}

// logBuffer is the server's log, read by the test while the server writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve starts srv on a socket in a new folder and stops it at the end of
// the test.
func serve(t testing.TB, srv *Server) *served {
	t.Helper()
	dir, ln := listen(t)
	return serveOn(t, srv, dir, ln)
}

// listen listens on the socket of a new folder, removed at the end of the
// test.
func listen(t testing.TB) (string, net.Listener) {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		t.Fatal(err)
	}
	return dir, ln
}

// serveOn starts srv on ln, the socket in dir, and stops it at the end of
// the test.
func serveOn(t testing.TB, srv *Server, dir string, ln net.Listener) *served {
	t.Helper()
	s := &served{dir: dir, srv: srv, logs: &logBuffer{}, reason: make(chan string, 1)}
	text := slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	srv.Logger = slog.New(slog.NewMultiHandler(text, srv.Logger.Handler())) // a test's own handler too
	go func() {
		reason, err := srv.Serve(context.Background(), ln)
		if err != nil {
			t.Error(err)
		}
		s.reason <- reason
	}()
	t.Cleanup(func() {
		srv.stop("test over")
		<-s.reason
		if strings.Contains(s.logs.String(), secretValue) || strings.Contains(s.logs.String(), password) {
			t.Errorf("the agent's log holds a secret:\n%s", s.logs)
		}
	})
	return s
}

func (s *served) dial(t testing.TB) *Client {
	t.Helper()
	c, err := Dial(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// files is a registry file with its data and cache folders.
type files struct {
	path string
	opts *engine.Options
}

// newFiles returns a new registry. Compiled modules are cached between
// tests and runs (wazero writes its cache files atomically and the seals
// are checked before each compile), in the folder of the engine's tests:
// their engines and the agent's seal it with the same key (the user's), so
// that a module the engine's tests compiled, as every Go guest here, is
// read instead of compiled again.
func newFiles(t testing.TB) files {
	dir := t.TempDir()
	return files{filepath.Join(dir, "vaults.toml"), &engine.Options{DataDir: filepath.Join(dir, "data"), CacheDir: engineTestCache}}
}

// engineTestCache is the compile cache folder of the engine's tests
// (engine_test.go's testCache).
var engineTestCache = filepath.Join(os.TempDir(), "sesame-test-wazero-cache")

func (f files) remote(t testing.TB, c *Client) *Remote {
	t.Helper()
	r, err := c.Engine(f.path, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// register registers the vaults the tests use: Store (secretstore, the
// given authentication) and Go (examples/go-vault).
func register(t *testing.T, e engine.Transport, auth string) {
	t.Helper()
	ctx := context.Background()
	govault, err := testwasm.Path("examples/go-vault")
	if err != nil {
		t.Fatal(err)
	}
	regs := []engine.Registration{
		{Name: "Store", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": auth, "password_timeout": int64(900)}},
		{Name: "Go", Extension: govault, Grants: engine.Grants{Storage: true}},
	}
	for _, r := range regs {
		if err := engine.Run(ctx, e, engine.RegisterRequest{Registration: r}); err != nil {
			t.Fatal(err)
		}
	}
}

// script is a run of operations, each reduced to what a caller sees: the
// result and the error's message and sentinels.
func script(t *testing.T, e engine.Transport) []string {
	ctx := context.Background()
	var out []string
	note := func(what string, result any, err error) {
		line := fmt.Sprintf("%s: %#v", what, result)
		if err != nil {
			line += " error: " + err.Error()
			for _, s := range knownErrors() {
				if errors.Is(err, s) {
					line += " [" + s.Error() + "]"
				}
			}
			var ee *engine.Error
			if errors.As(err, &ee) {
				line += fmt.Sprintf(" {%s %s %s}", ee.Op, ee.Vault, ee.Secret)
			}
		}
		out = append(out, line)
	}
	expiry := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
	values := map[string]any{
		"bytes":  []byte{0, 1, 2, 255},
		"string": secretValue,
		"secure": engine.SecureString(secretValue),
		"cred":   engine.Credential{UserName: "ann", Password: engine.SecureString(secretValue)},
		"table":  engine.Hashtable{"a": "x", "b": []byte{9}, "c": engine.SecureString("y"), "d": engine.Credential{UserName: "u", Password: "p"}},
	}
	for _, name := range []string{"bytes", "string", "secure", "cred", "table"} {
		a, err := engine.Do(ctx, e, engine.SetRequest{Name: name, Value: values[name], Vault: "Store", Metadata: engine.Metadata{"expires": expiry, "n": 7, "purpose": "test"}})
		note("set "+name, a, err)
		s, err := engine.Do(ctx, e, engine.GetRequest{Name: name})
		note("get "+name, s, err)
	}
	a, err := engine.Do(ctx, e, engine.SetRequest{Name: "string", Value: "again", Vault: "Store", NoClobber: true})
	note("no-clobber", a, err)
	a, err = engine.Do(ctx, e, engine.SetRequest{Name: "bad*name", Value: "x", Vault: "Store"})
	note("wildcard name", a, err)
	a, err = engine.Do(ctx, e, engine.SetRequest{Name: "x", Value: "\xff", Vault: "Store"})
	note("bad utf-8", a, err)
	a, err = engine.Do(ctx, e, engine.SetRequest{Name: "x", Value: 42, Vault: "Store"})
	note("bad type", a, err)
	a, err = engine.Do(ctx, e, engine.SetRequest{Name: "x", Value: "v", Vault: "Nowhere"})
	note("unknown vault", a, err)
	s, err := engine.Do(ctx, e, engine.GetRequest{Name: "missing"})
	note("get missing", s, err)
	infos, err := engine.Do(ctx, e, engine.InfoRequest{Pattern: "s*"})
	note("info s*", infos, err)
	a, err = engine.Do(ctx, e, engine.SetInfoRequest{Name: "string", Metadata: engine.Metadata{"purpose": "changed"}, Vault: "Store", Change: engine.Change{}})
	note("set-info", a, err)
	a, err = engine.Do(ctx, e, engine.CopyRequest{From: engine.Info{Name: "string", Vault: "Store"}, Vault: "Go"})
	note("copy", a, err)
	a, err = engine.Do(ctx, e, engine.RemoveRequest{Name: "bytes", Vault: "Store", Change: engine.Change{WhatIf: true}})
	note("remove what-if", a, err)
	var asked []engine.Action
	a, err = engine.Do(ctx, e, engine.RemoveRequest{Name: "bytes", Vault: "Store", Change: engine.Change{Confirm: func(a engine.Action) bool { asked = append(asked, a); return false }}})
	note("remove declined", a, err)
	a, err = engine.Do(ctx, e, engine.SetRequest{Name: "string", Value: "new", Vault: "Go", Change: engine.Change{Confirm: func(a engine.Action) bool { asked = append(asked, a); return true }}})
	note("set confirmed", a, err)
	note("asked", asked, nil)
	batch := []engine.ImportSecret{{Name: "imp-a", Value: values["table"], Metadata: engine.Metadata{"n": 1}}, {Name: "string", Value: "new"}, {Name: "imp-b", Value: engine.SecureString(secretValue)}}
	imp, err := engine.Do(ctx, e, engine.ImportRequest{Vault: "Store", Secrets: batch, Change: engine.Change{Confirm: func(a engine.Action) bool { asked = append(asked, a); return true }}})
	note("import", imp, err)
	imp, err = engine.Do(ctx, e, engine.ImportRequest{Vault: "Store", Secrets: append(batch, engine.ImportSecret{Name: "string", Value: "other"}), NoClobber: true})
	note("import again, no-clobber", imp, err)
	note("asked", asked, nil)
	a, err = engine.Do(ctx, e, engine.RemoveRequest{Name: "cred", Vault: "Store", Change: engine.Change{}})
	note("remove", a, err)
	note("unlock without password", nil, engine.Run(ctx, e, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}))
	note("lock go-vault", nil, engine.Run(ctx, e, engine.LockRequest{Vault: "Go"}))
	note("test", nil, engine.Run(ctx, e, engine.TestRequest{Vault: "Store"}))
	note("register broken", nil, engine.Run(ctx, e, engine.RegisterRequest{Registration: engine.Registration{Name: "Broken", Extension: "builtin:nothing"}}))
	note("default", nil, engine.Run(ctx, e, engine.SetDefaultRequest{Vault: "Go"}))
	regs, err := engine.Do(ctx, e, engine.VaultsRequest{})
	for i := range regs {
		regs[i].Extension = filepath.Base(regs[i].Extension)
	}
	note("vaults", regs, err)
	note("unregister", nil, engine.Run(ctx, e, engine.UnregisterRequest{Vault: "Go"}))
	infos, err = engine.Do(ctx, e, engine.InfoRequest{})
	note("info after", infos, err)
	return out
}

// TestSameResults runs one script of operations on an engine in this
// process and on the agent's engine: every result and every error, with its
// message and sentinels, is the same.
func TestSameResults(t *testing.T) {
	local := newFiles(t)
	e, err := engine.Open(t.Context(), local.path, local.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	register(t, e, "none")
	want := script(t, e)

	s := serve(t, NewServer(testEngines))
	remote := newFiles(t)
	r := remote.remote(t, s.dial(t))
	register(t, r, "none")
	got := script(t, r)

	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	for i := range want {
		// The registries differ in their folder only.
		want[i] = strings.ReplaceAll(want[i], filepath.Dir(local.path), "DIR")
		got[i] = strings.ReplaceAll(got[i], filepath.Dir(remote.path), "DIR")
		if got[i] != want[i] {
			t.Errorf("through the agent:\n  %s\nin process:\n  %s", got[i], want[i])
		}
	}
}

// TestUnlockOutlivesClient: a vault unlocked by one client stays unlocked
// for the next; Lock forgets at once; a stopped agent forgets everything.
func TestUnlockOutlivesClient(t *testing.T) {
	ctx := context.Background()
	f := newFiles(t)
	s := serve(t, NewServer(testEngines))
	first := f.remote(t, s.dial(t))
	register(t, first, "password")
	if err := engine.Run(ctx, first, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, first, engine.SetRequest{Name: "db", Value: secretValue, Vault: "Store"}); err != nil {
		t.Fatal(err)
	}
	first.c.Close()

	second := f.remote(t, s.dial(t))
	got, err := engine.Do(ctx, second, engine.GetRequest{Name: "db", Vault: "Store"})
	if err != nil || got.Value != secretValue {
		t.Fatalf("a new client: %v, %v; want the value without unlocking", got.Value, err)
	}
	if err := engine.Run(ctx, second, engine.LockRequest{Vault: "Store"}); err != nil {
		t.Fatal(err)
	}
	third := f.remote(t, s.dial(t))
	if _, err := engine.Do(ctx, third, engine.GetRequest{Name: "db", Vault: "Store"}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("after Lock: %v, want ErrLocked", err)
	}

	// Unlocked again, then the agent stops: a new agent knows nothing.
	if err := engine.Run(ctx, third, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if err := s.dial(t).Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if reason := <-s.reason; reason != "stop request" {
		t.Fatalf("Serve stopped for %q", reason)
	}
	s.reason <- "stopped" // for the cleanup
	again := f.remote(t, serve(t, NewServer(testEngines)).dial(t))
	if _, err := engine.Do(ctx, again, engine.GetRequest{Name: "db", Vault: "Store"}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("a new agent: %v, want ErrLocked", err)
	}
}

// TestTimeoutRelocks: the agent keeps an unlock for the vault's password
// timeout and no longer, on the fake clock of internal/testonly (the
// keyring's), which the test moves past the timeout instead of waiting.
func TestTimeoutRelocks(t *testing.T) {
	ctx := context.Background()
	clock := testonly.UseFakeClock(t)
	f := newFiles(t)
	r := f.remote(t, serve(t, NewServer(testEngines)).dial(t))
	err := engine.Run(ctx, r, engine.RegisterRequest{Registration: engine.Registration{Name: "Store", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true},
		Parameters: map[string]any{"authentication": "password", "password_timeout": int64(3)}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Run(ctx, r, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, r, engine.SetRequest{Name: "db", Value: secretValue, Vault: "Store"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2900 * time.Millisecond)
	if _, err := engine.Do(ctx, r, engine.GetRequest{Name: "db", Vault: "Store"}); err != nil {
		t.Fatalf("before the timeout: %v", err)
	}
	clock.Advance(200 * time.Millisecond)
	if _, err := engine.Do(ctx, r, engine.GetRequest{Name: "db", Vault: "Store"}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("after the timeout: %v, want ErrLocked", err)
	}
}

// TestOtherUserRefused: the agent checks each client's credentials and
// refuses another user, with a message that says so.
func TestOtherUserRefused(t *testing.T) {
	srv := NewServer(testEngines)
	srv.UID = os.Getuid() + 1 // as if this test ran as another user
	s := serve(t, srv)
	_, err := Dial(s.dir)
	if !errors.Is(err, engine.ErrPermissionDenied) {
		t.Fatalf("Dial: %v, want ErrPermissionDenied", err)
	}
	want := fmt.Sprintf("the sesame agent of user %d does not serve user %d", os.Getuid()+1, os.Getuid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if !strings.Contains(s.logs.String(), "refused a client of another user") {
		t.Errorf("the refusal is not logged:\n%s", s.logs)
	}
}

// TestFolderChecks: a client refuses a folder that others can enter or
// that is not a folder.
func TestFolderChecks(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(open); err == nil || !strings.Contains(err.Error(), "can be entered by other users (mode 0755)") {
		t.Errorf("Dial of a 0755 folder: %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(file); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("Dial of a file: %v", err)
	}
	if _, err := Dial(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial of a missing folder: %v, want ErrNotRunning", err)
	}
}

// TestIdleStop: the server stops by itself once no request came for its
// idle period, though a client stays connected (silent); that client's next
// request fails as on any dropped connection.
func TestIdleStop(t *testing.T) {
	srv := NewServer(testEngines)
	srv.Idle = time.Hour // until the client is in: then a short one
	s := serve(t, srv)
	c := s.dial(t)
	srv.mu.Lock()
	srv.Idle = 50 * time.Millisecond
	srv.mu.Unlock()
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-s.reason:
		if reason != "idle" {
			t.Fatalf("Serve stopped for %q, want idle", reason)
		}
	case <-time.After(time.Minute):
		t.Fatal("an open, silent connection kept the agent from its 50ms idle exit for a minute")
	}
	s.reason <- "stopped"
	if _, err := c.Status(context.Background()); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("a request after the idle exit: %v, want ErrUnavailable", err)
	}
}

// TestOneAgentPerFolder: a second Run on the folder of a running agent
// fails with ErrRunning and the first one's pid; the first stops on its
// context.
func TestOneAgentPerFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		reason, err := Run(ctx, dir, RunOptions{Ready: w, Engines: testEngines})
		if err != nil {
			t.Error(err)
		}
		done <- reason
	}()
	line := make([]byte, 64)
	n, _ := r.Read(line)
	if got := string(line[:n]); got != "ready\n" {
		t.Fatalf("ready line %q", got)
	}
	if PID(dir) != os.Getpid() {
		t.Errorf("PID = %d, want %d", PID(dir), os.Getpid())
	}
	_, err = Run(context.Background(), dir, RunOptions{Engines: testEngines})
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Errorf("a second Run: %v, want ErrRunning with the pid", err)
	}
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cancel()
	if reason := <-done; reason != "signal" {
		t.Errorf("Run stopped for %q", reason)
	}
	if PID(dir) != 0 {
		t.Error("the lock is still held after Run returned")
	}
	if _, err := Dial(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial after the agent stopped: %v, want ErrNotRunning", err)
	}
}

// TestClientEnvironment: a vault granted a variable sees the value of the
// client that calls, not the agent's, and is started again when it
// changes; the client sends the agent that variable alone, and none of
// its environment for a vault granted none.
func TestClientEnvironment(t *testing.T) {
	ctx := context.Background()
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")
	f := newFiles(t)
	c := serve(t, NewServer(testEngines)).dial(t)
	sent := &recordingConn{Conn: c.nc}
	c.nc, c.st = sent, newStream(sent, maxResponse, 0)
	r := f.remote(t, c)
	for _, reg := range []engine.Registration{
		{Name: "Env", Extension: hostile, Grants: engine.Grants{Storage: true, Env: []string{"SESAME_AGENT_TEST_VAR"}}},
		{Name: "NoEnv", Extension: hostile, Grants: engine.Grants{Storage: true}},
	} {
		if err := engine.Run(ctx, r, engine.RegisterRequest{Registration: reg}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SESAME_AGENT_TEST_OTHER", "not-granted")
	for _, v := range []string{"one", "two"} {
		t.Setenv("SESAME_AGENT_TEST_VAR", v)
		s, err := engine.Do(ctx, r, engine.GetRequest{Name: "env", Vault: "Env"})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(s.Value); got != "SESAME_AGENT_TEST_VAR="+v {
			t.Errorf("the extension sees %q, want SESAME_AGENT_TEST_VAR=%s", got, v)
		}
	}
	if !bytes.Contains(sent.bytes(), []byte("SESAME_AGENT_TEST_VAR=two")) {
		t.Fatal("the client did not send the granted variable through the recorded connection")
	}
	if bytes.Contains(sent.bytes(), []byte("not-granted")) {
		t.Error("the client sent a variable no grant names")
	}
	sent.reset()
	if _, err := engine.Do(ctx, r, engine.GetRequest{Name: "env", Vault: "NoEnv"}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sent.bytes(), []byte("SESAME_AGENT_TEST_VAR")) {
		t.Error("the client sent a variable for a vault granted none")
	}
}

// recordingConn keeps a copy of what is written to it.
type recordingConn struct {
	net.Conn
	mu      sync.Mutex
	written []byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, p...)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.written)
}

func (c *recordingConn) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = nil
}

// TestBrokenConnection: a request on a connection the agent dropped fails
// with ErrUnavailable and a message that says what happened, and every
// later one fails the same way.
func TestBrokenConnection(t *testing.T) {
	s := serve(t, NewServer(testEngines))
	c := s.dial(t)
	r := newFiles(t).remote(t, c)
	srv := s.srv
	srv.stop("test")
	<-s.reason
	s.reason <- "stopped"
	for range 2 {
		_, err := engine.Do(context.Background(), r, engine.GetRequest{Name: "x"})
		if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "the connection to the sesame agent broke") {
			t.Fatalf("Get on a dropped connection: %v", err)
		}
	}
}

// knownErrors are the errors that cross the wire as themselves: the
// engine's sentinels and foreign.
func knownErrors() []error {
	var out []error
	for _, c := range engine.Codes() {
		out = append(out, c)
	}
	return append(out, foreign...)
}

// TestErrorsCrossIntact: the error tree survives the wire: messages,
// sentinels, *engine.Error fields, joined errors.
func TestErrorsCrossIntact(t *testing.T) {
	inner := &engine.Error{Op: "get", Vault: "A", Secret: "s", Err: fmt.Errorf("%w: detail", engine.ErrLocked)}
	errs := []error{
		engine.ErrVaultNotFound,
		inner,
		&engine.Error{Op: "get", Secret: "s", Err: errors.Join(engine.ErrSecretNotFound, inner)},
		fmt.Errorf("wrapped: %w", context.DeadlineExceeded),
		errors.New("plain"),
	}
	for _, want := range errs {
		got := encodeError(want).decode()
		if got.Error() != want.Error() {
			t.Errorf("message %q, want %q", got, want)
		}
		for _, s := range knownErrors() {
			if errors.Is(got, s) != errors.Is(want, s) {
				t.Errorf("%q: errors.Is(%v) = %v after the wire", want, s, errors.Is(got, s))
			}
		}
		var ge, we *engine.Error
		if errors.As(got, &ge) != errors.As(want, &we) || (ge != nil && !reflect.DeepEqual([]string{string(ge.Op), ge.Vault, ge.Secret}, []string{string(we.Op), we.Vault, we.Secret})) {
			t.Errorf("%q: the *engine.Error differs after the wire", want)
		}
	}
	if encodeError(nil).decode() != nil {
		t.Error("nil does not stay nil")
	}
}

// TestRegistryChangeSeen: the agent's engine notices vaults.toml written by
// another process: a new vault is there, a changed registration is loaded
// again (and so relocked), an untouched one keeps its unlock.
func TestRegistryChangeSeen(t *testing.T) {
	ctx := context.Background()
	f := newFiles(t)
	r := f.remote(t, serve(t, NewServer(testEngines)).dial(t))
	register(t, r, "password")
	if err := engine.Run(ctx, r, engine.UnlockRequest{Vault: "Store", Password: []byte(password)}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, r, engine.SetRequest{Name: "db", Value: secretValue, Vault: "Store"}); err != nil {
		t.Fatal(err)
	}

	// Another process (an engine of its own) adds a vault.
	other, err := engine.Open(ctx, f.path, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Later", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "none"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, r, engine.SetRequest{Name: "x", Value: "y", Vault: "Later"}); err != nil {
		t.Fatalf("the agent does not see a vault registered by another process: %v", err)
	}
	if _, err := engine.Do(ctx, r, engine.GetRequest{Name: "db", Vault: "Store"}); err != nil {
		t.Fatalf("an untouched vault lost its unlock: %v", err)
	}

	// ... and changes Store's registration: it is loaded again, locked.
	if err := other.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Store", Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true}, Parameters: map[string]any{"authentication": "password", "password_timeout": int64(600)}}, AllowClobber: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Do(ctx, r, engine.GetRequest{Name: "db", Vault: "Store"}); !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("a changed registration: %v, want ErrLocked", err)
	}
}
