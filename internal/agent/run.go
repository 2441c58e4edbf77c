//go:build unix

package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesamehq/sesame/internal/filelock"
	"github.com/sesamehq/sesame/internal/xdg"
)

// The files in the agent's folder.
const (
	socketName = "agent.sock"
	lockName   = "agent.lock" // held by the running agent; holds its pid
	startName  = "start.lock" // held by a client while it starts an agent
)

// ErrRunning is returned by Run when another agent holds the folder.
var ErrRunning = errors.New("a sesame agent is already running")

// Dir returns the folder of this user's agent: $XDG_RUNTIME_DIR/sesame, or
// sesame-UID in the temporary folder when XDG_RUNTIME_DIR is unset.
func Dir() string { return xdg.RuntimeDir() }

// checkDir checks that dir belongs to this user and no one else can enter
// it, creating it (0700) when create is set. A folder someone else made or
// opened up is refused: its socket could be anyone's.
func checkDir(dir string, create bool) error {
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("agent folder: %w", err)
		}
	}
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s does not exist", ErrNotRunning, dir)
	}
	if err != nil {
		return fmt.Errorf("agent folder: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("agent folder %s is not a folder", dir)
	case !ok || int(sys.Uid) != os.Getuid():
		return fmt.Errorf("agent folder %s belongs to another user; refusing to use it", dir)
	case st.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("agent folder %s can be entered by other users (mode %04o); refusing to use it (chmod 700 it)", dir, st.Mode().Perm())
	}
	return nil
}

// RunOptions are the options of Run.
type RunOptions struct {
	Idle   time.Duration // stop after this long without a request; 0 = never
	Logger *slog.Logger
	// Ready, when set, receives one line once the agent listens ("ready")
	// or fails to start ("error: …"), and is closed: the starting client
	// waits on it.
	Ready io.WriteCloser
	// Wait is how long to wait for the folder's lock when an agent holds
	// it (one that is stopping); 0 = do not wait.
	Wait time.Duration
	// Build names the program the agent runs, for DialOrStart's check:
	// any string that changes when the program does.
	Build string
	// Engines opens the engines the agent serves (required).
	Engines Engines
}

