package abi_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// whatOf maps a vector kind to DecodeError.What.
var whatOf = map[string]string{
	"value": "value", "metadata": "metadata", "params": "params", "info": "info",
	"info_list": "info list", "secret": "secret", "key_list": "key list", "entry_list": "entry list",
	"http_request": "http request", "http_response": "http response",
}

// roundTrip encodes v as kind, decodes it, checks that the decoded data has
// the JSON form of want and re-encodes to the same bytes. It returns the
// decoded data.
func roundTrip(t *testing.T, kind string, v, want any) any {
	t.Helper()
	enc, err := encodeKind(kind, v)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	got, err := decodeKind(kind, enc)
	if err != nil {
		t.Fatalf("decode %x: %v", enc, err)
	}
	if g, w := jsonForm(kind, got), jsonForm(kind, want); !reflect.DeepEqual(g, w) {
		t.Errorf("decoded\n have %s\n want %s", marshalJSON(t, g), marshalJSON(t, w))
	}
	re, err := encodeKind(kind, got)
	if err != nil || !bytes.Equal(re, enc) {
		t.Errorf("re-encoded %x, %v; want %x", re, err, enc)
	}
	// Appending keeps what is already in the buffer.
	prefix := []byte("prefix")
	var app []byte
	switch kind {
	case "value":
		app, err = abi.AppendValue(slices.Clone(prefix), v.(abi.Value))
	case "metadata":
		app, err = abi.AppendMetadata(slices.Clone(prefix), v.(abi.Metadata))
	default:
		return got
	}
	if err != nil || !bytes.Equal(app, append(prefix, enc...)) {
		t.Errorf("append to a prefix: %x, %v", app, err)
	}
	return got
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		v    abi.Value
		want abi.Value // zero: v
		hex  string    // the encoding, when pinned here
	}{
		{name: "bytes nil", v: abi.Value{Type: abi.TypeBytes}, want: bytesV(), hex: "01"},
		{name: "bytes empty", v: bytesV(), hex: "01"},
		{name: "bytes binary", v: bytesV(0, 0xff, 0xfe, 0x80, 0), hex: "0100fffe8000"},
		{name: "bytes ignore other fields", v: abi.Value{Type: abi.TypeBytes, Data: []byte("x"), UserName: "u", Entries: []abi.Entry{{Key: "k", Value: strV("v")}}}, want: bytesV('x'), hex: "0178"},
		{name: "string", v: strV("héllo"), hex: "0268c3a96c6c6f"},
		{name: "string empty", v: strV(""), hex: "02"},
		{name: "securestring", v: secV("pw"), hex: "037077"},
		{name: "credential", v: credV("u", "p"), hex: "040100000075" + "70"},
		{name: "credential empty user", v: credV("", "p"), hex: "040000000070"},
		{name: "credential empty password", v: credV("u", ""), hex: "040100000075"},
		{name: "credential empty both", v: credV("", ""), hex: "0400000000"},
		{name: "hashtable empty", v: tableV(), hex: "0500000000"},
		{name: "hashtable nil entries", v: abi.Value{Type: abi.TypeHashtable}, want: tableV(), hex: "0500000000"},
		{name: "hashtable mixed", v: tableV(
			abi.Entry{Key: "s", Value: strV("x")},
			abi.Entry{Key: "b", Value: bytesV()},
			abi.Entry{Key: "c", Value: credV("u", "p")},
			abi.Entry{Key: "ss", Value: secV("y")},
		), want: tableV(
			abi.Entry{Key: "b", Value: bytesV()},
			abi.Entry{Key: "c", Value: credV("u", "p")},
			abi.Entry{Key: "s", Value: strV("x")},
			abi.Entry{Key: "ss", Value: secV("y")},
		)},
		{name: "hashtable sorted by bytes", v: tableV(
			abi.Entry{Key: "é", Value: strV("3")},
			abi.Entry{Key: "a", Value: strV("2")},
			abi.Entry{Key: "Z", Value: strV("1")},
		), hex: "05" + "03000000" + "010000005a" + "02000000" + "0231" + "0100000061" + "02000000" + "0232" + "02000000c3a9" + "02000000" + "0233"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want.Type == 0 {
				want = tt.v
			}
			got := roundTrip(t, "value", tt.v, want).(abi.Value)
			if tt.hex != "" {
				enc, _ := abi.AppendValue(nil, tt.v)
				if h := hex.EncodeToString(enc); h != tt.hex {
					t.Errorf("encoding %s, want %s", h, tt.hex)
				}
			}
			if want.Type != abi.TypeHashtable && got.Data == nil {
				t.Error("decoded Data is nil, want empty")
			}
			if want.Type == abi.TypeHashtable {
				keys := []string{}
				for _, e := range got.Entries {
					keys = append(keys, e.Key)
				}
				if !slices.IsSorted(keys) {
					t.Errorf("entries not sorted: %q", keys)
				}
			}
		})
	}
}

