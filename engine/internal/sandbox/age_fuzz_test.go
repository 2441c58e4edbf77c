package sandbox

import (
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
)

// FuzzAgeUnwrap checks age_unwrap's reading of the file a guest hands it:
// it never panics, answers only OK, PERMISSION_DENIED or INVALID_ARGUMENT,
// and what it accepts is a key of 16–64 bytes. Seeds: the files of the
// age vectors (SPEC.md §7.9), opened with their identity.
func FuzzAgeUnwrap(f *testing.F) {
	var id *age.X25519Identity
	for _, v := range keyVectors(f, "age") {
		file, text := v.bytes(f, "file"), v.bytes(f, "identity")
		if id == nil {
			var err error
			if id, err = age.ParseX25519Identity(string(text)); err != nil {
				f.Fatal(err)
			}
		}
		if string(text) == id.String() {
			f.Add(file)
		}
	}
	if id == nil {
		f.Fatal("no age vectors to seed from")
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		var buf [abi.KeyMaxBytes + 1]byte
		n, s := ageDecrypt(buf[:], file, id)
		switch s {
		case abi.OK:
			if keyLength(uint32(n)) != abi.OK {
				t.Fatalf("accepted a key of %d bytes", n)
			}
		case abi.PermissionDenied, abi.InvalidArgument:
		default:
			t.Fatalf("answered %s", s)
		}
	})
}

// FuzzAgeRecipients checks the reading of age_wrap's recipient list: it
// never panics, and what it accepts is 1–256 distinct recipients that are
// the list's lines, each written back as it was given.
func FuzzAgeRecipients(f *testing.F) {
	for _, s := range []string{
		"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\nage1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg",
		"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
		"age1xyz", "", "\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		rs, s := parseRecipients(list)
		if s != abi.OK {
			if s != abi.InvalidArgument || rs != nil {
				t.Fatalf("refused with %s and %d recipients", s, len(rs))
			}
			return
		}
		lines := strings.Split(list, "\n")
		if len(rs) != len(lines) || len(rs) == 0 || len(rs) > abi.AgeMaxRecipients {
			t.Fatalf("accepted %d recipients of %d lines", len(rs), len(lines))
		}
		seen := map[string]bool{}
		for i, r := range rs {
			text := r.(*age.X25519Recipient).String()
			if text != lines[i] || seen[text] {
				t.Fatalf("accepted %q as %q (or twice)", lines[i], text)
			}
			seen[text] = true
		}
	})
}
