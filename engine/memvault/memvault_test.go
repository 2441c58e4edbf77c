package memvault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
)

var (
	_ engine.Vault          = (*Vault)(nil)
	_ engine.Statter        = (*Vault)(nil)
	_ engine.MetadataSetter = (*Vault)(nil)
	_ engine.Tester         = (*Vault)(nil)
)

func TestConformance(t *testing.T) {
	for _, opts := range []Options{
		{},
		{CaseSensitive: true},
		{NoMetadata: true},
		{CaseSensitive: true, NoMetadata: true, Name: "plain"},
	} {
		t.Run(fmt.Sprintf("cs=%v,md=%v", opts.CaseSensitive, !opts.NoMetadata), func(t *testing.T) {
			vaulttest.Run(t, func(*testing.T) engine.Vault { return New(opts) }, vaulttest.Options{})
		})
	}
}

func TestManifest(t *testing.T) {
	m := New(Options{}).Manifest()
	if m.Name != "memvault" || m.ABI != abi.Version || !m.Metadata || m.CaseSensitive {
		t.Errorf("New(Options{}).Manifest() = %+v", m)
	}
	if !slices.Contains(m.Operations, abi.OpSetMetadata) {
		t.Errorf("Operations %q lack set_metadata", m.Operations)
	}
	m.Operations[0] = "scribbled"
	v := New(Options{NoMetadata: true, CaseSensitive: true, Name: "x"})
	m = v.Manifest()
	if m.Name != "x" || m.Metadata || !m.CaseSensitive || slices.Contains(m.Operations, abi.OpSetMetadata) {
		t.Errorf("NoMetadata manifest = %+v", m)
	}
	m.Operations[0] = "scribbled"
	if v.Manifest().Operations[0] != abi.OpGet {
		t.Error("Manifest shares its Operations slice")
	}
}

