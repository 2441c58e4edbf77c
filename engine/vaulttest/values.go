package vaulttest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// canary is part of values that the vault is expected to refuse: the error
// must not quote it.
const canary = "c4n4ry-s3cr3t"

// sample returns a value of type typ that carries text; hashtables get one
// entry per type in scalars.
func sample(typ abi.Type, text string, scalars []abi.Type) abi.Value {
	switch typ {
	case abi.TypeBytes:
		return abi.Value{Type: typ, Data: append([]byte(text), 0x00, 0xff)}
	case abi.TypeCredential:
		return abi.Value{Type: typ, UserName: "user-" + text, Data: []byte("pw-" + text)}
	case abi.TypeHashtable:
		v := abi.Value{Type: typ}
		for _, st := range scalars {
			v.Entries = append(v.Entries, abi.Entry{Key: "k" + st.String(), Value: sample(st, text, nil)})
		}
		sortEntries(v.Entries)
		return v
	}
	return abi.Value{Type: typ, Data: []byte(text)}
}

// empty returns the empty value of type typ.
func empty(typ abi.Type) abi.Value { return abi.Value{Type: typ} }

type valueCase struct {
	name string
	v    abi.Value
}

// roundTripCases returns the RoundTrip cases of type typ.
func roundTripCases(typ abi.Type, scalars []abi.Type) []valueCase {
	switch typ {
	case abi.TypeBytes:
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		return []valueCase{
			{"empty", abi.Value{Type: typ, Data: []byte{}}},
			{"all_256_bytes", abi.Value{Type: typ, Data: all}},
			{"nul_and_high", abi.Value{Type: typ, Data: []byte{0, 0, 0xff, 0xfe, 0x80, 0}}},
		}
	case abi.TypeString, abi.TypeSecureString:
		return []valueCase{
			{"ascii", abi.Value{Type: typ, Data: []byte("correct horse battery staple")}},
			{"unicode", abi.Value{Type: typ, Data: []byte("pâss wörd — 密码 пароль 🔑\u200d")}},
			{"whitespace", abi.Value{Type: typ, Data: []byte(" \t\n leading and trailing \r\n")}},
			{"empty", abi.Value{Type: typ}},
		}
	case abi.TypeCredential:
		return []valueCase{
			{"ascii", abi.Value{Type: typ, UserName: "admin", Data: []byte("hunter2")}},
			{"unicode_user", abi.Value{Type: typ, UserName: "Jürgen 山田 🔑", Data: []byte("pâss 密码")}},
			{"empty_password", abi.Value{Type: typ, UserName: "nobody"}},
			{"domain_user", abi.Value{Type: typ, UserName: `CORP\svc:deploy@example.com`, Data: []byte("p:w@d")}},
		}
	case abi.TypeHashtable:
		v := abi.Value{Type: typ}
		for _, st := range scalars {
			e := abi.Entry{Key: st.String(), Value: sample(st, "entry "+st.String()+" ✓", nil)}
			v.Entries = append(v.Entries, e)
		}
		sortEntries(v.Entries)
		return []valueCase{
			{"one_of_each", v},
			{"unicode_keys", abi.Value{Type: typ, Entries: []abi.Entry{
				{Key: "clé", Value: sample(scalars[0], "a", nil)},
				{Key: "密码", Value: sample(scalars[0], "b", nil)},
			}}},
		}
	}
	return nil
}

// sortEntries sorts hashtable entries by key, as abi.Value requires.
func sortEntries(e []abi.Entry) {
	slices.SortFunc(e, func(a, b abi.Entry) int { return strings.Compare(a.Key, b.Key) })
}

