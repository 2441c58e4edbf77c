package engine_test

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// The dotenv format's cases (extensions/dotenv/README.md), run through the
// compiled C module and the sandbox: a file written into the granted
// folder, read with list and get, changed with set and remove, compared
// byte for byte. dotenv_test.go covers the grants, the locking and the
// atomic rewrite; FuzzDotenvFile the decoders.

// dotenvFile is a dotenv vault over the folder dir, whose file is dir/.env,
// called directly (the module's answers, without the engine's checks of
// names and metadata on top).
type dotenvFile struct {
	engine.Vault
	dir string
}

// openDotenvFile opens a dotenv vault over a new folder.
func openDotenvFile(tb testing.TB) *dotenvFile {
	tb.Helper()
	dir := tb.TempDir()
	v, err := openDotenv(tb, dir, dotenvConfig{}).Vault(ctx, vault2)
	if err != nil {
		tb.Fatal(err)
	}
	return &dotenvFile{Vault: v, dir: dir}
}

func (v *dotenvFile) path() string { return filepath.Join(v.dir, ".env") }

// write makes src the file.
func (v *dotenvFile) write(tb testing.TB, src string) {
	tb.Helper()
	if err := os.WriteFile(v.path(), []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// file returns the file's contents.
func (v *dotenvFile) file(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(v.path())
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// values returns what a reader of the file sees: each listed name and its
// value, read with get.
func (v *dotenvFile) values(tb testing.TB) (map[string]string, error) {
	tb.Helper()
	list, err := v.List(ctx, "*")
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list))
	for _, in := range list {
		if _, dup := m[in.Name]; dup {
			tb.Fatalf("list names %s twice", in.Name)
		}
		if in.Type != abi.TypeString || len(in.Metadata) != 0 {
			tb.Fatalf("list: %+v, want a string without metadata", in)
		}
		got, val, err := v.Get(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		if got.Name != in.Name || got.Type != abi.TypeString || val.Type != abi.TypeString {
			tb.Fatalf("get %s: %+v %v", in.Name, got, val.Type)
		}
		m[in.Name] = string(val.Data)
	}
	return m, nil
}

// mustValues is values for a file that parses.
func (v *dotenvFile) mustValues(tb testing.TB) map[string]string {
	tb.Helper()
	m, err := v.values(tb)
	if err != nil {
		tb.Fatalf("file %q: %v", v.file(tb), err)
	}
	return m
}

func (v *dotenvFile) set(name, value string) error {
	return v.Set(ctx, name, abi.Value{Type: abi.TypeString, Data: []byte(value)}, nil)
}

// dotenvFormatError matches the vault's refusal of a file it does not
// understand, or of a value that is not UTF-8: an INTERNAL naming the file
// and the line.
var dotenvFormatError = regexp.MustCompile(`\.env: line ([0-9]+): `)

// refusedLine returns the line that err names as not understood, or 0 when
// err is not such a refusal.
func refusedLine(err error) int {
	m := dotenvFormatError.FindStringSubmatch(fmt.Sprint(err))
	if m == nil || !errors.Is(err, abi.Internal) {
		return 0
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

const handWritten = "\xef\xbb\xbf# a comment\n" +
	"\n" +
	"PLAIN=value\n" +
	"  INDENTED = spaced out  \n" +
	"export EXPORTED=yes\n" +
	"export\tTABBED=\ttab\t\n" +
	"export=a variable called export\n" +
	"INLINE=abc # a comment\n" +
	"HASH=abc#def\n" +
	"LEADHASH=#notacomment\n" +
	"EMPTY=\n" +
	"EMPTYCOMMENT= # nothing\n" +
	"EMPTYQ=\"\"\n" +
	"DQ=\"a \\\"quoted\\\" \\\\ \\$HOME\\n\\r\\tend\" # comment\n" +
	"UNKNOWNESC=\"\\a\\x\"\n" +
	"SQ='literal \\n $HOME \"dq\"'\n" +
	"MULTI=\"line one\nline two\"\n" +
	"MULTISQ='one\ntwo'\n" +
	"UNICODE=\"pâss 密码 🔑\"\n" +
	"CRLF=windows\r\n" +
	"DUP=first\n" +
	"DUP=second\n" +
	"   # indented comment\n" +
	"LAST=no newline"

func TestDotenvFormatParseHandWritten(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	v.write(t, handWritten)
	want := map[string]string{
		"PLAIN":        "value",
		"INDENTED":     "spaced out",
		"EXPORTED":     "yes",
		"TABBED":       "tab",
		"export":       "a variable called export",
		"INLINE":       "abc",
		"HASH":         "abc#def",
		"LEADHASH":     "#notacomment",
		"EMPTY":        "",
		"EMPTYCOMMENT": "",
		"EMPTYQ":       "",
		"DQ":           "a \"quoted\" \\ $HOME\n\r\tend",
		"UNKNOWNESC":   `\a\x`,
		"SQ":           `literal \n $HOME "dq"`,
		"MULTI":        "line one\nline two",
		"MULTISQ":      "one\ntwo",
		"UNICODE":      "pâss 密码 🔑",
		"CRLF":         "windows",
		"DUP":          "second",
		"LAST":         "no newline",
	}
	if got := v.mustValues(t); !maps.Equal(got, want) {
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s = %q, want %q", k, got[k], w)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected key %q", k)
			}
		}
	}
	// Line numbers, as the errors name them: a line the vault does not
	// understand, put where an entry starts, is refused with that entry's
	// number (quoted values over several lines count every line).
	for key, line := range map[string]int{"PLAIN": 3, "MULTISQ": 19, "UNICODE": 21, "LAST": 26} {
		at := strings.Index(handWritten, "\n"+key+"=") + 1
		v.write(t, handWritten[:at]+"bad line\n")
		if _, _, err := v.Get(ctx, "PLAIN"); refusedLine(err) != line {
			t.Errorf("a bad line where %s starts: %v, want line %d", key, err, line)
		}
	}
}

func TestDotenvFormatParseErrors(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	for _, src := range []string{
		"just words\n",
		"KEY value\n",
		"1KEY=x\n",
		"my-key=x\n",
		"=x\n",
		"export KEY\n",
		"KEY=\"unterminated\n",
		"KEY='unterminated\n",
		"KEY=\"a\" trailing\n",
		"KEY='a'b\n",
		"OK=1\nKEY=\"x\ny\" z\n",
	} {
		v.write(t, src)
		_, _, err := v.Get(ctx, "KEY")
		if refusedLine(err) == 0 {
			t.Errorf("get from %q = %v, want the file refused", src, err)
			continue
		}
		// The message names a line and never quotes a value.
		if msg := err.Error(); strings.Contains(msg, "unterminated") || strings.Contains(msg, "trailing") || strings.Contains(msg, "words") {
			t.Errorf("get from %q: the message quotes the line: %v", src, err)
		}
		// Every operation refuses the file, and nothing is rewritten.
		if _, err := v.List(ctx, "*"); refusedLine(err) == 0 {
			t.Errorf("list from %q = %v, want the file refused", src, err)
		}
		if err := v.set("NEW", "x"); refusedLine(err) == 0 || v.file(t) != src {
			t.Errorf("set in %q = %v, file %q; want the file refused and unchanged", src, err, v.file(t))
		}
	}
	v.write(t, "A=1\n\nB=\"x\ny\"\nbad line\n")
	if _, _, err := v.Get(ctx, "A"); refusedLine(err) != 5 {
		t.Errorf("error = %v, want one about line 5", err)
	}
}

var tricky = []string{
	"", "simple", "with space", " leading and trailing ", "tab\there", "new\nline", "cr\rlf\r\n",
	`double "quotes"`, "single 'quotes'", "hash # not a comment", "#start", "end#", "dollar $HOME ${X} $$",
	`back\slash\`, `\n literally`, "pâss wörd — 密码 🔑\u200d", "=equals=", "`backtick`", "a\"b'c\\d$e",
	"\x01\x1f\x7f controls", "safe-chars_./:@%+,",
}

func TestDotenvFormatEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	for _, value := range tricky {
		v.write(t, "")
		if err := v.set("KEY", value); err != nil {
			t.Fatalf("set %q: %v", value, err)
		}
		if got := v.mustValues(t)["KEY"]; got != value {
			t.Errorf("value %q written as %q reads back as %q", value, v.file(t), got)
		}
	}
	for value, want := range map[string]string{
		"safe-chars_./:@%+,":      "safe-chars_./:@%+,",
		`a "b" $c \d` + "\n":      `"a \"b\" \$c \\d\n"`,
		"":                        `""`,
		"pâss\ttab\r":             `"pâss\ttab\r"`,
		"\x01\x1f\x7f controls":   "\"\x01\x1f\x7f controls\"",
		"`backtick` and 'single'": "\"`backtick` and 'single'\"",
	} {
		v.write(t, "")
		if err := v.set("KEY", value); err != nil {
			t.Fatal(err)
		}
		if got := v.file(t); got != "KEY="+want+"\n" {
			t.Errorf("set %q writes %q, want KEY=%s", value, got, want)
		}
	}
}

const golden = "# Database settings\n" +
	"\n" +
	"export DB_HOST=localhost   # the host\n" +
	"  DB_PASSWORD = 'old secret'\n" +
	"\t# tabbed comment\n" +
	"API_KEY=\"abc\\n\" # rotate yearly\n" +
	"EMPTY= # filled later\n" +
	"DUP=one\n" +
	"DUP=two\n" +
	"MULTI=\"a\nb\"\n" +
	"UNRELATED=keep me\n" +
	"# trailing comment"

func TestDotenvFormatEditsKeepOtherBytes(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	sets := []struct{ key, value, want string }{
		{"DB_HOST", "db.example.com", strings.Replace(golden, "DB_HOST=localhost ", "DB_HOST=db.example.com ", 1)},
		{"DB_PASSWORD", "new secret", strings.Replace(golden, "'old secret'", `"new secret"`, 1)},
		{"API_KEY", "x", strings.Replace(golden, `"abc\n" #`, "x #", 1)},
		{"EMPTY", "now set", strings.Replace(golden, "EMPTY= #", `EMPTY="now set" #`, 1)},
		{"DUP", "three", strings.Replace(golden, "DUP=two", "DUP=three", 1)},
		{"MULTI", "one line", strings.Replace(golden, "\"a\nb\"", `"one line"`, 1)},
		{"NEW", "appended value", golden + "\nNEW=\"appended value\"\n"},
	}
	for _, c := range sets {
		v.write(t, golden)
		if err := v.set(c.key, c.value); err != nil {
			t.Fatalf("set %s: %v", c.key, err)
		}
		if got := v.file(t); got != c.want {
			t.Errorf("set %s:\n got %q\nwant %q", c.key, got, c.want)
		}
	}
	removes := []struct{ key, want string }{
		{"DB_PASSWORD", strings.Replace(golden, "  DB_PASSWORD = 'old secret'\n", "", 1)},
		{"DUP", strings.Replace(golden, "DUP=one\nDUP=two\n", "", 1)},
		{"MULTI", strings.Replace(golden, "MULTI=\"a\nb\"\n", "", 1)},
	}
	for _, c := range removes {
		v.write(t, golden)
		if err := v.Remove(ctx, c.key); err != nil {
			t.Fatalf("remove %s: %v", c.key, err)
		}
		if got := v.file(t); got != c.want {
			t.Errorf("remove %s:\n got %q\nwant %q", c.key, got, c.want)
		}
	}
	v.write(t, golden)
	if err := v.Remove(ctx, "MISSING"); !errors.Is(err, abi.NotFound) || v.file(t) != golden {
		t.Errorf("remove of a missing key: %v; file changed: %v", err, v.file(t) != golden)
	}
}