// TestFoldKey checks that foldKey identifies exactly the names
// strings.EqualFold does, over every pair of runes that fold together (all
// below U+20000) and some that do not.
func TestFoldKey(t *testing.T) {
	for r := rune(0); r < 0x20000; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if abi.Fold(string(r)) != abi.Fold(string(f)) {
				t.Fatalf("abi.Fold(%q) = %q but abi.Fold(%q) = %q; strings.EqualFold says they are equal", r, abi.Fold(string(r)), f, abi.Fold(string(f)))
			}
		}
	}
	for _, pair := range [][2]string{
		{"a", "b"}, {"ß", "ss"}, {"ı", "i"}, {"İ", "i"}, {"token", "tokens"}, {"ǅ", "dž"},
	} {
		want := strings.EqualFold(pair[0], pair[1])
		if got := abi.Fold(pair[0]) == abi.Fold(pair[1]); got != want {
			t.Errorf("abi.Fold(%q) == abi.Fold(%q) is %v; strings.EqualFold says %v", pair[0], pair[1], got, want)
		}
	}
	if got := abi.Fold("TOKEN_\u212a"); got != "token_k" {
		t.Errorf("foldKey with a Kelvin sign = %q, want %q", got, "token_k")
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	v := New(Options{})
	nomd := New(Options{NoMetadata: true})
	str := abi.Value{Type: abi.TypeString, Data: []byte("s3cret")}
	md := abi.Metadata{"k": {Kind: abi.MetaString, Str: "v"}}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"get missing", get(v, "nope"), abi.NotFound},
		{"stat missing", stat(v, "nope"), abi.NotFound},
		{"remove missing", v.Remove(ctx, "nope"), abi.NotFound},
		{"set_metadata missing", v.SetMetadata(ctx, "nope", md), abi.NotFound},
		{"empty name", v.Set(ctx, "", str, nil), abi.InvalidArgument},
		{"long name", v.Set(ctx, strings.Repeat("n", abi.MaxNameBytes+1), str, nil), abi.InvalidArgument},
		{"invalid UTF-8 name", v.Set(ctx, "a\xff", str, nil), abi.InvalidArgument},
		{"invalid UTF-8 pattern", list(v, "a\xff*"), abi.InvalidArgument},
		{"zero type", v.Set(ctx, "n", abi.Value{}, nil), abi.InvalidArgument},
		{"unknown type", v.Set(ctx, "n", abi.Value{Type: 9}, nil), abi.InvalidArgument},
		{"invalid UTF-8 string", v.Set(ctx, "n", abi.Value{Type: abi.TypeString, Data: []byte{0xff}}, nil), abi.InvalidArgument},
		{"invalid UTF-8 user", v.Set(ctx, "n", abi.Value{Type: abi.TypeCredential, UserName: "\xff"}, nil), abi.InvalidArgument},
		{"nested hashtable", v.Set(ctx, "n", abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{{Key: "k", Value: abi.Value{Type: abi.TypeHashtable}}}}, nil), abi.InvalidArgument},
		{"empty key", v.Set(ctx, "n", abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{{Key: "", Value: str}}}, nil), abi.InvalidArgument},
		{"repeated key", v.Set(ctx, "n", abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{{Key: "k", Value: str}, {Key: "k", Value: str}}}, nil), abi.InvalidArgument},
		{"too many keys", v.Set(ctx, "n", manyEntries(abi.MaxHashtableKeys+1), nil), abi.TooLarge},
		{"value too large", v.Set(ctx, "n", abi.Value{Type: abi.TypeBytes, Data: make([]byte, abi.MaxValueBytes)}, nil), abi.TooLarge},
		{"credential too large", v.Set(ctx, "n", abi.Value{Type: abi.TypeCredential, UserName: "u", Data: make([]byte, abi.MaxValueBytes-5)}, nil), abi.TooLarge},
		{"bad metadata kind", v.Set(ctx, "n", str, abi.Metadata{"k": {Kind: 7}}), abi.InvalidArgument},
		{"metadata too large", v.Set(ctx, "n", str, abi.Metadata{"k": {Kind: abi.MetaString, Str: strings.Repeat("x", abi.MaxMetaStringLen+1)}}), abi.TooLarge},
		{"metadata unsupported", nomd.Set(ctx, "n", str, md), abi.Unsupported},
		{"set_metadata unsupported", nomd.SetMetadata(ctx, "n", md), abi.Unsupported},
		{"canceled", v.Set(canceled, "n", str, nil), context.Canceled},
		{"canceled list", list(v, "*"), nil},
		{"canceled test", v.Test(canceled), context.Canceled},
	}
	for _, tt := range tests {
		switch {
		case tt.want == nil && tt.err != nil:
			t.Errorf("%s: %v, want no error", tt.name, tt.err)
		case !errors.Is(tt.err, tt.want):
			t.Errorf("%s: error %v, want one wrapping %v", tt.name, tt.err, tt.want)
		case tt.err != nil && strings.Contains(tt.err.Error(), "s3cret"):
			t.Errorf("%s: error quotes the value: %v", tt.name, tt.err)
		}
	}
	if n := v.Len(); n != 0 {
		t.Errorf("after refused operations the vault holds %d secrets", n)
	}
	// An empty md is no metadata at all: a vault without metadata takes it.
	if err := nomd.Set(ctx, "n", str, abi.Metadata{}); err != nil {
		t.Errorf("Set with empty metadata on a vault without metadata: %v", err)
	}
	// The largest value is accepted.
	if err := v.Set(ctx, "n", abi.Value{Type: abi.TypeCredential, UserName: "u", Data: make([]byte, abi.MaxValueBytes-6)}, nil); err != nil {
		t.Errorf("Set of the largest credential: %v", err)
	}
}

func get(v *Vault, name string) error {
	_, _, err := v.Get(context.Background(), name)
	return err
}

func stat(v *Vault, name string) error {
	_, err := v.Stat(context.Background(), name)
	return err
}

func list(v *Vault, pattern string) error {
	_, err := v.List(context.Background(), pattern)
	return err
}

func manyEntries(n int) abi.Value {
	v := abi.Value{Type: abi.TypeHashtable}
	for i := range n {
		v.Entries = append(v.Entries, abi.Entry{Key: fmt.Sprintf("k%03d", i), Value: abi.Value{Type: abi.TypeString}})
	}
	return v
}

