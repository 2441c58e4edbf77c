package kdbx

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanXML reads the document the way encoding/xml's RawToken does, for
// the part of XML that KeePass writes: elements and attributes with ASCII
// names without a namespace prefix, text with the five named entities and
// character references, CDATA sections, comments and processing
// instructions. Names, attribute values and text are substrings of doc
// unless an entity or a carriage return had to be replaced.
//
// It reports false on anything else, well-formed or not; the caller then
// reads doc with encoding/xml, which accepts it or words the error.
func scanXML(doc string) (*Node, bool) {
	sc := scanner{s: doc}
	for sc.i < len(sc.s) {
		if !sc.token() {
			return nil, false
		}
	}
	root, err := sc.b.finish()
	return root, err == nil
}

type scanner struct {
	s string
	i int
	b treeBuilder
}

// token reads one token at s[i:].
func (sc *scanner) token() bool {
	rest := sc.s[sc.i:]
	if rest[0] != '<' {
		j := strings.IndexByte(rest, '<')
		if j < 0 {
			j = len(rest)
		}
		t, ok := charData(rest[:j], -1)
		sc.b.chars(t)
		sc.i += j
		return ok
	}
	switch {
	case strings.HasPrefix(rest, "</"):
		return sc.endTag()
	case strings.HasPrefix(rest, "<!--"):
		// As encoding/xml: the first "--" ends the comment and must be
		// followed by '>'.
		j := strings.Index(rest[4:], "--")
		if j < 0 || 4+j+2 >= len(rest) || rest[4+j+2] != '>' {
			return false
		}
		sc.i += 4 + j + 3
		return true
	case strings.HasPrefix(rest, "<![CDATA["):
		j := strings.Index(rest[9:], "]]>")
		if j < 0 {
			return false
		}
		t, ok := cdata(rest[9 : 9+j])
		sc.b.chars(t)
		sc.i += 9 + j + 3
		return ok
	case strings.HasPrefix(rest, "<?"):
		return sc.procInst()
	case strings.HasPrefix(rest, "<!"):
		return false // a DOCTYPE or other directive
	}
	return sc.startTag()
}

// procInst skips a processing instruction, having encoding/xml check it
// alone: the XML declaration's version and encoding are its concern.
func (sc *scanner) procInst() bool {
	j := strings.Index(sc.s[sc.i+2:], "?>")
	if j < 0 {
		return false
	}
	pi := sc.s[sc.i : sc.i+2+j+2]
	tok, err := xml.NewDecoder(strings.NewReader(pi)).RawToken()
	if _, ok := tok.(xml.ProcInst); !ok || err != nil {
		return false
	}
	sc.i += len(pi)
	return true
}

func (sc *scanner) startTag() bool {
	sc.i++
	name, ok := sc.name()
	if !ok {
		return false
	}
	var attrs []xml.Attr
	for {
		sc.space()
		if sc.i >= len(sc.s) {
			return false
		}
		switch sc.s[sc.i] {
		case '/':
			if sc.i+1 >= len(sc.s) || sc.s[sc.i+1] != '>' {
				return false
			}
			sc.i += 2
			return sc.b.start(name, attrs) == nil && sc.b.end() == nil
		case '>':
			sc.i++
			return sc.b.start(name, attrs) == nil
		}
		a, ok := sc.attr()
		if !ok {
			return false
		}
		attrs = append(attrs, a)
	}
}

func (sc *scanner) attr() (xml.Attr, bool) {
	name, ok := sc.name()
	if !ok {
		return xml.Attr{}, false
	}
	sc.space()
	if sc.i >= len(sc.s) || sc.s[sc.i] != '=' {
		return xml.Attr{}, false
	}
	sc.i++
	sc.space()
	if sc.i >= len(sc.s) || sc.s[sc.i] != '"' && sc.s[sc.i] != '\'' {
		return xml.Attr{}, false
	}
	q := sc.s[sc.i]
	sc.i++
	j := strings.IndexByte(sc.s[sc.i:], q)
	if j < 0 {
		return xml.Attr{}, false
	}
	v, ok := charData(sc.s[sc.i:sc.i+j], int(q))
	sc.i += j + 1
	return xml.Attr{Name: xml.Name{Local: name}, Value: v}, ok
}