func TestAppendValueDoesNotSortInPlace(t *testing.T) {
	v := tableV(abi.Entry{Key: "b", Value: strV("1")}, abi.Entry{Key: "a", Value: strV("2")})
	if _, err := abi.AppendValue(nil, v); err != nil {
		t.Fatal(err)
	}
	if v.Entries[0].Key != "b" {
		t.Error("AppendValue reordered the caller's entries")
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	pst := time.FixedZone("PST", -8*3600)
	tests := []struct {
		name string
		md   abi.Metadata
		want abi.Metadata // nil: md
	}{
		{name: "nil", md: nil, want: abi.Metadata{}},
		{name: "empty", md: abi.Metadata{}},
		{name: "string", md: abi.Metadata{"k": ms("v"), "e": ms("")}},
		{name: "ints", md: abi.Metadata{"zero": mi(0), "neg": mi(-1), "min": mi(math.MinInt64), "max": mi(math.MaxInt64)}},
		{name: "datetime utc", md: abi.Metadata{"t": mt(time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC))}},
		{name: "datetime nanoseconds", md: abi.Metadata{"t": mt(time.Date(2022, 5, 1, 0, 0, 0, 999999999, time.UTC))}},
		{name: "datetime before 1970", md: abi.Metadata{"t": mt(time.Date(1969, 7, 20, 20, 17, 40, 1, time.UTC))}},
		{name: "datetime one nanosecond before 1970", md: abi.Metadata{"t": mt(time.Unix(0, -1))}},
		{name: "datetime zero time", md: abi.Metadata{"t": mt(time.Time{})}},
		{name: "datetime zone", md: abi.Metadata{"t": mt(time.Date(2022, 5, 1, 2, 0, 0, 5, cest))},
			want: abi.Metadata{"t": mt(time.Date(2022, 5, 1, 0, 0, 0, 5, time.UTC))}},
		{name: "datetime negative zone", md: abi.Metadata{"t": mt(time.Date(2022, 4, 30, 16, 0, 0, 0, pst))},
			want: abi.Metadata{"t": mt(time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC))}},
		{name: "mixed", md: abi.Metadata{"s": ms("x"), "i": mi(-42), "d": mt(time.Unix(-86400*365, 123).UTC()), "ü": ms("✓")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.md
			}
			got := roundTrip(t, "metadata", tt.md, want).(abi.Metadata)
			if got == nil {
				t.Error("DecodeMetadata returned a nil map")
			}
			for k, v := range got {
				w := want[k]
				if v.Kind != w.Kind {
					t.Errorf("%s: kind %v, want %v", k, v.Kind, w.Kind)
				}
				if v.Kind == abi.MetaDatetime && (!v.Time.Equal(w.Time) || v.Time.Location() != time.UTC) {
					t.Errorf("%s: time %v (%v), want %v in UTC", k, v.Time, v.Time.Location(), w.Time)
				}
			}
		})
	}
}

func TestMetadataMonotonicClock(t *testing.T) {
	now := time.Now() // has a monotonic reading, which must not matter
	enc1, err := abi.AppendMetadata(nil, abi.Metadata{"t": mt(now)})
	if err != nil {
		t.Fatal(err)
	}
	enc2, _ := abi.AppendMetadata(nil, abi.Metadata{"t": mt(now.Round(0).In(time.FixedZone("X", 3600)))})
	if !bytes.Equal(enc1, enc2) {
		t.Errorf("monotonic reading or zone changed the encoding: %x %x", enc1, enc2)
	}
	md, err := abi.DecodeMetadata(enc1)
	if err != nil || !md["t"].Time.Equal(now) {
		t.Errorf("decoded %v, %v; want %v", md["t"].Time, err, now)
	}
}

func TestParamsRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    map[string]string
		want map[string]string
	}{
		{"nil", nil, map[string]string{}},
		{"empty", map[string]string{}, nil},
		{"one", map[string]string{"path": "/x"}, nil},
		{"empty value", map[string]string{"a": ""}, nil},
		{"several", map[string]string{"z": "1", "a": "2", "m": "ü", "é": "\x00"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.m
			}
			got := roundTrip(t, "params", tt.m, want).(map[string]string)
			if got == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
	enc, _ := abi.AppendParams(nil, map[string]string{"b": "2", "a": "1"})
	if want := cat(u32(2), str("a"), str("1"), str("b"), str("2")); !bytes.Equal(enc, want) {
		t.Errorf("params not sorted: %x", enc)
	}
}

func TestInfoRoundTrip(t *testing.T) {
	md := abi.Metadata{"created": mt(time.Unix(1651363200, 7).UTC()), "n": mi(-3)}
	for _, tt := range []struct {
		name string
		in   abi.Info
	}{
		{"minimal", abi.Info{Name: "a", Type: abi.TypeBytes}},
		{"empty metadata", abi.Info{Name: "a", Type: abi.TypeString, Metadata: abi.Metadata{}}},
		{"metadata", abi.Info{Name: "db/pw", Type: abi.TypeCredential, Metadata: md}},
		{"unicode", abi.Info{Name: "Zugänge ✓", Type: abi.TypeHashtable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip(t, "info", tt.in, tt.in).(abi.Info)
			if got.Metadata == nil {
				t.Error("decoded metadata is nil, want empty")
			}
		})
	}
	enc, _ := abi.AppendInfo(nil, abi.Info{Name: "a", Type: abi.TypeString})
	if want := cat(str("a"), b(2), u32(0)); !bytes.Equal(enc, want) {
		t.Errorf("info without metadata is %x, want %x", enc, want)
	}
}

func TestInfoListRoundTrip(t *testing.T) {
	list := []abi.Info{
		{Name: "z", Type: abi.TypeSecureString},
		{Name: "a", Type: abi.TypeHashtable, Metadata: abi.Metadata{"k": ms("v")}},
		{Name: "a", Type: abi.TypeBytes}, // the list is not a map: order and repeats are kept
	}
	roundTrip(t, "info_list", list, list)
	roundTrip(t, "info_list", []abi.Info(nil), []abi.Info{})
	got, err := abi.DecodeInfoList(u32(0))
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty list: %#v, %v", got, err)
	}
}

func TestSecretRoundTrip(t *testing.T) {
	md := abi.Metadata{"k": ms("v")}
	for _, tt := range []struct {
		name string
		s    secret
	}{
		{"bytes empty", secret{abi.Info{Name: "a", Type: abi.TypeBytes}, bytesV()}},
		{"string", secret{abi.Info{Name: "a", Type: abi.TypeString, Metadata: md}, strV("v")}},
		{"securestring", secret{abi.Info{Name: "a", Type: abi.TypeSecureString}, secV("v")}},
		{"credential", secret{abi.Info{Name: "a", Type: abi.TypeCredential}, credV("", "")}},
		{"hashtable", secret{abi.Info{Name: "a", Type: abi.TypeHashtable}, tableV(abi.Entry{Key: "b", Value: strV("1")}, abi.Entry{Key: "a", Value: bytesV()})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.s
			if want.Value.Type == abi.TypeHashtable {
				want.Value = tableV(abi.Entry{Key: "a", Value: bytesV()}, abi.Entry{Key: "b", Value: strV("1")})
			}
			roundTrip(t, "secret", tt.s, want)
		})
	}
}

func TestSecretTypeMismatch(t *testing.T) {
	in := abi.Info{Name: "a", Type: abi.TypeString}
	_, err := abi.AppendSecret(nil, in, bytesV('x'))
	var ee *abi.EncodeError
	if !errors.As(err, &ee) || !errors.Is(err, abi.InvalidArgument) {
		t.Errorf("AppendSecret with mismatched types: %v", err)
	}
	// Built by hand, as an encoder without the check would.
	info, _ := abi.AppendInfo(nil, in)
	val, _ := abi.AppendValue(nil, bytesV('x'))
	_, _, err = abi.DecodeSecret(append(info, val...))
	var de *abi.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, abi.InvalidArgument) || !strings.Contains(err.Error(), "differs") {
		t.Errorf("DecodeSecret with mismatched types: %v", err)
	}
}

