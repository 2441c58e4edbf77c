package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesamehq/sesame/engine/api"
)

// mask stands for a value that get does not print.
const mask = "********"

// printSecret prints a secret as get does without --json.
func (s *session) printSecret(sec api.Secret, plain bool) error {
	w := s.stdout
	switch v := sec.Value.(type) {
	case string:
		return s.printText(sec.Type, v, plain)
	case api.SecureString:
		return s.printText(sec.Type, string(v), plain)
	case api.Credential:
		if plain {
			_, err := fmt.Fprintf(w, "%s\n%s\n", v.UserName, string(v.Password))
			return err
		}
		fmt.Fprintf(w, "%s %s %s\n", sec.Type, v.UserName, mask)
		s.hint("add --as-plain-text to print the user name and the password")
	case []byte:
		return s.printBytes(sec.Type, v, plain)
	case api.Hashtable:
		if plain {
			return s.printJSON(valueJSON(v, true))
		}
		fmt.Fprintln(w, sec.Type)
		var rows [][]string
		for _, k := range slices.Sorted(maps.Keys(v)) {
			rows = append(rows, []string{"  " + k, typeOf(v[k]), maskedEntry(v[k])})
		}
		s.table(rows)
		if len(v) > 0 {
			s.hint("add --as-plain-text to print the values")
		}
	default:
		return fmt.Errorf("secret %q has a value of unknown type %s", sec.Name, sec.Type)
	}
	return nil
}

// printText prints a string or secure string: the value and one newline, or
// its type and the mask.
func (s *session) printText(t api.Type, v string, plain bool) error {
	if plain {
		_, err := fmt.Fprintln(s.stdout, v)
		return err
	}
	fmt.Fprintf(s.stdout, "%s %s\n", t, mask)
	s.hint("add --as-plain-text to print the value")
	return nil
}

// printBytes prints a bytes value: its type and the mask, or with plain the
// bytes themselves, raw, but never to a terminal, where they could be
// escape sequences that the terminal obeys.
func (s *session) printBytes(t api.Type, v []byte, plain bool) error {
	switch {
	case !plain:
		fmt.Fprintf(s.stdout, "%s %s\n", t, mask)
		s.hint("add --as-plain-text to write the bytes (to a file or a pipe), or --json --as-plain-text to print them in base64")
	case isTerminal(s.stdout):
		fmt.Fprintf(s.stdout, "%s (%d bytes)\n", t, len(v))
		s.hint("redirect standard output to a file to write the bytes, or add --json to print them in base64")
	default:
		_, err := s.stdout.Write(v)
		return err
	}
	return nil
}

// typeOf names the type of a hashtable entry.
func typeOf(v any) string { return entryType(v).String() }

// entryType is the type of a hashtable entry; 0 (unknown) for none of the
// four.
func entryType(v any) api.Type {
	switch v.(type) {
	case string:
		return api.TypeString
	case api.SecureString:
		return api.TypeSecureString
	case []byte:
		return api.TypeBytes
	case api.Credential:
		return api.TypeCredential
	}
	return 0
}

// maskedEntry shows a hashtable entry without its secret: only a
// credential's user name is shown.
func maskedEntry(v any) string {
	if c, ok := v.(api.Credential); ok {
		return c.UserName + " " + mask
	}
	return mask
}

// secretOut is what get --json prints.
type secretOut struct {
	Name     string             `json:"name"`
	Type     string             `json:"type"`
	Vault    string             `json:"vault"`
	Key      string             `json:"key,omitempty"` // get --key: the hashtable entry's key
	Value    any                `json:"value"`
	Metadata map[string]metaOut `json:"metadata"`
}

// infoOut is one element of what info --json prints.
type infoOut struct {
	Name     string             `json:"name"`
	Type     string             `json:"type"`
	Vault    string             `json:"vault"`
	Metadata map[string]metaOut `json:"metadata"`
}

func secretJSON(sec api.Secret, plain bool) secretOut {
	return secretOut{
		Name: sec.Name, Type: sec.Type.String(), Vault: sec.Vault,
		Value: valueJSON(sec.Value, plain), Metadata: metadataJSON(sec.Metadata),
	}
}

func infoJSON(list []api.Info) []infoOut {
	out := make([]infoOut, 0, len(list))
	for _, in := range list {
		out = append(out, infoOut{Name: in.Name, Type: in.Type.String(), Vault: in.Vault, Metadata: metadataJSON(in.Metadata)})
	}
	return out
}