// TestCopies checks that nothing the caller holds aliases what the vault
// keeps, hashtable entries included.
func TestCopies(t *testing.T) {
	ctx := context.Background()
	v := New(Options{})
	in := abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{
		{Key: "z", Value: abi.Value{Type: abi.TypeBytes, Data: []byte{1, 2, 3}}},
		{Key: "a", Value: abi.Value{Type: abi.TypeString, Data: []byte("abc")}},
	}}
	when := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	md := abi.Metadata{"when": {Kind: abi.MetaDatetime, Time: when}}
	if err := v.Set(ctx, "h", in, md); err != nil {
		t.Fatal(err)
	}
	in.Entries[0].Value.Data[0] = 9
	in.Entries[0].Key = "y"
	md["other"] = abi.MetaValue{Kind: abi.MetaInt, Int: 1}

	info, got, err := v.Get(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	// Entries come back sorted, datetimes in UTC.
	if len(got.Entries) != 2 || got.Entries[0].Key != "a" || got.Entries[1].Key != "z" || got.Entries[1].Value.Data[0] != 1 {
		t.Fatalf("Get = %+v", got)
	}
	if w := info.Metadata["when"].Time; len(info.Metadata) != 1 || !w.Equal(when) || w.Location() != time.UTC {
		t.Fatalf("metadata = %v", info.Metadata)
	}
	got.Entries[1].Value.Data[0] = 9
	info.Metadata["when"] = abi.MetaValue{}
	info, got, _ = v.Get(ctx, "h")
	if got.Entries[1].Value.Data[0] != 1 || info.Metadata["when"].Kind != abi.MetaDatetime {
		t.Fatal("Get hands out the stored value or metadata")
	}
	list, _ := v.List(ctx, "*")
	list[0].Metadata["when"] = abi.MetaValue{}
	if in, _ := v.Stat(ctx, "h"); in.Metadata["when"].Kind != abi.MetaDatetime {
		t.Fatal("List hands out the stored metadata")
	}
}

// TestCaseInsensitive pins the spelling rules beyond what the suite allows.
func TestCaseInsensitive(t *testing.T) {
	ctx := context.Background()
	v := New(Options{})
	s := func(text string) abi.Value { return abi.Value{Type: abi.TypeString, Data: []byte(text)} }
	md := abi.Metadata{"k": {Kind: abi.MetaInt, Int: 1}}
	if err := v.Set(ctx, "Token", s("one"), md); err != nil {
		t.Fatal(err)
	}
	if err := v.Set(ctx, "TOKEN", s("two"), nil); err != nil {
		t.Fatal(err)
	}
	info, got, err := v.Get(ctx, "token")
	if err != nil || info.Name != "Token" || string(got.Data) != "two" || info.Metadata["k"].Int != 1 {
		t.Errorf("Get = %+v %q %v; want the stored spelling, the new value, the kept metadata", info, got.Data, err)
	}
	if err := v.SetMetadata(ctx, "tOkEn", abi.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if list, _ := v.List(ctx, "TOK?N"); len(list) != 1 || list[0].Name != "Token" || list[0].Metadata != nil {
		t.Errorf("List = %+v", list)
	}
	if v.Len() != 1 {
		t.Errorf("Len = %d, want 1", v.Len())
	}
}

func TestListSorted(t *testing.T) {
	ctx := context.Background()
	v := New(Options{CaseSensitive: true})
	for _, n := range []string{"b", "a", "C", "c", "ab"} {
		if err := v.Set(ctx, n, abi.Value{Type: abi.TypeBytes}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	list, _ := v.List(ctx, "*")
	for _, in := range list {
		names = append(names, in.Name)
	}
	if want := []string{"C", "a", "ab", "b", "c"}; !slices.Equal(names, want) {
		t.Errorf("List(*) = %q, want %q", names, want)
	}
	if list, err := v.List(ctx, "zz"); list == nil || len(list) != 0 || err != nil {
		t.Errorf("List(zz) = %#v, %v; want an empty non-nil list", list, err)
	}
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	v := New(Options{})
	val := abi.Value{Type: abi.TypeString, Data: []byte("correct horse battery staple")}
	if err := v.Set(ctx, "Name", val, abi.Metadata{"k": {Kind: abi.MetaInt, Int: 1}}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := v.Get(ctx, "name"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	v := New(Options{})
	val := abi.Value{Type: abi.TypeString, Data: []byte("correct horse battery staple")}
	for b.Loop() {
		if err := v.Set(ctx, "Name", val, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	v := New(Options{})
	for i := range 1000 {
		if err := v.Set(ctx, fmt.Sprintf("secret_%04d", i), abi.Value{Type: abi.TypeBytes}, nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := v.List(ctx, "secret_01*"); err != nil {
			b.Fatal(err)
		}
	}
}
