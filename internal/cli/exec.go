package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
)

func (s *session) execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command with secrets in its environment",
		UsageText: "sesame exec [--vault V] --env VAR=NAME... -- COMMAND [ARG...]",
		Description: `Runs COMMAND with each secret NAME in the environment variable VAR, and exits
with the command's exit status (128+N when a signal N ended it). No secret is
put on any command line. String, secure string and bytes secrets can be
passed; bytes must not contain a NUL byte.

Standard input, output and error are the command's own. While it runs, sesame
passes SIGTERM and SIGHUP on to it; SIGINT and SIGQUIT from the terminal reach
it directly.

Examples:
  sesame exec --env PGPASSWORD=db-password -- psql -h db.internal
  sesame exec --vault Team --env TOKEN=ci-token --env KEY=deploy-key -- ./deploy.sh`,
		Flags: []cli.Flag{
			vaultFlag("read the secrets from `VAULT` (default: the default vault, then the others)"),
			&cli.StringSliceFlag{Name: "env", Usage: "set `VAR=NAME`: variable VAR to secret NAME (repeatable)"},
		},
		Action: s.exec,
	}
}

func (s *session) exec(c *cli.Context) error {
	argv := c.Args().Slice()
	if len(argv) == 0 {
		return usagef(c, "missing the COMMAND to run")
	}
	pairs := c.StringSlice("env")
	if len(pairs) == 0 {
		return usagef(c, "exec needs at least one --env VAR=NAME")
	}
	type binding struct{ name, secret string }
	var bindings []binding
	seen := map[string]bool{}
	for _, p := range pairs {
		v, n, ok := strings.Cut(p, "=")
		switch {
		case !ok || v == "" || n == "":
			return usagef(c, "--env %q: want VAR=NAME", p)
		case !isVarName(v):
			return usagef(c, "--env %q: %q is not a variable name (letters, digits and _, not starting with a digit)", p, v)
		case seen[v]:
			return usagef(c, "--env: variable %s given twice", v)
		}
		seen[v] = true
		bindings = append(bindings, binding{v, n})
	}
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	env := os.Environ()
	for _, b := range bindings {
		sec, err := unlocked(s, e, func() (api.Secret, error) {
			return api.Do(s.ctx, e, api.GetRequest{Name: b.secret, Vault: c.String("vault")})
		})
		if err != nil {
			return err
		}
		var text string
		switch v := sec.Value.(type) {
		case string:
			text = v
		case api.SecureString:
			text = string(v)
		case []byte:
			text = string(v)
		default:
			return fmt.Errorf("cannot put secret %q in $%s: it is a %s; exec passes only string, securestring and bytes secrets", sec.Name, b.name, sec.Type)
		}
		if strings.ContainsRune(text, 0) {
			return fmt.Errorf("cannot put secret %q in $%s: it contains a NUL byte, which an environment variable cannot hold", sec.Name, b.name)
		}
		env = append(env, b.name+"="+text)
	}
	s.close() // the vaults are not needed while the command runs

	path, err := exec.LookPath(argv[0])
	if err != nil {
		s.printError(fmt.Errorf("cannot run %s: %w", argv[0], errors.Unwrap(err)))
		return exitStatus(127)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.stdin, s.stdout, s.stderr
	if err := cmd.Start(); err != nil {
		s.printError(fmt.Errorf("cannot run %s: %w", argv[0], err))
		return exitStatus(126)
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP, os.Interrupt, syscall.SIGQUIT)
	defer signal.Stop(sig)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case x := <-sig:
				if x == syscall.SIGTERM || x == syscall.SIGHUP {
					cmd.Process.Signal(x)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("running %s: %w", argv[0], err)
	}
	return exitStatus(statusOf(ee.ProcessState))
}

// statusOf is a finished process's exit status as a shell reports it:
// 128+N for a process ended by signal N.
func statusOf(ps *os.ProcessState) int {
	if code := ps.ExitCode(); code >= 0 {
		return code
	}
	if ws, ok := ps.Sys().(interface {
		Signaled() bool
		Signal() syscall.Signal
	}); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 1
}

// isVarName reports whether v is a portable environment variable name
// (POSIX: letters, digits and underscores, not starting with a digit), one
// a shell and the command can read back.
func isVarName(v string) bool {
	for i, r := range v {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return v != ""
}
