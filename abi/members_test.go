package abi_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

const sampleRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

func TestDecodeMembers(t *testing.T) {
	m := abi.Members{Members: []string{sampleRecipient}, Accepted: nil, Changed: true, Digest: "9f00", Self: sampleRecipient}
	b, err := abi.AppendMembers(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := abi.DecodeMembers(b); err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`{"members":["age1\u001b[2Jx"]}`, abi.InvalidArgument}, // a terminal escape in a recipient
		{`{"members":["age1 x"]}`, abi.InvalidArgument},
		{`{"self":"é"}`, abi.InvalidArgument},
		{`[1]`, abi.InvalidArgument},
		{`{"members":"x"}`, abi.InvalidArgument},
		{strings.Repeat(" ", abi.MaxMembersBytes+1), abi.TooLarge},
	} {
		if _, err := abi.DecodeMembers([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("DecodeMembers(%.40q) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// FuzzDecodeMembers: the output of a guest's sesame_members never panics
// the host, is refused with InvalidArgument or TooLarge, or decodes to a
// list whose every recipient is printable ASCII and that encodes and
// decodes to itself.
func FuzzDecodeMembers(f *testing.F) {
	f.Add([]byte(`{"members":["` + sampleRecipient + `"],"accepted":[],"changed":false,"digest":"ab","self":"` + sampleRecipient + `"}`))
	f.Add([]byte(`{"members":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := abi.DecodeMembers(in)
		if err != nil {
			if !errors.Is(err, abi.InvalidArgument) && !errors.Is(err, abi.TooLarge) {
				t.Fatalf("error %v wraps neither InvalidArgument nor TooLarge", err)
			}
			return
		}
		for _, r := range append(append([]string{m.Self, m.Digest}, m.Members...), m.Accepted...) {
			if strings.IndexFunc(r, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
				t.Fatalf("accepted a recipient that is not printable: %q", r)
			}
		}
		b, err := abi.AppendMembers(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := abi.DecodeMembers(b)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encoded list decodes to %+v, %v; want %+v", again, err, m)
		}
	})
}
