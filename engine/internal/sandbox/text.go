package sandbox

import (
	"strings"
	"unicode"
)

// printable makes text that a guest wrote (an error message, a log line, the
// description in its manifest) safe to show on a terminal or in a log file:
// invalid UTF-8, control characters and bidirectional controls become
// U+FFFD, tabs and newlines a space. A guest could otherwise send terminal
// escape sequences (retitle the window, clear the screen, hide text), move
// the cursor back over a line with a carriage return, forge a line of the
// CLI's own output after a newline, or reorder what is shown with a
// right-to-left override.
func printable(b []byte) string {
	return Printable(string(b))
}

// Printable is printable for a string: what the engine applies to every log
// line, an extension's or its own, before a program shows it.
func Printable(text string) string {
	s := strings.ToValidUTF8(text, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n':
			return ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			return '\uFFFD'
		}
		return r
	}, s)
}
