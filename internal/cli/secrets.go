package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
)

// errNoConfirm refuses --confirm without a terminal: a script is never taken
// to have answered yes.
var errNoConfirm = withHint(
	errors.New("--confirm needs a terminal to ask on, and standard input is not one; nothing was changed"),
	"leave out --confirm to go ahead without asking, or add --what-if to see what would change",
)

// change returns the engine's WhatIf/Confirm options for c's --what-if and
// --confirm, refusing --confirm without a terminal.
func (s *session) change(c *cli.Context) (api.Change, error) {
	ch := api.Change{WhatIf: c.Bool("what-if")}
	if !c.Bool("confirm") || ch.WhatIf {
		return ch, nil
	}
	t, ok := s.terminal()
	if !ok {
		return ch, errNoConfirm
	}
	ch.Confirm = func(a api.Action) bool { return t.confirm(a.String()) }
	return ch, nil
}

// whatIf prints the action a --what-if run would take.
func (s *session) whatIf(a api.Action) {
	fmt.Fprintf(s.stdout, "What if: %s\n", a)
}

func (s *session) setCommand() *cli.Command {
	return &cli.Command{
		Name:  "set",
		Usage: "store a secret",
		UsageText: `sesame set NAME [--vault V] [--stdin | --file F | --value S] [--type T] [--username U]
             [--metadata KEY[:TYPE]=VALUE]... [--no-clobber] [--what-if] [--confirm]`,
		Description: `Stores a secret under NAME in a vault (default: the default vault), replacing
one of that name unless --no-clobber is given.

The value comes from --stdin (all of standard input), --file or --value. For
string types a single trailing newline of --stdin or --file is dropped; an
empty value read that way is refused unless --allow-empty is given. A value is
at most 1 MiB (1048576 bytes, its user name and hashtable keys included; the
JSON of a hashtable at most 4 MiB): --stdin and --file stop reading there. With
none of them, sesame asks on the terminal without echo, twice (a new secret
or a replacement alike); without a terminal it fails rather than wait. --value puts the secret
where ps and shell history show it, and set always warns about it.

Types (--type): string (default), securestring, bytes (from --stdin or
--file), credential (--username U; the value is the password), hashtable (a
JSON object: string values are string entries, and typed entries look like
{"type":"bytes","base64":"…"}, {"type":"securestring","value":"…"} or
{"type":"credential","username":"…","password":"…"}).

Metadata (--metadata KEY[:TYPE]=VALUE, repeatable): TYPE is string (default),
int, or datetime (RFC 3339, or a plain date 2006-01-02 meaning midnight UTC).
A datetime keeps the offset it is given in (2024-02-03T04:05:06+01:00 comes
back as such) in a vault that keeps offsets, as the builtin secretstore does;
another vault stores the same instant in UTC. A key may contain ':' (only
string, int or datetime after the last one is a TYPE). Metadata is not
stored securely.

Examples:
  sesame set db-password                           # asks twice, hidden
  printf %s "$TOKEN" | sesame set api-token --stdin --type securestring
  sesame set tls-key --file key.pem --type bytes --vault Team
  sesame set db-login --type credential --username alice
  sesame set TargetSecret --vault LocalStore --metadata Expiration:datetime=2022-05-01
  echo '{"user":"alice","pin":"1234"}' | sesame set bag --type hashtable --stdin
  sesame set db-password --no-clobber --what-if`,
		Flags: []cli.Flag{
			vaultFlag("store in `VAULT` (default: the default vault)"),
			&cli.BoolFlag{Name: "stdin", Usage: "read the value from standard input"},
			&cli.StringFlag{Name: "file", Usage: "read the value from `FILE`", TakesFile: true},
			// A slice, so that a second --value is seen and refused.
			&cli.StringSliceFlag{Name: "value", Usage: "the value `S` (visible in shell history and ps: prefer the prompt, --stdin or --file)"},
			&cli.StringFlag{Name: "type", Value: "string", Usage: "the value's `TYPE`: " + typeList()},
			&cli.StringFlag{Name: "username", Usage: "the user name `U` of a credential (no control characters)"},
			&cli.BoolFlag{Name: "allow-empty", Usage: "store an empty value read with --stdin or --file (refused otherwise)"},
			&cli.StringSliceFlag{Name: "metadata", Usage: "attach `KEY[:TYPE]=VALUE` (repeatable)"},
			&cli.BoolFlag{Name: "no-clobber", Usage: "fail if the secret exists"},
			whatIfFlag(),
			confirmFlag(),
		},
		Action: s.set,
	}
}

