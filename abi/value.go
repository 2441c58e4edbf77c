package abi

import "time"

// Type is the type of a secret value (SPEC.md §7.1). The numbers are those of
// the original SecretManagement SecretType enum.
type Type uint8

// The five secret types.
const (
	TypeBytes        Type = 1
	TypeString       Type = 2
	TypeSecureString Type = 3
	TypeCredential   Type = 4
	TypeHashtable    Type = 5
)

var typeNames = [...]string{
	TypeBytes:        "bytes",
	TypeString:       "string",
	TypeSecureString: "securestring",
	TypeCredential:   "credential",
	TypeHashtable:    "hashtable",
}

// Valid reports whether t is one of the five types.
func (t Type) Valid() bool { return t >= TypeBytes && t <= TypeHashtable }

// String returns the type's name as the CLI and the manifest spell it.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType returns the Type named s ("bytes", "string", …).
func ParseType(s string) (Type, bool) {
	for t := TypeBytes; t <= TypeHashtable; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return 0, false
}

// Value is a secret value. Which fields are used depends on Type:
//   - TypeBytes, TypeString, TypeSecureString: Data;
//   - TypeCredential: UserName, and Data holds the password;
//   - TypeHashtable: Entries, sorted by key, whose values are not hashtables.
type Value struct {
	Type     Type
	Data     []byte
	UserName string
	Entries  []Entry
}

// Entry is one key of a hashtable value.
type Entry struct {
	Key   string
	Value Value
}

// MetaKind is the type of a metadata value (SPEC.md §7.3).
type MetaKind uint8

// The metadata kinds. MetaDatetimeOffset (an addition to v1) is a
// datetime with the UTC offset it was given in; the host sends it only to
// a vault whose manifest declares datetime_offset, and MetaDatetime, in
// UTC, to the others.
const (
	MetaString         MetaKind = 1
	MetaInt            MetaKind = 2
	MetaDatetime       MetaKind = 3
	MetaDatetimeOffset MetaKind = 4
)

// MaxOffsetMinutes bounds the offset of a MetaDatetimeOffset, as RFC 3339
// does: less than a day either way.
const MaxOffsetMinutes = 24*60 - 1

// String names the kind.
func (k MetaKind) String() string {
	switch k {
	case MetaString:
		return "string"
	case MetaInt:
		return "int"
	case MetaDatetime:
		return "datetime"
	case MetaDatetimeOffset:
		return "datetime_offset"
	}
	return "unknown"
}

// MetaValue is one metadata value; Kind says which field holds it. Time is
// in UTC for MetaDatetime, and in a fixed zone of whole minutes (UTC for
// offset 0) for MetaDatetimeOffset.
type MetaValue struct {
	Kind MetaKind
	Str  string
	Int  int64
	Time time.Time
}

// UTC returns v with a MetaDatetimeOffset turned into a MetaDatetime of the
// same instant (its offset dropped): the form for a vault that does not
// declare datetime_offset. Other values come back as they are.
func (v MetaValue) UTC() MetaValue {
	if v.Kind == MetaDatetimeOffset {
		return MetaValue{Kind: MetaDatetime, Time: v.Time.UTC()}
	}
	return v
}

// Metadata maps keys to values. A nil Metadata is "none given"; an empty,
// non-nil one is "no entries" (on set: clear the metadata).
type Metadata map[string]MetaValue

// Info describes a stored secret without its value.
type Info struct {
	Name     string
	Type     Type
	Metadata Metadata
}

// Manifest is what an extension declares about itself (SPEC.md §4.1).
type Manifest struct {
	ABI           int    `json:"abi"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	Description   string `json:"description,omitempty"`
	Metadata      bool   `json:"metadata"`
	CaseSensitive bool   `json:"case_sensitive"`
	// DatetimeOffset declares that the vault takes and keeps metadata kind
	// MetaDatetimeOffset (SPEC.md §7.3); without it the host sends it
	// datetimes in UTC.
	DatetimeOffset bool `json:"datetime_offset,omitempty"`
	// AtomicCalls asks the host to commit the storage writes of each call
	// together, or none of them (SPEC.md §5.3, "Atomic calls").
	AtomicCalls bool `json:"atomic_calls,omitempty"`
	// SetReports declares that sesame_set outputs one byte saying what it
	// did (SetCreated, SetReplaced, SetUnchanged) and writes nothing when
	// the secret is already what the set gives (SPEC.md §4).
	SetReports bool     `json:"set_reports,omitempty"`
	Operations []Op     `json:"operations,omitempty"`
	Grants     []string `json:"grants,omitempty"`
}
