package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
)

// Main is the whole command: main only supplies the process's arguments
// and files, and exits with what Main returns. Exit status 0 is success
// (also a change declined at --confirm), 1 a failure, 2 a usage error; exec
// passes its command's status through. e is the engine in this process:
// sesame-engine's, or nil in the thin sesame, which hands what needs it
// over to sesame-engine (thin).
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, e *Engine) int {
	s := &session{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, args: args, inproc: e}
	defer s.close()
	if mode, err := agentMode(); err == nil && mode == agentOff && e == nil {
		// Every command that does anything needs the engine here.
		return s.report(s.handOff())
	}
	if len(args) > 1 && args[1] == completeCommand {
		s.quiet = true
		return s.report(s.complete(args[2:]))
	}
	app := s.newApp()
	if e == nil {
		s.thin(app.Commands, "")
	}
	return s.report(app.RunContext(ctx, reorder(app, args)))
}

// usageError is a command line that cannot be run as written: exit status 2.
type usageError struct {
	msg   string
	help  string // the command whose --help to suggest, "sesame set"
	meant string // what the user probably meant, "'sesame get'"; "" when unsure
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error of the command of c.
func usagef(c *cli.Context, format string, args ...any) error {
	help := "sesame"
	if c != nil && c.Command != nil && c.Command.HelpName != "" {
		help = c.Command.HelpName
	}
	return &usageError{msg: fmt.Sprintf(format, args...), help: help}
}

// exitStatus is the exit status of a command run by exec, passed through
// without a message.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// hinted is an error that carries its own hint lines.
type hinted struct {
	err   error
	hints []string
}

func (h *hinted) Error() string { return h.err.Error() }
func (h *hinted) Unwrap() error { return h.err }

// withHint adds hint lines to err.
func withHint(err error, hints ...string) error { return &hinted{err: err, hints: hints} }

// report prints err and returns the exit status. It is the one place that
// decides the status.
func (s *session) report(err error) int {
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	if errors.Is(err, api.ErrDeclined) {
		// The user said no: what they asked for happened.
		fmt.Fprintln(s.stderr, "sesame: declined; nothing was changed")
		return 0
	}
	s.printError(err)
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.meant != "" {
			fmt.Fprintf(s.stderr, "sesame: hint: did you mean %s?\n", ue.meant)
		}
		if ue.help != "" {
			fmt.Fprintf(s.stderr, "sesame: hint: run '%s --help' for usage\n", ue.help)
		}
		return 2
	}
	for _, h := range hints(err) {
		fmt.Fprintf(s.stderr, "sesame: hint: %s\n", h)
	}
	return 1
}

// printError prints every line of err's message as its own error line.
func (s *session) printError(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(s.stderr, "sesame: error: %s\n", line)
	}
}

// hints returns the hint lines for err: its own, or those of a sentinel.
func hints(err error) []string {
	var h *hinted
	if errors.As(err, &h) {
		return h.hints
	}
	if gs := api.MissingGrants(err); len(gs) > 0 {
		return grantHints(err, gs)
	}
	switch {
	case errors.Is(err, api.ErrLocked):
		if v := vaultOf(err, api.ErrLocked); v != "" {
			return []string{"unlock it with: sesame vault unlock " + v}
		}
		return []string{"unlock the vault with: sesame vault unlock VAULT"}
	case errors.Is(err, api.ErrNoDefaultVault):
		return []string{"name a vault with --vault, or choose a default with: sesame vault default VAULT"}
	case errors.Is(err, api.ErrVaultNotFound):
		return []string{"list the registered vaults with: sesame vault list"}
	case errors.Is(err, api.ErrNoClobber):
		return []string{"leave out --no-clobber to replace it"}
	case errors.Is(err, api.ErrVaultExists):
		return []string{"add --allow-clobber to replace the registration"}
	case errors.Is(err, api.ErrSecretNotFound):
		return []string{"list the secrets with: sesame info"}
	}
	return nil
}