// A '#' right after an old value written unquoted would become part of an
// unquoted new value: the new one is quoted.
func TestDotenvFormatSetBeforeAHash(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	v.write(t, "K=\"old\"# note\n")
	if err := v.set("K", "new"); err != nil {
		t.Fatal(err)
	}
	if got := v.file(t); got != "K=\"new\"# note\n" {
		t.Errorf("file = %q", got)
	}
}

func TestDotenvFormatNewlineStyle(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	for _, c := range []struct{ src, key, value, want string }{
		{"A=1\r\nB=2\r\n", "C", "3", "A=1\r\nB=2\r\nC=3\r\n"},     // append to a CRLF file
		{"A=1\r\nB=2\r\n", "A", "x y", "A=\"x y\"\r\nB=2\r\n"},    // set in a CRLF file
		{"A=1", "B", "2", "A=1\nB=2\n"},                           // a last line without newline
		{"A=1\r", "B", "2", "A=1\r\nB=2\n"},                       // a last line ending in a lone CR
		{"A=1\r\nB=2", "C", "3", "A=1\r\nB=2\r\nC=3\r\n"},         // CRLF, no final newline
		{"\xef\xbb\xbfA=1\n", "A", "2", "\xef\xbb\xbfA=2\n"},      // the BOM stays first
		{"\xef\xbb\xbfA=1\n", "B", "2", "\xef\xbb\xbfA=1\nB=2\n"}, // and before an append
	} {
		v.write(t, c.src)
		if err := v.set(c.key, c.value); err != nil {
			t.Fatalf("set %s in %q: %v", c.key, c.src, err)
		}
		if got := v.file(t); got != c.want {
			t.Errorf("set %s=%s in %q: %q, want %q", c.key, c.value, c.src, got, c.want)
		}
	}
}

func TestDotenvFormatValidName(t *testing.T) {
	t.Parallel()
	v := openDotenvFile(t)
	for _, s := range []string{"A", "_", "_x1", "abc_DEF_123", "export"} {
		if err := v.set(s, "x"); err != nil {
			t.Errorf("set %q: %v", s, err)
		}
	}
	for _, s := range []string{"1A", "A-B", "A.B", "A B", "../x", "é", "A=B"} {
		if err := v.set(s, "x"); !errors.Is(err, abi.InvalidArgument) || !strings.Contains(err.Error(), "[A-Za-z_][A-Za-z0-9_]*") {
			t.Errorf("set %q: %v, want INVALID_ARGUMENT naming the rule", s, err)
		}
		if _, _, err := v.Get(ctx, s); !errors.Is(err, abi.NotFound) {
			t.Errorf("get %q: %v, want NOT_FOUND", s, err)
		}
	}
}
