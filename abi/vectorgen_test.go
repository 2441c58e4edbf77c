package abi_test

import (
	"encoding/binary"
	"math"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// vectorCase is one vector of abi/vectors. A valid vector has a value (in the
// Go form of decodeKind), which the Go encoder turns into the hex; an invalid
// one has hand-written bytes and a short reason. status and off are what
// DecodeX must report for an invalid one (checked by TestDecodeRejects).
type vectorCase struct {
	name  string // <kind>-<case>; the file is <name>.json
	desc  string
	value any

	bytes  []byte
	err    string
	status abi.Status // InvalidArgument when zero
	off    int        // DecodeError.Offset
}

// Hand-written encodings are built from these, following SPEC.md §7.

func b(x ...byte) []byte { return x }

func u32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

func i64(n int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(n)) }

// str is the SPEC's str: u32 length, then the bytes.
func str(s string) []byte { return append(u32(uint32(len(s))), s...) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Metadata entries, hashtable entries and info records.
func mstr(k, v string) []byte       { return cat(str(k), b(1), str(v)) }
func mint(k string, n int64) []byte { return cat(str(k), b(2), i64(n)) }
func mtime(k string, sec int64, nsec uint32) []byte {
	return cat(str(k), b(3), i64(sec), u32(nsec))
}
func mtimeOff(k string, sec int64, nsec uint32, minutes int16) []byte {
	return cat(str(k), b(4), i64(sec), u32(nsec), binary.LittleEndian.AppendUint16(nil, uint16(minutes)))
}
func hent(k string, v []byte) []byte { return cat(str(k), u32(uint32(len(v))), v) }
func rec(name string, t byte, md []byte) []byte {
	return cat(str(name), b(t), md)
}

var noMeta = u32(0)

// Go forms of valid values.
func bytesV(d ...byte) abi.Value { return abi.Value{Type: abi.TypeBytes, Data: d} }
func strV(s string) abi.Value    { return abi.Value{Type: abi.TypeString, Data: []byte(s)} }
func secV(s string) abi.Value    { return abi.Value{Type: abi.TypeSecureString, Data: []byte(s)} }
func credV(u, p string) abi.Value {
	return abi.Value{Type: abi.TypeCredential, UserName: u, Data: []byte(p)}
}
func tableV(e ...abi.Entry) abi.Value { return abi.Value{Type: abi.TypeHashtable, Entries: e} }
func ms(s string) abi.MetaValue       { return abi.MetaValue{Kind: abi.MetaString, Str: s} }
func mi(n int64) abi.MetaValue        { return abi.MetaValue{Kind: abi.MetaInt, Int: n} }
func mt(t time.Time) abi.MetaValue    { return abi.MetaValue{Kind: abi.MetaDatetime, Time: t} }
func mto(t time.Time) abi.MetaValue   { return abi.MetaValue{Kind: abi.MetaDatetimeOffset, Time: t} }

// nParams returns n params-map entries h00, h01, … with value "v" (sorted).
func nParams(n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, cat(str("h"+string(rune('0'+i/10))+string(rune('0'+i%10))), str("v"))...)
	}
	return out
}

// nStrEntries returns n metadata string entries k00, k01, … encoded (sorted).
func nStrEntries(n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, mstr("k"+string(rune('0'+i/10))+string(rune('0'+i%10)), "v")...)
	}
	return out
}

// nHashEntries returns n hashtable entries k00, k01, … encoded (sorted).
func nHashEntries(n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, hent("k"+string(rune('0'+i/10))+string(rune('0'+i%10)), b(2, 'v'))...)
	}
	return out
}

