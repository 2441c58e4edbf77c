package vaulttest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// equalValue reports whether a and b are the same value. A nil and an empty
// Data (or Entries) are alike, since the ABI cannot tell them apart.
func equalValue(a, b abi.Value) bool {
	if a.Type != b.Type || a.UserName != b.UserName || !bytes.Equal(a.Data, b.Data) || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i].Key != b.Entries[i].Key || !equalValue(a.Entries[i].Value, b.Entries[i].Value) {
			return false
		}
	}
	return true
}

// diffMetadata describes how got differs from want, or returns "". A nil and
// an empty Metadata are alike. Datetimes must be the same instant, in UTC.
func diffMetadata(got, want abi.Metadata) string {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("key %q missing", k))
		case g.Kind != w.Kind:
			diffs = append(diffs, fmt.Sprintf("key %q has kind %v, want %v", k, g.Kind, w.Kind))
		case w.Kind == abi.MetaString && g.Str != w.Str:
			diffs = append(diffs, fmt.Sprintf("key %q = %q, want %q", k, g.Str, w.Str))
		case w.Kind == abi.MetaInt && g.Int != w.Int:
			diffs = append(diffs, fmt.Sprintf("key %q = %d, want %d", k, g.Int, w.Int))
		case w.Kind == abi.MetaDatetime && !g.Time.Equal(w.Time):
			diffs = append(diffs, fmt.Sprintf("key %q = %s, want %s", k, g.Time.Format(time.RFC3339Nano), w.Time.Format(time.RFC3339Nano)))
		case w.Kind == abi.MetaDatetime && g.Time.Location() != time.UTC:
			diffs = append(diffs, fmt.Sprintf("key %q is in location %s, want UTC", k, g.Time.Location()))
		case w.Kind == abi.MetaDatetimeOffset && g.Time.Format(time.RFC3339Nano) != w.Time.Format(time.RFC3339Nano):
			diffs = append(diffs, fmt.Sprintf("key %q = %s, want %s (the instant and its UTC offset)", k, g.Time.Format(time.RFC3339Nano), w.Time.Format(time.RFC3339Nano)))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected key %q", k))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}

// checkMetadata reports a difference between got and want as an error of t,
// prefixed by what was read.
func checkMetadata(t interface{ Errorf(string, ...any) }, what string, got, want abi.Metadata) {
	if d := diffMetadata(got, want); d != "" {
		t.Errorf("%s: metadata %s, want %s: %s", what, describeMetadata(got), describeMetadata(want), d)
	}
}

// describe summarises a value for a failure message: short values in full
// (they are test data), long ones by length and digest.
func describe(v abi.Value) string {
	var b strings.Builder
	b.WriteString(v.Type.String())
	b.WriteByte('(')
	if v.Type == abi.TypeCredential || v.UserName != "" {
		fmt.Fprintf(&b, "user %q, ", v.UserName)
	}
	if v.Type == abi.TypeHashtable || len(v.Entries) > 0 {
		b.WriteByte('{')
		for i, e := range v.Entries {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: %s", e.Key, describe(e.Value))
		}
		b.WriteByte('}')
		if len(v.Data) > 0 {
			b.WriteString(", ")
		}
	}
	if v.Type != abi.TypeHashtable || len(v.Data) > 0 {
		b.WriteString(describeData(v.Data))
	}
	b.WriteByte(')')
	return b.String()
}

func describeData(d []byte) string {
	if len(d) <= 48 {
		return fmt.Sprintf("%q", d)
	}
	sum := sha256.Sum256(d)
	return fmt.Sprintf("%d bytes %q… sha256 %x", len(d), d[:16], sum[:6])
}

func describeMetadata(md abi.Metadata) string {
	if len(md) == 0 {
		return "{}"
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		switch v := md[k]; v.Kind {
		case abi.MetaString:
			fmt.Fprintf(&b, "%q: %q", k, v.Str)
		case abi.MetaInt:
			fmt.Fprintf(&b, "%q: %d", k, v.Int)
		case abi.MetaDatetime:
			fmt.Fprintf(&b, "%q: %s", k, v.Time.Format(time.RFC3339Nano))
		default:
			fmt.Fprintf(&b, "%q: kind %d", k, v.Kind)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