func (s *session) set(c *cli.Context) error {
	a, err := args(c, 1, 1, "the secret NAME")
	if err != nil {
		return err
	}
	name := a[0]
	t, ok := parseType(c.String("type"))
	if !ok {
		return usagef(c, "unknown --type %q (want %s)", c.String("type"), typeList())
	}
	sources := 0
	for _, given := range []bool{c.IsSet("value"), c.Bool("stdin"), c.IsSet("file")} {
		if given {
			sources++
		}
	}
	username := c.String("username")
	switch {
	case len(c.StringSlice("value")) > 1:
		return usagef(c, "--value given twice; give the value once")
	case sources > 1:
		return usagef(c, "give the value one way only: --stdin, --file or --value")
	case t == api.TypeCredential && username == "":
		return usagef(c, "--type credential needs --username")
	case t != api.TypeCredential && c.IsSet("username"):
		return usagef(c, "--username is for --type credential")
	case t == api.TypeBytes && c.IsSet("value"):
		return usagef(c, "a bytes value comes from --stdin or --file, not --value")
	}
	md, err := parseMetadata(c.StringSlice("metadata"))
	if err != nil {
		return usagef(c, "%v", err)
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	raw, given, err := s.readValue(c, t, name)
	if err != nil {
		return err
	}
	defer clear(raw)
	if err := emptyRead(c, name, raw); err != nil {
		return err
	}
	tty, isTTY := s.terminal()
	if !given && !ch.WhatIf {
		switch {
		case t == api.TypeBytes:
			return withHint(fmt.Errorf("no value given for secret %q", name), "a bytes value is read with --stdin or --file FILE")
		case t == api.TypeHashtable:
			return withHint(fmt.Errorf("no value given for secret %q", name), "give the JSON object with --stdin or --file FILE; --value JSON works too, but ps and shell history show it")
		case !isTTY:
			return withHint(fmt.Errorf("no value given for secret %q, and no terminal to ask for it", name),
				"give the value with --stdin (read from standard input) or --file FILE; --value VALUE works too, but ps and shell history show it")
		}
	}
	s.oneCall = true
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	req := api.SetRequest{Name: name, Vault: c.String("vault"), Metadata: md, NoClobber: c.Bool("no-clobber"), Change: ch}
	var value any
	switch {
	case given:
		if value, err = makeValue(t, username, raw); err != nil {
			return fmt.Errorf("cannot set secret %q: %w", name, err)
		}
	case ch.WhatIf:
		value = placeholder(t, username)
	default:
		if value, err = s.askValue(e, tty, req, t, username); err != nil {
			return err
		}
	}
	act, err := unlocked(s, e, func() (api.Action, error) {
		req.Value = value
		return api.Do(s.ctx, e, req)
	})
	if err != nil {
		return err
	}
	if ch.WhatIf {
		s.whatIf(act)
	}
	return nil
}

// askValue asks for the value of the secret that req sets on the terminal,
// twice. It asks the engine first, so that a refusal (NoClobber, metadata, a
// missing or locked vault) comes before the typing.
func (s *session) askValue(e backend, tty terminal, req api.SetRequest, t api.Type, username string) (any, error) {
	name := req.Name
	probe := req
	probe.Value, probe.Change = placeholder(t, username), api.Change{WhatIf: true}
	_, err := unlocked(s, e, func() (api.Action, error) {
		return api.Do(s.ctx, e, probe)
	})
	if err != nil {
		return nil, err
	}
	prompt := fmt.Sprintf("Value of secret %s: ", name)
	if t == api.TypeCredential {
		prompt = fmt.Sprintf("Password of %s for secret %s: ", username, name)
	}
	b, err := tty.secret(prompt)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return makeValue(t, username, b)
}

// valueWarning is what set prints whenever the value is given with --value.
const valueWarning = "sesame: warning: --value puts the secret on the command line, where the process list (ps) and shell history show it; use --stdin or --file instead"

// readValue returns the value given with --value, --stdin or --file, and
// whether one was given.
func (s *session) readValue(c *cli.Context, t api.Type, name string) ([]byte, bool, error) {
	switch {
	case c.IsSet("value"):
		// Always, not only on a terminal: a script's command line is
		// seen by ps too, and its log is where the warning is read.
		fmt.Fprintln(s.stderr, valueWarning)
		return []byte(c.StringSlice("value")[0]), true, nil
	case c.Bool("stdin"):
		b, err := readLimited(s.stdin, t, name, "standard input")
		if err != nil {
			return nil, false, err
		}
		return b, true, nil
	case c.IsSet("file"):
		f, err := os.Open(c.String("file"))
		if err != nil {
			return nil, false, fmt.Errorf("reading the value: %w", err)
		}
		defer f.Close()
		b, err := readLimited(f, t, name, c.String("file"))
		if err != nil {
			return nil, false, err
		}
		return b, true, nil
	}
	return nil, false, nil
}

// readLimited reads the value of secret name, of type t, from r (named from)
// and drops one trailing newline of a textual value. It stops reading past
// the limit, and refuses what is over it, so that a wrong file or an
// endless pipe costs neither time nor memory: a value is at most 1 MiB
// (abi.MaxValueBytes), and the JSON of a hashtable at most four times that.
func readLimited(r io.Reader, t api.Type, name, from string) ([]byte, error) {
	limit, what := abi.MaxValueBytes, "1 MiB"
	if t == api.TypeHashtable {
		limit, what = 4*abi.MaxValueBytes, "4 MiB"
	}
	// Two bytes more for a trailing "\r\n", one more to see what is over.
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+3))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("reading the value of secret %q from %s: %w", name, from, err)
	}
	if textual(t) {
		b = trimNewline(b)
	}
	if len(b) > limit {
		clear(b)
		return nil, fmt.Errorf("the value of secret %q read from %s is over the limit of %s (%d bytes); nothing was changed", name, from, what, limit)
	}
	return b, nil
}

