package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
)

// Import sends the secrets in batches, each one api.ImportRequest: one
// storage transaction in the vault, and one request to the agent, whose
// requests are at most 8 MiB. A batch of 2000 rather than 1000 writes a
// quarter fewer pages of the store per secret (its secrets share the leaves
// they change, and the secretstore writes its manifest once a batch), and
// imported 19–20 % more secrets a CPU-second at 100 000 (bench/NOTES.md);
// a failed batch loses no more progress than that, which a run again
// skips.
const (
	defaultBatch   = 2000
	maxBatchValues = 4 << 20 // bytes of names and values in one batch
)

func (s *session) importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "store many secrets from a dotenv or JSON file",
		UsageText: "sesame import FILE|- [--vault V] [--format dotenv|json] [--type T] [--no-clobber] [--batch N] [--what-if] [--confirm]",
		Description: `Stores every secret of FILE (- for standard input) in a vault (default: the
default vault), replacing those of the same name unless --no-clobber is given.

Formats (--format; without it the first character decides, and import says
which it read):
  dotenv  NAME=VALUE lines, read as the builtin dotenv vault reads a .env
          file: comments (#), an export prefix, 'single-quoted' and
          "double-quoted" values (escapes \n \r \t \" \\ \$; both may span
          lines). Values are strings, or with --type securestring secure
          strings. A name given twice: the last one wins.
  json    records as get --json --as-plain-text prints them, one per line,
          spread over lines, or in arrays: {"name": …, "type": …, "value": …,
          "metadata": {"KEY": {"type": "string" | "int" | "datetime",
          "value": …}}}. "type" is one of ` + typeList() + `
          (default string); "value" is base64 for bytes, {"username",
          "password"} for a credential, an object for a hashtable (see set
          --help). "vault" is ignored: --vault names the vault written.

Secrets go in batches of --batch (default 2000): each batch is written whole
or not at all, in one transaction of the vault's storage (a vault that keeps
its secrets elsewhere, such as a dotenv file, is written secret by secret).
A bad line stops the import with an error naming the file and the line, and
nothing of its batch is written; the batches before it stay. Running the same
import again goes on where it stopped: a secret already stored with the same
value (and metadata) is left alone and counted as unchanged, even with
--no-clobber.

--what-if prints what each secret would do; --confirm asks once per batch. On
a terminal, standard error shows a progress bar; a summary line ends every
import.

Examples:
  sesame import .env
  sesame import .env --vault Team --no-clobber --type securestring
  sesame get db --json --as-plain-text | sesame import - --vault Team
  sesame import secrets.jsonl --what-if`,
		Flags: []cli.Flag{
			vaultFlag("store in `VAULT` (default: the default vault)"),
			&cli.StringFlag{Name: "format", Usage: "read `FORMAT` dotenv or json (default: detected from the first character)"},
			&cli.StringFlag{Name: "type", Value: "string", Usage: "the type `T` of dotenv values: string or securestring"},
			&cli.BoolFlag{Name: "no-clobber", Usage: "fail on a secret that exists with another value"},
			&cli.IntFlag{Name: "batch", Value: defaultBatch, Usage: "write `N` secrets per transaction"},
			whatIfFlag(),
			confirmFlag(),
		},
		Action: s.importSecrets,
	}
}

// importSource names the input and yields its secrets one by one.
type importSource struct {
	name   string // the file, or "standard input"
	format string // "dotenv" or "json"
	next   func() (line int, sec api.ImportSecret, err error)
}

func (s *session) importSecrets(c *cli.Context) error {
	a, err := args(c, 1, 1, "the FILE to read (- for standard input)")
	if err != nil {
		return err
	}
	t, ok := parseType(c.String("type"))
	if !ok || (t != api.TypeString && t != api.TypeSecureString) {
		return usagef(c, "--type %q: dotenv values are string or securestring", c.String("type"))
	}
	if c.IsSet("type") && c.String("format") == "json" {
		return usagef(c, "--type is for dotenv values; a JSON record names its own type")
	}
	if c.Int("batch") < 1 {
		return usagef(c, "--batch %d: want at least 1", c.Int("batch"))
	}
	format := c.String("format")
	if format != "" && format != "dotenv" && format != "json" {
		return usagef(c, "unknown --format %q (want dotenv or json)", format)
	}
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	src, closeSrc, err := s.openImport(a[0], format, t)
	if err != nil {
		return err
	}
	defer closeSrc()
	if format == "" {
		fmt.Fprintf(s.stderr, "sesame: reading %s as %s (detected; --format chooses)\n", src.name, src.format)
	}
	e, err := s.vaultEngine()
	if err != nil {
		return err
	}
	im := &importer{s: s, e: e, src: src, req: api.ImportRequest{Vault: c.String("vault"), NoClobber: c.Bool("no-clobber"), Change: ch},
		batch: c.Int("batch"), progress: isTerminal(s.stderr) && !ch.WhatIf && ch.Confirm == nil}
	return im.run()
}

