package main

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// values parses src and returns what a reader sees: the last value of each
// key.
func values(t testing.TB, src string) map[string]string {
	t.Helper()
	entries, err := parse([]byte(src))
	if err != nil {
		t.Fatalf("parse(%q): %v", src, err)
	}
	m := map[string]string{}
	for _, e := range entries {
		m[e.key] = e.value
	}
	return m
}

func TestParseHandWritten(t *testing.T) {
	const src = "\xef\xbb\xbf# a comment\n" +
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
	if got := values(t, src); !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected key %q", k)
			}
		}
	}
	entries, _ := parse([]byte(src))
	lines := map[string]int{}
	for _, e := range entries {
		lines[e.key] = e.line
	}
	if lines["PLAIN"] != 3 || lines["MULTISQ"] != 19 || lines["UNICODE"] != 21 || lines["LAST"] != 26 {
		t.Errorf("line numbers: %v", lines)
	}
}

func TestParseErrors(t *testing.T) {
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
		_, err := parse([]byte(src))
		var fe *formatError
		if !errors.As(err, &fe) {
			t.Errorf("parse(%q) = %v, want a formatError", src, err)
			continue
		}
		// The message names a line and never quotes a value.
		if strings.Contains(err.Error(), "unterminated") || strings.Contains(err.Error(), "trailing") || strings.Contains(err.Error(), "words") {
			t.Errorf("parse(%q): the message quotes the line: %v", src, err)
		}
	}
	if _, err := parse([]byte("A=1\n\nB=\"x\ny\"\nbad line\n")); err == nil || !strings.HasPrefix(err.Error(), "line 5:") {
		t.Errorf("error = %v, want one about line 5", err)
	}
}

var tricky = []string{
	"", "simple", "with space", " leading and trailing ", "tab\there", "new\nline", "cr\rlf\r\n",
	`double "quotes"`, "single 'quotes'", "hash # not a comment", "#start", "end#", "dollar $HOME ${X} $$",
	`back\slash\`, `\n literally`, "pâss wörd — 密码 🔑\u200d", "=equals=", "`backtick`", "a\"b'c\\d$e",
	"\x01\x1f\x7f controls", "safe-chars_./:@%+,",
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, v := range tricky {
		src := withValue(nil, nil, "KEY", v)
		if got := values(t, string(src))["KEY"]; got != v {
			t.Errorf("value %q written as %q reads back as %q", v, src, got)
		}
	}
	if got := encodeValue("safe-chars_./:@%+,"); got != "safe-chars_./:@%+," {
		t.Errorf("a safe value is quoted: %s", got)
	}
	if got := encodeValue(`a "b" $c \d` + "\n"); got != `"a \"b\" \$c \\d\n"` {
		t.Errorf("encodeValue = %s", got)
	}
	if got := encodeValue(""); got != `""` {
		t.Errorf("encodeValue(\"\") = %s", got)
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

func TestEditsKeepOtherBytes(t *testing.T) {
	entries, err := parse([]byte(golden))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, value string
		want       string
	}{
		{"DB_HOST", "db.example.com", strings.Replace(golden, "DB_HOST=localhost ", "DB_HOST=db.example.com ", 1)},
		{"DB_PASSWORD", "new secret", strings.Replace(golden, "'old secret'", `"new secret"`, 1)},
		{"API_KEY", "x", strings.Replace(golden, `"abc\n" #`, "x #", 1)},
		{"EMPTY", "now set", strings.Replace(golden, "EMPTY= #", `EMPTY="now set" #`, 1)},
		{"DUP", "three", strings.Replace(golden, "DUP=two", "DUP=three", 1)},
		{"MULTI", "one line", strings.Replace(golden, "\"a\nb\"", `"one line"`, 1)},
		{"NEW", "appended value", golden + "\nNEW=\"appended value\"\n"},
	}
	for _, c := range cases {
		if got := string(withValue([]byte(golden), entries, c.key, c.value)); got != c.want {
			t.Errorf("set %s:\n got %q\nwant %q", c.key, got, c.want)
		}
	}
	removes := []struct{ key, want string }{
		{"DB_PASSWORD", strings.Replace(golden, "  DB_PASSWORD = 'old secret'\n", "", 1)},
		{"DUP", strings.Replace(golden, "DUP=one\nDUP=two\n", "", 1)},
		{"MULTI", strings.Replace(golden, "MULTI=\"a\nb\"\n", "", 1)},
	}
	for _, c := range removes {
		got, found := without([]byte(golden), entries, c.key)
		if !found || string(got) != c.want {
			t.Errorf("remove %s: found %v\n got %q\nwant %q", c.key, found, got, c.want)
		}
	}
	if got, found := without([]byte(golden), entries, "MISSING"); found || string(got) != golden {
		t.Errorf("remove of a missing key changed the file")
	}
}

func TestNewlineStyle(t *testing.T) {
	src := "A=1\r\nB=2\r\n"
	entries, _ := parse([]byte(src))
	if got := string(withValue([]byte(src), entries, "C", "3")); got != src+"C=3\r\n" {
		t.Errorf("append to a CRLF file: %q", got)
	}
	if got := string(withValue([]byte(src), entries, "A", "x y")); got != "A=\"x y\"\r\nB=2\r\n" {
		t.Errorf("set in a CRLF file: %q", got)
	}
	src = "A=1"
	entries, _ = parse([]byte(src))
	if got := string(withValue([]byte(src), entries, "B", "2")); got != "A=1\nB=2\n" {
		t.Errorf("append after a last line without newline: %q", got)
	}
}

func TestValidName(t *testing.T) {
	for _, s := range []string{"A", "_", "_x1", "abc_DEF_123", "export"} {
		if !validName(s) {
			t.Errorf("validName(%q) = false", s)
		}
	}
	for _, s := range []string{"", "1A", "A-B", "A.B", "A B", "../x", "é", "A=B", "A\x00"} {
		if validName(s) {
			t.Errorf("validName(%q) = true", s)
		}
	}
}

// FuzzEdit checks, on any file the parser accepts, that a set and a remove
// change only the secret they name.
func FuzzEdit(f *testing.F) {
	f.Add([]byte(golden), "new value")
	f.Add([]byte("A=1\r"), "x")
	f.Add([]byte("K=\"a\\\"\" # c\nB='x'\n"), "$`\\\"")
	for _, v := range tricky {
		f.Add([]byte("K=old\n"), v)
	}
	f.Fuzz(func(t *testing.T, src []byte, value string) {
		entries, err := parse(src)
		if err != nil || strings.IndexByte(value, 0) >= 0 {
			return
		}
		before := map[string]string{}
		for _, e := range entries {
			before[e.key] = e.value
		}
		for _, key := range []string{"K", "export"} {
			out := withValue(src, entries, key, value)
			after := values(t, string(out))
			if after[key] != value {
				t.Fatalf("set %s to %q in %q: reads %q from %q", key, value, src, after[key], out)
			}
			want := maps.Clone(before)
			want[key] = value
			if !maps.Equal(after, want) {
				t.Fatalf("set %s in %q changed other secrets: %q", key, src, out)
			}
			outEntries, _ := parse(out)
			removed, found := without(out, outEntries, key)
			if !found {
				t.Fatalf("remove %s from %q: not found", key, out)
			}
			delete(want, key)
			if got := values(t, string(removed)); !maps.Equal(got, want) {
				t.Fatalf("remove %s from %q changed other secrets: %q", key, out, removed)
			}
		}
	})
}