// emptyRead refuses an empty value read with --stdin or --file unless
// --allow-empty is given: an empty read is far more often a failed pipe or
// a wrong file than a wish to store nothing, and the prompt refuses it too.
// (An empty --value is typed on purpose, and stays allowed.)
func emptyRead(c *cli.Context, name string, raw []byte) error {
	if len(raw) > 0 || c.Bool("allow-empty") {
		return nil
	}
	from := "standard input"
	switch {
	case c.IsSet("file"):
		from = c.String("file")
	case !c.Bool("stdin"):
		return nil
	}
	return withHint(fmt.Errorf("the value of secret %q read from %s is empty; nothing was changed", name, from),
		"add --allow-empty to store an empty value")
}

func (s *session) getCommand() *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "print a secret",
		UsageText: "sesame get NAME [--vault V] [--key K] [--as-plain-text] [--json]",
		Description: `Finds NAME in --vault, or in the default vault and then the others by name,
leaving out those registered with --no-search; the first vault that answers
wins. Without --vault, when standard error is a terminal, get says which vault
answered; --json always names it.

A value is printed only with --as-plain-text; without it get prints the type
and a mask (a credential: its user name and a mask; a hashtable: each entry's
key and type). With --as-plain-text, standard output is exactly the value and
one newline; a credential is two lines (user name, password), a hashtable a
JSON object, and bytes are written raw, only when standard output is not a
terminal.

--json prints {"name", "type", "vault", "value", "metadata"}: bytes in base64,
a credential as {"username", "password"}, a hashtable as an object (as set
reads it). Without --as-plain-text every value in it (text, a password,
bytes) is null. Each metadata value is {"type", "value"}, its type named as
--metadata KEY:TYPE=VALUE names it: string, int (a JSON number) or datetime
(RFC 3339, with the offset it keeps), so that a date stored as a string is
told from a datetime.

--key K prints only the entry K of a hashtable secret, as get prints a
secret of the entry's type (--json adds "key"). Keys compare without regard
to case, as in PowerShell: --key USER finds the entry "user".

Examples:
  sesame get db-password                     # string ********
  sesame get db-password --as-plain-text
  PGPASSWORD=$(sesame get db-password --as-plain-text) psql
  sesame get tls-key --as-plain-text > key.pem
  sesame get db-login --json --as-plain-text | jq -r .value.username
  sesame get bag --key pin --as-plain-text`,
		Flags: []cli.Flag{
			vaultFlag("look only in `VAULT`"),
			&cli.StringFlag{Name: "key", Usage: "print only the entry `K` of a hashtable (any case)"},
			&cli.BoolFlag{Name: "as-plain-text", Usage: "print the value itself"},
			jsonFlag(),
		},
		Action: s.get,
	}
}