// openImport opens the input named arg and reads it as format ("": the
// first character that is not blank decides).
func (s *session) openImport(arg, format string, t api.Type) (*importSource, func(), error) {
	src := &importSource{name: arg}
	var r io.Reader = s.stdin
	closeIt := func() {}
	if arg == "-" {
		src.name = "standard input"
	} else {
		f, err := os.Open(arg)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the secrets to import: %w", err)
		}
		closeIt = func() { f.Close() }
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if format == "" {
		format = detectFormat(br)
	}
	src.format = format
	if format == "json" {
		jr := newJSONReader(br)
		src.next = func() (int, api.ImportSecret, error) {
			it, err := jr.next()
			if err != nil {
				return 0, api.ImportSecret{}, err
			}
			sec, err := it.secret()
			if err != nil {
				return it.line, sec, &lineError{Line: it.line, Err: err}
			}
			return it.line, sec, nil
		}
		return src, closeIt, nil
	}
	dr := newDotenvReader(br)
	src.next = func() (int, api.ImportSecret, error) {
		ent, err := dr.next()
		if err != nil {
			return 0, api.ImportSecret{}, err
		}
		v, _ := makeValue(t, "", ent.value) // a string type: no error
		return ent.line, api.ImportSecret{Name: ent.name, Value: v}, nil
	}
	return src, closeIt, nil
}

// detectFormat returns "json" when the first byte of br that is not
// white space (after a byte order mark) opens a JSON object or array, else
// "dotenv". It reads nothing away.
func detectFormat(br *bufio.Reader) string {
	for n := 64; ; n *= 2 {
		b, err := br.Peek(n)
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		if i := bytes.IndexFunc(b, func(r rune) bool { return !strings.ContainsRune(" \t\r\n", r) }); i >= 0 {
			if b[i] == '{' || b[i] == '[' {
				return "json"
			}
			return "dotenv"
		}
		if err != nil || n >= br.Size() {
			return "dotenv"
		}
	}
}

// importEntry is a secret of the input and the line it starts on.
type importEntry struct {
	line int
	sec  api.ImportSecret
}

// readAll reads every secret of src, so that a bad line stops the import
// before anything is written. A name given again replaces the earlier one,
// in the earlier one's place being dropped: the last value wins, and
// running the import again finds each secret as it left it.
func readAll(src *importSource) ([]importEntry, error) {
	var all []importEntry
	last := map[string]int{}
	for {
		line, sec, err := src.next()
		switch {
		case err == io.EOF:
			out := all[:0]
			for i, e := range all {
				if last[e.sec.Name] == i {
					out = append(out, e)
				}
			}
			return out, nil
		case err != nil:
			return nil, err
		}
		last[sec.Name] = len(all)
		all = append(all, importEntry{line, sec})
	}
}

// importer sends the secrets of src to the engine in batches.
type importer struct {
	s        *session
	e        backend
	src      *importSource
	req      api.ImportRequest // the options; Secrets is each batch's
	batch    int
	progress bool

	entries                           []importEntry
	partial                           bool // the failed batch may be written in part
	vault                             string
	added, replaced, unchanged, total int
	start                             time.Time
}

func (im *importer) run() error {
	var err error
	if im.entries, err = readAll(im.src); err != nil {
		return im.fail(err, nil)
	}
	im.start = time.Now()
	for rest := im.entries; len(rest) > 0; {
		n := batchLen(rest, im.batch)
		err := im.send(rest[:n])
		if errors.Is(err, api.ErrDeclined) && im.total > 0 {
			// No is an answer, not a failure; but not "nothing was
			// changed" either, when earlier batches were imported.
			im.endProgress()
			fmt.Fprintf(im.s.stderr, "sesame: declined; the secrets from line %d on were not imported\n", rest[0].line)
			im.summary()
			return nil
		}
		if err != nil {
			return im.fail(err, rest[:n])
		}
		rest = rest[n:]
	}
	im.endProgress()
	im.summary()
	return nil
}

// batchLen is how many of entries the next batch takes: at most most, and
// at most maxBatchValues bytes of names and values (one at least).
func batchLen(entries []importEntry, most int) int {
	size := 0
	for i, e := range entries {
		size += len(e.sec.Name) + valueSize(e.sec.Value)
		if i == most || (i > 0 && size > maxBatchValues) {
			return i
		}
	}
	return len(entries)
}

