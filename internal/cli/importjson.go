package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sesamehq/sesame/engine/api"
)

// The JSON that import reads: a stream of records, each an object as get
// --json --as-plain-text prints a secret, one per line or spread over
// lines, or arrays of them:
//
//	{"name": "db", "type": "credential", "value": {"username": "u", "password": "p"},
//	 "metadata": {"expires": {"type": "datetime", "value": "2026-01-31T00:00:00Z"}}}
//
// "type" is a type name of set --type (default string); "value" is a JSON
// string for string and securestring, base64 for bytes, {"username",
// "password"} for a credential, an object for a hashtable (as set reads
// it); "metadata" maps each key to {"type": "string" | "int" | "datetime",
// "value": …}. "vault", which get prints, is ignored: --vault names the
// vault written. Any other field is refused, so that a typo is not lost.
// Errors name the line where the record starts and its name, never a value.

// jsonReader reads the records of a JSON stream one by one.
type jsonReader struct {
	dec   *json.Decoder
	lines *lineCounter
	queue []jsonItem // the rest of an array
}

// jsonItem is one record and the line it starts on.
type jsonItem struct {
	line int
	raw  json.RawMessage
}

func newJSONReader(r io.Reader) *jsonReader {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	dec.UseNumber()
	return &jsonReader{dec: dec, lines: lc}
}

// lineCounter counts the lines of what is read through it, to give the line
// of an offset. Offsets are asked in increasing order, so it keeps only the
// line ends after the last one asked.
type lineCounter struct {
	r      io.Reader
	read   int64
	ends   []int64 // offsets of the '\n' not yet passed
	passed int     // '\n' before the last offset asked
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			l.ends = append(l.ends, l.read+int64(i))
		}
	}
	l.read += int64(n)
	return n, err
}

// lineOf returns the line (from 1) of byte offset off.
func (l *lineCounter) lineOf(off int64) int {
	i := 0
	for i < len(l.ends) && l.ends[i] < off {
		i++
	}
	l.passed += i
	l.ends = l.ends[i:]
	return l.passed + 1
}

// next returns the next record, or io.EOF after the last.
func (j *jsonReader) next() (jsonItem, error) {
	if len(j.queue) > 0 {
		it := j.queue[0]
		j.queue = j.queue[1:]
		return it, nil
	}
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		switch {
		case err == io.EOF:
			return jsonItem{}, io.EOF
		case errors.As(err, &se):
			return jsonItem{}, &lineError{Line: j.lines.lineOf(se.Offset - 1), Err: errors.New("invalid JSON")}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return jsonItem{}, &lineError{Line: j.lines.lineOf(j.lines.read), Err: errors.New("the JSON ends in the middle of a record")}
		}
		return jsonItem{}, err
	}
	start := j.dec.InputOffset() - int64(len(raw))
	if raw[0] != '[' {
		return jsonItem{line: j.lines.lineOf(start), raw: raw}, nil
	}
	// An array of records: each element, at its own line.
	sub := json.NewDecoder(bytes.NewReader(raw))
	sub.Token() // '['
	for sub.More() {
		var elem json.RawMessage
		if err := sub.Decode(&elem); err != nil {
			return jsonItem{}, &lineError{Line: j.lines.lineOf(start), Err: errors.New("invalid JSON")}
		}
		at := start + sub.InputOffset() - int64(len(elem))
		j.queue = append(j.queue, jsonItem{line: j.lines.lineOf(at), raw: elem})
	}
	return j.next()
}

// jsonRecord is a record's fields, each decoded later, on its own.
type jsonRecord struct {
	Name     *string                    `json:"name"`
	Type     *string                    `json:"type"`
	Vault    json.RawMessage            `json:"vault"` // ignored
	Value    json.RawMessage            `json:"value"`
	Metadata map[string]json.RawMessage `json:"metadata"`
}

var errRecord = errors.New(`a record is an object with "name", "type", "value" and "metadata" (as get --json --as-plain-text prints a secret)`)