func (s *session) get(c *cli.Context) error {
	a, err := args(c, 1, 1, "the secret NAME")
	if err != nil {
		return err
	}
	s.oneCall = true
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	sec, err := unlocked(s, e, func() (api.Secret, error) {
		return api.Do(s.ctx, e, api.GetRequest{Name: a[0], Vault: c.String("vault")})
	})
	if err != nil {
		return err
	}
	key := ""
	if c.IsSet("key") {
		if sec, key, err = hashtableEntry(sec, c.String("key")); err != nil {
			return err
		}
	}
	if c.String("vault") == "" && isTerminal(s.stderr) {
		// Found by searching: any vault could have answered, and one
		// that claims every name could stand in for the right one.
		fmt.Fprintf(s.stderr, "sesame: secret %q from vault %s\n", sec.Name, sec.Vault)
	}
	plain := c.Bool("as-plain-text")
	if c.Bool("json") {
		out := secretJSON(sec, plain)
		out.Key = key
		if err := s.printJSON(out); err != nil {
			return err
		}
		if !plain {
			s.hint("add --as-plain-text to include the value")
		}
		return nil
	}
	return s.printSecret(sec, plain)
}

// hashtableEntry returns the entry key of the hashtable secret sec as a
// secret of its own type, and its key as the table spells it. Keys compare
// without regard to case (api.Hashtable.Lookup).
func hashtableEntry(sec api.Secret, key string) (api.Secret, string, error) {
	t, ok := sec.Value.(api.Hashtable)
	if !ok {
		return sec, "", fmt.Errorf("secret %q in vault %s is a %s, not a hashtable: --key picks an entry of a hashtable", sec.Name, sec.Vault, sec.Type)
	}
	k, v, ok := t.Lookup(key)
	if !ok {
		err := fmt.Errorf("secret %q in vault %s has no key %q", sec.Name, sec.Vault, key)
		if len(t) == 0 {
			return sec, "", err
		}
		return sec, "", withHint(err, "its keys: "+strings.Join(slices.Sorted(maps.Keys(t)), ", "))
	}
	sec.Value, sec.Type = v, entryType(v)
	return sec, k, nil
}

// hint prints a hint line on stderr.
func (s *session) hint(h string) { fmt.Fprintf(s.stderr, "sesame: hint: %s\n", h) }

func (s *session) infoCommand() *cli.Command {
	return &cli.Command{
		Name:      "info",
		Usage:     "list secrets, without their values",
		UsageText: "sesame info [PATTERN] [--vault V] [--json]",
		Description: `Lists the secrets whose names match PATTERN ('*' any run of characters, '?'
one; default: all) in --vault, or in every vault that get searches (the
default first; not those registered with --no-search). Prints a table NAME
TYPE VAULT METADATA, or with --json an array of
{"name", "type", "vault", "metadata"}, each metadata value as
{"type": "string" | "int" | "datetime", "value": …} (as get --json).

A vault that cannot list (locked, failing) is skipped: the others are listed
all the same, and each skipped vault is named on standard error.

Exit status: 0 when every vault asked answered (even with no match), 1 when
one was skipped or --vault names none.

Examples:
  sesame info
  sesame info 'db-*' --vault Team
  sesame info --json | jq -r '.[].name'
  sesame info --json | jq -r '.[] | select(.metadata.expires.type == "datetime") | .metadata.expires.value'`,
		Flags: []cli.Flag{
			vaultFlag("list only `VAULT`"),
			jsonFlag(),
		},
		Action: s.info,
	}
}

