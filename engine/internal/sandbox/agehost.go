package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"filippo.io/age"
	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
)

// The host functions of SPEC.md §5.10: the user's age identity, kept by the
// host, wraps the vault's keys (behind handles, keys.go) to age recipients
// and unwraps them, so that a vault shared by a team encrypts its team key
// to each member without the identity or the key entering guest memory.
// Without the grant identity (Spec.Identity nil) each answers
// PERMISSION_DENIED: the functions exist for every module, so that a
// module's imports do not depend on its registration.
//
// Only X25519 recipients (age1…) are accepted: no scrypt passphrases, SSH
// keys or plugins, which would make the host run a program or ask a
// person. The age library keeps a file's random file key, and the
// plain text it decrypts, in its own heap buffers until they are garbage
// collected: this is weaker than the key page of keys.go, and the reason
// the wrapped payload is a key of 16–64 bytes and nothing larger.

// ageCall returns the call when it is granted the identity; the status
// otherwise.
func ageCall(ctx context.Context) (*call, abi.Status) {
	return granted(keyCall(ctx), func(c *call) bool { return c.identity != nil })
}

// age_recipient(dst, cap) -> length
func hostAgeRecipient(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := ageCall(ctx)
	answerBytes(mod, stack, s, func() []byte { return []byte(c.identity.Recipient().String()) })
}

// age_wrap(key, recipients, recipients_len, dst, cap) -> length
func hostAgeWrap(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := ageCall(ctx)
	var list []byte
	if s == abi.OK {
		list, s = view(mod, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]), abi.AgeMaxList)
	}
	dst, capacity := api.DecodeU32(stack[3]), api.DecodeU32(stack[4])
	if s == abi.OK && !fits(mod, dst, capacity) {
		s = abi.InvalidArgument
	}
	var recipients []age.Recipient
	if s == abi.OK {
		recipients, s = parseRecipients(string(list))
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	var file []byte
	s = c.keys.use(api.DecodeU32(stack[0]), func(key []byte) abi.Status {
		var err error
		file, err = ageEncrypt(key, recipients)
		if err != nil {
			return abi.Unavailable // the system's random source failed
		}
		return abi.OK
	})
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	if len(file) <= int(capacity) {
		mod.Memory().Write(dst, file)
	}
	stack[0] = api.EncodeI64(int64(len(file)))
}

// parseRecipients reads age_wrap's list: 1–256 distinct X25519 recipients
// (age1…, lower case: age refuses upper case) separated by single newlines.
// Anything else is INVALID_ARGUMENT.
func parseRecipients(list string) ([]age.Recipient, abi.Status) {
	lines := strings.Split(list, "\n")
	if list == "" || len(lines) > abi.AgeMaxRecipients {
		return nil, abi.InvalidArgument
	}
	seen := map[string]bool{}
	out := make([]age.Recipient, 0, len(lines))
	for _, l := range lines {
		r, err := age.ParseX25519Recipient(l)
		if err != nil || seen[l] {
			return nil, abi.InvalidArgument
		}
		seen[l] = true
		out = append(out, r)
	}
	return out, abi.OK
}

// ageEncrypt returns the binary age file of key for recipients.
func ageEncrypt(key []byte, recipients []age.Recipient) ([]byte, error) {
	var file bytes.Buffer
	w, err := age.Encrypt(&file, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(key); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return file.Bytes(), nil
}

// age_unwrap(file, file_len) -> handle
func hostAgeUnwrap(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := ageCall(ctx)
	var file []byte
	if s == abi.OK {
		file, s = read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.AgeMaxFile)
	}
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	var plain [abi.KeyMaxBytes + 1]byte
	defer clear(plain[:])
	n, s := ageDecrypt(plain[:], file, c.identity)
	if s != abi.OK {
		stack[0] = neg32(s)
		return
	}
	stack[0] = handleResult(c.keys.create(c.id, n, func(dst []byte) abi.Status {
		copy(dst, plain[:n])
		return abi.OK
	}))
}

// ageDecrypt opens file with id into buf, one byte longer than the longest
// key, and returns the content's length: PERMISSION_DENIED when file cannot
// be opened with id (made for others, changed, cut, or not an age file at
// all: a changed byte can make any of these), INVALID_ARGUMENT when its
// content, authentic, is not 16–64 bytes long.
func ageDecrypt(buf, file []byte, id *age.X25519Identity) (int, abi.Status) {
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		return 0, abi.PermissionDenied
	}
	// Read to the end: the age stream says io.EOF only after the last
	// chunk, marked last, was authenticated; a cut file is another error.
	n := 0
	for {
		if n == len(buf) {
			return 0, abi.InvalidArgument // longer than a key
		}
		m, err := r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, abi.PermissionDenied // the payload is not authentic
		}
	}
	if keyLength(uint32(n)) != abi.OK {
		return 0, abi.InvalidArgument
	}
	return n, abi.OK
}
