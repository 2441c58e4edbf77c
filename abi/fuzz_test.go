package abi_test

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// The decoders take bytes from guests (host side) and from the host (guest
// side). Each fuzz test checks that a decoder never panics, that what it
// rejects it rejects with a well-formed DecodeError, and that what it accepts
// is canonical: encoding the result gives back the input exactly, even after
// the input was overwritten (the result must not alias it).
//
// Seeds: every vector of the kind in abi/vectors, a few extras here, and the
// files in testdata/fuzz/<FuzzName>/.

// maxFuzzSeed caps the seeds of a -fuzz run. Go's fuzzer minimizes every new
// input for up to -fuzzminimizetime (60s), and inputs grown from the 16 KiB
// metadata vectors take that long, so that both workers stall and a 20s run
// makes 15k executions instead of 200k. The big vectors still run as seeds in
// plain go test, and TestDecodeRejects covers the limits they exercise.
const maxFuzzSeed = 2 << 10

// seed adds the vectors of kind and extras to f's corpus.
func seed(f *testing.F, kind string, extras ...[]byte) {
	f.Helper()
	seeds := append(vectorsOfKind(f, kind), extras...)
	n := 0
	for _, s := range seeds {
		if len(s) > maxFuzzSeed && fuzzing() {
			continue
		}
		f.Add(s)
		n++
	}
	if n == 0 {
		f.Fatalf("no seeds for %s", kind)
	}
}

// fuzzing reports whether the test binary runs with -fuzz.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}

// checkDecode is the property every decoder fuzz test checks.
func checkDecode(t *testing.T, kind string, in []byte) {
	orig := slices.Clone(in)
	got, err := decodeKind(kind, in)
	if err != nil {
		var de *abi.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %T is not a *DecodeError: %v", err, err)
		}
		if errors.Is(err, abi.InvalidArgument) == errors.Is(err, abi.TooLarge) {
			t.Fatalf("error %q must wrap exactly one of InvalidArgument and TooLarge", err)
		}
		if de.What != whatOf[kind] || de.Offset < 0 || de.Offset > len(in) || de.Reason == "" {
			t.Fatalf("malformed error %#v for %d bytes", de, len(in))
		}
		return
	}
	for i := range in {
		in[i] ^= 0xA5
	}
	re, err := encodeKind(kind, got)
	if err != nil {
		t.Fatalf("decoded %x but cannot encode the result: %v", orig, err)
	}
	if !bytes.Equal(re, orig) {
		t.Fatalf("not canonical:\n in  %x\n out %x", orig, re)
	}
}

func FuzzDecodeValue(f *testing.F) {
	seed(f, "value",
		cat(b(5), u32(2), hent("a", cat(b(4), str("u"), []byte("p"))), hent("b", b(3, 'x'))),
		cat(b(5), u32(1), hent("a", cat(b(5), u32(0)))),
		cat(b(4), u32(0xFFFFFFFF)),
		cat(b(5), u32(1), hent("a", b(2, 0xe2, 0x9c, 0x93))),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "value", in) })
}

func FuzzDecodeMetadata(f *testing.F) {
	seed(f, "metadata",
		cat(u32(3), mstr("a", "x"), mint("b", -5), mtime("c", -1, 999999999)),
		cat(u32(1), mtime("t", 1<<62, 0)),
		cat(u32(1), mtime("t", -1<<63, 0)),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "metadata", in) })
}

func FuzzDecodeParams(f *testing.F) {
	seed(f, "params",
		cat(u32(2), str("a"), str(""), str("b"), str("✓")),
		cat(u32(1), str(""), str("")),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "params", in) })
}

// FuzzDecodeInfoList also runs DecodeInfo, on the input and on the input
// without its first four bytes (the count of a one-record list).
func FuzzDecodeInfoList(f *testing.F) {
	var extras [][]byte
	for _, in := range vectorsOfKind(f, "info") {
		extras = append(extras, cat(u32(1), in), cat(u32(2), in, in))
	}
	seed(f, "info_list", extras...)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, "info_list", slices.Clone(in))
		checkDecode(t, "info", slices.Clone(in))
		if len(in) >= 4 {
			checkDecode(t, "info", in[4:])
		}
	})
}

