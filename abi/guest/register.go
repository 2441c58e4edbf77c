//go:build wasip1

package guest

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
)

// registry is what Register recorded. It is written once, during the
// instance's _initialize, and only read afterwards.
var registry struct {
	vault    Vault
	ops      []abi.Op // the supported operations, in abi.Ops() order
	manifest []byte   // the manifest JSON
}

// Register makes v the vault that this module serves and m its manifest.
// Call it exactly once, from an init function or a package-level variable
// initializer of the main package: both run during the instance's
// _initialize, before the host calls any export.
//
// Register sets m.ABI to 1 and m.Operations to the operations that v
// implements: get, set, remove and list, plus stat (Statter), set_metadata
// (MetadataSetter), unlock and lock (Locker), set_password (PasswordSetter)
// and test (Tester). A non-nil m.Operations restricts that list; naming an
// operation v does not implement is a mistake.
//
// Register panics on a mistake (a nil v, a second call, a name that is not
// [a-z0-9][a-z0-9-]*, an empty version, a manifest over 16 KiB): the panic
// traps _initialize and the host reports the module as broken, with the
// message, when it loads it.
func Register(m abi.Manifest, v Vault) {
	if v == nil {
		panic("guest: Register with a nil Vault")
	}
	if registry.vault != nil {
		panic("guest: Register called twice")
	}
	if !validName(m.Name) {
		panic("guest: manifest name " + strconv.Quote(m.Name) + " is not of the form [a-z0-9][a-z0-9-]*")
	}
	if m.Version == "" {
		panic("guest: manifest of " + strconv.Quote(m.Name) + " has no version")
	}
	ops := implemented(v)
	if m.Operations != nil {
		for _, op := range m.Operations {
			if !slices.Contains(ops, op) {
				panic("guest: manifest lists operation " + strconv.Quote(string(op)) + ", which the Vault does not implement")
			}
		}
		ops = slices.DeleteFunc(ops, func(op abi.Op) bool { return !slices.Contains(m.Operations, op) })
	}
	m.ABI = abi.Version
	m.Operations = ops
	js := appendManifest(nil, m)
	if len(js) > abi.MaxManifestBytes {
		panic("guest: manifest of " + strconv.Itoa(len(js)) + " bytes exceeds " + strconv.Itoa(abi.MaxManifestBytes))
	}
	registry.vault, registry.ops, registry.manifest = v, ops, js
}

// implemented lists the operations v implements, in abi.Ops() order.
func implemented(v Vault) []abi.Op {
	ops := make([]abi.Op, 0, len(abi.Ops()))
	for _, op := range abi.Ops() {
		ok := true
		switch op {
		case abi.OpStat:
			_, ok = v.(Statter)
		case abi.OpSetMetadata:
			_, ok = v.(MetadataSetter)
		case abi.OpUnlock, abi.OpLock:
			_, ok = v.(Locker)
		case abi.OpSetPassword:
			_, ok = v.(PasswordSetter)
		case abi.OpTest:
			_, ok = v.(Tester)
		case abi.OpUnregister:
			_, ok = v.(Unregisterer)
		case abi.OpCreate:
			_, ok = v.(Creator)
		case abi.OpMembers:
			_, ok = v.(MemberManager)
		}
		if ok {
			ops = append(ops, op)
		}
	}
	return ops
}

// supports reports whether op is in the registered manifest.
func supports(op abi.Op) bool { return slices.Contains(registry.ops, op) }

// validName reports whether s matches [a-z0-9][a-z0-9-]* (SPEC.md §4.1).
func validName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// appendManifest appends m as the JSON object of SPEC.md §4.1. It is written
// by hand because encoding/json would add about 1.4 MiB to every guest.
func appendManifest(b []byte, m abi.Manifest) []byte {
	b = append(b, `{"abi":`...)
	b = strconv.AppendInt(b, int64(m.ABI), 10)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, m.Name)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, m.Version)
	if m.Description != "" {
		b = append(b, `,"description":`...)
		b = appendJSONString(b, m.Description)
	}
	b = append(b, `,"metadata":`...)
	b = strconv.AppendBool(b, m.Metadata)
	b = append(b, `,"case_sensitive":`...)
	b = strconv.AppendBool(b, m.CaseSensitive)
	if m.DatetimeOffset {
		b = append(b, `,"datetime_offset":true`...)
	}
	b = append(b, `,"operations":[`...)
	for i, op := range m.Operations {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(op))
	}
	b = append(b, ']')
	if len(m.Grants) > 0 {
		b = append(b, `,"grants":[`...)
		for i, g := range m.Grants {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, g)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaping as encoding/json
// does: quote and backslash, control characters, U+2028 and U+2029; invalid
// UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028':
			b = append(b, `\u2028`...)
		case r == '\u2029':
			b = append(b, `\u2029`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
