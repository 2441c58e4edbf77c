package main

import (
	"strconv"
	"strings"
)

// The .env format: parsing, value encoding and editing by splicing. This file
// has no build constraint and no import of the SDK, so that its tests run
// natively (go test ./extensions/dotenv).
//
// A file is a sequence of lines. A line is blank (spaces and tabs only), a
// comment (its first non-blank character is '#'), or an assignment:
//
//	[blanks] [export blanks] KEY [blanks] = [blanks] VALUE [blanks] [# comment]
//
// where KEY is a shell variable name and VALUE is unquoted, "double-quoted"
// or 'single-quoted'; a quoted value may span several lines. Anything else is
// an error: the vault refuses to read or rewrite a file it does not
// understand rather than guess.

// entry is one assignment of the file. Offsets are byte offsets into the
// file's contents.
type entry struct {
	key   string
	value string // decoded
	line  int    // 1-based number of the line where the entry starts

	// [start, end) is the whole entry: its line (or lines, for a quoted
	// value over several) and the line terminator, if any.
	start, end int
	// [valStart, valEnd) is the value as written (quotes included), the part
	// that a set replaces. Everything else — indentation, export, the
	// spacing around '=', a trailing comment — stays as it is.
	valStart, valEnd int
}

// formatError reports a part of the file that is not of the format. Its
// message names the line and never quotes the line's contents, which may
// hold a secret.
type formatError struct {
	line int
	msg  string
}

func (e *formatError) Error() string { return "line " + strconv.Itoa(e.line) + ": " + e.msg }

// nameRule is how messages describe a valid name.
const nameRule = "a dotenv name is a shell variable name: a letter or '_', then letters, digits or '_' ([A-Za-z_][A-Za-z0-9_]*)"

// validName reports whether s is a shell variable name, [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// bom is the UTF-8 byte order mark, which some editors put first in a file.
const bom = "\xef\xbb\xbf"

// parse returns the assignments of src in file order.
func parse(src []byte) ([]entry, error) {
	var entries []entry
	line := 0
	for pos := 0; pos < len(src); {
		line++
		if pos == 0 && strings.HasPrefix(string(src), bom) {
			pos = len(bom) // the mark stays first, whatever happens to the line
		}
		start := pos
		eol, next := lineEnd(src, pos)
		p := skipBlanks(src, pos, eol)
		if p == eol || src[p] == '#' { // blank or comment
			pos = next
			continue
		}
		e, after, err := parseAssignment(src, p, eol, line)
		if err != nil {
			return nil, err
		}
		e.start, e.end = start, after
		entries = append(entries, e)
		// A quoted value over several lines moves the line count on.
		line += strings.Count(string(src[start:after]), "\n")
		if after > start && src[after-1] == '\n' {
			line--
		}
		pos = after
	}
	return entries, nil
}

// lineEnd returns the end of the line that starts at pos, without its
// terminator ("\n" or "\r\n"), and the start of the next line.
func lineEnd(src []byte, pos int) (eol, next int) {
	i := pos
	for i < len(src) && src[i] != '\n' {
		i++
	}
	if i == len(src) {
		// A last line without "\n": a lone "\r" at the very end is still a
		// terminator, so that appending "\n" after it changes no value.
		if i > pos && src[i-1] == '\r' {
			return i - 1, i
		}
		return i, i
	}
	eol, next = i, i+1
	if eol > pos && src[eol-1] == '\r' {
		eol--
	}
	return eol, next
}

func skipBlanks(src []byte, p, end int) int {
	for p < end && isBlank(src[p]) {
		p++
	}
	return p
}

// parseAssignment parses the assignment that starts at p (its first
// non-blank character) on a line ending at eol. It returns the entry and the
// offset just past the entry's last line terminator.
func parseAssignment(src []byte, p, eol, line int) (entry, int, error) {
	bad := func(msg string) (entry, int, error) {
		return entry{}, 0, &formatError{line: line, msg: msg}
	}
	// "export" then blanks then a name is the shell's export prefix; a
	// variable may itself be called export ("export=1").
	if rest := src[p:eol]; len(rest) > len("export") && string(rest[:6]) == "export" && isBlank(rest[6]) {
		if q := skipBlanks(src, p+6, eol); q < eol && isNameByte(src[q]) && !isDigit(src[q]) {
			p = q
		}
	}
	k := p
	for k < eol && isNameByte(src[k]) {
		k++
	}
	if k == p || isDigit(src[p]) {
		return bad("not an assignment, a comment or a blank line (an assignment starts with a name: " + nameRule + ")")
	}
	e := entry{key: string(src[p:k]), line: line}
	q := skipBlanks(src, k, eol)
	if q == eol || src[q] != '=' {
		return bad("the name " + strconv.Quote(e.key) + " is not followed by '=' (want KEY=VALUE; " + nameRule + ")")
	}
	eq := q
	v := skipBlanks(src, eq+1, eol)
	if v < eol && (src[v] == '"' || src[v] == '\'') {
		return parseQuoted(src, e, v)
	}
	// Unquoted: up to the end of the line or a '#' that follows a blank,
	// which starts a comment; blanks around the value are not part of it.
	end := eol
	for i := v; i < eol; i++ {
		if src[i] == '#' && isBlank(src[i-1]) {
			end = i
			break
		}
	}
	for end > v && isBlank(src[end-1]) {
		end--
	}
	e.value = string(src[v:end])
	e.valStart, e.valEnd = v, end
	if v == end {
		// An empty value: a set writes right after '=', so that a comment
		// after it (KEY= # note) stays apart from the new value.
		e.valStart, e.valEnd = eq+1, eq+1
	}
	_, next := lineEnd(src, eol)
	return e, next, nil
}