func FuzzDecodeSecret(f *testing.F) {
	seed(f, "secret",
		cat(rec("a", 4, cat(u32(1), mint("n", 1))), b(4), str("user"), []byte("pw")),
		cat(rec("a", 5, noMeta), b(5), u32(1), hent("k", b(1))),
		cat(rec("", 1, noMeta), b(1)),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "secret", in) })
}

func FuzzDecodeKeyList(f *testing.F) {
	seed(f, "key_list",
		cat(u32(3), str("a"), str(""), str("\xff\x00")),
		cat(u32(1), u32(0xFFFFFFFF)),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "key_list", in) })
}

func FuzzDecodeEntryList(f *testing.F) {
	seed(f, "entry_list",
		cat(u32(2), str("s/a"), str("\x01\x02"), str(""), str("")),
		cat(u32(1), str("k"), u32(0xFFFFFFFF)),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "entry_list", in) })
}

// FuzzMatch compares Match with a plain dynamic-programming matcher over
// runes (quadratic, never wrong) and checks that folding only adds matches.
func FuzzMatch(f *testing.F) {
	if len(matchCases) == 0 {
		f.Fatal("no seeds")
	}
	for _, c := range matchCases {
		f.Add(c.pattern, c.name, c.cs)
	}
	f.Add("*a*a*a*a*b", strings.Repeat("a", 200), false)
	f.Add("?\xff*", "a\xfe\xff", true)
	f.Fuzz(func(t *testing.T, pattern, name string, cs bool) {
		if len(pattern) > 512 || len(name) > 512 {
			t.Skip("the reference matcher is quadratic")
		}
		got := abi.Match(pattern, name, cs)
		if want := matchRef(pattern, name, cs); got != want {
			t.Fatalf("Match(%q, %q, %v) = %v, reference says %v", pattern, name, cs, got, want)
		}
		if cs && got && !abi.Match(pattern, name, false) {
			t.Fatalf("Match(%q, %q) matches with case but not without", pattern, name)
		}
		if !abi.HasWildcard(name) && !abi.Match(name, name, cs) {
			t.Fatalf("Match(%q, %q, %v) is false", name, name, cs)
		}
	})
}

// matchRef is Match by dynamic programming: m[j] says whether the pattern
// so far matches the first j runes of the name. Invalid UTF-8 decodes to one
// U+FFFD per bad byte, as in Match.
func matchRef(pattern, name string, cs bool) bool {
	n := []rune(name)
	m := make([]bool, len(n)+1)
	m[0] = true
	for _, pc := range pattern {
		next := make([]bool, len(n)+1)
		for j := range next {
			switch {
			case pc == '*':
				next[j] = m[j] || (j > 0 && next[j-1])
			case j == 0:
			case pc == '?':
				next[j] = m[j-1]
			default:
				nc := n[j-1]
				next[j] = m[j-1] && (pc == nc || (!cs && strings.EqualFold(string(pc), string(nc))))
			}
		}
		m = next
	}
	return m[len(n)]
}

func FuzzDecodeHTTPRequest(f *testing.F) {
	seed(f, "http_request",
		cat(str("GET"), str("http://127.0.0.1:1/"), u32(1), str("a"), str("b\tc")),
		cat(str("PUT"), str("x"), u32(0), []byte{0, 0xff}),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "http_request", in) })
}

func FuzzDecodeHTTPResponse(f *testing.F) {
	seed(f, "http_response",
		cat(u32(599), u32(2), str("a"), str(""), str("b"), str("✓")),
		cat(u32(100), u32(0)),
	)
	f.Fuzz(func(t *testing.T, in []byte) { checkDecode(t, "http_response", in) })
}
