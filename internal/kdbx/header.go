package kdbx

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// The file signature and the versions this package reads and writes.
const (
	sig1 = 0x9AA2D903
	sig2 = 0xB54BFB67

	// Version31 is KDBX 3.1, which keepassxc-cli 2.7's db-create writes.
	Version31 = 0x00030001
	// Version40 and Version41 are KDBX 4.0 and 4.1; 4.1 only adds XML
	// elements, which the tree keeps like any other.
	Version40 = 0x00040000
	Version41 = 0x00040001
)

// Outer header field identifiers.
const (
	hEnd                 = 0
	hComment             = 1
	hCipherID            = 2
	hCompression         = 3
	hMasterSeed          = 4
	hTransformSeed       = 5 // 3.1
	hTransformRounds     = 6 // 3.1
	hEncryptionIV        = 7
	hProtectedStreamKey  = 8  // 3.1
	hStreamStartBytes    = 9  // 3.1
	hInnerRandomStreamID = 10 // 3.1
	hKdfParameters       = 11 // 4.x
	hPublicCustomData    = 12 // 4.x
)

// A Cipher is an outer cipher's identifier, its 16 bytes as in the header.
type Cipher string

// The outer ciphers.
const (
	CipherAES256   Cipher = "\x31\xc1\xf2\xe6\xbf\x71\x43\x50\xbe\x58\x05\x21\x6a\xfc\x5a\xff"
	CipherChaCha20 Cipher = "\xd6\x03\x8a\x2b\x8b\x6f\x4c\xb5\xa5\x24\x33\x9a\x31\xdb\xb5\x9a"
)

// field is one outer header field, kept as read so that fields this
// package does not change are written back byte for byte.
type field struct {
	id    byte
	value []byte
}

// header is the outer header.
type header struct {
	version uint32
	fields  []field
	raw     []byte // the header as read, up to and including the end field
}

func (h *header) get(id byte) ([]byte, bool) {
	for _, f := range h.fields {
		if f.id == id {
			return f.value, true
		}
	}
	return nil, false
}

// set replaces field id's value, or adds the field before the end field.
func (h *header) set(id byte, v []byte) {
	for i := range h.fields {
		if h.fields[i].id == id {
			h.fields[i].value = v
			return
		}
	}
	end := len(h.fields)
	if end > 0 && h.fields[end-1].id == hEnd {
		end--
	}
	h.fields = append(h.fields[:end], append([]field{{id, v}}, h.fields[end:]...)...)
}

func (h *header) v4() bool { return h.version>>16 == 4 }

// parseHeader reads the outer header at the start of data.
func parseHeader(data []byte) (*header, error) {
	if len(data) < 12 || binary.LittleEndian.Uint32(data) != sig1 {
		return nil, formatErr("not a KeePass database (no KDBX signature)")
	}
	if binary.LittleEndian.Uint32(data[4:]) != sig2 {
		return nil, formatErr("a KeePass 1 database (.kdb), which is not supported")
	}
	h := &header{version: binary.LittleEndian.Uint32(data[8:])}
	switch h.version >> 16 {
	case 3:
		if h.version != Version31 && h.version != 0x00030000 {
			return nil, formatErr("KDBX version %d.%d is not supported", h.version>>16, h.version&0xffff)
		}
	case 4:
		if h.version&0xffff > 1 {
			return nil, formatErr("KDBX version 4.%d is newer than this reader (4.0 and 4.1)", h.version&0xffff)
		}
	default:
		return nil, formatErr("KDBX version %d.%d is not supported", h.version>>16, h.version&0xffff)
	}
	lenSize := 2
	if h.v4() {
		lenSize = 4
	}
	p := 12
	for {
		if len(data)-p < 1+lenSize {
			return nil, formatErr("the header ends early")
		}
		id := data[p]
		var n int
		if lenSize == 2 {
			n = int(binary.LittleEndian.Uint16(data[p+1:]))
		} else {
			n = int(int32(binary.LittleEndian.Uint32(data[p+1:])))
		}
		p += 1 + lenSize
		if n < 0 || n > len(data)-p {
			return nil, formatErr("header field %d runs past the end", id)
		}
		h.fields = append(h.fields, field{id, bytes.Clone(data[p : p+n])})
		p += n
		if id == hEnd {
			break
		}
	}
	h.raw = data[:p]
	return h, nil
}

// encode writes the header.
func (h *header) encode() []byte {
	var b bytes.Buffer
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], sig1)
	b.Write(n[:])
	binary.LittleEndian.PutUint32(n[:], sig2)
	b.Write(n[:])
	binary.LittleEndian.PutUint32(n[:], h.version)
	b.Write(n[:])
	for _, f := range h.fields {
		b.WriteByte(f.id)
		if h.v4() {
			binary.LittleEndian.PutUint32(n[:], uint32(len(f.value)))
			b.Write(n[:4])
		} else {
			binary.LittleEndian.PutUint16(n[:], uint16(len(f.value)))
			b.Write(n[:2])
		}
		b.Write(f.value)
	}
	return b.Bytes()
}

// FormatError says what is wrong with a file that is not a valid KDBX
// database.
type FormatError struct{ What string }

func (e *FormatError) Error() string { return "kdbx: " + e.What }

func formatErr(f string, a ...any) error { return &FormatError{fmt.Sprintf(f, a...)} }
