package kdbx

import (
	"bytes"
	"encoding/binary"
)

// Value types of a VariantDictionary (KDBX 4).
const (
	vdUInt32    = 0x04
	vdUInt64    = 0x05
	vdBool      = 0x08
	vdInt32     = 0x0C
	vdInt64     = 0x0D
	vdString    = 0x18
	vdByteArray = 0x42
)

// vdItem is one entry of a VariantDictionary.
type vdItem struct {
	typ   byte
	key   string
	value []byte
}

// varDict is a VariantDictionary in the order read, so that it is written
// back as it was.
type varDict []vdItem

func (d varDict) get(key string, typ byte) ([]byte, bool) {
	for _, it := range d {
		if it.key == key && it.typ == typ {
			return it.value, true
		}
	}
	return nil, false
}

func (d varDict) uint64(key string) (uint64, bool) {
	if v, ok := d.get(key, vdUInt64); ok {
		return binary.LittleEndian.Uint64(v), true
	}
	return 0, false
}

func (d varDict) uint32(key string) (uint32, bool) {
	if v, ok := d.get(key, vdUInt32); ok {
		return binary.LittleEndian.Uint32(v), true
	}
	return 0, false
}

// parseVarDict decodes a VariantDictionary: a version whose high byte is 1,
// then items (type, key, value) up to a type of 0. Sizes are checked
// against the type, so that a reader of a fixed-size value cannot run off.
func parseVarDict(b []byte) (varDict, error) {
	if len(b) < 2 || b[1] != 1 {
		return nil, formatErr("a variant dictionary of an unknown version")
	}
	b = b[2:]
	var d varDict
	for {
		if len(b) < 1 {
			return nil, formatErr("a variant dictionary without its end")
		}
		typ := b[0]
		b = b[1:]
		if typ == 0 {
			if len(b) != 0 {
				return nil, formatErr("bytes after a variant dictionary's end")
			}
			return d, nil
		}
		key, rest, err := vdChunk(b)
		if err != nil {
			return nil, err
		}
		val, rest, err := vdChunk(rest)
		if err != nil {
			return nil, err
		}
		b = rest
		want := map[byte]int{vdUInt32: 4, vdInt32: 4, vdUInt64: 8, vdInt64: 8, vdBool: 1}
		if n, fixed := want[typ]; fixed && len(val) != n {
			return nil, formatErr("variant dictionary item %q has %d bytes for its type", key, len(val))
		}
		d = append(d, vdItem{typ, string(key), bytes.Clone(val)})
	}
}

func vdChunk(b []byte) (chunk, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, formatErr("a variant dictionary ends early")
	}
	n := int(int32(binary.LittleEndian.Uint32(b)))
	if n < 0 || n > len(b)-4 {
		return nil, nil, formatErr("a variant dictionary item runs past the end")
	}
	return b[4 : 4+n], b[4+n:], nil
}

func (d varDict) encode() []byte {
	b := []byte{0, 1}
	for _, it := range d {
		b = append(b, it.typ)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.key)))
		b = append(b, it.key...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.value)))
		b = append(b, it.value...)
	}
	return append(b, 0)
}
