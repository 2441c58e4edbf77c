package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/agent"
)

// The agent modes of $SESAME_AGENT.
const (
	agentAuto = "auto" // use the agent, start it when needed, work alone when it cannot run (the default)
	agentOn   = "on"   // use the agent or fail
	agentOff  = "off"  // never use the agent
)

// defaultIdle is how long an agent started on demand waits for a client
// before it exits.
const defaultIdle = 30 * time.Minute

func agentMode() (string, error) {
	switch m := os.Getenv("SESAME_AGENT"); m {
	case "", agentAuto:
		return agentAuto, nil
	case agentOn, agentOff:
		return m, nil
	default:
		return "", withHint(fmt.Errorf("SESAME_AGENT=%q is not an agent mode", m), "set it to auto (the default), on or off")
	}
}

// remote returns the agent's engine over the registry at path, or nil to
// work in this process: when the mode is off, or auto and the agent cannot
// run.
func (s *session) remote(path string, opts *api.Options) (backend, error) {
	mode, err := agentMode()
	if err != nil || mode == agentOff {
		s.alone = "SESAME_AGENT=off turns it off"
		return nil, err
	}
	exe, err := s.engineExecutable()
	if err != nil {
		return nil, err // no program to serve: neither agent nor this command could run it
	}
	c, err := agent.DialOrStart(agent.Dir(), agentProcess(exe), build(exe))
	if err == nil {
		var r *agent.Remote
		if r, err = c.Engine(path, opts); err == nil {
			s.client = c
			return r, nil
		}
		c.Close()
	}
	if mode == agentOn {
		return nil, withHint(fmt.Errorf("cannot use the sesame agent: %w", err), "set SESAME_AGENT=auto to work without it when it cannot run")
	}
	s.alone = fmt.Sprintf("it cannot run: %v", err)
	if isTerminal(s.stderr) && s.inproc != nil { // else sesame-engine, handed the command, says it

		fmt.Fprintf(s.stderr, "sesame: note: working without the agent (vaults unlocked now stay unlocked only for this command): %v\n", err)
	}
	return nil, nil
}

// build names the program the agent runs, exe, for the agent: its file,
// size and time. An agent started by another build (sesame was upgraded, or
// rebuilt by go run) is replaced by the next command.
func build(exe string) string {
	st, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %d", exe, st.Size(), st.ModTime().UnixNano())
}

// executable is os.Executable, asked once: build and agentCommand both
// need it in every command the agent serves (a readlink each).
var executable = sync.OnceValues(os.Executable)

// engineExecutable returns the program that runs the engine, which the
// agent runs: this one when it links the engine, else sesame-engine beside
// it, checked (engineBinary).
func (s *session) engineExecutable() (string, error) {
	if s.inproc == nil {
		return engineBinary()
	}
	exe, err := executable()
	if err != nil {
		return os.Args[0], nil
	}
	return exe, nil
}

// agentProcess is the command that starts an agent on demand: exe, the
// program that runs the engine, in the background, from the root folder.
func agentProcess(exe string) *exec.Cmd {
	return &exec.Cmd{Path: exe, Args: []string{exe, "agent", "run", "--ready-fd", "3"}, Dir: "/"}
}

func (s *session) agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "the background process that keeps vaults unlocked between commands",
		Description: `The agent holds the vaults you unlock, for their password timeout, and keeps
extensions loaded, so that the next command neither asks for the password
again nor starts the extension again. Every command uses it: the first one
starts it in the background. It listens on a socket only you can use
($XDG_RUNTIME_DIR/sesame/agent.sock), exits after an idle period without a
request, and forgets every key when it stops, at once, even while a request
hangs. Its process cannot be dumped or traced, and writes no core file.

$SESAME_AGENT chooses: auto (the default) uses the agent and works without it
when it cannot run; on requires it; off never uses it.`,
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "run",
				Usage:     "run the agent in the foreground, logging to standard error",
				UsageText: "sesame agent run [--idle DURATION]",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "idle", Value: defaultIdle, EnvVars: []string{"SESAME_AGENT_IDLE"}, Usage: "exit after `DURATION` without a request (0: never)"},
					&cli.IntFlag{Name: "ready-fd", Hidden: true, Usage: "write the ready line to this file descriptor and log nothing"},
				},
				Action: s.agentRun,
			},
			{
				Name:   "start",
				Usage:  "start the agent in the background, unless it runs",
				Action: s.agentStart,
			},
			{
				Name:   "stop",
				Usage:  "stop the agent: every vault it holds forgets its keys",
				Action: s.agentStop,
			},
			{
				Name:  "status",
				Usage: "say whether the agent runs, and which vaults it holds unlocked until when",
				Description: `Prints the agent's pid, socket, start time and idle exit, the registries it
has open, and each vault it holds unlocked (for vaults that keep their key in
the agent's memory, like the builtin secretstore) with the time it relocks:
its password timeout, counted from the unlock.`,
				Action: s.agentStatus,
			},
		},
	}
}