// grantFlags are the --grant flags of vault register that give each grant
// an extension may need.
var grantFlags = map[string]string{
	"storage":   "--grant storage=true",
	"directory": "--grant directory=PATH",
	"env":       "--grant env=VAR,VAR",
	"http":      "--grant http=ORIGIN,ORIGIN",

	"identity": "--grant identity=true",
}

// grantHints names the flags that give the grants gs, which err says a
// vault's extension needs: to add to the vault register being run, or to
// a register again of a vault registered without them.
func grantHints(err error, gs []string) []string {
	var e *api.Error
	if !errors.As(err, &e) || e.Vault == "" {
		return nil
	}
	var hs []string
	for _, g := range gs {
		flag, ok := grantFlags[g]
		if !ok {
			continue // a grant this sesame cannot give
		}
		how := "register it with " + flag
		if e.Op != api.OpRegister {
			how = "register it again with " + flag + " --allow-clobber (or grant it in vaults.toml)"
		}
		hs = append(hs, fmt.Sprintf("vault %s needs the %s grant: %s", e.Vault, g, how))
	}
	return hs
}

// vaultOf returns the vault named by the innermost *api.Error in err's
// tree whose cause is sentinel: the vault that failed, not one whose
// opening needed it (a vault granted identity, whose identity is kept in
// the locked default vault).
func vaultOf(err error, sentinel error) string {
	var found string
	var walk func(error) bool
	walk = func(err error) bool {
		if e, ok := err.(*api.Error); ok && e.Vault != "" && errors.Is(e.Err, sentinel) {
			if !walk(e.Err) {
				found = e.Vault
			}
			return true
		}
		switch x := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				if walk(e) {
					return true
				}
			}
		case interface{ Unwrap() error }:
			if e := x.Unwrap(); e != nil {
				return walk(e)
			}
		}
		return false
	}
	walk(err)
	return found
}

// onUsageError turns urfave/cli's flag errors into usage errors, with the
// flag probably meant for an unknown one.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg, meant := err.Error(), ""
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		msg = "unknown flag " + dashes(name)
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		}
		if n := closest(strings.TrimLeft(name, "-"), flagNames(flags)); n != "" {
			meant = dashes(n)
		}
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		msg = "flag " + dashes(name) + " needs a value"
	}
	ue := usagef(c, "%s", msg).(*usageError)
	ue.meant = meant
	return ue
}

// unknownCommandError refuses the command name typed where one of cmds, the
// subcommands of c's command, was expected, with the one probably meant.
func unknownCommandError(c *cli.Context, typed string, cmds []*cli.Command) error {
	ue := usagef(c, "unknown command %q", typed).(*usageError)
	if name := closest(typed, commandNames(cmds)); name != "" {
		prefix := "sesame"
		if c.Command != nil && c.Command.HelpName != "" {
			prefix = c.Command.HelpName
		}
		ue.meant = "'" + prefix + " " + name + "'"
	}
	return ue
}

// dashes spells a flag name the way the help does: -h, --vault.
func dashes(name string) string {
	name = strings.TrimLeft(name, "-")
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// setUsageErrors installs onUsageError on every command, and hides the
// "help" subcommand urfave/cli adds to commands without subcommands: there
// it would take "sesame get h" for "sesame get help".
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = onUsageError
		c.HideHelpCommand = len(c.Subcommands) == 0
		setUsageErrors(c.Subcommands)
	}
}

