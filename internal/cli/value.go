package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/engine/api"
)

// secretTypes are the values of --type, in the order the help lists them.
var secretTypes = []api.Type{
	api.TypeString, api.TypeSecureString, api.TypeBytes, api.TypeCredential, api.TypeHashtable,
}

// typeList is "string, securestring, bytes, credential or hashtable".
func typeList() string {
	names := make([]string, len(secretTypes))
	for i, t := range secretTypes {
		names[i] = t.String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// parseType returns the type named s.
func parseType(s string) (api.Type, bool) {
	for _, t := range secretTypes {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// textual reports whether values of t are text read as a line: the string
// types and a credential's password.
func textual(t api.Type) bool {
	return t == api.TypeString || t == api.TypeSecureString || t == api.TypeCredential
}

// trimNewline removes one trailing newline ("\n" or "\r\n").
func trimNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// makeValue builds the Go value that api.Set takes for type t from raw
// input. Errors never quote the input.
func makeValue(t api.Type, username string, raw []byte) (any, error) {
	switch t {
	case api.TypeString:
		return string(raw), nil
	case api.TypeSecureString:
		return api.SecureString(raw), nil
	case api.TypeBytes:
		return bytes.Clone(raw), nil
	case api.TypeCredential:
		return api.Credential{UserName: username, Password: api.SecureString(raw)}, nil
	case api.TypeHashtable:
		return parseHashtable(raw)
	}
	return nil, fmt.Errorf("unknown type %v", t)
}

// placeholder is an empty value of type t, for a --what-if run that has no
// value.
func placeholder(t api.Type, username string) any {
	switch t {
	case api.TypeSecureString:
		return api.SecureString("")
	case api.TypeBytes:
		return []byte{}
	case api.TypeCredential:
		return api.Credential{UserName: username}
	case api.TypeHashtable:
		return api.Hashtable{}
	}
	return ""
}

// typedEntry is a hashtable entry that is not a plain string, in the JSON
// that set reads and get --json prints:
//
//	{"type": "string",       "value": "…"}
//	{"type": "securestring", "value": "…"}
//	{"type": "bytes",        "base64": "…"}
//	{"type": "credential",   "username": "…", "password": "…"}
type typedEntry struct {
	Type     string  `json:"type"`
	Value    *string `json:"value,omitempty"`
	Base64   *string `json:"base64,omitempty"`
	Username *string `json:"username,omitempty"`
	Password *string `json:"password,omitempty"`
}

var errHashtableJSON = errors.New(`a hashtable is a JSON object whose values are strings or typed entries such as {"type":"bytes","base64":"…"}`)

// parseHashtable reads a hashtable from a JSON object. A string value is a
// string entry; an object is a typed entry (see typedEntry). Errors name
// keys and offsets, never values.
func parseHashtable(raw []byte) (api.Hashtable, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w (invalid JSON at byte %d)", errHashtableJSON, se.Offset)
		}
		return nil, errHashtableJSON
	}
	if obj == nil {
		return nil, errHashtableJSON
	}
	if len(bytes.TrimSpace(raw[dec.InputOffset():])) > 0 {
		return nil, fmt.Errorf("%w (more after the object)", errHashtableJSON)
	}
	if k, dup := duplicateKey(raw); dup {
		return nil, fmt.Errorf("%w (key %q is given twice)", errHashtableJSON, k)
	}
	t := make(api.Hashtable, len(obj))
	for k, m := range obj {
		v, err := parseEntry(m)
		if err != nil {
			return nil, fmt.Errorf("hashtable key %q: %w", k, err)
		}
		t[k] = v
	}
	return t, nil
}

// duplicateKey returns a key that the JSON object raw (already decoded once
// without error) gives twice: json.Unmarshal would keep only the last.
func duplicateKey(raw []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

func parseEntry(m json.RawMessage) (any, error) {
	m = bytes.TrimSpace(m)
	if len(m) > 0 && m[0] == '"' {
		var s string
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, errors.New("invalid string")
		}
		return s, nil
	}
	if len(m) == 0 || m[0] != '{' {
		return nil, errors.New(`want a string, or an object such as {"type":"securestring","value":"…"}`)
	}
	var e typedEntry
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, errors.New(`a typed entry has "type" and then "value", "base64", or "username" and "password", all strings`)
	}
	need := func(p *string, field string) (string, error) {
		if p == nil {
			return "", fmt.Errorf("a %s entry needs %q", e.Type, field)
		}
		return *p, nil
	}
	switch e.Type {
	case "string", "securestring":
		v, err := need(e.Value, "value")
		if err != nil {
			return nil, err
		}
		if e.Type == "securestring" {
			return api.SecureString(v), nil
		}
		return v, nil
	case "bytes":
		v, err := need(e.Base64, "base64")
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, errors.New(`"base64" is not standard base64`)
		}
		return b, nil
	case "credential":
		u, err := need(e.Username, "username")
		if err != nil {
			return nil, err
		}
		p, err := need(e.Password, "password")
		if err != nil {
			return nil, err
		}
		return api.Credential{UserName: u, Password: api.SecureString(p)}, nil
	case "hashtable":
		return nil, errors.New("a hashtable cannot hold another hashtable")
	}
	return nil, fmt.Errorf(`unknown "type" %q (want string, securestring, bytes or credential)`, e.Type)
}

// metaTypes are the TYPE of --metadata KEY:TYPE=VALUE.
var metaTypes = []string{"string", "int", "datetime"}

// parseMetadata reads --metadata KEY[:TYPE]=VALUE flags. TYPE is string
// (the default), int, or datetime: RFC 3339, or a plain date 2006-01-02 (at
// midnight UTC). Only one of those after the last ':' is a TYPE: a key may
// contain ':' ("url:x=1" is the string key "url:x"), but a word a typo away
// from a TYPE ("uses:itn=2") is refused. It returns nil for no flags.
func parseMetadata(list []string) (api.Metadata, error) {
	if len(list) == 0 {
		return nil, nil
	}
	md := make(api.Metadata, len(list))
	for _, item := range list {
		left, value, ok := strings.Cut(item, "=")
		if !ok || left == "" {
			return nil, fmt.Errorf("--metadata %q: want KEY[:TYPE]=VALUE", item)
		}
		key, typ := left, "string"
		if i := strings.LastIndexByte(left, ':'); i >= 0 {
			switch suffix := left[i+1:]; {
			case slices.Contains(metaTypes, suffix):
				key, typ = left[:i], suffix
			case closest(suffix, metaTypes) != "":
				// A mistyped TYPE, not a key that ends in it.
				return nil, fmt.Errorf("--metadata %q: unknown type %q (want %s; to keep %q in the key, add :string)", item, suffix, strings.Join(metaTypes, ", "), ":"+suffix)
			}
		}
		if key == "" {
			return nil, fmt.Errorf("--metadata %q: the key is empty", item)
		}
		if _, dup := md[key]; dup {
			return nil, fmt.Errorf("--metadata: key %q given twice", key)
		}
		switch typ {
		case "string":
			md[key] = value
		case "int":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--metadata %q: %q is not an integer", item, value)
			}
			md[key] = n
		case "datetime":
			t, err := parseDatetime(value)
			if err != nil {
				return nil, fmt.Errorf("--metadata %q: %q is not a date (2006-01-02) or an RFC 3339 time (2006-01-02T15:04:05Z)", item, value)
			}
			md[key] = t
		}
	}
	return md, nil
}

func parseDatetime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