// Run is the agent process: it makes the process not dumpable and
// core-less (harden), takes the folder's lock (one agent per user),
// listens on the socket and serves until it is stopped, idle, or ctx ends.
// It returns why it stopped; the process should then exit (see
// Server.Serve: a stuck request may still run).
func Run(ctx context.Context, dir string, opts RunOptions) (reason string, err error) {
	ready := func(err error) {
		if opts.Ready == nil {
			return
		}
		if err != nil {
			fmt.Fprintf(opts.Ready, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			fmt.Fprintln(opts.Ready, "ready")
		}
		opts.Ready.Close()
		opts.Ready = nil
	}
	defer func() { ready(err) }()
	if err := harden(); err != nil {
		return "", err
	}
	if err := checkDir(dir, true); err != nil {
		return "", err
	}
	lock, err := takeLock(filepath.Join(dir, lockName), opts.Wait)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	// The socket of an agent that died: the lock says no one serves it.
	sock := filepath.Join(dir, socketName)
	if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("removing the old socket: %w", err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return "", err
	}
	srv := NewServer(opts.Engines)
	srv.Idle, srv.Build = opts.Idle, opts.Build
	if opts.Logger != nil {
		srv.Logger = opts.Logger
	}
	srv.Logger.Info("sesame agent started", "pid", os.Getpid(), "socket", sock, "idle", opts.Idle)
	ready(nil)
	reason, err = srv.Serve(ctx, ln)
	srv.Logger.Info("sesame agent stopped", "reason", reason)
	return reason, err
}

// takeLock takes the exclusive lock at path and writes this process's pid
// into it, waiting up to wait for another holder to let go.
func takeLock(path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(context.Background(), f, filelock.Exclusive, time.Now().Add(wait)); err != nil {
		pid, _ := readPID(f)
		f.Close()
		if errors.Is(err, filelock.ErrTimeout) {
			return nil, fmt.Errorf("%w (pid %d)", ErrRunning, pid)
		}
		return nil, err
	}
	// The pid is for messages and `sesame agent stop`; the lock is what
	// counts, so a failure to write it is not fatal.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// readPID reads the pid an agent wrote into its lock file.
func readPID(f *os.File) (int, error) {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	return strconv.Atoi(strings.TrimSpace(string(b[:n])))
}

// PID returns the pid of the agent that holds dir's lock, or 0 when none
// does.
func PID(dir string) int {
	f, err := os.Open(filepath.Join(dir, lockName))
	if err != nil {
		return 0
	}
	defer f.Close()
	if filelock.Lock(context.Background(), f, filelock.Shared, time.Now()) == nil {
		return 0 // no one holds it; the lock goes with f
	}
	pid, _ := readPID(f)
	return pid
}

// DialOrStart connects to the agent of dir, starting it with cmd when none
// answers. cmd must run Run with RunOptions.Ready on its file descriptor 3
// (the sesame command: "sesame agent run --ready-fd 3"); it is started in
// a session of its own, detached from the caller's terminal. Clients that
// start an agent at once take turns, so only one is started.
//
// The client does not wait for the agent's greeting: its first call goes
// with the preface, and the greeting is read behind it (a round trip less
// for a command's one request). build names the caller's program (see
// RunOptions.Build), and the calls carry it: an agent of another build (the
// program was upgraded since it started), or of another version, runs
// nothing of the first call, and is stopped and replaced by one started
// with cmd, to which the call goes again, so that the engine code serving a
// command is the command's own. "" accepts any agent.
func DialOrStart(dir string, cmd *exec.Cmd, build string) (*Client, error) {
	c, err := connect(dir)
	if err == nil {
		c.want = build
		c.replace = func(other error) (*Client, error) { return replace(dir, cmd, build, other) }
		return c, nil
	}
	if !errors.Is(err, ErrNotRunning) {
		return nil, err
	}
	return startOne(dir, cmd, build)
}

// startOne starts an agent in dir with cmd, unless another client, which
// dir's start lock let go first, started one meanwhile, and connects to it.
func startOne(dir string, cmd *exec.Cmd, build string) (*Client, error) {
	if err := checkDir(dir, true); err != nil {
		return nil, err
	}
	turn, err := os.OpenFile(filepath.Join(dir, startName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer turn.Close()
	if err := filelock.Lock(context.Background(), turn, filelock.Exclusive, time.Time{}); err != nil {
		return nil, err
	}
	c, err := connect(dir)
	if errors.Is(err, ErrNotRunning) {
		if err := start(cmd); err != nil {
			return nil, err
		}
		c, err = connect(dir)
	}
	if err != nil {
		return nil, err
	}
	c.want = build
	return c, nil
}

// replace starts an agent with cmd in place of the agent of dir, which
// (other) is stopping, or is of another version or build: it waits for
// the first to end, and stops the others, the one of another version by a
// signal.
func replace(dir string, cmd *exec.Cmd, build string, other error) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	switch {
	case errors.Is(other, errAgentStopping):
		err = WaitStopped(ctx, dir)
	case errors.Is(other, errOtherVersion):
		_, err = stopBySignal(dir)
	default:
		_, err = Stop(ctx, dir)
	}
	if err != nil && !errors.Is(err, ErrNotRunning) {
		return nil, fmt.Errorf("%w; and it could not be replaced: %w", other, err)
	}
	return startOne(dir, cmd, build)
}

// Stop stops the agent of dir and waits until its process is gone; it
// returns the agent's pid, or ErrNotRunning when none answers.
func Stop(ctx context.Context, dir string) (pid int, err error) {
	c, err := Dial(dir)
	if errors.Is(err, errOtherVersion) {
		return stopBySignal(dir)
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return 0, err
	}
	if err := c.Stop(ctx); err != nil {
		return st.PID, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return st.PID, WaitStopped(ctx, dir)
}

// stopBySignal stops the agent of dir that speaks another version of the
// protocol (of the release before an upgrade), which cannot be asked to
// stop: it is sent SIGTERM, on which an agent stops as on a stop request
// (its keys are forgotten at once). Its process is the one that holds the
// folder's lock, and Dial checked that the socket's peer is this user.
func stopBySignal(dir string) (int, error) {
	pid := PID(dir)
	if pid == 0 {
		return 0, ErrNotRunning
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return pid, fmt.Errorf("cannot stop the sesame agent of another version (pid %d): %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pid, WaitStopped(ctx, dir)
}

// WaitStopped waits until no agent holds dir's lock: the process is gone.
func WaitStopped(ctx context.Context, dir string) error {
	for {
		pid := PID(dir)
		if pid == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the sesame agent (pid %d) still runs: %w", pid, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// start starts cmd and waits for its ready line.
func start(cmd *exec.Cmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("starting the sesame agent: %w", err)
	}
	defer cmd.Process.Release()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case line == "ready":
		return nil
	case strings.HasPrefix(line, "error: "):
		return fmt.Errorf("the sesame agent did not start: %s", strings.TrimPrefix(line, "error: "))
	}
	return fmt.Errorf("the sesame agent did not start: %v", err)
}