// newApp builds the command tree. urfave/cli changes the tree as it runs, so
// each run builds a new one.
func (s *session) newApp() *cli.App {
	app := &cli.App{
		Name:      "sesame",
		HelpName:  "sesame",
		Usage:     "keep secrets in sandboxed vaults",
		UsageText: "sesame [--config FILE] [--verbose] COMMAND [ARGS...]",
		Description: `sesame stores named secrets in vaults. Each vault is a WebAssembly extension
run in a sandbox that can touch only what its registration grants.

With no set-up at all, the first command that needs a vault creates the vault
LocalStore (the builtin secretstore extension) and makes it the default.

Files:
  $XDG_CONFIG_HOME/sesame/vaults.toml  the registry of vaults (--config, $SESAME_CONFIG)
  $XDG_DATA_HOME/sesame                the vaults' storage
  $XDG_CACHE_HOME/sesame               compiled extensions
  $XDG_RUNTIME_DIR/sesame              the agent's socket (sesame agent --help)

Examples:
  sesame set db-password                     # asks for the value, hidden
  sesame get db-password --as-plain-text
  sesame exec --env PGPASSWORD=db-password -- psql
  sesame info --json
  source <(sesame completion bash)

A vault's log lines show on standard error, prefixed with its name:
"sesame: vault Team: warning: …". Warnings and errors always show; info and
debug lines with --verbose. The sesame agent sends back the lines of each
request with its answer.

Exit status: 0 success (a change declined at --confirm included), 1 failure,
2 usage error; exec passes its command's status through.`,
		HideVersion:               true,
		DisableSliceFlagSeparator: true,
		// sesame shows no build time; a value here keeps urfave/cli from
		// stat'ing os.Args[0] for one at every start.
		Compiled:       time.Unix(0, 0),
		Reader:         s.stdin,
		Writer:         s.stdout,
		ErrWriter:      s.stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:      "config",
				Usage:     "use the registry of vaults in `FILE` (default: $XDG_CONFIG_HOME/sesame/vaults.toml)",
				EnvVars:   []string{"SESAME_CONFIG"},
				TakesFile: true,
			},
			&cli.BoolFlag{Name: "version", Usage: "print the version of sesame and of the extension ABI it speaks"},
			&cli.BoolFlag{Name: "verbose", Usage: "show the vaults' info and debug log lines too (warnings and errors always show)"},
		},
		Before: func(c *cli.Context) error {
			s.config, s.verbose = c.String("config"), c.Bool("verbose")
			return nil
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				s.printVersion()
				return nil
			}
			if c.Args().Present() {
				return unknownCommandError(c, c.Args().First(), c.App.Commands)
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			s.setCommand(),
			s.getCommand(),
			s.infoCommand(),
			s.setInfoCommand(),
			s.removeCommand(),
			s.copyCommand(),
			s.importCommand(),
			s.execCommand(),
			s.identityCommand(),
			s.vaultCommand(),
			s.extensionCommand(),
			s.agentCommand(),
			s.completionCommand(),
			s.versionCommand(),
		},
	}
	setUsageErrors(app.Commands)
	return app
}

// unknownCommand is the action of a command that has subcommands: with no
// argument it shows the help, otherwise it refuses the unknown name.
func unknownCommand(c *cli.Context) error {
	if c.Args().Present() {
		return unknownCommandError(c, c.Args().First(), c.Command.Subcommands)
	}
	return cli.ShowSubcommandHelp(c)
}

// args checks that c has between min and max arguments (max < 0: no limit)
// and returns them.
func args(c *cli.Context, min, max int, names string) ([]string, error) {
	a := c.Args().Slice()
	switch {
	case len(a) < min:
		return nil, usagef(c, "missing %s", names)
	case max >= 0 && len(a) > max:
		return nil, usagef(c, "unexpected argument %q", a[max])
	}
	return a, nil
}

// vaultFlag is the --vault flag of the secret commands.
func vaultFlag(usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: "vault", Usage: usage}
}

// The flags below are built afresh for each command: urfave/cli records
// state in them while it parses.

func whatIfFlag() cli.Flag {
	return &cli.BoolFlag{Name: "what-if", Usage: "say what would change, and change nothing"}
}

func confirmFlag() cli.Flag {
	return &cli.BoolFlag{Name: "confirm", Usage: "ask on the terminal before changing anything"}
}

func jsonFlag() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }
