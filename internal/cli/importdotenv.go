package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The dotenv lines that import reads, by the rules of the builtin dotenv
// vault (extensions/dotenv/README.md, "The format read"; its parser is
// extensions/dotenv/format.c): a file that vault reads, import reads the
// same, name for name and value for value (TestImportDotenvAsTheVault
// compares them). Each line is blank, a comment, or
//
//	[blanks] [export blanks] KEY [blanks] = [blanks] VALUE [blanks] [# comment]
//
// with KEY a shell variable name and VALUE unquoted (trimmed; a '#' after a
// blank starts a comment), "double-quoted" (escapes \n \r \t \" \\ \$; may
// span lines) or 'single-quoted' (literal; may span lines). Anything else
// is an error naming the line, never its text, which may hold a secret.

// nameRule is the dotenv vault's rule for names.
const nameRule = "a letter or '_', then letters, digits or '_'"

// maxEntryBytes bounds what one entry (the lines of one assignment) may
// take: a value is at most 1 MiB, and escapes at most double it.
const maxEntryBytes = 4 << 20

// dotenvEntry is one assignment: its name, its value decoded, and the line
// it starts on.
type dotenvEntry struct {
	line  int
	name  string
	value []byte
}

// dotenvReader reads the assignments of a dotenv file one by one.
type dotenvReader struct {
	r    *bufio.Reader
	line int  // lines read so far
	bom  bool // the byte order mark was looked for
}

func newDotenvReader(r io.Reader) *dotenvReader {
	return &dotenvReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// lineError is an error about line Line of the input.
type lineError struct {
	Line int
	Err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *lineError) Unwrap() error { return e.Err }

func isBlank(c byte) bool { return c == ' ' || c == '\t' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_'
}

func skipBlanks(b []byte, p int) int {
	for p < len(b) && isBlank(b[p]) {
		p++
	}
	return p
}

// rawLine returns the next line with its terminator, io.EOF after the last.
func (d *dotenvReader) rawLine(room int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if len(out)+len(chunk) > room {
			return nil, &lineError{d.line + 1, fmt.Errorf("the line is longer than %d bytes", maxEntryBytes)}
		}
		out = append(out, chunk...)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(out) > 0:
			err = nil
		}
		if err != nil {
			return nil, err
		}
		d.line++
		if !d.bom {
			d.bom = true
			out = bytes.TrimPrefix(out, []byte("\xef\xbb\xbf"))
		}
		return out, nil
	}
}

// content returns the line without its terminator: "\n" or "\r\n", or a
// lone "\r" ending the last line.
func content(raw []byte) []byte {
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	return bytes.TrimSuffix(raw, []byte("\r"))
}

// next returns the next assignment, or io.EOF after the last.
func (d *dotenvReader) next() (dotenvEntry, error) {
	for {
		raw, err := d.rawLine(maxEntryBytes)
		if err != nil {
			return dotenvEntry{}, err
		}
		line := content(raw)
		p := skipBlanks(line, 0)
		if p == len(line) || line[p] == '#' {
			continue
		}
		return d.assignment(raw, line, p)
	}
}

// assignment parses the assignment of line (raw with its terminator) whose
// first non-blank byte is at p.
func (d *dotenvReader) assignment(raw, line []byte, p int) (dotenvEntry, error) {
	e := dotenvEntry{line: d.line}
	bad := func(format string, args ...any) (dotenvEntry, error) {
		return dotenvEntry{}, &lineError{e.line, fmt.Errorf(format, args...)}
	}
	// "export" then blanks then a name is the shell's export prefix; a
	// variable may itself be called export ("export=1").
	if len(line)-p > 6 && string(line[p:p+6]) == "export" && isBlank(line[p+6]) {
		if q := skipBlanks(line, p+6); q < len(line) && isNameByte(line[q]) && !isDigit(line[q]) {
			p = q
		}
	}
	k := p
	for k < len(line) && isNameByte(line[k]) {
		k++
	}
	if k == p || isDigit(line[p]) {
		return bad("not an assignment, a comment or a blank line (an assignment starts with a name: %s)", nameRule)
	}
	e.name = string(line[p:k])
	eq := skipBlanks(line, k)
	if eq == len(line) || line[eq] != '=' {
		// The name is not quoted: a line without '=' may be a value
		// pasted alone.
		return bad("no '=' after the name (want NAME=VALUE)")
	}
	v := skipBlanks(line, eq+1)
	if v < len(line) && (line[v] == '"' || line[v] == '\'') {
		value, err := d.quoted(raw[v:], e)
		if err != nil {
			return dotenvEntry{}, err
		}
		e.value = value
		return e, nil
	}
	// Unquoted: up to the end of the line or a '#' that follows a blank,
	// which starts a comment; blanks around the value are not part of it.
	end := len(line)
	for i := v; i < len(line); i++ {
		if line[i] == '#' && isBlank(line[i-1]) {
			end = i
			break
		}
	}
	for end > v && isBlank(line[end-1]) {
		end--
	}
	e.value = bytes.Clone(line[v:end])
	return e, nil
}

// quoted reads the quoted value that starts at rest[0] (the quote), reading
// more lines until its closing quote, and returns it decoded.
func (d *dotenvReader) quoted(rest []byte, e dotenvEntry) ([]byte, error) {
	quote := rest[0]
	kind := map[byte]string{'"': "double", '\'': "single"}[quote]
	buf := bytes.Clone(rest)
	i := 1
	for {
		// In double quotes a backslash takes the next byte with it,
		// whatever it is, so that \" never closes the value; at the end of
		// what is read, the next byte is read first.
		for i < len(buf) && buf[i] != quote {
			if buf[i] == '\\' && quote == '"' {
				if i+1 == len(buf) {
					break
				}
				i++
			}
			i++
		}
		if i < len(buf) && buf[i] == quote {
			break
		}
		more, err := d.rawLine(maxEntryBytes - len(buf))
		switch {
		case err == io.EOF && i < len(buf): // a backslash ends the file
			i++
			continue
		case err == io.EOF:
			return nil, &lineError{e.line, fmt.Errorf("the %s-quoted value of %q has no closing quote", kind, e.name)}
		case err != nil:
			return nil, err
		}
		buf = append(buf, more...)
	}
	after := content(buf[i+1:])
	if r := skipBlanks(after, 0); r < len(after) && after[r] != '#' {
		return nil, &lineError{e.line, fmt.Errorf("unexpected text after the %s-quoted value of %q (only a # comment may follow it)", kind, e.name)}
	}
	value := buf[1:i]
	if quote == '"' {
		value = unescape(value)
	}
	return bytes.Clone(value), nil
}

// unescape decodes a double-quoted value: \n \r \t \" \\ \$ are escapes; a
// backslash before anything else stays as written, with the byte after it.
func unescape(v []byte) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			out = append(out, v[i])
			continue
		}
		i++
		switch c := v[i]; c {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '"', '\\', '$':
			out = append(out, c)
		default:
			out = append(out, '\\', c)
		}
	}
	return out
}
