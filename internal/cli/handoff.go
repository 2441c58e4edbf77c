package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
)

// engineName is the program that links the engine, installed beside sesame
// (make build, go install ./cmd/...).
const engineName = "sesame-engine"

// engineBinary returns sesame-engine beside this program, checked as ssh
// checks a key file (checkEngineBinary): the thin sesame runs it for what
// it cannot do itself, and an agent started from it holds the user's keys.
func engineBinary() (string, error) {
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("cannot find %s: %w", engineName, err)
	}
	path := filepath.Join(filepath.Dir(exe), engineName)
	if err := checkEngineBinary(path); err != nil {
		return "", withHint(err, "sesame runs "+engineName+" from its own folder: install both with make build or go install ./cmd/...")
	}
	return path, nil
}

// checkEngineBinary refuses a program at path that another user could have
// put or replaced there: it must be a regular file (after links) owned by
// this user or root, and not writable by its group or others.
func checkEngineBinary(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: the engine of sesame is not installed beside it", path)
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("refusing to run %s: it is not a regular file", path)
	case !ok || int(st.Uid) != os.Getuid() && st.Uid != 0:
		return fmt.Errorf("refusing to run %s: it belongs to user %d, neither you nor root", path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("refusing to run %s: other users can write it (mode %04o; chmod go-w it)", path, fi.Mode().Perm())
	}
	return nil
}

// handOff runs the command again in sesame-engine, which links the engine:
// the same arguments (its own path as argv[0]) and environment, in this
// process (exec), so that its
// pid, terminal, descriptors and exit status are the command's. It returns
// only on failure. The thin sesame calls it before the command has read or
// written anything (see thin).
func (s *session) handOff() error {
	path, err := engineBinary()
	if err != nil {
		return err
	}
	argv := append([]string{path}, s.args[1:]...)
	return fmt.Errorf("cannot run %s: %w", path, syscall.Exec(path, argv, os.Environ()))
}

// The commands the thin sesame hands over before they start, by their
// names under sesame: those that need the engine in the process whatever
// the agent does.
var inProcess = map[string]bool{"agent run": true, "extension info": true, "extension check": true}

// The commands that reach no engine at all, which the thin sesame runs as
// they are.
var engineFree = map[string]bool{"version": true, "completion": true, "agent start": true, "agent stop": true, "agent status": true}

// thin readies the command tree cmds (under the names prefix) for the thin
// sesame, whose commands cannot be handed over once they have prompted or
// printed: a command of inProcess is handed over as it starts; any other
// that uses an engine first connects to the agent (s.engine), which hands
// it over when the agent cannot serve (SESAME_AGENT=auto and no agent can
// run), before it reads a value or asks a question.
func (s *session) thin(cmds []*cli.Command, prefix string) {
	for _, c := range cmds {
		name := prefix + c.Name
		s.thin(c.Subcommands, name+" ")
		action := c.Action
		switch {
		case len(c.Subcommands) > 0 || action == nil || engineFree[name]:
		case inProcess[name]:
			c.Action = func(*cli.Context) error { return s.handOff() }
		default:
			c.Action = func(ctx *cli.Context) error {
				if _, err := s.engine(); err != nil {
					return err
				}
				return action(ctx)
			}
		}
	}
}