// secret decodes the record of it. The error names the secret when the
// record has a name, never a value.
func (it jsonItem) secret() (api.ImportSecret, error) {
	var rec jsonRecord
	dec := json.NewDecoder(bytes.NewReader(it.raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return api.ImportSecret{}, fmt.Errorf("%w: its %q has the wrong JSON type", errRecord, te.Field)
		case bytes.HasPrefix(it.raw, []byte("{")):
			// An unknown field: its name is the only part of the input
			// json's message quotes.
			return api.ImportSecret{}, fmt.Errorf("%w; %s", errRecord, trimJSONPrefix(err))
		}
		return api.ImportSecret{}, errRecord
	}
	if rec.Name == nil {
		return api.ImportSecret{}, fmt.Errorf(`%w: it has no "name"`, errRecord)
	}
	name := *rec.Name
	fail := func(err error) (api.ImportSecret, error) {
		return api.ImportSecret{}, fmt.Errorf("secret %q: %w", name, err)
	}
	if k, dup := duplicateKey(it.raw); dup {
		return fail(fmt.Errorf("field %q is given twice", k))
	}
	typ := "string"
	if rec.Type != nil {
		typ = *rec.Type
	}
	t, ok := parseType(typ)
	if !ok {
		return fail(fmt.Errorf("unknown type %q (want %s)", typ, typeList()))
	}
	value, err := jsonValue(t, rec.Value)
	if err != nil {
		return fail(err)
	}
	md, err := jsonMetadata(rec.Metadata)
	if err != nil {
		return fail(err)
	}
	return api.ImportSecret{Name: name, Value: value, Metadata: md}, nil
}

// trimJSONPrefix is the message of an encoding/json error without its
// "json: " prefix.
func trimJSONPrefix(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "json: " {
		return s[6:]
	}
	return s
}

// jsonValue decodes the value of a record of type t.
func jsonValue(t api.Type, raw json.RawMessage) (any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New(`it has no "value" (get --json prints values only with --as-plain-text)`)
	}
	text := func() (string, error) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf(`the value of a %s is a JSON string`, t)
		}
		return s, nil
	}
	switch t {
	case api.TypeString, api.TypeSecureString:
		s, err := text()
		if err != nil {
			return nil, err
		}
		return makeValue(t, "", []byte(s))
	case api.TypeBytes:
		s, err := text()
		if err != nil {
			return nil, errors.New("the value of bytes is a JSON string in standard base64")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, errors.New("the value of bytes is not standard base64")
		}
		return b, nil
	case api.TypeCredential:
		var c struct {
			Username *string `json:"username"`
			Password *string `json:"password"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil || c.Username == nil || c.Password == nil {
			return nil, errors.New(`the value of a credential is {"username": "…", "password": "…"}`)
		}
		return makeValue(t, *c.Username, []byte(*c.Password))
	}
	return parseHashtable(raw)
}

// jsonMetadata decodes the metadata of a record: each value is {"type",
// "value"} as --json prints it. nil for none given.
func jsonMetadata(m map[string]json.RawMessage) (api.Metadata, error) {
	if m == nil {
		return nil, nil
	}
	md := make(api.Metadata, len(m))
	for k, raw := range m {
		var v struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil || len(v.Value) == 0 {
			return nil, fmt.Errorf(`metadata %q: want {"type": "string" | "int" | "datetime", "value": …}`, k)
		}
		var s string
		var n json.Number
		switch v.Type {
		case "string":
			if err := json.Unmarshal(v.Value, &s); err != nil {
				return nil, fmt.Errorf("metadata %q: a string's value is a JSON string", k)
			}
			md[k] = s
		case "int":
			// json.Number takes "3" too: a string is refused first.
			if v.Value[0] == '"' || json.Unmarshal(v.Value, &n) != nil {
				return nil, fmt.Errorf("metadata %q: an int's value is a JSON number", k)
			}
			i, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("metadata %q: %s is not a 64-bit integer", k, n)
			}
			md[k] = i
		case "datetime":
			err := json.Unmarshal(v.Value, &s)
			t, terr := parseDatetime(s)
			if err != nil || terr != nil {
				return nil, fmt.Errorf("metadata %q: a datetime's value is a date (2006-01-02) or an RFC 3339 time (2006-01-02T15:04:05Z) in a JSON string", k)
			}
			md[k] = t
		default:
			return nil, fmt.Errorf("metadata %q: unknown type %q (want string, int or datetime)", k, v.Type)
		}
	}
	return md, nil
}