// The JSON shapes of credential values and of typed hashtable entries, in
// the order set reads them; a nil *string is a masked value (null), whether
// it stands for text or for bytes.
type (
	credentialOut struct {
		Username string  `json:"username"`
		Password *string `json:"password"`
	}
	textEntryOut struct {
		Type  string  `json:"type"`
		Value *string `json:"value"`
	}
	bytesEntryOut struct {
		Type   string  `json:"type"`
		Base64 *string `json:"base64"`
	}
	credentialEntryOut struct {
		Type     string  `json:"type"`
		Username string  `json:"username"`
		Password *string `json:"password"`
	}
)

// valueJSON is a secret value as get --json prints it; text, and bytes in
// base64, are null unless plain.
func valueJSON(v any, plain bool) any {
	text := func(s string) *string {
		if plain {
			return &s
		}
		return nil
	}
	b64 := func(b []byte) *string {
		if !plain {
			return nil
		}
		return text(base64.StdEncoding.EncodeToString(b))
	}
	switch x := v.(type) {
	case string:
		return text(x)
	case api.SecureString:
		return text(string(x))
	case []byte:
		return b64(x)
	case api.Credential:
		return credentialOut{x.UserName, text(string(x.Password))}
	case api.Hashtable:
		out := make(map[string]any, len(x))
		for k, e := range x {
			switch y := e.(type) {
			case string:
				out[k] = text(y)
			case api.SecureString:
				out[k] = textEntryOut{"securestring", text(string(y))}
			case []byte:
				out[k] = bytesEntryOut{"bytes", b64(y)}
			case api.Credential:
				out[k] = credentialEntryOut{"credential", y.UserName, text(string(y.Password))}
			}
		}
		return out
	}
	return nil
}

// metaOut is a metadata value as --json prints it: its type, named as
// set's --metadata KEY:TYPE=VALUE names it (string, int, datetime), and its
// value (a JSON string, number, or RFC 3339 string).
type metaOut struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// metadataJSON is metadata as --json prints it, each value with its type;
// never nil.
func metadataJSON(md api.Metadata) map[string]metaOut {
	out := make(map[string]metaOut, len(md))
	for k, v := range md {
		switch x := v.(type) {
		case time.Time:
			out[k] = metaOut{"datetime", x.Format(time.RFC3339Nano)}
		case string:
			out[k] = metaOut{"string", x}
		default:
			out[k] = metaOut{"int", x}
		}
	}
	return out
}

// metadataText is metadata as info's table shows it: k=v, sorted by key.
func metadataText(md api.Metadata) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(md)) {
		var v string
		switch x := md[k].(type) {
		case time.Time:
			v = x.Format(time.RFC3339Nano)
		case int64:
			v = strconv.FormatInt(x, 10)
		default:
			v = fmt.Sprint(x)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ", ")
}

func (s *session) printInfo(list []api.Info) {
	if len(list) == 0 {
		return
	}
	rows := [][]string{{"NAME", "TYPE", "VAULT", "METADATA"}}
	for _, in := range list {
		rows = append(rows, []string{in.Name, in.Type.String(), in.Vault, metadataText(in.Metadata)})
	}
	s.table(rows)
}

// printJSON prints v as indented JSON.
func (s *session) printJSON(v any) error {
	enc := json.NewEncoder(s.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows in aligned columns, without trailing blanks: each
// column as wide as its widest cell (in runes) and two spaces, the last
// cell of a row as it is. The whole table is written at once: a listing of
// 100 000 secrets was 100 000 writes to the terminal or pipe, a third of
// `sesame info`'s time.
func (s *session) table(rows [][]string) {
	var widths []int
	size := 0
	for _, r := range rows {
		for i, c := range r {
			size += len(c) + 2
			if i == len(r)-1 {
				break
			}
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	b := make([]byte, 0, size+len(rows)*(2*len(widths)+1))
	for _, r := range rows {
		start := len(b)
		for i, c := range r {
			b = append(b, c...)
			if i < len(r)-1 {
				for range widths[i] - utf8.RuneCountInString(c) + 2 {
					b = append(b, ' ')
				}
			}
		}
		b = append(b[:start+len(bytes.TrimRight(b[start:], " "))], '\n')
	}
	s.stdout.Write(b)
}