// parseQuoted parses the quoted value that starts at v (on the quote).
func parseQuoted(src []byte, e entry, v int) (entry, int, error) {
	quote := src[v]
	var b strings.Builder
	i := v + 1
	closed := false
	for i < len(src) {
		c := src[i]
		if c == quote {
			closed = true
			break
		}
		if c == '\\' && quote == '"' && i+1 < len(src) {
			if r, ok := unescape(src[i+1]); ok {
				b.WriteByte(r)
				i += 2
				continue
			}
			// Any other backslash stays as written, with what follows it
			// (so that \" inside never closes the value).
			b.WriteByte(c)
			b.WriteByte(src[i+1])
			i += 2
			continue
		}
		b.WriteByte(c)
		i++
	}
	kind := "double"
	if quote == '\'' {
		kind = "single"
	}
	if !closed {
		return entry{}, 0, &formatError{line: e.line, msg: "the " + kind + "-quoted value of " + strconv.Quote(e.key) + " has no closing quote"}
	}
	e.value = b.String()
	e.valStart, e.valEnd = v, i+1
	eol, next := lineEnd(src, i+1)
	r := skipBlanks(src, i+1, eol)
	if r < eol && src[r] != '#' {
		return entry{}, 0, &formatError{line: e.line, msg: "unexpected text after the " + kind + "-quoted value of " + strconv.Quote(e.key) + " (only a # comment may follow it)"}
	}
	return e, next, nil
}

// unescape returns the character that the double-quoted escape \c stands
// for.
func unescape(c byte) (byte, bool) {
	switch c {
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case '"', '\\', '$':
		return c, true
	}
	return 0, false
}

// safeValue reports whether v can be written without quotes: non-empty and
// made of [A-Za-z0-9_./:@%+,-] only.
func safeValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isNameByte(c) && !strings.ContainsRune("./:@%+,-", rune(c)) {
			return false
		}
	}
	return true
}

// encodeValue returns v as the file holds it: as is when it is safe, else
// double-quoted with \n \r \t \" \\ \$ escapes. Other characters, unicode
// included, are written as they are. v must not contain NUL.
func encodeValue(v string) string {
	if safeValue(v) {
		return v
	}
	return quoteValue(v)
}

// quoteValue returns v double-quoted with escapes.
func quoteValue(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// lookup returns the index of the entry that defines key: the last one, as
// with docker compose and shells. It returns -1 when there is none.
func lookup(entries []entry, key string) int {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].key == key {
			return i
		}
	}
	return -1
}

// newline returns the line terminator of the file: "\r\n" when its first
// line ends so, "\n" otherwise.
func newline(src []byte) string {
	eol, next := lineEnd(src, 0)
	if next-eol == 2 {
		return "\r\n"
	}
	return "\n"
}

// withValue returns src with key set to value: the value of the entry that
// defines key is replaced in place (earlier duplicates, which it shadows,
// are left alone), or a line KEY=VALUE is appended. Every other byte stays.
func withValue(src []byte, entries []entry, key, value string) []byte {
	enc := encodeValue(value)
	if i := lookup(entries, key); i >= 0 {
		e := entries[i]
		if e.valEnd < len(src) && src[e.valEnd] == '#' {
			// KEY="old"# note: unquoted, the new value would swallow the
			// comment.
			enc = quoteValue(value)
		}
		out := make([]byte, 0, len(src)-(e.valEnd-e.valStart)+len(enc))
		out = append(out, src[:e.valStart]...)
		out = append(out, enc...)
		return append(out, src[e.valEnd:]...)
	}
	nl := newline(src)
	out := make([]byte, 0, len(src)+len(nl)+len(key)+1+len(enc)+len(nl))
	out = append(out, src...)
	switch {
	case len(out) == 0 || out[len(out)-1] == '\n':
	case out[len(out)-1] == '\r': // a last line ending in a lone "\r"
		out = append(out, '\n')
	default:
		out = append(out, nl...)
	}
	out = append(out, key...)
	out = append(out, '=')
	out = append(out, enc...)
	return append(out, nl...)
}

// without returns src without any entry for key (every duplicate goes: a
// removed secret must not come back with an older value), and whether there
// was one.
func without(src []byte, entries []entry, key string) ([]byte, bool) {
	out := make([]byte, 0, len(src))
	last, found := 0, false
	for _, e := range entries {
		if e.key != key {
			continue
		}
		out = append(out, src[last:e.start]...)
		last, found = e.end, true
	}
	if !found {
		return src, false
	}
	return append(out, src[last:]...), true
}