func (sc *scanner) endTag() bool {
	sc.i += 2
	name, ok := sc.name()
	if !ok {
		return false
	}
	sc.space()
	if sc.i >= len(sc.s) || sc.s[sc.i] != '>' {
		return false
	}
	sc.i++
	st := sc.b.stack
	if len(st) == 0 || st[len(st)-1].Name != name {
		return false
	}
	return sc.b.end() == nil
}

// name reads an ASCII name without a prefix; a name that goes on with a
// colon or a non-ASCII byte is left to encoding/xml.
func (sc *scanner) name() (string, bool) {
	start := sc.i
	for sc.i < len(sc.s) && isNameASCII(sc.s[sc.i], sc.i == start) {
		sc.i++
	}
	if sc.i == start || sc.i < len(sc.s) && (sc.s[sc.i] == ':' || sc.s[sc.i] >= utf8.RuneSelf) {
		return "", false
	}
	return sc.s[start:sc.i], true
}

func isNameASCII(c byte, first bool) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return true
	case '0' <= c && c <= '9', c == '.', c == '-':
		return !first
	}
	return false
}

func (sc *scanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\r', '\n', '\t':
			sc.i++
		default:
			return
		}
	}
}

// charData decodes text (quote < 0) or an attribute value in quote as
// encoding/xml does: entities replaced, "\r\n" and "\r" made "\n", and
// every character checked. Text may not hold "]]>", a value not '<'.
func charData(raw string, quote int) (string, bool) {
	if quote < 0 && strings.Contains(raw, "]]>") || quote >= 0 && strings.IndexByte(raw, '<') >= 0 {
		return "", false
	}
	if strings.IndexByte(raw, '&') < 0 && strings.IndexByte(raw, '\r') < 0 {
		return raw, validChars(raw)
	}
	out := make([]byte, 0, len(raw))
	cr := false // the previous byte was a carriage return
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '&':
			j := strings.IndexByte(raw[i:], ';')
			if j < 0 {
				return "", false
			}
			r, ok := entity(raw[i+1 : i+j])
			if !ok {
				return "", false
			}
			out = append(out, r...)
			i += j
			cr = false
			continue
		case c == '\r':
			out = append(out, '\n')
		case c == '\n' && cr:
		default:
			out = append(out, c)
		}
		cr = c == '\r'
	}
	return string(out), validChars(string(out))
}

// cdata decodes a CDATA section's content: only line ends change.
func cdata(raw string) (string, bool) {
	if strings.IndexByte(raw, '\r') >= 0 {
		raw = strings.ReplaceAll(raw, "\r\n", "\n")
		raw = strings.ReplaceAll(raw, "\r", "\n")
	}
	return raw, validChars(raw)
}

// entity is the text of the entity named name (between '&' and ';').
func entity(name string) (string, bool) {
	switch name {
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "amp":
		return "&", true
	case "apos":
		return "'", true
	case "quot":
		return `"`, true
	}
	digits, ok := strings.CutPrefix(name, "#")
	if !ok {
		return "", false
	}
	base := 10
	if d, ok := strings.CutPrefix(digits, "x"); ok {
		base, digits = 16, d
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return "", false
		}
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil || n > unicode.MaxRune {
		return "", false
	}
	return string(rune(n)), true
}

// validChars reports whether s is UTF-8 of characters XML allows.
func validChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !xmlChar(r) {
			return false
		}
		i += size
	}
	return true
}

// xmlChar is the Char production of XML 1.0, section 2.2.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
