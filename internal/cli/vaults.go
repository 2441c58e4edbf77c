package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
)

func (s *session) vaultCommand() *cli.Command {
	return &cli.Command{
		Name:      "vault",
		Usage:     "register, list and manage vaults",
		UsageText: "sesame vault COMMAND [ARGS...]",
		Description: `Vaults are registered in the registry file (see sesame --help). Each one runs
an extension, "builtin:NAME" or a .wasm file, with only the grants given.`,
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			s.registerCommand(),
			{
				Name:      "unregister",
				Usage:     "remove a vault from the registry (its storage stays on disk)",
				UsageText: "sesame vault unregister NAME [--remove-storage] [--force] [--what-if] [--confirm]",
				Description: `Removes vault NAME from the registry. Its storage area stays on disk, and the
command says where: registering NAME again with the same extension uses it
again. --remove-storage deletes it instead, with all the vault stored.

An extension may have an unregister hook, which runs first so that the vault
can clean up what it keeps elsewhere (it is told whether its storage stays).
When the hook fails, the vault stays registered and nothing changes: run the
command again once the cause is fixed, or add --force to unregister it all
the same (a warning then says what may remain). An extension that does not
load cannot run its hook: the vault is unregistered, with a warning.

Examples:
  sesame vault unregister Old
  sesame vault unregister Scratch --remove-storage --confirm`,
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "remove-storage", Usage: "delete the vault's storage area, with all it stored"},
					&cli.BoolFlag{Name: "force", Usage: "unregister the vault even when its unregister hook fails"},
					whatIfFlag(), confirmFlag(),
				},
				Action: s.vaultUnregister,
			},
			{
				Name:      "list",
				Usage:     "list the registered vaults",
				UsageText: "sesame vault list [--json]",
				Description: `Prints NAME, DEFAULT (*), SEARCH, EXTENSION and DESCRIPTION of every vault,
or with --json an array of objects that also hold the parameters and grants.
SEARCH is "no" for a vault registered with --no-search.

Examples:
  sesame vault list
  sesame vault list --json | jq -r '.[] | select(.default) | .name'`,
				Flags:  []cli.Flag{jsonFlag()},
				Action: s.vaultList,
			},
			{
				Name:      "default",
				Usage:     "make a vault the default one (without NAME: print the default)",
				UsageText: "sesame vault default [NAME | --clear] [--what-if] [--confirm]",
				Description: `The default vault is where set and set-info go when no --vault is given, and
the first vault that get and info search. An empty NAME is refused (an unset
shell variable must not clear the default); --clear leaves no default.

Examples:
  sesame vault default Team
  sesame vault default
  sesame vault default --clear`,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "clear", Usage: "leave the registry without a default vault"}, whatIfFlag(), confirmFlag()},
				Action: s.vaultDefault,
			},
			{
				Name:      "test",
				Usage:     "check that a vault works",
				UsageText: "sesame vault test NAME",
				Description: `Loads the vault's extension and runs its own test (or lists its secrets).

Examples:
  sesame vault test LocalStore`,
				Action: s.vaultAction(func(e backend, name string) error {
					s.noteCompile()
					if _, err := unlocked(s, e, func() (api.None, error) { return api.Do(s.ctx, e, api.TestRequest{Vault: name}) }); err != nil {
						return err
					}
					fmt.Fprintf(s.stdout, "vault %s: ok\n", name)
					return nil
				}),
			},
			{
				Name:      "unlock",
				Usage:     "give a password-protected vault its password",
				UsageText: "sesame vault unlock NAME [--password-stdin]",
				Description: `Asks for the password on the terminal, without echo, or reads the first line
of standard input with --password-stdin. The first unlock of a new password
store sets its password. A builtin secretstore registered with
authentication = none has no password: unlock says so without asking.

How long an unlock lasts is the vault's affair. The builtin secretstore keeps
its key in memory for its password_timeout (default 900 seconds): in the
agent (sesame agent --help), so that the next commands find it unlocked; see
which vaults are unlocked, and until when, with sesame agent status. Without
the agent (SESAME_AGENT=off, or it cannot run) the key lasts only as long as
the command, and unlock says so. On a terminal, a command that finds a vault
locked asks for its password.

Examples:
  sesame vault unlock LocalStore
  pass show sesame | sesame vault unlock LocalStore --password-stdin`,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from the first line of standard input"}},
				Action: s.vaultUnlock,
			},
			{
				Name:      "lock",
				Usage:     "make a vault forget its key now",
				UsageText: "sesame vault lock NAME",
				Description: `Examples:
  sesame vault lock LocalStore`,
				Action: s.vaultAction(func(e backend, name string) error {
					s.noteCompile()
					return api.Run(s.ctx, e, api.LockRequest{Vault: name})
				}),
			},
			{
				Name:      "set-password",
				Usage:     "set or change a vault's password",
				UsageText: "sesame vault set-password NAME [--password-stdin]",
				Description: `Asks on the terminal for the current password (empty when there is none) and
the new one, twice; with --password-stdin reads the current password from the
first line of standard input and the new one from the second. A wrong current
password changes nothing. A builtin secretstore registered with
authentication = none (as the first run creates LocalStore without a
terminal) has no password to change: set-password refuses before asking, and
names the two commands that give it one.

Examples:
  sesame vault set-password LocalStore`,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "password-stdin", Usage: "read the current and the new password from standard input, one per line"}},
				Action: s.vaultSetPassword,
			},
			s.membersCommand(),
			{
				Name:      "rekey",
				Usage:     "give a vault a new master key",
				UsageText: "sesame vault rekey NAME [--password-stdin]",
				Description: `Gives the vault's store a new master key and encrypts every secret again
under it, in one transaction, then rewrites the storage file so that nothing
of the old key remains in it: for a key that may have leaked (a copy of the
file and its password, a store once without a password). The password stays.
Asks for the password on the terminal, without echo, or reads the first line
of standard input with --password-stdin; a vault registered with
authentication = none needs none. A wrong password changes nothing.

Examples:
  sesame vault rekey LocalStore`,
				Flags:  []cli.Flag{&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from the first line of standard input"}},
				Action: s.vaultRekey,
			},
		},
	}
}

