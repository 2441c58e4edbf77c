package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorder rewrites a command line so that urfave/cli v2 parses it as the
// synopsis reads: "sesame set NAME --value V". Like package flag, urfave/cli
// v2 stops at a command's first argument that is not a flag; reorder moves
// each command's flags in front of its arguments, and global flags given
// after the command (--config) to the front. "--" ends the flags. For exec,
// the first argument (the command to run) also ends them, so that the
// command's own flags stay its own.
func reorder(app *cli.App, argv []string) []string {
	if len(argv) < 2 {
		return argv
	}
	global := flagArity(app.Flags)
	level := global
	cmds := app.Commands
	var globals, path []string
	rest := argv[1:]
	for len(rest) > 0 {
		a := rest[0]
		if a == "--" || !isFlag(a) {
			cmd := findCommand(cmds, a)
			if cmd == nil {
				break // an argument of the root or of a group: urfave/cli reports it
			}
			path = append(path, a)
			rest = rest[1:]
			if len(cmd.Subcommands) > 0 {
				cmds, level = cmd.Subcommands, flagArity(cmd.Flags)
				continue
			}
			flags, extra, positional := split(rest, flagArity(cmd.Flags), global, cmd.Name == "exec")
			out := append([]string{argv[0]}, globals...)
			out = append(append(append(out, extra...), path...), flags...)
			if needsDashes(positional) {
				out = append(out, "--")
			}
			return append(out, positional...)
		}
		n := width(rest, level)
		if len(path) == 0 {
			globals = append(globals, rest[:n]...)
		} else {
			path = append(path, rest[:n]...)
		}
		rest = rest[n:]
	}
	out := append(append([]string{argv[0]}, globals...), path...)
	return append(out, rest...)
}

// split separates the arguments of a command into its flags, global flags
// given late, and positional arguments.
func split(rest []string, own, global map[string]bool, stopAtArg bool) (flags, globals, positional []string) {
	for len(rest) > 0 {
		a := rest[0]
		switch {
		case a == "--":
			return flags, globals, append(positional, rest[1:]...)
		case !isFlag(a):
			if stopAtArg {
				return flags, globals, append(positional, rest...)
			}
			positional = append(positional, a)
			rest = rest[1:]
			continue
		}
		name := flagName(a)
		if _, ok := own[name]; !ok {
			if _, ok := global[name]; ok {
				n := width(rest, global)
				globals = append(globals, rest[:n]...)
				rest = rest[n:]
				continue
			}
		}
		if own[name] && len(rest) == 1 && !strings.Contains(a, "=") {
			// A flag that lacks its value: leave it last, where urfave/cli
			// reports it, rather than give it an argument as its value.
			return append(flags, a), globals, nil
		}
		n := width(rest, own)
		flags = append(flags, rest[:n]...)
		rest = rest[n:]
	}
	return flags, globals, positional
}

// needsDashes reports whether the positional arguments must follow "--" to
// be read as arguments.
func needsDashes(positional []string) bool {
	for _, a := range positional {
		if strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// flagName is the name of flag argument a: "--vault=x" → "vault".
func flagName(a string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name
}

// width is how many arguments the flag at rest[0] takes: 2 for a flag that
// takes a value given as the next argument, else 1.
func width(rest []string, arity map[string]bool) int {
	a := rest[0]
	if strings.Contains(a, "=") || !arity[flagName(a)] || len(rest) < 2 {
		return 1
	}
	return 2
}

// flagArity maps each name of flags (and of the help flag) to whether it
// takes a value.
func flagArity(flags []cli.Flag) map[string]bool {
	m := map[string]bool{"help": false, "h": false}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}