func TestKeyListRoundTrip(t *testing.T) {
	keys := [][]byte{[]byte("b"), {0, 0xff}, {}, []byte("a")}
	roundTrip(t, "key_list", keys, keys)
	roundTrip(t, "key_list", [][]byte(nil), [][]byte{})
	roundTrip(t, "key_list", [][]byte{nil}, [][]byte{{}})
	if got := abi.AppendKeyList([]byte("p"), [][]byte{[]byte("k")}); !bytes.Equal(got, cat([]byte("p"), u32(1), str("k"))) {
		t.Errorf("AppendKeyList: %x", got)
	}
}

func TestEntryListRoundTrip(t *testing.T) {
	kvs := []abi.KV{{Key: []byte("s/b"), Value: []byte{0, 0xff}}, {Key: []byte("a"), Value: []byte{}}}
	roundTrip(t, "entry_list", kvs, kvs)
	roundTrip(t, "entry_list", []abi.KV(nil), []abi.KV{})
	if got := abi.AppendEntryList([]byte("p"), []abi.KV{{Key: []byte("k"), Value: []byte("v")}}); !bytes.Equal(got, cat([]byte("p"), u32(1), str("k"), str("v"))) {
		t.Errorf("AppendEntryList: %x", got)
	}
	if n := abi.KVSize(abi.KV{Key: []byte("k"), Value: []byte("vv")}); n != len(str("k"))+len(str("vv")) {
		t.Errorf("KVSize = %d", n)
	}
}