func (s *session) registerCommand() *cli.Command {
	return &cli.Command{
		Name:  "register",
		Usage: "add a vault to the registry",
		UsageText: `sesame vault register NAME --extension REF [--param KEY=VALUE]... [--grant KEY=VALUE]...
             [--description D] [--default] [--no-search] [--allow-clobber [--fresh]] [--keep-storage]
             [--pin | --sha256 HEX] [--what-if] [--confirm]`,
		Description: `Registers vault NAME run by extension REF: "builtin:NAME", or the path of a
.wasm file (kept relative to the registry's folder when it is inside it,
absolute otherwise). The extension is loaded and checked first; nothing is
written when it does not load. The first vault registered becomes the default.

The storage area belongs to NAME and the extension REF: registering NAME again
with the same REF (or a new build at that path) keeps it, or brings back the
one it had. Another extension gets a new area, and the old one stays on disk
untouched, unless --keep-storage hands it over: the new extension can then
read all the old one stored (a secretstore's records, and without a password
its key). A store that a sesame release before this one left for a NAME no
longer registered is refused until --keep-storage hands it over (or it is
moved away).

--param KEY=VALUE is handed to the extension. A VALUE sesame:VAULT/NAME is a
secret reference: the extension gets the text of secret NAME of vault VAULT
(a string or a secure string), read each time the vault loads, and
vaults.toml keeps the reference, never the secret. --grant KEY=VALUE allows
it something; all that is not granted is denied:
  storage=true          a private key-value storage area
  directory=PATH        a host folder, mounted at /data
  read_only=true        mount the directory read-only
  env=VAR,VAR           environment variables it may read
  memory=64MiB          memory per instance (KiB, MiB, GiB)
  timeout=5s            deadline per call
  instances=4           instances kept at once
  http=ORIGIN,ORIGIN    origins it may send HTTP requests to, each written
                        scheme://host:port; a loopback or private address
                        only when listed as an address (127.0.0.1, not
                        localhost); no redirects followed, no proxy
  ca_file=PATH          PEM certificates trusted for https besides the system's
  client_cert=PATH      PEM client certificate for mutual TLS, with
  client_key=PATH       its PEM key (a file only you can read)
  identity=true         wrap keys to age recipients and unwrap them with your
                        age identity (sesame identity), which it never sees

--allow-clobber replaces the registration of a vault NAME already has. The
new one keeps the replaced one's parameters and description, but for those
given again (a --param KEY=VALUE replaces that KEY alone); --fresh keeps
none of them. Grants, --no-search, the pin and the extension are as given:
nothing granted before is granted again unless the command says so.

--no-search leaves the vault out when get and info look through the vaults
(no --vault given): it answers only when named with --vault, or as the
default vault. Use it for a vault you do not trust to answer only for its
own secrets. In vaults.toml: search = false.

--pin writes the sha256 of the module file as it is now into vaults.toml:
from then on, a module file with other bytes is refused. --sha256 HEX pins a
digest you got elsewhere (sesame extension info prints it); the module must
match it to be registered. A builtin extension is not pinned: it changes with
each sesame upgrade.

Examples:
  sesame vault register LocalStore --extension builtin:secretstore --grant storage=true
  sesame vault register Team --extension ./team-vault.wasm --grant storage=true \
      --param url=https://vault.internal --grant timeout=10s --default
  sesame vault register Shared --extension ./shared.wasm --no-search
  sesame vault register Pinned --extension ./team-vault.wasm --grant storage=true --pin`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "extension", Usage: "the extension `REF`: builtin:NAME or a .wasm file", TakesFile: true},
			&cli.StringSliceFlag{Name: "param", Usage: "hand the extension `KEY=VALUE` (repeatable)"},
			&cli.StringSliceFlag{Name: "grant", Usage: "grant `KEY=VALUE` (repeatable; see above)"},
			&cli.StringFlag{Name: "description", Usage: "a `DESCRIPTION` shown by vault list"},
			&cli.BoolFlag{Name: "default", Usage: "make it the default vault"},
			&cli.BoolFlag{Name: "no-search", Usage: "look in the vault only when it is named with --vault"},
			&cli.BoolFlag{Name: "allow-clobber", Usage: "replace a vault registered under NAME (keeping its parameters and description)"},
			&cli.BoolFlag{Name: "fresh", Usage: "with --allow-clobber, keep none of the replaced vault's parameters and description"},
			&cli.BoolFlag{Name: "keep-storage", Usage: "hand NAME's storage area to this extension, even another one"},
			&cli.BoolFlag{Name: "pin", Usage: "pin the module file's current sha256 in vaults.toml"},
			&cli.StringFlag{Name: "sha256", Usage: "pin the module to the digest `HEX` (it must match)"},
			whatIfFlag(), confirmFlag(),
		},
		Action: s.vaultRegister,
	}
}

