package engine

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
)

// typeName names the Go type of v for an error message.
func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// encodeValue converts a secret value to the ABI form. Errors name the type
// (and the hashtable key), never the value.
func encodeValue(v any) (abi.Value, error) {
	switch x := v.(type) {
	case Hashtable:
		return encodeTable(x)
	case map[string]any:
		return encodeTable(x)
	}
	return encodeScalar(v, "")
}

func encodeScalar(v any, key string) (abi.Value, error) {
	where := ""
	if key != "" {
		where = fmt.Sprintf(" in hashtable key %q", key)
	}
	switch x := v.(type) {
	case []byte:
		return abi.Value{Type: TypeBytes, Data: slices.Clone(x)}, nil
	case string:
		if !utf8.ValidString(x) {
			return abi.Value{}, fmt.Errorf("%w: string%s is not valid UTF-8", ErrInvalidValue, where)
		}
		return abi.Value{Type: TypeString, Data: []byte(x)}, nil
	case SecureString:
		if !utf8.ValidString(string(x)) {
			return abi.Value{}, fmt.Errorf("%w: secure string%s is not valid UTF-8", ErrInvalidValue, where)
		}
		return abi.Value{Type: TypeSecureString, Data: []byte(x)}, nil
	case Credential:
		if !utf8.ValidString(x.UserName) || !utf8.ValidString(string(x.Password)) {
			return abi.Value{}, fmt.Errorf("%w: credential%s is not valid UTF-8", ErrInvalidValue, where)
		}
		if strings.IndexFunc(x.UserName, unicode.IsControl) >= 0 {
			// A newline would let a reader of the lines "user name,
			// password" take part of the user name for the password.
			return abi.Value{}, fmt.Errorf("%w: the user name of a credential%s cannot contain control characters", ErrInvalidValue, where)
		}
		return abi.Value{Type: TypeCredential, UserName: x.UserName, Data: []byte(x.Password)}, nil
	case *Credential:
		if x != nil {
			return encodeScalar(*x, key)
		}
	case Hashtable, map[string]any:
		return abi.Value{}, fmt.Errorf("%w: a hashtable cannot hold another hashtable%s", ErrInvalidValue, where)
	}
	return abi.Value{}, fmt.Errorf("%w: type %s%s is not a secret type (want []byte, string, SecureString, Credential or Hashtable)", ErrInvalidValue, typeName(v), where)
}

func encodeTable(t map[string]any) (abi.Value, error) {
	if len(t) > abi.MaxHashtableKeys {
		return abi.Value{}, fmt.Errorf("%w: hashtable has %d entries, more than %d", ErrTooLarge, len(t), abi.MaxHashtableKeys)
	}
	// The encoder sorts the entries.
	v := abi.Value{Type: TypeHashtable, Entries: make([]abi.Entry, 0, len(t))}
	folded := make(map[string]string, len(t))
	for _, k := range slices.Sorted(maps.Keys(t)) {
		x := t[k]
		if k == "" || !utf8.ValidString(k) {
			return abi.Value{}, fmt.Errorf("%w: hashtable key %q is empty or not UTF-8", ErrInvalidValue, k)
		}
		// Keys ignore case, as PowerShell's hashtables do: two that
		// differ only in case would be one key there.
		if other, dup := folded[strings.ToLower(k)]; dup {
			return abi.Value{}, fmt.Errorf("%w: hashtable keys %q and %q differ only in case", ErrInvalidValue, other, k)
		}
		folded[strings.ToLower(k)] = k
		ev, err := encodeScalar(x, k)
		if err != nil {
			return abi.Value{}, err
		}
		v.Entries = append(v.Entries, abi.Entry{Key: k, Value: ev})
	}
	return v, nil
}

// decodeValue converts an ABI value to the Go form of Set.
func decodeValue(v abi.Value) any {
	switch v.Type {
	case TypeBytes:
		return slices.Clone(v.Data)
	case TypeString:
		return string(v.Data)
	case TypeSecureString:
		return SecureString(v.Data)
	case TypeCredential:
		return Credential{UserName: v.UserName, Password: SecureString(v.Data)}
	case TypeHashtable:
		t := make(Hashtable, len(v.Entries))
		for _, e := range v.Entries {
			t[e.Key] = decodeValue(e.Value)
		}
		return t
	}
	return nil
}

// encodeMetadata converts and checks metadata. A nil md stays nil (none
// given). Errors name the key and the type.
func encodeMetadata(md Metadata) (abi.Metadata, error) {
	if md == nil {
		return nil, nil
	}
	out := make(abi.Metadata, len(md))
	for k, v := range md {
		var mv abi.MetaValue
		switch x := v.(type) {
		case string:
			mv = abi.MetaValue{Kind: abi.MetaString, Str: x}
		case time.Time:
			mv = metaTime(x)
		case int:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case int8:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case int16:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case int32:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case int64:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: x}
		case uint8:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case uint16:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case uint32:
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case uint:
			if uint64(x) > math.MaxInt64 {
				return nil, fmt.Errorf("%w: metadata key %q: integer out of range", ErrInvalidValue, k)
			}
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%w: metadata key %q: integer out of range", ErrInvalidValue, k)
			}
			mv = abi.MetaValue{Kind: abi.MetaInt, Int: int64(x)}
		default:
			return nil, fmt.Errorf("%w: metadata key %q has type %s; metadata values must be string, int or time.Time", ErrInvalidValue, k, typeName(v))
		}
		out[k] = mv
	}
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidValue, abiError{err})
	}
	// The size of the whole encoding too, so that metadata over the limit
	// is refused here, before any vault is asked anything.
	if _, err := abi.AppendMetadata(nil, out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidValue, abiError{err})
	}
	return out, nil
}

// metaTime is the ABI form of a datetime: in UTC when its offset is 0, else
// with its offset (in whole minutes, the seconds of an offset such as a
// local mean time's dropped), which a vault that does not declare
// datetime_offset gets in UTC (metadataFor).
func metaTime(t time.Time) abi.MetaValue {
	_, off := t.Zone()
	if off == 0 {
		return abi.MetaValue{Kind: abi.MetaDatetime, Time: t.UTC()}
	}
	if off%60 != 0 {
		t = t.In(time.FixedZone("", off/60*60))
	}
	return abi.MetaValue{Kind: abi.MetaDatetimeOffset, Time: t}
}

// metadataFor returns md as vt takes it: datetimes with their offsets for
// a vault whose manifest declares datetime_offset, in UTC for the others
// (which may not know the kind, SPEC.md §7.3). A nil md stays nil.
func metadataFor(vt Vault, md abi.Metadata) abi.Metadata {
	if md == nil || vt.Manifest().DatetimeOffset {
		return md
	}
	out := make(abi.Metadata, len(md))
	for k, v := range md {
		out[k] = v.UTC()
	}
	return out
}

// decodeMetadata converts ABI metadata to the Go form; ints come back as int64.
func decodeMetadata(md abi.Metadata) Metadata {
	if md == nil {
		return nil
	}
	out := make(Metadata, len(md))
	for k, v := range md {
		switch v.Kind {
		case abi.MetaString:
			out[k] = v.Str
		case abi.MetaInt:
			out[k] = v.Int
		case abi.MetaDatetime, abi.MetaDatetimeOffset:
			out[k] = v.Time
		}
	}
	return out
}