func (s *session) agentRun(c *cli.Context) error {
	if _, err := args(c, 0, 0, ""); err != nil {
		return err
	}
	exe, err := s.engineExecutable()
	if err != nil {
		return err
	}
	opts := agent.RunOptions{Idle: c.Duration("idle"), Build: build(exe), Engines: s.inproc.agentEngines()}
	if fd := c.Int("ready-fd"); fd > 0 {
		// Started on demand: an agent that is stopping may still hold the
		// folder for a moment.
		opts.Wait = 5 * time.Second
		opts.Ready = os.NewFile(uintptr(fd), "ready")
		opts.Logger = slog.New(slog.DiscardHandler)
	} else {
		opts.Logger = slog.New(slog.NewTextHandler(s.stderr, nil))
	}
	ctx, stop := signal.NotifyContext(s.ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	_, err = agent.Run(ctx, agent.Dir(), opts)
	return err
}

func (s *session) agentStart(c *cli.Context) error {
	if _, err := args(c, 0, 0, ""); err != nil {
		return err
	}
	exe, err := s.engineExecutable()
	if err != nil {
		return err
	}
	cl, err := agent.DialOrStart(agent.Dir(), agentProcess(exe), build(exe))
	if err != nil {
		return fmt.Errorf("cannot start the sesame agent: %w", err)
	}
	defer cl.Close()
	st, err := cl.Status(s.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "sesame agent running, pid %d, socket %s\n", st.PID, filepath.Join(agent.Dir(), "agent.sock"))
	return nil
}

func (s *session) agentStop(c *cli.Context) error {
	if _, err := args(c, 0, 0, ""); err != nil {
		return err
	}
	pid, err := agent.Stop(s.ctx, agent.Dir())
	if errors.Is(err, agent.ErrNotRunning) {
		fmt.Fprintln(s.stderr, "sesame: no agent is running")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stderr, "sesame: stopped the agent (pid %d)\n", pid)
	return nil
}

func (s *session) agentStatus(c *cli.Context) error {
	if _, err := args(c, 0, 0, ""); err != nil {
		return err
	}
	cl, err := agent.Dial(agent.Dir())
	if errors.Is(err, agent.ErrNotRunning) {
		return withHint(errors.New("no agent is running"), "the next command starts it; or run: sesame agent start")
	}
	if err != nil {
		return err
	}
	defer cl.Close()
	st, err := cl.Status(s.ctx)
	if err != nil {
		return err
	}
	idle := "never"
	if st.Idle > 0 {
		idle = "after " + st.Idle.String() + " without a request"
	}
	fmt.Fprintf(s.stdout, "pid:      %d\nsocket:   %s\nstarted:  %s\nexits:    %s\n", st.PID, filepath.Join(agent.Dir(), "agent.sock"), st.Started.Format(time.RFC3339), idle)
	for _, r := range st.Registries {
		fmt.Fprintf(s.stdout, "registry: %s\n", r)
	}
	if len(st.Unlocked) == 0 {
		fmt.Fprintln(s.stdout, "unlocked: none")
	}
	for _, u := range st.Unlocked {
		fmt.Fprintf(s.stdout, "unlocked: %s (%s) %s\n", u.Vault, u.Registry, relocks(u.Expires, time.Now()))
	}
	return nil
}

// relocks says when a key that expires at exp relocks its vault, seen at now.
func relocks(exp, now time.Time) string {
	if exp.IsZero() {
		return "until locked or the agent stops"
	}
	return fmt.Sprintf("until %s (in %s)", exp.Format(time.RFC3339), exp.Sub(now).Round(time.Second))
}
