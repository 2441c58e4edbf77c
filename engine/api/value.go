package api

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sesamehq/sesame/abi"
)

// The value types a secret can have. A secret value passed to Set, and
// returned by Get, is one of:
//
//	[]byte        TypeBytes
//	string        TypeString
//	SecureString  TypeSecureString
//	Credential    TypeCredential
//	Hashtable     TypeHashtable (values: any of the four above)
//
// Metadata values are string, an integer type (stored as int64) or time.Time.
type (
	// Type is the type of a secret value.
	Type = abi.Type

	// SecureString is a string the user asked to keep masked: the CLI does
	// not print it without --as-plain-text.
	SecureString string

	// Credential is a user name and a password.
	Credential struct {
		UserName string // UTF-8 without control characters (a newline would forge a line)
		Password SecureString
	}

	// Hashtable is a secret made of named values of the other four types.
	Hashtable map[string]any

	// Metadata is non-secret data stored beside a secret (an expiry date, a
	// purpose). Values are string, int (any integer type) or time.Time. A
	// time keeps its UTC offset (in whole minutes) in a vault whose manifest
	// declares DatetimeOffset; other vaults keep it in UTC.
	Metadata map[string]any
)

// The five secret types.
const (
	TypeBytes        = abi.TypeBytes
	TypeString       = abi.TypeString
	TypeSecureString = abi.TypeSecureString
	TypeCredential   = abi.TypeCredential
	TypeHashtable    = abi.TypeHashtable
)

// Lookup returns the entry of t under key, and the key as t spells it.
// Keys compare without regard to case, as PowerShell's hashtables do
// (encodeValue refuses two keys that differ only in case). In a table that
// came with several spellings from elsewhere, an exact match wins, else the
// first in sorted order.
func (t Hashtable) Lookup(key string) (k string, v any, ok bool) {
	if v, ok := t[key]; ok {
		return key, v, true
	}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if strings.EqualFold(k, key) {
			return k, t[k], true
		}
	}
	return "", nil, false
}

// GoString keeps the value of a SecureString out of %#v output.
func (SecureString) GoString() string { return "engine.SecureString(****)" }

// String keeps the value of a SecureString out of %v and %s output. Convert
// with string(s) to read it.
func (SecureString) String() string { return "****" }

// Format keeps a Credential's password out of every fmt verb.
func (c Credential) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "{%s ****}", c.UserName) }