// vaultAction is the action of a subcommand that takes one vault NAME.
func (s *session) vaultAction(fn func(e backend, name string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		a, err := args(c, 1, 1, "the vault NAME")
		if err != nil {
			return err
		}
		e, err := s.engine()
		if err != nil {
			return err
		}
		return fn(e, a[0])
	}
}

func (s *session) vaultUnregister(c *cli.Context) error {
	a, err := args(c, 1, 1, "the vault NAME")
	if err != nil {
		return err
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	e, err := s.engine()
	if err != nil {
		return err
	}
	remove := c.Bool("remove-storage")
	req := api.UnregisterRequest{Vault: a[0], RemoveStorage: remove, Force: c.Bool("force"), Report: s.storageReport}
	r, ok := registration(s.ctx, e, a[0])
	if !ok {
		return api.Run(s.ctx, e, req) // the engine's own refusal
	}
	act := api.Action{Op: api.OpUnregister, Vault: r.Name}
	what := act.String()
	switch {
	case r.Grants.Storage && remove:
		what += " and delete its storage, with all it stored"
	case r.Grants.Storage:
		what += " (its storage stays on disk)"
	}
	if ok, err := s.gate(ch, act, what); !ok {
		return err
	}
	req.Vault = r.Name
	s.noteCompile()
	err = api.Run(s.ctx, e, req)
	var ee *api.Error
	if errors.As(err, &ee) && ee.Op == api.OpUnregisterHook {
		return withHint(err, "vault "+r.Name+" stays registered; fix the cause and run this again, or add --force to unregister it all the same")
	}
	return err
}

func (s *session) vaultRegister(c *cli.Context) error {
	a, err := args(c, 1, 1, "the vault NAME")
	if err != nil {
		return err
	}
	ext := c.String("extension")
	if ext == "" {
		return usagef(c, "register needs --extension REF (builtin:NAME or a .wasm file)")
	}
	params, err := parseParams(c.StringSlice("param"))
	if err != nil {
		return usagef(c, "%v", err)
	}
	grants, err := parseGrants(c.StringSlice("grant"))
	if err != nil {
		return usagef(c, "%v", err)
	}
	if c.Bool("pin") && c.IsSet("sha256") {
		return usagef(c, "--pin and --sha256 both pin the module; give one")
	}
	if c.Bool("fresh") && !c.Bool("allow-clobber") {
		return usagef(c, "--fresh goes with --allow-clobber: it keeps nothing of the registration replaced")
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	e, err := s.engine()
	if err != nil {
		return err
	}
	act := api.Action{Op: api.OpRegister, Vault: a[0]}
	desc := c.String("description")
	if old, ok := registration(s.ctx, e, a[0]); ok {
		if !c.Bool("allow-clobber") {
			return &api.Error{Op: api.OpRegister, Vault: a[0], Err: api.ErrVaultExists}
		}
		act.Vault, act.Replace = old.Name, true
		if !c.Bool("fresh") {
			params = keptParams(old.Parameters, params)
			if !c.IsSet("description") {
				desc = old.Description
			}
		}
	}
	if ok, err := s.gate(ch, act, act.String()+" with extension "+ext); !ok {
		return err
	}
	if !strings.HasPrefix(ext, "builtin:") {
		if ext, err = registryRelative(e.Path(), ext); err != nil {
			return err
		}
	}
	for _, path := range []*string{&grants.Directory, &grants.CAFile, &grants.ClientCert, &grants.ClientKey} {
		if *path != "" {
			if *path, err = registryRelative(e.Path(), *path); err != nil {
				return err
			}
		}
	}
	s.noteCompile()
	keep := c.Bool("keep-storage")
	err = api.Run(s.ctx, e, api.RegisterRequest{Registration: api.Registration{
		Name:        a[0],
		Extension:   ext,
		SHA256:      c.String("sha256"),
		Description: desc,
		Parameters:  params,
		Grants:      grants,
		NoSearch:    c.Bool("no-search"),
	}, AllowClobber: c.Bool("allow-clobber"), Default: c.Bool("default"),
		KeepStorage: keep, Report: s.storageReport, Pin: c.Bool("pin")})
	switch {
	case errors.Is(err, api.ErrConflict) && keep:
		return withHint(err, "move one of the two files away")
	case errors.Is(err, api.ErrConflict):
		return withHint(err, "add --keep-storage to hand that storage to "+ext+", or move the file away")
	}
	return err
}

// keptParams returns the parameters of a registration replaced with
// --allow-clobber: those of old, with those given again (given) replacing
// theirs.
func keptParams(old, given map[string]any) map[string]any {
	if len(old) == 0 {
		return given
	}
	out := maps.Clone(old)
	maps.Copy(out, given)
	return out
}

// storageReport tells the user what a register or unregister did with a
// vault's storage, unless it is the routine outcome (a new area for a new
// vault, the same area for the same extension).
func (s *session) storageReport(r api.StorageReport) {
	if r.Notable() {
		fmt.Fprintf(s.stderr, "sesame: %s\n", r)
	}
}

// registryRelative turns a path given on the command line (relative to the
// working folder) into what the registry keeps: relative to the registry's
// folder when it is inside it, absolute otherwise.
func registryRelative(registry, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(filepath.Dir(registry), abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs, nil
	}
	return rel, nil
}

// parseGrants reads --grant KEY=VALUE flags.
func parseGrants(list []string) (api.Grants, error) {
	var g api.Grants
	seen := map[string]bool{}
	for _, item := range list {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return g, fmt.Errorf("--grant %q: want KEY=VALUE", item)
		}
		if seen[k] {
			return g, fmt.Errorf("--grant: %s given twice", k)
		}
		seen[k] = true
		if err := g.Set(k, v); err != nil {
			return g, fmt.Errorf("--%s", strings.TrimPrefix(err.Error(), api.ErrInvalidArgument.Error()+": "))
		}
	}
	return g, nil
}

// parseParams reads --param KEY=VALUE flags; values are strings.
func parseParams(list []string) (map[string]any, error) {
	if len(list) == 0 {
		return nil, nil
	}
	p := make(map[string]any, len(list))
	for _, item := range list {
		k, v, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want KEY=VALUE", item)
		}
		if _, dup := p[k]; dup {
			return nil, fmt.Errorf("--param: %s given twice", k)
		}
		p[k] = v
	}
	return p, nil
}