// maxValue returns the largest value of type typ the vault must round-trip:
// limit payload bytes (0: the most the ABI can encode), deterministic and
// without repeats that would hide a truncation or a shift.
func maxValue(typ abi.Type, limit int) abi.Value {
	overhead := 1
	switch typ {
	case abi.TypeCredential:
		overhead = 1 + 4 + len("max")
	case abi.TypeHashtable:
		overhead = 1 + 4 + 4 + len("max") + 4 + 1
	}
	n := abi.MaxValueBytes - overhead
	if limit > 0 {
		n = min(limit, n)
	}
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{'s', 'e', 's', 'a', 'm', 'e'}).Read(data)
	if typ != abi.TypeBytes {
		const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
		for i, c := range data {
			data[i] = printable[c%64]
		}
	}
	switch typ {
	case abi.TypeCredential:
		return abi.Value{Type: typ, UserName: "max", Data: data}
	case abi.TypeHashtable:
		return abi.Value{Type: typ, Entries: []abi.Entry{{Key: "max", Value: abi.Value{Type: abi.TypeString, Data: data}}}}
	}
	return abi.Value{Type: typ, Data: data}
}

// fullMetadata has every kind the vault takes, edge values included: a
// datetime with its UTC offset (kind 4) when it declares DatetimeOffset.
func (s *suite) fullMetadata() abi.Metadata {
	md := abi.Metadata{
		"purpose": {Kind: abi.MetaString, Str: "déploiement CI ✓"},
		"note":    {Kind: abi.MetaString, Str: ""},
		"count":   {Kind: abi.MetaInt, Int: -42},
		"max":     {Kind: abi.MetaInt, Int: math.MaxInt64},
		"min":     {Kind: abi.MetaInt, Int: math.MinInt64},
		"expires": {Kind: abi.MetaDatetime, Time: time.Date(2031, 4, 5, 6, 7, 8, 123456789, time.UTC)},
		"landed":  {Kind: abi.MetaDatetime, Time: time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC)},
		"clé-密码":  {Kind: abi.MetaString, Str: "unicode key"},
	}
	if s.m.DatetimeOffset {
		md["local"] = abi.MetaValue{Kind: abi.MetaDatetimeOffset, Time: time.Date(2024, 2, 3, 4, 5, 6, 7, time.FixedZone("", -(5*3600+30*60)))}
	}
	return md
}

// sharedValue is the value writer w stores in round r of the Concurrent
// test: a unit naming the writer and round, repeated a number of times that
// depends on both, so that a reader can tell a whole value from a torn one.
func sharedValue(typ abi.Type, w, r int) abi.Value {
	unit := fmt.Sprintf("<w%d.r%d.t%d>", w, r, typ)
	data := []byte(strings.Repeat(unit, sharedReps(w, r)))
	switch typ {
	case abi.TypeCredential:
		return abi.Value{Type: typ, UserName: unit, Data: data}
	case abi.TypeHashtable:
		return abi.Value{Type: typ, Entries: []abi.Entry{{Key: unit, Value: abi.Value{Type: abi.TypeString, Data: data}}}}
	}
	return abi.Value{Type: typ, Data: data}
}

func sharedReps(w, r int) int { return 16 + (w*31+r*7)%97 }

// checkShared reports what is wrong with a value read from the shared
// secret, or "" when it is one whole value some writer stored.
func checkShared(v abi.Value) string {
	data := v.Data
	if v.Type == abi.TypeHashtable {
		if len(v.Entries) != 1 {
			return fmt.Sprintf("hashtable with %d entries, want 1", len(v.Entries))
		}
		data = v.Entries[0].Value.Data
	}
	end := strings.IndexByte(string(data), '>')
	if len(data) == 0 || data[0] != '<' || end < 0 {
		return "no <writer.round.type> unit at the start"
	}
	unit := string(data[:end+1])
	var w, r, typ int
	if _, err := fmt.Sscanf(unit, "<w%d.r%d.t%d>", &w, &r, &typ); err != nil {
		return fmt.Sprintf("bad unit %q", unit)
	}
	want := sharedValue(abi.Type(typ), w, r)
	if !equalValue(v, want) {
		return fmt.Sprintf("torn: starts as the value of writer %d round %d (type %v) but is not that value", w, r, abi.Type(typ))
	}
	return ""
}