// valueSize is about how many bytes v takes on the wire.
func valueSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case api.SecureString:
		return len(x)
	case []byte:
		return len(x)
	case api.Credential:
		return len(x.UserName) + len(x.Password)
	case api.Hashtable:
		n := 0
		for k, e := range x {
			n += len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

// send imports one batch.
func (im *importer) send(batch []importEntry) error {
	im.req.Secrets = im.req.Secrets[:0]
	for _, e := range batch {
		im.req.Secrets = append(im.req.Secrets, e.sec)
	}
	res, err := unlocked(im.s, im.e, func() (api.ImportResult, error) {
		return api.Do(im.s.ctx, im.e, im.req)
	})
	im.partial = res.Partial
	if err != nil {
		if res.Failed > 0 {
			return &lineError{Line: batch[res.Failed-1].line, Err: err}
		}
		return err
	}
	im.vault = res.Vault
	for _, a := range res.Actions {
		if a.Replace {
			im.replaced++
		} else {
			im.added++
		}
		if im.req.WhatIf {
			im.s.whatIf(a)
		}
	}
	im.unchanged += res.Unchanged
	im.total += len(batch)
	im.showProgress()
	return nil
}

// fail words err, naming the input (and the line, when err names one), and
// says what the batches before it did.
func (im *importer) fail(err error, batch []importEntry) error {
	im.endProgress()
	var le *lineError
	switch {
	case errors.Is(err, api.ErrDeclined):
		return err // nothing was imported: the CLI says so
	case errors.As(err, &le):
		err = fmt.Errorf("%s, line %d: %w", im.src.name, le.Line, le.Err)
	case batch != nil && !errors.Is(err, api.ErrLocked): // locked: the vault's state, before any line
		err = fmt.Errorf("%s, lines %d to %d: %w", im.src.name, batch[0].line, batch[len(batch)-1].line, err)
	case !errors.As(err, new(*api.Error)):
		err = fmt.Errorf("reading %s: %w", im.src.name, err)
	}
	this := "nothing of this batch was written"
	if im.partial {
		// The vault writes elsewhere than its host storage (a file, a
		// service), secret by secret.
		this = "the secrets of this batch before the one that failed may have been written: the vault is not written in transactions"
	}
	// The hints of the error's sentinel (how to unlock a vault) follow.
	sentinel := hints(err)
	switch {
	case im.req.WhatIf || batch == nil || (im.total == 0 && !im.partial):
		return withHint(err, append([]string{"nothing was imported"}, sentinel...)...)
	case im.total == 0:
		return withHint(err, append([]string{this}, sentinel...)...)
	}
	return withHint(err, append([]string{fmt.Sprintf("the batches before were imported into vault %s and are kept: %s (%s); %s. Running the same import again goes on from there",
		im.vault, secretsN(im.total), im.counts(), this)}, sentinel...)...)
}

// secretsN is "1 secret" or "N secrets".
func secretsN(n int) string {
	if n == 1 {
		return "1 secret"
	}
	return fmt.Sprintf("%d secrets", n)
}

func (im *importer) counts() string {
	return fmt.Sprintf("%d added, %d replaced, %d unchanged", im.added, im.replaced, im.unchanged)
}

// summary prints the line that ends every import.
func (im *importer) summary() {
	switch {
	case im.req.WhatIf:
		fmt.Fprintf(im.s.stderr, "sesame: imported nothing (--what-if): of %s, %d would be added, %d replaced, %d left unchanged\n",
			secretsN(im.total), im.added, im.replaced, im.unchanged)
	case im.total == 0:
		fmt.Fprintf(im.s.stderr, "sesame: %s holds no secrets; nothing was imported\n", im.src.name)
	default:
		fmt.Fprintf(im.s.stderr, "sesame: imported %s from %s into vault %s (%s)\n", secretsN(im.total), im.src.name, im.vault, im.counts())
	}
}

// barWidth is the width of the progress bar, in characters.
const barWidth = 30

// showProgress redraws the progress line on a terminal: a bar, the count
// and the rate.
func (im *importer) showProgress() {
	if !im.progress {
		return
	}
	done := float64(im.total) / float64(len(im.entries))
	full := int(done * barWidth)
	rate := float64(im.total) / max(time.Since(im.start).Seconds(), 1e-3)
	fmt.Fprintf(im.s.stderr, "\rsesame: importing [%s%s] %3.0f%% %d/%d secrets (%.0f/s)",
		strings.Repeat("#", full), strings.Repeat(".", barWidth-full), done*100, im.total, len(im.entries), rate)
}

// endProgress ends the progress line, if one was drawn.
func (im *importer) endProgress() {
	if im.progress && im.total > 0 {
		fmt.Fprintln(im.s.stderr)
		im.progress = false
	}
}