// vaultOut is one element of what vault list --json prints.
type vaultOut struct {
	Name        string         `json:"name"`
	Default     bool           `json:"default"`
	Search      bool           `json:"search"`
	Extension   string         `json:"extension"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
	Grants      grantsOut      `json:"grants"`
}

type grantsOut struct {
	Storage    bool     `json:"storage,omitempty"`
	Directory  string   `json:"directory,omitempty"`
	ReadOnly   bool     `json:"read_only,omitempty"`
	Env        []string `json:"env,omitempty"`
	Memory     uint64   `json:"memory,omitempty"`
	Timeout    string   `json:"timeout,omitempty"`
	Instances  int      `json:"instances,omitempty"`
	HTTP       []string `json:"http,omitempty"`
	CAFile     string   `json:"ca_file,omitempty"`
	ClientCert string   `json:"client_cert,omitempty"`
	ClientKey  string   `json:"client_key,omitempty"`
	Identity   bool     `json:"identity,omitempty"`
}

func (s *session) vaultList(c *cli.Context) error {
	if _, err := args(c, 0, 0, ""); err != nil {
		return err
	}
	e, err := s.engine()
	if err != nil {
		return err
	}
	regs, err := api.Do(s.ctx, e, api.VaultsRequest{})
	if def := vaultOf(err, api.ErrNoDefaultVault); def != "" {
		// Listed all the same: vault list is where one looks to fix it.
		fmt.Fprintf(s.stderr, "sesame: warning: %v\n", danglingDefault(def))
		s.hint("choose one with: sesame vault default VAULT")
	} else if err != nil {
		return err
	}
	if c.Bool("json") {
		out := make([]vaultOut, 0, len(regs))
		for _, r := range regs {
			g := grantsOut{
				Storage: r.Grants.Storage, Directory: r.Grants.Directory, ReadOnly: r.Grants.ReadOnly,
				Env: r.Grants.Env, Memory: r.Grants.Memory, Instances: r.Grants.Instances,
				HTTP: r.Grants.HTTP, CAFile: r.Grants.CAFile, ClientCert: r.Grants.ClientCert, ClientKey: r.Grants.ClientKey, Identity: r.Grants.Identity,
			}
			if r.Grants.Timeout != 0 {
				g.Timeout = r.Grants.Timeout.String()
			}
			params := r.Parameters
			if params == nil {
				params = map[string]any{}
			}
			out = append(out, vaultOut{Name: r.Name, Default: r.Default, Search: !r.NoSearch, Extension: r.Extension, Description: r.Description, Parameters: params, Grants: g})
		}
		return s.printJSON(out)
	}
	if len(regs) == 0 {
		fmt.Fprintln(s.stderr, "sesame: no vaults are registered")
		s.hint("the first command that needs a vault creates " + firstVault + "; or add one with: sesame vault register NAME --extension REF")
		return nil
	}
	rows := [][]string{{"NAME", "DEFAULT", "SEARCH", "EXTENSION", "DESCRIPTION"}}
	for _, r := range regs {
		def, search := "", "yes"
		if r.Default {
			def = "*"
		}
		if r.NoSearch {
			search = "no"
		}
		rows = append(rows, []string{r.Name, def, search, r.Extension, oneLine(r.Description)})
	}
	s.table(rows)
	return nil
}

// oneLine keeps a free text on one line of a table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (s *session) vaultDefault(c *cli.Context) error {
	a, err := args(c, 0, 1, "")
	if err != nil {
		return err
	}
	switch {
	case len(a) == 1 && c.Bool("clear"):
		return usagef(c, "give a vault NAME or --clear, not both")
	case len(a) == 1 && a[0] == "":
		return usagef(c, "the vault NAME is empty; to have no default vault, use --clear")
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	e, err := s.engine()
	if err != nil {
		return err
	}
	if c.Bool("clear") || len(a) == 1 {
		return s.setDefault(e, a, ch)
	}
	regs, err := api.Do(s.ctx, e, api.VaultsRequest{})
	if def := vaultOf(err, api.ErrNoDefaultVault); def != "" {
		return withHint(danglingDefault(def), "choose one with: sesame vault default VAULT")
	} else if err != nil {
		return err
	}
	name := ""
	for _, r := range regs {
		if r.Default {
			name = r.Name
		}
	}
	if name == "" {
		return withHint(errors.New("no default vault"), "choose one with: sesame vault default VAULT")
	}
	fmt.Fprintln(s.stdout, name)
	return nil
}

// setDefault makes the vault named in a the default, or clears the default
// when a is empty, as ch (--what-if, --confirm) allows.
func (s *session) setDefault(e backend, a []string, ch api.Change) error {
	act := api.Action{Op: api.OpSetDefault}
	if len(a) == 1 {
		r, ok := registration(s.ctx, e, a[0])
		if !ok {
			return api.Run(s.ctx, e, api.SetDefaultRequest{Vault: a[0]}) // the engine's own refusal
		}
		act.Vault = r.Name
	}
	if ok, err := s.gate(ch, act, act.String()); !ok {
		return err
	}
	return api.Run(s.ctx, e, api.SetDefaultRequest{Vault: act.Vault})
}

// gate applies --what-if and --confirm (ch) to act, a change to the
// registry that the CLI words as what: it reports whether to go ahead. With
// --what-if it prints what and stops; a change declined at --confirm is an
// error wrapping ErrDeclined.
func (s *session) gate(ch api.Change, act api.Action, what string) (bool, error) {
	switch {
	case ch.WhatIf:
		fmt.Fprintf(s.stdout, "What if: %s\n", what)
		return false, nil
	case ch.Confirm != nil:
		if t, ok := s.terminal(); ok && t.confirm(what) {
			return true, nil
		}
		return false, &api.Error{Op: act.Op, Vault: act.Vault, Err: api.ErrDeclined}
	}
	return true, nil
}

// password reads a password for vault: the first line of standard input
// with --password-stdin, else hidden from the terminal.
func (s *session) password(c *cli.Context, vault, prompt string) ([]byte, error) {
	if c.Bool("password-stdin") {
		line, err := readLine(s.stdin)
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no password on standard input for vault %s", vault)
		}
		return line, err
	}
	t, ok := s.terminal()
	if !ok {
		return nil, withHint(fmt.Errorf("no terminal to ask for the password of vault %s", vault),
			"pass it on standard input with --password-stdin")
	}
	return t.hidden(prompt)
}

// supports loads vault and reports whether its extension implements op.
func (s *session) supports(e backend, vault string, op abi.Op) (bool, error) {
	s.noteCompile()
	m, err := api.Do(s.ctx, e, api.ManifestRequest{Vault: vault})
	if err != nil {
		return false, err
	}
	return slices.Contains(m.Operations, op), nil
}

// args1 is the one argument of a vault command: the vault NAME.
func args1(c *cli.Context) (string, error) {
	a, err := args(c, 1, 1, "the vault NAME")
	if err != nil {
		return "", err
	}
	return a[0], nil
}

// passwordVault opens the engine for a command that asks for a vault's
// password, loading the vault first: an unknown, broken or password-less
// one fails before the password is typed, with the engine's own refusal of
// refused when the vault lacks op.
func (s *session) passwordVault(name string, op abi.Op, refused api.Request[api.None]) (backend, error) {
	e, err := s.engine()
	if err != nil {
		return nil, err
	}
	if ok, err := s.supports(e, name, op); err != nil || !ok {
		if err == nil {
			err = api.Run(s.ctx, e, refused)
		}
		return nil, err
	}
	return e, nil
}

func (s *session) vaultUnlock(c *cli.Context) error {
	name, err := args1(c)
	if err != nil {
		return err
	}
	e, err := s.passwordVault(name, abi.OpUnlock, api.UnlockRequest{Vault: name})
	if err != nil {
		return err
	}
	if r, ok := registration(s.ctx, e, name); ok && passwordless(r) {
		// Unless its store still has a password (registered again with
		// authentication = none): then it is locked, and an unlock
		// removes the password.
		switch _, err := api.Do(s.ctx, e, api.InfoRequest{Pattern: "*", Vault: name}); {
		case err == nil:
			return noPassword(r, ", so there is nothing to unlock")
		case !errors.Is(err, api.ErrLocked):
			return err
		}
	}
	prompt := fmt.Sprintf("Password of vault %s: ", name)
	if t, ok := s.terminal(); ok && !c.Bool("password-stdin") {
		if err := t.unlock(s, e, name, prompt); err != nil {
			return err
		}
		s.warnShortUnlock(name)
		return nil
	}
	pw, err := s.password(c, name, prompt)
	if err != nil {
		return err
	}
	defer clear(pw)
	if len(pw) == 0 {
		return fmt.Errorf("empty password for vault %s; nothing was changed", name)
	}
	if err := api.Run(s.ctx, e, api.UnlockRequest{Vault: name, Password: pw}); err != nil {
		if errors.Is(err, api.ErrLocked) {
			return withHint(err) // a wrong password: no hint to unlock
		}
		return err
	}
	s.warnShortUnlock(name)
	return nil
}

// warnShortUnlock warns, after vault is unlocked in this process, when the
// vault keeps its key in memory: the key goes with the process, so the next
// command finds the vault locked again unless the agent holds it.
func (s *session) warnShortUnlock(vault string) {
	if s.local == nil || s.eng != backend(s.local) {
		return
	}
	for _, u := range s.local.Unlocked() {
		if strings.EqualFold(u.Vault, vault) {
			fmt.Fprintf(s.stderr, "sesame: warning: vault %s is unlocked only for this command, which ends now: only the sesame agent keeps a key between commands, and %s\n", u.Vault, s.alone)
			return
		}
	}
}

func (s *session) vaultSetPassword(c *cli.Context) error {
	name, err := args1(c)
	if err != nil {
		return err
	}
	e, err := s.passwordVault(name, abi.OpSetPassword, api.SetPasswordRequest{Vault: name})
	if err != nil {
		return err
	}
	if r, ok := registration(s.ctx, e, name); ok && passwordless(r) {
		return noPassword(r, " to change")
	}
	var old, pw []byte
	if c.Bool("password-stdin") {
		if old, err = readLine(s.stdin); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if pw, err = readLine(s.stdin); err != nil {
			return fmt.Errorf("want two lines on standard input: the current password (empty for none), then the new one")
		}
	} else {
		t, ok := s.terminal()
		if !ok {
			return withHint(fmt.Errorf("no terminal to ask for the passwords of vault %s", name),
				"pass them on standard input with --password-stdin: the current one (or an empty line), then the new one")
		}
		if old, err = t.hidden(fmt.Sprintf("Current password of vault %s (empty for none): ", name)); err != nil {
			return err
		}
		if pw, err = t.newPassword(fmt.Sprintf("New password of vault %s: ", name)); err != nil {
			clear(old)
			return err
		}
	}
	defer clear(old)
	defer clear(pw)
	err = api.Run(s.ctx, e, api.SetPasswordRequest{Vault: name, Old: old, New: pw})
	switch {
	case !errors.Is(err, api.ErrLocked):
		return err
	case len(old) == 0:
		return fmt.Errorf("cannot change the password of vault %s: it has a password, and the current one was not given; nothing was changed", name)
	}
	// The vault may be unlocked: the current password is what failed, and
	// unlocking is not the remedy.
	return fmt.Errorf("cannot change the password of vault %s: the current password is wrong; nothing was changed", name)
}

func (s *session) vaultRekey(c *cli.Context) error {
	name, err := args1(c)
	if err != nil {
		return err
	}
	e, err := s.passwordVault(name, abi.OpSetPassword, api.RekeyRequest{Vault: name})
	if err != nil {
		return err
	}
	var pw []byte
	if r, ok := registration(s.ctx, e, name); !ok || !passwordless(r) {
		if pw, err = s.password(c, name, fmt.Sprintf("Password of vault %s: ", name)); err != nil {
			return err
		}
		defer clear(pw)
		if len(pw) == 0 {
			return fmt.Errorf("empty password for vault %s; nothing was changed", name)
		}
	}
	if err := api.Run(s.ctx, e, api.RekeyRequest{Vault: name, Password: pw}); err != nil {
		if errors.Is(err, api.ErrLocked) {
			return withHint(err) // a wrong password: no hint to unlock
		}
		return err
	}
	return nil
}

// danglingDefault is the error of a registry whose default vault def is not
// registered.
func danglingDefault(def string) error {
	return fmt.Errorf("the default vault %q is not registered", def)
}

// registration returns the registration of vault name.
func registration(ctx context.Context, e backend, name string) (api.Registration, bool) {
	regs, _ := api.Do(ctx, e, api.VaultsRequest{}) // complete even with a dangling default
	for _, r := range regs {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return api.Registration{}, false
}

// passwordless reports whether r is a builtin secretstore registered
// without a password (authentication = none), as the first run creates it.
func passwordless(r api.Registration) bool {
	return r.Extension == firstExtension && r.Parameters["authentication"] == "none"
}

// noPassword is the error of a command that needs the password of r, a
// vault that has none; what completes "vault NAME has no password".
func noPassword(r api.Registration, what string) error {
	return withHint(fmt.Errorf("vault %s has no password%s: it is registered with authentication = none, and its key is stored unencrypted", r.Name, what),
		passwordHints(r, "to give it a password, run: ")...)
}

// passwordHints are the commands that give the passwordless vault r a
// password: register it again with authentication = password (--allow-clobber
// keeps its other parameters and its description; its secrets stay), then
// set the first password with set-password, which asks for it twice.
func passwordHints(r api.Registration, lead string) []string {
	cmd := []string{"sesame vault register", r.Name, "--extension", shellQuote(r.Extension), "--grant storage=true", "--param authentication=password", "--allow-clobber"}
	return []string{lead + strings.Join(cmd, " "), "and then: sesame vault set-password " + r.Name}
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,:/@+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