func vectorCases() []vectorCase {
	var (
		may1    = time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)
		nanos   = time.Date(2022, 5, 1, 12, 34, 56, 123456789, time.UTC)
		cest    = time.Date(2022, 5, 1, 14, 34, 56, 0, time.FixedZone("CEST", 2*3600))
		before  = time.Unix(-1, 500000000)                 // 1969-12-31T23:59:59.5Z
		ancient = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC) // Go's zero time
		y9999   = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		key256  = strings.Repeat("k", abi.MaxMetaKeyBytes)
		str4096 = strings.Repeat("s", abi.MaxMetaStringLen)
		// Four string entries with keys a..d and values of 4085 bytes make
		// 4 + 4*(4+1+1+4+4085) = 16384 bytes, the metadata limit exactly.
		fill     = strings.Repeat("x", 4085)
		metadata = abi.Metadata{
			"created": mt(may1),
			"owner":   ms("alice"),
			"version": mi(3),
		}
	)
	meta64 := abi.Metadata{}
	for i := range 64 {
		meta64["k"+string(rune('0'+i/10))+string(rune('0'+i%10))] = ms("v")
	}
	table64 := tableV()
	for i := 63; i >= 0; i-- {
		table64.Entries = append(table64.Entries, abi.Entry{Key: "k" + string(rune('0'+i/10)) + string(rune('0'+i%10)), Value: strV("v")})
	}

	return []vectorCase{
		// ---- value, valid
		{name: "value-bytes-empty", desc: "bytes, no payload: just the type byte", value: bytesV()},
		{name: "value-bytes-binary", desc: "bytes with every kind of byte, including NUL and invalid UTF-8", value: bytesV(0x00, 0x01, 0x7f, 0x80, 0xc3, 0xfe, 0xff, 0x00)},
		{name: "value-string-empty", desc: "empty string", value: strV("")},
		{name: "value-string-ascii", desc: "ASCII string", value: strV("hunter2")},
		{name: "value-string-multibyte", desc: "string with 2-, 3- and 4-byte UTF-8 sequences", value: strV("pässwörd ✓ 🔑")},
		{name: "value-string-nul", desc: "a string may contain NUL", value: strV("a\x00b")},
		{name: "value-securestring", desc: "securestring: same payload as string, different type byte", value: secV("correct horse battery staple")},
		{name: "value-securestring-empty", desc: "empty securestring", value: secV("")},
		{name: "value-credential", desc: "credential: str user name, then the password to the end", value: credV("alice", "s3cret")},
		{name: "value-credential-empty", desc: "credential with empty user name and empty password", value: credV("", "")},
		{name: "value-credential-empty-password", desc: "credential with an empty password: the encoding ends after the user name", value: credV("bob@example.com", "")},
		{name: "value-credential-unicode", desc: "credential with non-ASCII user name and password", value: credV("jürgen", "pä ß 🔑")},
		{name: "value-hashtable-empty", desc: "hashtable with no entries", value: tableV()},
		{name: "value-hashtable-mixed", desc: "hashtable with one entry of each allowed type, sorted by key", value: tableV(
			abi.Entry{Key: "pin", Value: secV("1234")},
			abi.Entry{Key: "apikey", Value: strV("k-123")},
			abi.Entry{Key: "login", Value: credV("alice", "pw")},
			abi.Entry{Key: "cert", Value: bytesV(0x30, 0x82, 0x00)},
			abi.Entry{Key: "empty", Value: bytesV()},
		)},
		{name: "value-hashtable-byte-order", desc: "hashtable keys sort by bytes, not by locale: Z < a < é", value: tableV(
			abi.Entry{Key: "é", Value: strV("3")},
			abi.Entry{Key: "a", Value: strV("2")},
			abi.Entry{Key: "Z", Value: strV("1")},
		)},
		{name: "value-hashtable-64-entries", desc: "hashtable with 64 entries, the limit", value: table64},

		// ---- value, invalid
		{name: "value-invalid-empty", desc: "no type byte", bytes: b(), err: "unexpected end", off: 0},
		{name: "value-invalid-type-0", desc: "type byte 0", bytes: b(0), err: "unknown type", off: 0},
		{name: "value-invalid-type-6", desc: "type byte 6", bytes: b(6, 'x'), err: "unknown type", off: 0},
		{name: "value-invalid-type-255", desc: "type byte 255", bytes: b(255), err: "unknown type", off: 0},
		{name: "value-invalid-string-utf8", desc: "string with a byte that is never UTF-8", bytes: b(2, 'a', 0xff), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-string-truncated-rune", desc: "string ending inside a 2-byte sequence", bytes: b(2, 'a', 0xc3), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-string-surrogate", desc: "string with an encoded UTF-16 surrogate", bytes: b(2, 0xed, 0xa0, 0x80), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-string-overlong", desc: "string with an overlong encoding of '/'", bytes: b(2, 0xc0, 0xaf), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-securestring-utf8", desc: "securestring with a lone continuation byte", bytes: b(3, 0x80), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-credential-truncated", desc: "credential without the user name length", bytes: b(4, 0, 0), err: "unexpected end", off: 1},
		{name: "value-invalid-credential-username-past-end", desc: "credential whose user name length runs past the end", bytes: cat(b(4), u32(5), []byte("ab")), err: "length past the end", off: 5},
		{name: "value-invalid-credential-username-utf8", desc: "credential whose user name is not UTF-8", bytes: cat(b(4), u32(1), b(0xff), []byte("pw")), err: "invalid UTF-8", off: 1},
		{name: "value-invalid-credential-password-utf8", desc: "credential whose password is not UTF-8", bytes: cat(b(4), str("u"), b('p', 0xff)), err: "invalid UTF-8", off: 6},
		{name: "value-invalid-hashtable-truncated-count", desc: "hashtable with 2 of the 4 count bytes", bytes: b(5, 0, 0), err: "unexpected end", off: 1},
		{name: "value-invalid-hashtable-count-past-end", desc: "hashtable count 2 with one entry", bytes: cat(b(5), u32(2), hent("a", b(2, 'x'))), err: "count past the end", off: 1},
		{name: "value-invalid-hashtable-count-max", desc: "hashtable count 0xFFFFFFFF", bytes: cat(b(5), u32(math.MaxUint32), hent("a", b(2, 'x'))), err: "too many entries", status: abi.TooLarge, off: 1},
		{name: "value-invalid-hashtable-65-entries", desc: "hashtable with 65 entries, one more than the limit", bytes: cat(b(5), u32(65), nHashEntries(65)), err: "too many entries", status: abi.TooLarge, off: 1},
		{name: "value-invalid-hashtable-empty-key", desc: "hashtable entry with an empty key", bytes: cat(b(5), u32(1), hent("", b(2, 'x'))), err: "empty key", off: 5},
		{name: "value-invalid-hashtable-unsorted", desc: "hashtable keys b, a", bytes: cat(b(5), u32(2), hent("b", b(2, 'x')), hent("a", b(2, 'x'))), err: "keys not in ascending order", off: 16},
		{name: "value-invalid-hashtable-duplicate", desc: "hashtable key a twice", bytes: cat(b(5), u32(2), hent("a", b(2, 'x')), hent("a", b(2, 'y'))), err: "keys not in ascending order", off: 16},
		{name: "value-invalid-hashtable-key-utf8", desc: "hashtable key that is not UTF-8", bytes: cat(b(5), u32(1), hent("\xff", b(2, 'x'))), err: "invalid UTF-8", off: 5},
		{name: "value-invalid-hashtable-key-past-end", desc: "hashtable key length past the end", bytes: cat(b(5), u32(1), u32(100), []byte("abcdef")), err: "length past the end", off: 9},
		{name: "value-invalid-hashtable-nested", desc: "a hashtable inside a hashtable", bytes: cat(b(5), u32(1), hent("t", cat(b(5), u32(0)))), err: "nested hashtable", off: 14},
		{name: "value-invalid-hashtable-entry-empty", desc: "hashtable entry whose value has length 0 (no type byte)", bytes: cat(b(5), u32(1), hent("a", b())), err: "unexpected end", off: 14},
		{name: "value-invalid-hashtable-entry-past-end", desc: "hashtable entry whose value length runs past the end", bytes: cat(b(5), u32(1), str("a"), u32(10), b(2, 'x')), err: "length past the end", off: 14},
		{name: "value-invalid-hashtable-entry-type", desc: "hashtable entry with unknown type byte 9", bytes: cat(b(5), u32(1), hent("a", b(9, 'x'))), err: "unknown type", off: 14},
		{name: "value-invalid-hashtable-entry-utf8", desc: "hashtable entry: string that is not UTF-8", bytes: cat(b(5), u32(1), hent("a", b(2, 0xff))), err: "invalid UTF-8", off: 15},
		{name: "value-invalid-hashtable-entry-credential", desc: "hashtable entry: credential whose user name runs past its value length", bytes: cat(b(5), u32(1), hent("a", cat(b(4), u32(9), []byte("u")))), err: "length past the end", off: 19},
		{name: "value-invalid-hashtable-trailing", desc: "hashtable followed by a byte", bytes: cat(b(5), u32(1), hent("a", b(2, 'x')), b(0)), err: "trailing bytes", off: 16},

		// ---- metadata, valid
		{name: "metadata-empty", desc: "no entries: four zero bytes", value: abi.Metadata{}},
		{name: "metadata-string", desc: "one string entry", value: abi.Metadata{"owner": ms("alice")}},
		{name: "metadata-string-empty", desc: "a string entry with an empty value", value: abi.Metadata{"note": ms("")}},
		{name: "metadata-int", desc: "one int entry", value: abi.Metadata{"count": mi(5)}},
		{name: "metadata-int-negative", desc: "a negative int is two's complement", value: abi.Metadata{"delta": mi(-1)}},
		{name: "metadata-int-extremes", desc: "the smallest and largest int64", value: abi.Metadata{"max": mi(math.MaxInt64), "min": mi(math.MinInt64)}},
		{name: "metadata-datetime", desc: "a datetime without fraction", value: abi.Metadata{"created": mt(may1)}},
		{name: "metadata-datetime-nanoseconds", desc: "a datetime with nanoseconds", value: abi.Metadata{"created": mt(nanos)}},
		{name: "metadata-datetime-utc", desc: "a datetime given in +02:00 is stored and decoded as UTC", value: abi.Metadata{"created": mt(cest)}},
		{name: "metadata-datetime-offset", desc: "kind 4: a datetime with its UTC offset, +02:00 (120 minutes)", value: abi.Metadata{"created": mto(cest)}},
		{name: "metadata-datetime-offset-negative", desc: "kind 4: offset -05:30 is -330 minutes, two's complement", value: abi.Metadata{"t": mto(time.Date(2024, 2, 3, 4, 5, 6, 7, time.FixedZone("", -(5*3600+1800))))}},
		{name: "metadata-datetime-offset-extremes", desc: "kind 4: offsets of 23:59 either way, the most RFC 3339 can write", value: abi.Metadata{"east": mto(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 1439*60))), "west": mto(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", -1439*60)))}},
		{name: "metadata-datetime-offset-zero", desc: "kind 4 with offset 0 stays kind 4, and decodes in UTC", value: abi.Metadata{"t": mto(may1)}},
		{name: "metadata-datetime-epoch", desc: "1970-01-01T00:00:00Z is zero seconds", value: abi.Metadata{"t": mt(time.Unix(0, 0))}},
		{name: "metadata-datetime-before-1970", desc: "half a second before the epoch: seconds -1, nanoseconds 5e8", value: abi.Metadata{"t": mt(before)}},
		{name: "metadata-datetime-year-1", desc: "0001-01-01T00:00:00Z", value: abi.Metadata{"t": mt(ancient)}},
		{name: "metadata-datetime-year-9999", desc: "the last nanosecond of 9999", value: abi.Metadata{"t": mt(y9999)}},
		{name: "metadata-mixed", desc: "entries of all three kinds, keys sorted by bytes", value: abi.Metadata{
			"version": mi(42), "created": mt(nanos), "Owner": ms("alice"), "ünïcode": ms("✓"), "expires": mt(before),
		}},
		{name: "metadata-key-256-bytes", desc: "a key of 256 bytes, the limit", value: abi.Metadata{key256: ms("v")}},
		{name: "metadata-string-4096-bytes", desc: "a string value of 4096 bytes, the limit", value: abi.Metadata{"k": ms(str4096)}},
		{name: "metadata-64-keys", desc: "64 entries, the limit", value: meta64},
		{name: "metadata-16384-bytes", desc: "an encoding of exactly 16384 bytes, the limit", value: abi.Metadata{"a": ms(fill), "b": ms(fill), "c": ms(fill), "d": ms(fill)}},

		// ---- metadata, invalid
		{name: "metadata-invalid-empty", desc: "no count", bytes: b(), err: "unexpected end", off: 0},
		{name: "metadata-invalid-truncated-count", desc: "two of the four count bytes", bytes: b(1, 0), err: "unexpected end", off: 0},
		{name: "metadata-invalid-count-past-end", desc: "count 1 and nothing else", bytes: u32(1), err: "count past the end", off: 0},
		{name: "metadata-invalid-count-max", desc: "count 0xFFFFFFFF", bytes: cat(u32(math.MaxUint32), mint("a", 1)), err: "too many entries", status: abi.TooLarge, off: 0},
		{name: "metadata-invalid-65-keys", desc: "65 entries, one more than the limit", bytes: cat(u32(65), nStrEntries(65)), err: "too many entries", status: abi.TooLarge, off: 0},
		{name: "metadata-invalid-trailing", desc: "one entry followed by a byte", bytes: cat(u32(1), mint("a", 1), b(0)), err: "trailing bytes", off: 18},
		{name: "metadata-invalid-empty-key", desc: "an empty key", bytes: cat(u32(1), mint("", 1)), err: "empty key", off: 4},
		{name: "metadata-invalid-unsorted", desc: "keys b, a", bytes: cat(u32(2), mint("b", 1), mint("a", 2)), err: "keys not in ascending order", off: 18},
		{name: "metadata-invalid-duplicate", desc: "key a twice", bytes: cat(u32(2), mint("a", 1), mint("a", 2)), err: "keys not in ascending order", off: 18},
		{name: "metadata-invalid-key-utf8", desc: "a key that is not UTF-8", bytes: cat(u32(1), mint("a\xff", 1)), err: "invalid UTF-8", off: 4},
		{name: "metadata-invalid-key-257-bytes", desc: "a key of 257 bytes, one more than the limit", bytes: cat(u32(1), mint(key256+"k", 1)), err: "key too long", status: abi.TooLarge, off: 4},
		{name: "metadata-invalid-kind-0", desc: "kind byte 0", bytes: cat(u32(1), str("a"), b(0), i64(0)), err: "unknown kind", off: 9},
		{name: "metadata-invalid-kind-5", desc: "kind byte 5 (4, a datetime with its offset, is valid since sesame 0.3)", bytes: cat(u32(1), str("a"), b(5), i64(0)), err: "unknown kind", off: 9},
		{name: "metadata-invalid-string-utf8", desc: "a string value that is not UTF-8", bytes: cat(u32(1), mstr("a", "\xc3\x28")), err: "invalid UTF-8", off: 10},
		{name: "metadata-invalid-string-4097-bytes", desc: "a string value of 4097 bytes, one more than the limit", bytes: cat(u32(1), mstr("a", str4096+"s")), err: "string too long", status: abi.TooLarge, off: 10},
		{name: "metadata-invalid-string-past-end", desc: "a string value whose length runs past the end", bytes: cat(u32(1), str("a"), b(1), u32(8), []byte("abc")), err: "length past the end", off: 14},
		{name: "metadata-invalid-int-truncated", desc: "an int with 7 of its 8 bytes", bytes: cat(u32(1), str("a"), b(2), b(1, 2, 3, 4, 5, 6, 7)), err: "unexpected end", off: 10},
		{name: "metadata-invalid-datetime-offset-truncated", desc: "kind 4 without its offset", bytes: cat(u32(1), str("a"), b(4), i64(0), u32(0)), err: "unexpected end", off: 22},
		{name: "metadata-invalid-datetime-offset-range", desc: "kind 4 with offset 1440 minutes, a whole day", bytes: cat(u32(1), mtimeOff("a", 0, 0, 1440)), err: "UTC offset out of range", off: 22},
		{name: "metadata-invalid-datetime-offset-range-negative", desc: "kind 4 with offset -1440 minutes", bytes: cat(u32(1), mtimeOff("a", 0, 0, -1440)), err: "UTC offset out of range", off: 22},
		{name: "metadata-invalid-datetime-truncated", desc: "a datetime without its nanoseconds", bytes: cat(u32(1), str("a"), b(3), i64(0)), err: "unexpected end", off: 18},
		{name: "metadata-invalid-datetime-nanoseconds", desc: "a datetime with nanoseconds 1e9", bytes: cat(u32(1), mtime("a", 0, 1e9)), err: "nanoseconds out of range", off: 18},
		{name: "metadata-invalid-datetime-nanoseconds-max", desc: "a datetime with nanoseconds 0xFFFFFFFF", bytes: cat(u32(1), mtime("a", -1, math.MaxUint32)), err: "nanoseconds out of range", off: 18},
		{name: "metadata-invalid-16385-bytes", desc: "an encoding of 16385 bytes, one more than the limit", bytes: cat(u32(4), mstr("a", fill), mstr("b", fill), mstr("c", fill), mstr("d", fill+"x")), err: "metadata too large", status: abi.TooLarge, off: 0},

		// ---- params, valid
		{name: "params-empty", desc: "no entries", value: map[string]string{}},
		{name: "params-one", desc: "one entry", value: map[string]string{"path": "/data/vault.db"}},
		{name: "params-several", desc: "entries are sorted by key; values may be empty", value: map[string]string{"url": "https://vault.example.com/v1?x=1&y=<2>", "b": "2", "a": "1", "empty": ""}},
		{name: "params-unicode", desc: "non-ASCII keys and values", value: map[string]string{"名前": "値", "clé": "välue"}},

		// ---- params, invalid
		{name: "params-invalid-empty", desc: "no count", bytes: b(), err: "unexpected end", off: 0},
		{name: "params-invalid-count-past-end", desc: "count 2 with one entry", bytes: cat(u32(2), str("a"), str("1")), err: "count past the end", off: 0},
		{name: "params-invalid-count-max", desc: "count 0xFFFFFFFF", bytes: cat(u32(math.MaxUint32), str("a"), str("1")), err: "count past the end", off: 0},
		{name: "params-invalid-empty-key", desc: "an empty key", bytes: cat(u32(1), str(""), str("1")), err: "empty key", off: 4},
		{name: "params-invalid-unsorted", desc: "keys b, a", bytes: cat(u32(2), str("b"), str("1"), str("a"), str("2")), err: "keys not in ascending order", off: 14},
		{name: "params-invalid-duplicate", desc: "key a twice", bytes: cat(u32(2), str("a"), str("1"), str("a"), str("2")), err: "keys not in ascending order", off: 14},
		{name: "params-invalid-key-utf8", desc: "a key that is not UTF-8", bytes: cat(u32(1), str("\xfe"), str("1")), err: "invalid UTF-8", off: 4},
		{name: "params-invalid-value-utf8", desc: "a value that is not UTF-8", bytes: cat(u32(1), str("a"), str("\xfe")), err: "invalid UTF-8", off: 9},
		{name: "params-invalid-value-past-end", desc: "a value whose length runs past the end", bytes: cat(u32(1), str("a"), u32(3), []byte("xy")), err: "length past the end", off: 13},
		{name: "params-invalid-value-missing", desc: "a key without a value", bytes: cat(u32(1), str("abcd")), err: "unexpected end", off: 12},
		{name: "params-invalid-trailing", desc: "one entry followed by a byte", bytes: cat(u32(1), str("a"), str("1"), b(0)), err: "trailing bytes", off: 14},

		// ---- info, valid
		{name: "info-minimal", desc: "name, type, and no metadata (four zero bytes)", value: abi.Info{Name: "a", Type: abi.TypeString}},
		{name: "info-metadata", desc: "an info record with metadata", value: abi.Info{Name: "db/password", Type: abi.TypeCredential, Metadata: metadata}},
		{name: "info-unicode-name", desc: "a name with non-ASCII characters", value: abi.Info{Name: "Zugänge/Bank ✓", Type: abi.TypeHashtable}},

		// ---- info, invalid
		{name: "info-invalid-empty", desc: "no name", bytes: b(), err: "unexpected end", off: 0},
		{name: "info-invalid-name-past-end", desc: "a name whose length runs past the end", bytes: cat(u32(10), []byte("abc")), err: "length past the end", off: 4},
		{name: "info-invalid-name-utf8", desc: "a name that is not UTF-8", bytes: rec("a\xff", 2, noMeta), err: "invalid UTF-8", off: 0},
		{name: "info-invalid-type-0", desc: "type byte 0", bytes: rec("a", 0, noMeta), err: "unknown type", off: 5},
		{name: "info-invalid-type-6", desc: "type byte 6", bytes: rec("a", 6, noMeta), err: "unknown type", off: 5},
		{name: "info-invalid-missing-metadata", desc: "name and type without the metadata count", bytes: cat(str("a"), b(2)), err: "unexpected end", off: 6},
		{name: "info-invalid-metadata", desc: "metadata with unsorted keys", bytes: rec("a", 2, cat(u32(2), mint("b", 1), mint("a", 1))), err: "keys not in ascending order", off: 24},
		{name: "info-invalid-trailing", desc: "an info record followed by a byte", bytes: cat(rec("a", 2, noMeta), b(0)), err: "trailing bytes", off: 10},

		// ---- info_list, valid
		{name: "info_list-empty", desc: "no records", value: []abi.Info{}},
		{name: "info_list-one", desc: "one record", value: []abi.Info{{Name: "a", Type: abi.TypeBytes}}},
		{name: "info_list-several", desc: "records keep their order (they are not sorted)", value: []abi.Info{
			{Name: "zeta", Type: abi.TypeSecureString},
			{Name: "db/password", Type: abi.TypeCredential, Metadata: metadata},
			{Name: "alpha", Type: abi.TypeHashtable, Metadata: abi.Metadata{"n": mi(-9)}},
		}},

		// ---- info_list, invalid
		{name: "info_list-invalid-empty", desc: "no count", bytes: b(), err: "unexpected end", off: 0},
		{name: "info_list-invalid-count-past-end", desc: "count 2 with one record", bytes: cat(u32(2), rec("a", 2, noMeta)), err: "count past the end", off: 0},
		{name: "info_list-invalid-count-max", desc: "count 0xFFFFFFFF", bytes: cat(u32(math.MaxUint32), rec("a", 2, noMeta)), err: "count past the end", off: 0},
		{name: "info_list-invalid-record", desc: "the second record has type byte 7", bytes: cat(u32(2), rec("a", 2, noMeta), rec("b", 7, noMeta)), err: "unknown type", off: 19},
		{name: "info_list-invalid-truncated", desc: "count 1 with 9 bytes that are not a whole record", bytes: cat(u32(1), str("abc"), b(2), b(0)), err: "unexpected end", off: 12},
		{name: "info_list-invalid-trailing", desc: "one record followed by a byte", bytes: cat(u32(1), rec("a", 2, noMeta), b(0)), err: "trailing bytes", off: 14},

		// ---- secret, valid
		{name: "secret-string", desc: "an info record followed by a string value", value: secret{abi.Info{Name: "api-key", Type: abi.TypeString}, strV("k-123")}},
		{name: "secret-bytes-empty", desc: "an empty bytes value: the encoding ends with its type byte", value: secret{abi.Info{Name: "blob", Type: abi.TypeBytes}, bytesV()}},
		{name: "secret-credential", desc: "a credential with metadata", value: secret{abi.Info{Name: "db/password", Type: abi.TypeCredential, Metadata: metadata}, credV("admin", "pa55")}},
		{name: "secret-hashtable", desc: "a hashtable secret", value: secret{abi.Info{Name: "keys", Type: abi.TypeHashtable, Metadata: abi.Metadata{"n": mi(2)}}, tableV(
			abi.Entry{Key: "b", Value: secV("2")}, abi.Entry{Key: "a", Value: bytesV(1)},
		)}},

		// ---- secret, invalid
		{name: "secret-invalid-empty", desc: "nothing at all", bytes: b(), err: "unexpected end", off: 0},
		{name: "secret-invalid-missing-value", desc: "an info record without a value", bytes: rec("a", 2, noMeta), err: "unexpected end", off: 10},
		{name: "secret-invalid-type-mismatch", desc: "the info says string, the value is bytes", bytes: cat(rec("a", 2, noMeta), b(1, 'x')), err: "info type differs from value type", off: 0},
		{name: "secret-invalid-info", desc: "the name is not UTF-8", bytes: cat(rec("\xff", 2, noMeta), b(2, 'x')), err: "invalid UTF-8", off: 0},
		{name: "secret-invalid-value-utf8", desc: "a string value that is not UTF-8", bytes: cat(rec("a", 2, noMeta), b(2, 'x', 0xff)), err: "invalid UTF-8", off: 11},
		{name: "secret-invalid-value-type", desc: "a value with type byte 6", bytes: cat(rec("a", 2, noMeta), b(6, 'x')), err: "unknown type", off: 10},
		{name: "secret-invalid-hashtable-trailing", desc: "a hashtable value followed by a byte", bytes: cat(rec("a", 5, noMeta), b(5), u32(0), b(0)), err: "trailing bytes", off: 15},

		// ---- http_request, valid
		{name: "http_request-get", desc: "a GET without headers or body: the body is the rest, here nothing", value: abi.HTTPRequest{Method: "GET", URL: "https://etcd.example:2379/version", Header: map[string]string{}, Body: []byte{}}},
		{name: "http_request-post", desc: "a POST with headers, sorted by name, and a body", value: abi.HTTPRequest{Method: "POST", URL: "http://127.0.0.1:2379/v3/kv/range", Header: map[string]string{"content-type": "application/json", "authorization": "tok\ten"}, Body: []byte(`{"key":"dGVhbS8="}`)}},
		{name: "http_request-binary-body", desc: "a body is bytes, not necessarily UTF-8", value: abi.HTTPRequest{Method: "PUT", URL: "http://[::1]:8080/x?y=1", Header: map[string]string{"x-token": "ü"}, Body: []byte{0, 0xff, 0x80}}},

		// ---- http_request, invalid
		{name: "http_request-invalid-empty", desc: "no method", bytes: b(), err: "unexpected end", off: 0},
		{name: "http_request-invalid-method", desc: "method CONNECT", bytes: cat(str("CONNECT"), str("http://a:1"), u32(0)), err: "method not allowed", off: 0},
		{name: "http_request-invalid-method-lower", desc: "method get, in lower case", bytes: cat(str("get"), str("http://a:1"), u32(0)), err: "method not allowed", off: 0},
		{name: "http_request-invalid-empty-url", desc: "an empty URL", bytes: cat(str("GET"), str(""), u32(0)), err: "empty URL", off: 7},
		{name: "http_request-invalid-no-headers", desc: "method and URL without the header count", bytes: cat(str("GET"), str("http://a:1")), err: "unexpected end", off: 21},
		{name: "http_request-invalid-header-crlf", desc: "a header value with CR LF, which would start another header", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("x-a"), str("1\r\nhost: evil")), err: "control character in a header value", off: 25},
		{name: "http_request-invalid-header-nul", desc: "a header value with NUL", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("x-a"), str("1\x00")), err: "control character in a header value", off: 25},
		{name: "http_request-invalid-header-upper", desc: "a header name not in lower case", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("X-A"), str("1")), err: "header name not in lower case", off: 25},
		{name: "http_request-invalid-header-space", desc: "a header name with a space", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("x a"), str("1")), err: "header name not a token", off: 25},
		{name: "http_request-invalid-header-host", desc: "a host header: the host sets it from the URL", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("host"), str("b")), err: "header set by the host", off: 25},
		{name: "http_request-invalid-header-transfer-encoding", desc: "transfer-encoding, a hop-by-hop header", bytes: cat(str("POST"), str("http://a:1"), u32(1), str("transfer-encoding"), str("chunked")), err: "header set by the host", off: 26},
		{name: "http_request-invalid-header-proxy", desc: "a proxy- header", bytes: cat(str("GET"), str("http://a:1"), u32(1), str("proxy-authorization"), str("x")), err: "header for proxies", off: 25},
		{name: "http_request-invalid-header-unsorted", desc: "headers b, a", bytes: cat(str("GET"), str("http://a:1"), u32(2), str("b"), str("1"), str("a"), str("2")), err: "keys not in ascending order", off: 35},
		{name: "http_request-invalid-65-headers", desc: "65 headers, one more than the limit", bytes: cat(str("GET"), str("http://a:1"), u32(65), nParams(65)), err: "too many headers", status: abi.TooLarge, off: 21},

		// ---- http_response, valid
		{name: "http_response-ok", desc: "status 200, a header and a body", value: abi.HTTPResponse{Status: 200, Header: map[string]string{"content-type": "application/json"}, Body: []byte(`{"kvs":[]}`)}},
		{name: "http_response-redirect", desc: "a redirect is a response like any other: the host does not follow it", value: abi.HTTPResponse{Status: 307, Header: map[string]string{"location": "http://elsewhere:1/", "set-cookie": "a=1, b=2"}, Body: []byte{}}},

		// ---- http_response, invalid
		{name: "http_response-invalid-empty", desc: "no status", bytes: b(), err: "unexpected end", off: 0},
		{name: "http_response-invalid-status-99", desc: "status 99", bytes: cat(u32(99), u32(0)), err: "status out of range", off: 0},
		{name: "http_response-invalid-status-600", desc: "status 600", bytes: cat(u32(600), u32(0)), err: "status out of range", off: 0},
		{name: "http_response-invalid-header-lf", desc: "a header value with LF", bytes: cat(u32(200), u32(1), str("a"), str("x\ny")), err: "control character in a header value", off: 8},

		// ---- key_list, valid
		{name: "key_list-empty", desc: "no keys", value: [][]byte{}},
		{name: "key_list-one", desc: "one key", value: [][]byte{[]byte("config")}},
		{name: "key_list-binary", desc: "keys are bytes: not UTF-8, empty, in any order", value: [][]byte{[]byte("z/b"), {0x00, 0xff}, {}, []byte("a")}},

		// ---- key_list, invalid
		{name: "key_list-invalid-empty", desc: "no count", bytes: b(), err: "unexpected end", off: 0},
		{name: "key_list-invalid-count-past-end", desc: "count 2 with one key", bytes: cat(u32(2), str("a")), err: "count past the end", off: 0},
		{name: "key_list-invalid-count-max", desc: "count 0xFFFFFFFF", bytes: cat(u32(math.MaxUint32), str("a")), err: "count past the end", off: 0},
		{name: "key_list-invalid-key-past-end", desc: "a key whose length runs past the end", bytes: cat(u32(1), u32(5), []byte("abc")), err: "length past the end", off: 8},
		{name: "key_list-invalid-truncated-length", desc: "count 2, one key, and 3 bytes of the next length", bytes: cat(u32(2), str("a"), b(0, 0, 0)), err: "unexpected end", off: 9},
		{name: "key_list-invalid-trailing", desc: "one key followed by a byte", bytes: cat(u32(1), str("a"), b(0)), err: "trailing bytes", off: 9},

		// ---- entry_list, valid
		{name: "entry_list-empty", desc: "no entries: the end of a scan", value: []abi.KV{}},
		{name: "entry_list-one", desc: "one key and its value", value: []abi.KV{{Key: []byte("c/config"), Value: []byte{1, 2, 3}}}},
		{name: "entry_list-binary", desc: "keys and values are bytes: not UTF-8, possibly empty", value: []abi.KV{{Key: []byte("s/a"), Value: []byte{}}, {Key: []byte{0x00, 0xff}, Value: []byte{0xff, 0x00}}}},

		// ---- entry_list, invalid
		{name: "entry_list-invalid-empty", desc: "no count", bytes: b(), err: "unexpected end", off: 0},
		{name: "entry_list-invalid-count-past-end", desc: "count 2 with one entry", bytes: cat(u32(2), str("a"), str("v")), err: "count past the end", off: 0},
		{name: "entry_list-invalid-count-max", desc: "count 0xFFFFFFFF", bytes: cat(u32(math.MaxUint32), str("a"), str("v")), err: "count past the end", off: 0},
		{name: "entry_list-invalid-missing-value", desc: "a key and 3 of the 4 bytes of its value's length", bytes: cat(u32(1), str("a"), b(0, 0, 0)), err: "unexpected end", off: 9},
		{name: "entry_list-invalid-value-past-end", desc: "a value whose length runs past the end", bytes: cat(u32(1), str("a"), u32(5), []byte("abc")), err: "length past the end", off: 13},
		{name: "entry_list-invalid-trailing", desc: "one entry followed by a byte", bytes: cat(u32(1), str("a"), str("v"), b(0)), err: "trailing bytes", off: 14},
	}
}
