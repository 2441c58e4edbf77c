//go:build wasip1

package guest

import (
	"strings"
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

// The user's age identity (SPEC.md §5.10, grant identity): the host holds
// the identity and does the age work, so that a vault shared by a team
// wraps its team key to each member's recipient, and unwraps its own copy,
// without the identity or the key in guest memory. Without the grant each
// function returns an error wrapping abi.PermissionDenied.

//go:wasmimport sesame_v1 age_recipient
func hostAgeRecipient(dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 age_wrap
func hostAgeWrap(key uint32, recipients unsafe.Pointer, n uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 age_unwrap
func hostAgeUnwrap(file unsafe.Pointer, n uint32) int32

// ageRecipientLen is the length of an X25519 age recipient: "age1" and 58
// characters of bech32.
const ageRecipientLen = 62

// AgeRecipient returns the user's own age recipient (age1…).
func AgeRecipient() (string, error) {
	buf := make([]byte, ageRecipientLen)
	n := hostAgeRecipient(ptr(buf), uint32(len(buf)))
	switch {
	case n < 0:
		return "", &HostError{Func: abi.ImportAgeRecipient, Status: negStatus(n)}
	case n > int64(len(buf)):
		return "", &HostError{Func: abi.ImportAgeRecipient, Status: abi.Internal}
	}
	return string(buf[:n]), nil
}

// AgeWrap encrypts the bytes of k to each of recipients (1 to
// abi.AgeMaxRecipients distinct X25519 recipients, age1…) and returns the
// binary age file: what each of them, and no one else, can open with
// AgeUnwrap. A malformed or repeated recipient is an error wrapping
// abi.InvalidArgument.
func (k Key) AgeWrap(recipients []string) ([]byte, error) {
	list := strings.Join(recipients, "\n")
	b := []byte(list)
	// An X25519 stanza is about 100 bytes; the header, its MAC and the
	// payload's nonce and tag some 200 more. A longer answer is asked
	// for again with its length.
	buf := make([]byte, 128*len(recipients)+256)
	for range kvRetries {
		n := hostAgeWrap(uint32(k), ptr(b), uint32(len(b)), ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			return nil, &HostError{Func: abi.ImportAgeWrap, Status: negStatus(n)}
		case n <= int64(len(buf)):
			return buf[:n:n], nil
		case n > abi.AgeMaxFile:
			return nil, &HostError{Func: abi.ImportAgeWrap, Status: abi.Internal}
		}
		buf = make([]byte, n)
	}
	return nil, &HostError{Func: abi.ImportAgeWrap, Status: abi.Unavailable}
}

// AgeUnwrap opens an age file made by AgeWrap (or by age itself, of a
// 16–64 byte key, to the user's recipient) with the user's identity, and
// returns the key it holds. A file the identity cannot open (made for
// others, changed, cut, not an age file) is an error wrapping
// abi.PermissionDenied; an authentic file that does not hold a key, one
// wrapping abi.InvalidArgument.
func AgeUnwrap(file []byte) (Key, error) {
	return keyResult(abi.ImportAgeUnwrap, hostAgeUnwrap(ptr(file), uint32(len(file))))
}
