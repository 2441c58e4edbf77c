package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/agent"
)

// completeCommand is the hidden command the completion scripts call:
// "sesame __complete WORD... CURRENT" prints the candidates for CURRENT, one
// per line. It works outside urfave/cli, so that half-typed command lines
// parse.
const completeCommand = "__complete"

const bashCompletion = `# bash completion for sesame. Load it with:  source <(sesame completion bash)
_sesame() {
	local IFS=$'\n'
	local cur=${COMP_WORDS[COMP_CWORD]}
	COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _sesame sesame
`

const zshCompletion = `#compdef sesame
# zsh completion for sesame. Install it with:  sesame completion zsh > "${fpath[1]}/_sesame"
# or load it with:  source <(sesame completion zsh)
_sesame() {
	local -a candidates
	candidates=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	if (( ${#candidates} )) && [[ -n ${candidates[1]} ]]; then
		compadd -a candidates
	else
		_files
	fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
	_sesame "$@"
else
	compdef _sesame sesame
fi
`

const fishCompletion = `# fish completion for sesame. Install it with:
#   sesame completion fish > ~/.config/fish/completions/sesame.fish
function __sesame_complete
	set -l words (commandline -opc)
	$words[1] __complete $words[2..-1] (commandline -ct) 2>/dev/null
end
complete -c sesame -f -a '(__sesame_complete)'
complete -c sesame -l file -r -F
complete -c sesame -l config -r -F
complete -c sesame -l extension -r -F
`

func (s *session) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh, fish)",
		UsageText: "sesame completion bash|zsh|fish",
		Description: `Completes commands, flags, types, vault names and secret names: from the
agent when it runs, else from the vaults themselves, within a second
($SESAME_COMPLETE_TIMEOUT, a duration such as 300ms, changes it); a vault
that is locked or slower is left out.

Examples:
  source <(sesame completion bash)                     # in ~/.bashrc
  sesame completion zsh > "${fpath[1]}/_sesame"
  sesame completion fish > ~/.config/fish/completions/sesame.fish`,
		Action: func(c *cli.Context) error {
			a, err := args(c, 1, 1, "the shell: bash, zsh or fish")
			if err != nil {
				return err
			}
			script, ok := map[string]string{"bash": bashCompletion, "zsh": zshCompletion, "fish": fishCompletion}[a[0]]
			if !ok {
				return usagef(c, "unknown shell %q (want bash, zsh or fish)", a[0])
			}
			_, err = fmt.Fprint(s.stdout, script)
			return err
		},
	}
}

// complete prints the candidates for the last of words, given the others.
func (s *session) complete(words []string) error {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	s.config = os.Getenv("SESAME_CONFIG") // --config among words overrides it
	for _, c := range s.candidates(words[:len(words)-1], cur) {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(s.stdout, c)
		}
	}
	return nil
}

// candidates returns what may come after prev.
func (s *session) candidates(prev []string, cur string) []string {
	app := s.newApp()
	global := flagArity(app.Flags)
	flags, cmds := app.Flags, app.Commands
	level := global
	var cmd *cli.Command
	positional := 0
	valueOf := ""
	vault := "" // --vault, or copy's --from: the vault whose secret names complete
	for i := 0; i < len(prev); i++ {
		a := prev[i]
		switch {
		case a == "--":
			return nil // the command exec runs: the shell's own completion
		case isFlag(a):
			name := flagName(a)
			takes, own := level[name]
			if !own {
				takes = global[name]
			}
			value, inline := "", strings.Contains(a, "=")
			if inline {
				_, value, _ = strings.Cut(a, "=")
			}
			if takes && !inline {
				if i == len(prev)-1 {
					valueOf = name
					continue
				}
				i++
				value = prev[i]
			}
			switch name {
			case "config":
				s.config = value
			case "vault", "from":
				vault = value
			}
			continue
		case cmd == nil || len(cmd.Subcommands) > 0:
			c := findCommand(cmds, a)
			if c == nil {
				return nil
			}
			cmd, cmds, flags, level = c, c.Subcommands, c.Flags, flagArity(c.Flags)
			continue
		case cmd.Name == "exec":
			return nil
		}
		positional++
	}
	switch valueOf {
	case "":
	case "vault", "from", "to":
		return s.vaultNames()
	case "format": // import's
		return []string{"dotenv", "json"}
	case "type":
		var names []string
		for _, t := range secretTypes {
			names = append(names, t.String())
		}
		return names
	default:
		return nil // files, or free text
	}
	if strings.HasPrefix(cur, "-") {
		var names []string
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, "--"+n)
				}
			}
		}
		return append(names, "--help")
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		var names []string
		for _, c := range cmds {
			if !c.Hidden {
				names = append(names, c.Name)
			}
		}
		return names
	}
	if positional > 0 {
		return nil
	}
	switch cmd.Name {
	case "unregister", "default", "test", "unlock", "lock", "set-password", "rekey":
		return s.vaultNames()
	case "get", "set", "set-info", "remove", "copy":
		return s.secretNames(vault)
	case "completion":
		return []string{"bash", "zsh", "fish"}
	}
	return nil
}

// completeBudget bounds the time the completion of secret names may take
// without the agent, when it has to load the vaults itself: a Tab must not
// hang the shell on a slow vault. $SESAME_COMPLETE_TIMEOUT (a duration)
// replaces it.
const completeBudget = time.Second

// completeTimeout returns $SESAME_COMPLETE_TIMEOUT, or completeBudget.
func completeTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SESAME_COMPLETE_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return completeBudget
}

// secretNames lists the names of the secrets in vault (all vaults that info
// searches when ""). It asks the agent if one runs (never starting one): it
// has the vaults loaded and holds the unlocked ones. Else it opens the
// vaults in this process. Either way it stops at completeTimeout; vaults
// that fail (locked, slow) are left out.
func (s *session) secretNames(vault string) []string {
	ctx, cancel := context.WithTimeout(s.ctx, completeTimeout())
	defer cancel()
	var e backend
	if r := s.runningAgent(); r != nil {
		e = r
	} else if local, err := s.localEngine(); err == nil {
		e = local
	} else {
		return nil
	}
	list, _ := api.Do(ctx, e, api.InfoRequest{Pattern: "*", Vault: vault})
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// runningAgent returns the engine of the agent if one runs and the agent
// mode allows it, without starting one; nil otherwise.
func (s *session) runningAgent() backend {
	if s.eng != nil {
		return s.eng
	}
	if mode, err := agentMode(); err != nil || mode == agentOff {
		return nil
	}
	path, opts, err := s.engineFiles()
	if err != nil {
		return nil
	}
	c, err := agent.Dial(agent.Dir())
	if err != nil {
		return nil
	}
	r, err := c.Engine(path, opts)
	if err != nil {
		c.Close()
		return nil
	}
	s.client, s.eng = c, r // closed with the session
	return r
}

// vaultNames lists the registered vaults; none when the registry cannot be
// read.
func (s *session) vaultNames() []string {
	var e backend
	if r := s.runningAgent(); r != nil {
		e = r
	} else if local, err := s.localEngine(); err == nil {
		e = local
	} else {
		return nil
	}
	regs, _ := api.Do(s.ctx, e, api.VaultsRequest{}) // complete even with a dangling default
	names := make([]string, 0, len(regs))
	for _, r := range regs {
		names = append(names, r.Name)
	}
	return names
}