func (s *session) info(c *cli.Context) error {
	a, err := args(c, 0, 1, "")
	if err != nil {
		return err
	}
	pattern := ""
	if len(a) == 1 {
		pattern = a[0]
	}
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	list, err := unlocked(s, e, func() ([]api.Info, error) {
		return api.Do(s.ctx, e, api.InfoRequest{Pattern: pattern, Vault: c.String("vault")})
	})
	if c.String("vault") == "" {
		err = skipped(err)
	}
	if c.Bool("json") {
		if perr := s.printJSON(infoJSON(list)); perr != nil {
			return perr
		}
	} else {
		s.printInfo(list)
	}
	return err
}

// skippedVault is the failure of one vault in a search: the search went on
// without it.
type skippedVault struct{ err *api.Error }

func (s skippedVault) Error() string {
	return fmt.Sprintf("vault %s was skipped: %v", s.err.Vault, s.err.Err)
}

func (s skippedVault) Unwrap() error { return s.err }

// skipped words the errors of the vaults that a search over every vault
// left out (err joins one *api.Error per vault) as vaults skipped.
func skipped(err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else if err != nil {
		errs = []error{err}
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
		if ee, ok := e.(*api.Error); ok && ee.Vault != "" && ee.Secret == "" {
			out[i] = skippedVault{ee}
		}
	}
	return errors.Join(out...)
}

func (s *session) setInfoCommand() *cli.Command {
	return &cli.Command{
		Name:      "set-info",
		Usage:     "replace a secret's metadata",
		UsageText: "sesame set-info NAME (--metadata KEY[:TYPE]=VALUE... | --clear) [--vault V] [--what-if] [--confirm]",
		Description: `Replaces the whole metadata of secret NAME with the --metadata given (see
sesame set --help for KEY[:TYPE]=VALUE), or removes it all with --clear. The
vault must support metadata.

Examples:
  sesame set-info db-password --metadata Expiration:datetime=2026-01-31
  sesame set-info api-token --metadata owner=ci --metadata uses:int=3 --vault Team
  sesame set-info api-token --clear`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "metadata", Usage: "the new metadata `KEY[:TYPE]=VALUE` (repeatable)"},
			&cli.BoolFlag{Name: "clear", Usage: "remove all the metadata"},
			vaultFlag("the secret's `VAULT` (default: the default vault)"),
			whatIfFlag(),
			confirmFlag(),
		},
		Action: s.setInfo,
	}
}

func (s *session) setInfo(c *cli.Context) error {
	a, err := args(c, 1, 1, "the secret NAME")
	if err != nil {
		return err
	}
	md, err := parseMetadata(c.StringSlice("metadata"))
	if err != nil {
		return usagef(c, "%v", err)
	}
	switch {
	case md != nil && c.Bool("clear"):
		return usagef(c, "give --metadata or --clear, not both")
	case c.Bool("clear"):
		md = api.Metadata{} // empty, not nil: the engine clears
	case md == nil:
		return usagef(c, "set-info needs at least one --metadata KEY[:TYPE]=VALUE, or --clear")
	}
	return s.change1(c, func(e backend, ch api.Change) (api.Action, error) {
		return api.Do(s.ctx, e, api.SetInfoRequest{Name: a[0], Metadata: md, Vault: c.String("vault"), Change: ch})
	})
}

// change1 runs one change of one secret: it reads --what-if and --confirm,
// opens the engine, runs do (unlocking the vault on a terminal if it asks),
// and reports the action of a what-if.
func (s *session) change1(c *cli.Context, do func(backend, api.Change) (api.Action, error)) error {
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	act, err := unlocked(s, e, func() (api.Action, error) { return do(e, ch) })
	if err != nil {
		return err
	}
	if ch.WhatIf {
		s.whatIf(act)
	}
	return nil
}

