package registry

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// keyLines returns the line on which each key of a TOML document is first
// defined (a table header, a key/value line or a key of an inline table),
// indexed by the key's parts joined with "\x00". Parse uses it to put lines
// on errors, which the toml package does not expose.
//
// It is a small scanner for documents the toml package has already
// accepted. It follows strings of all four kinds, multi-line arrays and
// inline tables, so a line that only looks like a header or a key inside
// them is not taken for one. Whatever it cannot follow it skips to the end
// of the line; a key it misses has no entry, which Parse reports as an
// unknown line rather than a wrong one.
func keyLines(src []byte) map[string]int {
	s := &scanner{src: bytes.TrimPrefix(src, []byte("\uFEFF")), line: 1, lines: map[string]int{}}
	var table []string
	for {
		s.space(true)
		if s.pos >= len(s.src) {
			return s.lines
		}
		if s.peek(0) == '[' { // [table] or [[array.of.tables]]
			s.advance(1)
			if s.peek(0) == '[' {
				s.advance(1)
			}
			key, ok := s.key()
			if ok {
				s.record(key)
			}
			table = key
		} else if key, ok := s.key(); ok && s.peek(0) == '=' {
			s.advance(1)
			s.space(false)
			key = append(table[:len(table):len(table)], key...)
			s.record(key)
			s.value(key)
		}
		s.skipLine()
	}
}

type scanner struct {
	src   []byte
	pos   int
	line  int
	lines map[string]int
}

func (s *scanner) record(key []string) {
	for i := range key {
		k := strings.Join(key[:i+1], "\x00")
		if _, ok := s.lines[k]; !ok {
			s.lines[k] = s.line
		}
	}
}

func (s *scanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

func (s *scanner) has(prefix string) bool { return bytes.HasPrefix(s.src[s.pos:], []byte(prefix)) }

func (s *scanner) advance(n int) {
	for ; n > 0 && s.pos < len(s.src); n-- {
		if s.src[s.pos] == '\n' {
			s.line++
		}
		s.pos++
	}
}

// space skips blanks and comments, and newlines too if newlines is set.
func (s *scanner) space(newlines bool) {
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; {
		case c == '#':
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' && newlines:
		default:
			return
		}
		s.advance(1)
	}
}

func (s *scanner) skipLine() {
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		s.pos++
	}
	s.advance(1)
}

// key reads a dotted key and the blanks after it.
func (s *scanner) key() ([]string, bool) {
	var key []string
	for {
		s.space(false)
		var part string
		var ok bool
		switch s.peek(0) {
		case '"':
			part, ok = s.basic()
		case '\'':
			part, ok = s.literal()
		default:
			start := s.pos
			for s.pos < len(s.src) && (isAlnum(s.src[s.pos]) || strings.IndexByte("-_", s.src[s.pos]) >= 0 || s.src[s.pos] >= utf8.RuneSelf) {
				s.pos++
			}
			part, ok = string(s.src[start:s.pos]), s.pos > start
		}
		if !ok {
			return nil, false
		}
		key = append(key, part)
		s.space(false)
		if s.peek(0) != '.' {
			return key, true
		}
		s.advance(1)
	}
}

// value skips a value; the keys of an inline table are recorded under key
// unless key is nil.
func (s *scanner) value(key []string) {
	switch {
	case s.has(`"""`):
		s.multiline(`"""`)
	case s.has(`'''`):
		s.multiline(`'''`)
	case s.peek(0) == '"':
		s.basic()
	case s.peek(0) == '\'':
		s.literal()
	case s.peek(0) == '[':
		s.advance(1)
		s.items(']', func() bool {
			start := s.pos
			s.value(nil)
			return s.pos > start
		})
	case s.peek(0) == '{':
		s.advance(1)
		s.items('}', func() bool {
			k, ok := s.key()
			if !ok || s.peek(0) != '=' {
				return false
			}
			s.advance(1)
			s.space(false)
			if key != nil {
				k = append(key[:len(key):len(key)], k...)
				s.record(k)
			} else {
				k = nil
			}
			s.value(k)
			return true
		})
	default: // number, boolean, date-time
		start := s.pos
		s.token()
		if s.pos-start == 10 && s.src[start+4] == '-' && s.peek(0) == ' ' && '0' <= s.peek(1) && s.peek(1) <= '9' {
			s.advance(1) // "1979-05-27 07:32:00Z"
			s.token()
		}
	}
}

func (s *scanner) token() {
	for s.pos < len(s.src) && strings.IndexByte(" \t\r\n,]}#", s.src[s.pos]) < 0 {
		s.pos++
	}
}

// items scans the items of an array or inline table up to its closing byte;
// item reads one and reports whether it made progress.
func (s *scanner) items(end byte, item func() bool) {
	for {
		s.space(true)
		switch s.peek(0) {
		case end:
			s.advance(1)
			return
		case ',':
			s.advance(1)
		case 0, ']', '}':
			return
		default:
			if !item() {
				return
			}
		}
	}
}

func (s *scanner) multiline(delim string) {
	s.advance(3)
	for s.pos < len(s.src) {
		switch {
		case delim[0] == '"' && s.peek(0) == '\\':
			s.advance(2)
		case s.has(delim):
			s.advance(3)
			for i := 0; i < 2 && s.peek(0) == delim[0]; i++ {
				s.advance(1) // quotes just before the closing ones belong to the string
			}
			return
		default:
			s.advance(1)
		}
	}
}

// basic reads a one-line basic string and returns its decoded value.
func (s *scanner) basic() (string, bool) {
	var b strings.Builder
	s.advance(1)
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch c {
		case '"':
			s.advance(1)
			return b.String(), true
		case '\n':
			return "", false
		case '\\':
			s.escape(&b)
			continue
		}
		b.WriteByte(c)
		s.pos++
	}
	return "", false
}

var escapes = map[byte]string{'b': "\b", 't': "\t", 'n': "\n", 'f': "\f", 'r': "\r", 'e': "\x1b", '"': `"`, '\\': `\`}

// escape decodes the escape sequence at s.pos into b.
func (s *scanner) escape(b *strings.Builder) {
	c := s.peek(1)
	if e, ok := escapes[c]; ok {
		b.WriteString(e)
		s.advance(2)
		return
	}
	n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	if s.pos+2+n <= len(s.src) && n > 0 {
		if r, err := strconv.ParseUint(string(s.src[s.pos+2:s.pos+2+n]), 16, 32); err == nil {
			b.WriteRune(rune(r))
			s.advance(2 + n)
			return
		}
	}
	b.WriteByte('\\')
	s.advance(1)
}

// literal reads a one-line literal string.
func (s *scanner) literal() (string, bool) {
	s.advance(1)
	end := bytes.IndexAny(s.src[s.pos:], "'\n")
	if end < 0 || s.src[s.pos+end] != '\'' {
		return "", false
	}
	v := string(s.src[s.pos : s.pos+end])
	s.advance(end + 1)
	return v, true
}