// TestDecodeRejects runs every invalid vector through its decoder and checks
// the status, the offset and the message.
func TestDecodeRejects(t *testing.T) {
	cases := slices.DeleteFunc(vectorCases(), func(c vectorCase) bool { return c.err == "" })
	// Too big to be files in abi/vectors.
	big := make([]byte, abi.MaxValueBytes+1)
	big[0] = byte(abi.TypeBytes)
	info := rec("a", byte(abi.TypeBytes), noMeta)
	cases = append(cases,
		vectorCase{name: "value-invalid-over-1-mib", bytes: big, status: abi.TooLarge, off: abi.MaxValueBytes},
		vectorCase{name: "secret-invalid-over-1-mib", bytes: cat(info, big), status: abi.TooLarge, off: len(info)},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, _, _ := strings.Cut(c.name, "-")
			_, err := decodeKind(kind, c.bytes)
			if err == nil {
				t.Fatal("decoded")
			}
			want := c.status
			if want == abi.OK {
				want = abi.InvalidArgument
			}
			if !errors.Is(err, want) {
				t.Errorf("error %q does not wrap %v", err, want)
			}
			other := abi.TooLarge
			if want == abi.TooLarge {
				other = abi.InvalidArgument
			}
			if errors.Is(err, other) {
				t.Errorf("error %q wraps %v too", err, other)
			}
			var de *abi.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if de.What != whatOf[kind] {
				t.Errorf("What = %q, want %q", de.What, whatOf[kind])
			}
			if de.Offset != c.off {
				t.Errorf("Offset = %d, want %d (%s)", de.Offset, c.off, err)
			}
			if de.Offset < 0 || de.Offset > len(c.bytes) {
				t.Errorf("Offset %d outside the input of %d bytes", de.Offset, len(c.bytes))
			}
			if !strings.Contains(err.Error(), " at byte "+strconv.Itoa(c.off)+": ") || !strings.HasPrefix(err.Error(), "abi: bad "+de.What) {
				t.Errorf("message %q does not name the encoding and the offset", err)
			}
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := abi.DecodeValue(b(2, 'a', 0xff))
	if got, want := err.Error(), "abi: bad value at byte 1: invalid UTF-8"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	_, err = abi.DecodeMetadata(cat(u32(65), nStrEntries(65)))
	if got, want := err.Error(), "abi: bad metadata at byte 0: count 65 exceeds 64"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

// encoding is a valid vector's encoding. restAt is where the part that runs
// to the end of the buffer starts (bytes, string and credential payloads), or -1.
type encoding struct {
	name, kind string
	enc        []byte
	restAt     int
}

// encodingsOf returns the encodings of the valid vectors.
func encodingsOf(t *testing.T) []encoding {
	t.Helper()
	var out []encoding
	valueRest := func(v abi.Value) int {
		switch v.Type {
		case abi.TypeBytes, abi.TypeString, abi.TypeSecureString:
			return 1
		case abi.TypeCredential:
			return 1 + 4 + len(v.UserName)
		}
		return -1
	}
	for _, c := range vectorCases() {
		if c.err != "" {
			continue
		}
		kind, _, _ := strings.Cut(c.name, "-")
		enc, err := encodeKind(kind, c.value)
		if err != nil {
			t.Fatal(err)
		}
		restAt := -1
		switch kind {
		case "value":
			restAt = valueRest(c.value.(abi.Value))
		case "secret":
			s := c.value.(secret)
			if r := valueRest(s.Value); r >= 0 {
				info, _ := abi.AppendInfo(nil, s.Info)
				restAt = len(info) + r
			}
		case "http_request", "http_response":
			restAt = len(enc) - bodyLen(c.value) // the body runs to the end
		}
		out = append(out, encoding{c.name, kind, enc, restAt})
	}
	return out
}

// TestDecodeTruncated decodes every proper prefix of every valid vector. All
// must fail, except those that only cut a payload running to the end of the
// buffer: they decode, to a value that re-encodes to the prefix.
func TestDecodeTruncated(t *testing.T) {
	for _, e := range encodingsOf(t) {
		for n := range len(e.enc) {
			prefix := e.enc[:n:n]
			got, err := decodeKind(e.kind, prefix)
			if e.restAt >= 0 && n >= e.restAt {
				if err != nil {
					// Only a cut through a UTF-8 sequence may fail.
					if !strings.Contains(err.Error(), "UTF-8") {
						t.Errorf("%s: prefix of %d bytes: %v", e.name, n, err)
					}
					continue
				}
				if re, err := encodeKind(e.kind, got); err != nil || !bytes.Equal(re, prefix) {
					t.Errorf("%s: prefix of %d bytes re-encodes to %x, %v", e.name, n, re, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s: prefix of %d bytes decoded", e.name, n)
				continue
			}
			var de *abi.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, abi.InvalidArgument) || de.Offset > n {
				t.Errorf("%s: prefix of %d bytes: %v", e.name, n, err)
			}
		}
		if _, err := decodeKind(e.kind, e.enc); err != nil {
			t.Errorf("%s: %v", e.name, err)
		}
	}
}

// bodyLen is the length of the body of an HTTP request or response.
func bodyLen(v any) int {
	if r, ok := v.(abi.HTTPRequest); ok {
		return len(r.Body)
	}
	return len(v.(abi.HTTPResponse).Body)
}

// TestDecodeTrailing appends a byte to every valid vector: all must fail,
// except those whose last part runs to the end of the buffer.
func TestDecodeTrailing(t *testing.T) {
	for _, e := range encodingsOf(t) {
		_, err := decodeKind(e.kind, append(slices.Clone(e.enc), 0))
		if e.restAt >= 0 {
			if err != nil {
				t.Errorf("%s: a trailing NUL in a payload was rejected: %v", e.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "1 trailing bytes") || !errors.Is(err, abi.InvalidArgument) {
			t.Errorf("%s + 00: %v", e.name, err)
		}
	}
}

// TestDecodeHugeCounts checks that a count of 0xFFFFFFFF fails at once,
// without allocating for the entries it claims.
func TestDecodeHugeCounts(t *testing.T) {
	huge := u32(math.MaxUint32)
	tail := bytes.Repeat([]byte{1}, 64)
	inputs := map[string][]byte{
		"value":      cat(b(5), huge, tail),
		"metadata":   cat(huge, tail),
		"params":     cat(huge, tail),
		"info":       cat(str("a"), b(2), huge, tail),
		"info_list":  cat(huge, tail),
		"secret":     cat(str("a"), b(5), u32(0), b(5), huge, tail),
		"key_list":   cat(huge, tail),
		"entry_list": cat(huge, tail),
	}
	for kind, in := range inputs {
		t.Run(kind, func(t *testing.T) {
			if _, err := decodeKind(kind, in); err == nil {
				t.Fatal("decoded")
			}
			allocs := testing.AllocsPerRun(20, func() { decodeKind(kind, in) })
			if allocs > 10 {
				t.Errorf("%v allocations per decode", allocs)
			}
			if n := allocBytes(func() { decodeKind(kind, in) }); n > 64<<10 {
				t.Errorf("decode allocated %d bytes", n)
			}
		})
	}
}

// allocBytes returns the bytes f allocates (approximately: other goroutines count too).
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeDoesNotAlias overwrites the input after decoding: the decoded
// data must not change.
func TestDecodeDoesNotAlias(t *testing.T) {
	for _, e := range encodingsOf(t) {
		in := slices.Clone(e.enc)
		got, err := decodeKind(e.kind, in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			in[i] = 'X'
		}
		if re, err := encodeKind(e.kind, got); err != nil || !bytes.Equal(re, e.enc) {
			t.Errorf("%s: decoded data changed with the input", e.name)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("x", abi.MaxMetaStringLen+1)
	var many []abi.Entry
	for i := range abi.MaxHashtableKeys + 1 {
		many = append(many, abi.Entry{Key: "k" + strconv.Itoa(i), Value: strV("v")})
	}
	meta65 := abi.Metadata{}
	for i := range abi.MaxMetadataKeys + 1 {
		meta65["k"+strconv.Itoa(i)] = mi(1)
	}
	fill := strings.Repeat("x", 4086)
	tests := []struct {
		name   string
		encode func() ([]byte, error)
		what   string
		status abi.Status
	}{
		{"value type 0", val(abi.Value{}), "value", abi.InvalidArgument},
		{"value type 6", val(abi.Value{Type: 6, Data: []byte("x")}), "value", abi.InvalidArgument},
		{"string not UTF-8", val(strV("a\xff")), "value", abi.InvalidArgument},
		{"securestring not UTF-8", val(secV("\xc3")), "value", abi.InvalidArgument},
		{"credential user not UTF-8", val(credV("\xff", "p")), "value", abi.InvalidArgument},
		{"credential password not UTF-8", val(credV("u", "\xff")), "value", abi.InvalidArgument},
		{"bytes over 1 MiB", val(abi.Value{Type: abi.TypeBytes, Data: make([]byte, abi.MaxValueBytes)}), "value", abi.TooLarge},
		{"hashtable over 1 MiB", val(tableV(abi.Entry{Key: "a", Value: bytesV(make([]byte, abi.MaxValueBytes/2)...)}, abi.Entry{Key: "b", Value: bytesV(make([]byte, abi.MaxValueBytes/2)...)})), "value", abi.TooLarge},
		{"hashtable 65 entries", val(tableV(many...)), "value", abi.TooLarge},
		{"hashtable empty key", val(tableV(abi.Entry{Key: "", Value: strV("v")})), "value", abi.InvalidArgument},
		{"hashtable key not UTF-8", val(tableV(abi.Entry{Key: "\xff", Value: strV("v")})), "value", abi.InvalidArgument},
		{"hashtable duplicate key", val(tableV(abi.Entry{Key: "a", Value: strV("1")}, abi.Entry{Key: "b", Value: strV("2")}, abi.Entry{Key: "a", Value: strV("3")})), "value", abi.InvalidArgument},
		{"hashtable nested", val(tableV(abi.Entry{Key: "t", Value: tableV()})), "value", abi.InvalidArgument},
		{"hashtable entry type 0", val(tableV(abi.Entry{Key: "t", Value: abi.Value{}})), "value", abi.InvalidArgument},
		{"hashtable entry not UTF-8", val(tableV(abi.Entry{Key: "t", Value: strV("\xff")})), "value", abi.InvalidArgument},
		{"metadata 65 keys", meta(meta65), "metadata", abi.TooLarge},
		{"metadata empty key", meta(abi.Metadata{"": ms("v")}), "metadata", abi.InvalidArgument},
		{"metadata key not UTF-8", meta(abi.Metadata{"\xff": ms("v")}), "metadata", abi.InvalidArgument},
		{"metadata key 257 bytes", meta(abi.Metadata{strings.Repeat("k", 257): ms("v")}), "metadata", abi.TooLarge},
		{"metadata string not UTF-8", meta(abi.Metadata{"k": ms("\xff")}), "metadata", abi.InvalidArgument},
		{"metadata string 4097 bytes", meta(abi.Metadata{"k": ms(long)}), "metadata", abi.TooLarge},
		{"metadata kind 0", meta(abi.Metadata{"k": {}}), "metadata", abi.InvalidArgument},
		{"metadata kind 5", meta(abi.Metadata{"k": {Kind: 5}}), "metadata", abi.InvalidArgument},
		{"metadata offset of seconds", meta(abi.Metadata{"k": {Kind: abi.MetaDatetimeOffset, Time: time.Unix(0, 0).In(time.FixedZone("LMT", 561))}}), "metadata", abi.InvalidArgument},
		{"metadata offset of a day", meta(abi.Metadata{"k": {Kind: abi.MetaDatetimeOffset, Time: time.Unix(0, 0).In(time.FixedZone("", 86400))}}), "metadata", abi.InvalidArgument},
		{"metadata over 16 KiB", meta(abi.Metadata{"a": ms(fill), "b": ms(fill), "c": ms(fill), "d": ms(fill)}), "metadata", abi.TooLarge},
		{"params empty key", params(map[string]string{"": "v"}), "params", abi.InvalidArgument},
		{"params key not UTF-8", params(map[string]string{"\xff": "v"}), "params", abi.InvalidArgument},
		{"params value not UTF-8", params(map[string]string{"k": "\xff"}), "params", abi.InvalidArgument},
		{"info name not UTF-8", info(abi.Info{Name: "\xff", Type: abi.TypeString}), "info", abi.InvalidArgument},
		{"info type 0", info(abi.Info{Name: "a"}), "info", abi.InvalidArgument},
		{"info type 6", info(abi.Info{Name: "a", Type: 6}), "info", abi.InvalidArgument},
		{"info bad metadata", info(abi.Info{Name: "a", Type: abi.TypeString, Metadata: abi.Metadata{"k": ms(long)}}), "metadata", abi.TooLarge},
		{"info list bad record", func() ([]byte, error) {
			return abi.AppendInfoList(nil, []abi.Info{{Name: "a", Type: abi.TypeString}, {Name: "b"}})
		}, "info", abi.InvalidArgument},
		{"secret type mismatch", sec(abi.Info{Name: "a", Type: abi.TypeString}, secV("x")), "secret", abi.InvalidArgument},
		{"secret bad info", sec(abi.Info{Name: "\xff", Type: abi.TypeString}, strV("x")), "info", abi.InvalidArgument},
		{"secret bad value", sec(abi.Info{Name: "a", Type: abi.TypeString}, strV("\xff")), "value", abi.InvalidArgument},
		{"secret value over 1 MiB", sec(abi.Info{Name: "a", Type: abi.TypeBytes}, bytesV(make([]byte, abi.MaxValueBytes)...)), "value", abi.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.encode()
			if err == nil {
				t.Fatalf("encoded %d bytes", len(out))
			}
			if out != nil {
				t.Errorf("returned %d bytes with the error", len(out))
			}
			var ee *abi.EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not an *EncodeError", err)
			}
			if !errors.Is(err, tt.status) || ee.Err != tt.status {
				t.Errorf("error %q wraps %v, want %v", err, ee.Err, tt.status)
			}
			if ee.What != tt.what {
				t.Errorf("What = %q, want %q", ee.What, tt.what)
			}
			if !strings.HasPrefix(err.Error(), "abi: cannot encode "+tt.what+": ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func val(v abi.Value) func() ([]byte, error) {
	return func() ([]byte, error) { return abi.AppendValue(nil, v) }
}
func meta(md abi.Metadata) func() ([]byte, error) {
	return func() ([]byte, error) { return abi.AppendMetadata(nil, md) }
}
func params(m map[string]string) func() ([]byte, error) {
	return func() ([]byte, error) { return abi.AppendParams(nil, m) }
}
func info(in abi.Info) func() ([]byte, error) {
	return func() ([]byte, error) { return abi.AppendInfo(nil, in) }
}
func sec(in abi.Info, v abi.Value) func() ([]byte, error) {
	return func() ([]byte, error) { return abi.AppendSecret(nil, in, v) }
}

// TestLimits checks that data at each limit encodes and decodes, and that the
// size limits count only the encoding itself, not what the buffer held before.
func TestLimits(t *testing.T) {
	full := make([]byte, abi.MaxValueBytes-1)
	v := bytesV(full...)
	enc, err := abi.AppendValue(make([]byte, 100), v)
	if err != nil || len(enc) != 100+abi.MaxValueBytes {
		t.Fatalf("value of exactly 1 MiB: %d bytes, %v", len(enc), err)
	}
	if _, err := abi.DecodeValue(enc[100:]); err != nil {
		t.Errorf("decode value of exactly 1 MiB: %v", err)
	}
	in := abi.Info{Name: "a", Type: abi.TypeBytes}
	s, err := abi.AppendSecret(nil, in, v)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := abi.DecodeSecret(s); err != nil {
		t.Errorf("decode secret with a value of exactly 1 MiB: %v", err)
	}

	md := abi.Metadata{}
	for i := range abi.MaxMetadataKeys - 1 {
		md[strconv.Itoa(100+i)] = mi(int64(i))
	}
	md[strings.Repeat("k", abi.MaxMetaKeyBytes)] = ms(strings.Repeat("s", abi.MaxMetaStringLen))
	enc, err = abi.AppendMetadata(make([]byte, abi.MaxMetadataBytes), md)
	if err != nil {
		t.Fatalf("metadata at the limits after a 16 KiB prefix: %v", err)
	}
	if n := len(enc) - abi.MaxMetadataBytes; n > abi.MaxMetadataBytes {
		t.Fatalf("test data too big: %d bytes", n)
	}
	if got, err := abi.DecodeMetadata(enc[abi.MaxMetadataBytes:]); err != nil || len(got) != abi.MaxMetadataKeys {
		t.Errorf("decode metadata at the limits: %d keys, %v", len(got), err)
	}
}

// TestErrorsHideValues feeds encoders and decoders broken data around a
// distinctive secret: no error message may quote it.
func TestErrorsHideValues(t *testing.T) {
	const secretText = "S3CR3T-d1st1nct1ve-v4lu3"
	s := secretText
	decodes := map[string][]byte{
		"string bad UTF-8":         cat(b(2), []byte(s), b(0xff)),
		"securestring bad UTF-8":   cat(b(3), []byte(s), b(0xc3)),
		"credential bad password":  cat(b(4), str("user"), []byte(s), b(0xff)),
		"credential bad user":      cat(b(4), str(s+"\xff"), []byte(s)),
		"credential user too long": cat(b(4), u32(1000), []byte(s)),
		"hashtable bad entry":      cat(b(5), u32(1), hent("k", cat(b(2), []byte(s), b(0xff)))),
		"hashtable bad entry cred": cat(b(5), u32(1), hent("k", cat(b(4), str(s), []byte(s), b(0xff)))),
		"hashtable trailing":       cat(b(5), u32(1), hent("k", cat(b(2), []byte(s))), []byte(s)),
		"hashtable nested":         cat(b(5), u32(1), hent("k", cat(b(5), []byte(s)))),
		"secret type mismatch":     cat(rec("n", 2, noMeta), b(1), []byte(s)),
		"secret bad value":         cat(rec("n", 2, noMeta), b(2), []byte(s), b(0xff)),
		"metadata bad string":      cat(u32(1), mstr("k", s+"\xff")),
		"metadata trailing":        cat(u32(1), mstr("k", s), []byte(s)),
		"params bad value":         cat(u32(1), str("k"), str(s+"\xff")),
		"params trailing":          cat(u32(1), str("k"), str(s), []byte(s)),
		"key list trailing":        cat(u32(1), str(s), []byte(s)),
	}
	for name, in := range decodes {
		for _, kind := range kinds {
			_, err := decodeKind(kind, in)
			if err != nil && strings.Contains(err.Error(), secretText) {
				t.Errorf("%s as %s: message quotes the secret: %v", name, kind, err)
			}
		}
	}
	encodes := map[string]func() ([]byte, error){
		"string":         val(strV(s + "\xff")),
		"securestring":   val(secV(s + "\xff")),
		"credential":     val(credV(s+"\xff", s+"\xff")),
		"hashtable":      val(tableV(abi.Entry{Key: "k", Value: credV("u", s+"\xff")})),
		"hashtable type": val(tableV(abi.Entry{Key: "k", Value: abi.Value{Type: abi.TypeHashtable, Data: []byte(s)}})),
		"too big":        val(bytesV(append([]byte(s), make([]byte, abi.MaxValueBytes)...)...)),
		"secret":         sec(abi.Info{Name: "n", Type: abi.TypeBytes}, strV(s)),
		"metadata":       meta(abi.Metadata{"k": ms(s + "\xff")}),
		"metadata long":  meta(abi.Metadata{"k": ms(strings.Repeat(s, 200))}),
		"params":         params(map[string]string{"k": s + "\xff"}),
	}
	for name, f := range encodes {
		_, err := f()
		if err == nil {
			t.Errorf("%s: encoded", name)
		} else if strings.Contains(err.Error(), secretText) {
			t.Errorf("%s: message quotes the secret: %v", name, err)
		}
	}
}