func (s *session) removeCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "delete a secret from a vault",
		UsageText: "sesame remove NAME --vault V [--what-if] [--confirm]",
		Description: `Deletes secret NAME from VAULT. The vault is required: remove never searches.

Examples:
  sesame remove old-token --vault LocalStore
  sesame remove old-token --vault LocalStore --what-if
  sesame remove old-token --vault LocalStore --confirm`,
		Flags: []cli.Flag{
			vaultFlag("the secret's `VAULT` (required)"),
			whatIfFlag(),
			confirmFlag(),
		},
		Action: s.remove,
	}
}

func (s *session) remove(c *cli.Context) error {
	a, err := args(c, 1, 1, "the secret NAME")
	if err != nil {
		return err
	}
	if c.String("vault") == "" {
		return usagef(c, "remove needs --vault VAULT")
	}
	return s.change1(c, func(e backend, ch api.Change) (api.Action, error) {
		return api.Do(s.ctx, e, api.RemoveRequest{Name: a[0], Vault: c.String("vault"), Change: ch})
	})
}

func (s *session) copyCommand() *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "copy a secret, with its metadata, to another vault",
		UsageText: "sesame copy NAME --from V1 --to V2 [--no-clobber] [--what-if] [--confirm]",
		Description: `Copies secret NAME from vault V1 to vault V2 with its metadata. A NAME with
wildcards ('*', '?') copies every match, showing progress on a terminal, and
stops at the first failure. --what-if says what each copy would do;
--confirm asks before each one.

Examples:
  sesame copy db-password --from LocalStore --to Team
  sesame copy 'ci-*' --from LocalStore --to Team --no-clobber
  sesame copy 'ci-*' --from LocalStore --to Team --what-if`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the source `VAULT` (required)"},
			&cli.StringFlag{Name: "to", Usage: "the target `VAULT` (required)"},
			&cli.BoolFlag{Name: "no-clobber", Usage: "fail if the secret exists in the target"},
			whatIfFlag(),
			confirmFlag(),
		},
		Action: s.copy,
	}
}

func (s *session) copy(c *cli.Context) error {
	a, err := args(c, 1, 1, "the secret NAME")
	if err != nil {
		return err
	}
	from, to := c.String("from"), c.String("to")
	if from == "" || to == "" {
		return usagef(c, "copy needs --from VAULT and --to VAULT")
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	copy1 := func(in api.Info) error {
		act, err := unlocked(s, e, func() (api.Action, error) {
			return api.Do(s.ctx, e, api.CopyRequest{From: in, Vault: to, NoClobber: c.Bool("no-clobber"), Change: ch})
		})
		if err == nil && ch.WhatIf {
			s.whatIf(act)
		}
		return err
	}
	if !strings.ContainsAny(a[0], "*?") {
		return copy1(api.Info{Name: a[0], Vault: from})
	}
	list, err := unlocked(s, e, func() ([]api.Info, error) {
		return api.Do(s.ctx, e, api.InfoRequest{Pattern: a[0], Vault: from})
	})
	if err != nil {
		return err
	}
	progress := isTerminal(s.stderr) && !ch.WhatIf
	for i, in := range list {
		if progress {
			fmt.Fprintf(s.stderr, "\rsesame: copying %d/%d", i+1, len(list))
		}
		if err := copy1(in); err != nil {
			if progress {
				fmt.Fprintln(s.stderr)
			}
			return withHint(err, fmt.Sprintf("%d of %d secrets were copied before this one", i, len(list)))
		}
	}
	if progress && len(list) > 0 {
		fmt.Fprintln(s.stderr)
	}
	if ch.WhatIf {
		fmt.Fprintln(s.stderr, "sesame: copied nothing (--what-if)")
		return nil
	}
	fmt.Fprintf(s.stderr, "sesame: copied %d secrets from %s to %s\n", len(list), from, to)
	return nil
}
