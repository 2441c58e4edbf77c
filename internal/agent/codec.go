package agent

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/sesamehq/sesame/engine/api"
)

// The agent's messages are encoded by this small codec rather than by
// encoding/gob, for the client's start (RATIONALE.md, "A thin client"): gob
// costs a package init of its own and sends the description of every type
// at the start of each connection, which a client that makes one request
// per connection pays each time. Both ends are this package, so a message
// needs no description: its Go type says how to read it.
//
// A value is encoded by its kind, depth first:
//
//   - bool: one byte, 0 or 1; an integer: a varint (signed: zigzag);
//     a float: its IEEE 754 bits as 8 bytes, little endian;
//   - a string: its length as a uvarint, then its bytes;
//   - a slice or a map: 0 for nil, else 1 + its length as a uvarint, then
//     its elements (a map's as key, value, in the order of the keys'
//     encodings, so that a value has one encoding); a []byte its bytes;
//   - an array: its elements; a struct: its exported fields in order, but
//     func fields, which do not travel (the callbacks stay with the client,
//     call.go); a type with a binary form (time.Time) that form, as a
//     []byte;
//   - a pointer: 0 for nil, else 1 then the value;
//   - an interface: 0 for nil, else the name of the dynamic type (one of
//     wireTypes) as a string, then the value.
//
// Decoding checks every length against the bytes left and every type name
// against wireTypes, and nests at most maxDepth values: a hostile peer gets
// an error, never an allocation larger than its message.

// maxDepth bounds the nesting of a decoded value (interfaces in slices in
// maps...): the decoder recurses once per level.
const maxDepth = 64

// wireTypes are the types an interface value may hold on the wire, by
// name: the engine's requests and their results, and the values that
// travel in interface fields (secret values, metadata values, registration
// parameters). Built on first use, not at init: a client that never sends a
// request does not pay for it.
var wireTypes = sync.OnceValue(func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	add := func(v any) {
		t := reflect.TypeOf(v)
		if old, ok := m[wireName(t)]; ok && old != t {
			panic("agent: two wire types named " + wireName(t))
		}
		m[wireName(t)] = t
	}
	for _, op := range api.Operations() {
		add(op.Request)
		if op.Result != nil {
			add(op.Result)
		}
	}
	for _, v := range []any{
		false, "", []byte(nil), 0.0, float32(0),
		0, int8(0), int16(0), int32(0), int64(0),
		uint(0), uint8(0), uint16(0), uint32(0), uint64(0),
		[]string(nil), []any(nil), map[string]any(nil), map[string]string(nil),
		time.Time{}, time.Duration(0),
		api.SecureString(""), api.Credential{}, api.Hashtable(nil), api.Metadata(nil),
	} {
		add(v)
	}
	for _, v := range testWireTypes {
		add(v)
	}
	return m
})

// apiPath is the package of the engine's requests and results, which the
// wire names "engine.": they were declared in package engine when protocol
// version 2 was made, and a name on the wire is part of the protocol.
const apiPath = "github.com/sesamehq/sesame/engine/api"

// wireName is the name of t on the wire: t.String(), with the types of
// package api named as package engine's, which aliases them.
func wireName(t reflect.Type) string {
	switch {
	case t.PkgPath() == apiPath:
		return "engine." + t.Name()
	case t.Name() != "":
		return t.String()
	case t.Kind() == reflect.Slice:
		return "[]" + wireName(t.Elem())
	case t.Kind() == reflect.Map:
		return "map[" + wireName(t.Key()) + "]" + wireName(t.Elem())
	}
	return t.String()
}

// testWireTypes are the calls of this package's tests, added in their
// init; empty outside tests.
var testWireTypes []any

var (
	binaryMarshaler   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binaryUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// marshal appends the encoding of v (a pointer to a message) to b.
func marshal(b []byte, v any) ([]byte, error) {
	return appendValue(b, reflect.ValueOf(v).Elem())
}

func appendValue(b []byte, v reflect.Value) ([]byte, error) {
	t := v.Type()
	if t.Kind() == reflect.Struct && t.Implements(binaryMarshaler) && reflect.PointerTo(t).Implements(binaryUnmarshaler) {
		data, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return b, err
		}
		return appendBytes(b, data), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(b, v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.AppendUvarint(b, v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float())), nil
	case reflect.String:
		b = binary.AppendUvarint(b, uint64(v.Len()))
		return append(b, v.String()...), nil
	case reflect.Slice:
		if v.IsNil() {
			return append(b, 0), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return appendBytes(b, v.Bytes()), nil
		}
		b = binary.AppendUvarint(b, uint64(v.Len())+1)
		return appendElems(b, v)
	case reflect.Array:
		return appendElems(b, v)
	case reflect.Map:
		if v.IsNil() {
			return append(b, 0), nil
		}
		return appendMap(binary.AppendUvarint(b, uint64(v.Len())+1), v)
	case reflect.Struct:
		var err error
		for i := 0; i < t.NumField() && err == nil; i++ {
			if f := t.Field(i); f.IsExported() && f.Type.Kind() != reflect.Func {
				b, err = appendValue(b, v.Field(i))
			}
		}
		return b, err
	case reflect.Pointer:
		if v.IsNil() {
			return append(b, 0), nil
		}
		return appendValue(append(b, 1), v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return append(b, 0), nil
		}
		e := v.Elem()
		name := wireName(e.Type())
		if wireTypes()[name] != e.Type() {
			return b, fmt.Errorf("%w: a value of type %s cannot cross to the agent", errProtocol, name)
		}
		b = binary.AppendUvarint(b, uint64(len(name))+1)
		return appendValue(append(b, name...), e)
	}
	return b, fmt.Errorf("%w: a value of kind %s cannot cross to the agent", errProtocol, t.Kind())
}

// appendMap appends the pairs of the map v in the order of their keys'
// encodings: a value has one encoding.
func appendMap(b []byte, v reflect.Value) ([]byte, error) {
	type pair struct {
		key []byte
		val reflect.Value
	}
	pairs := make([]pair, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		k, err := appendValue(nil, it.Key())
		if err != nil {
			return b, err
		}
		pairs = append(pairs, pair{k, it.Value()})
	}
	slices.SortFunc(pairs, func(x, y pair) int { return bytes.Compare(x.key, y.key) })
	var err error
	for _, p := range pairs {
		if b, err = appendValue(append(b, p.key...), p.val); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendBytes(b, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(data))+1)
	return append(b, data...)
}

func appendElems(b []byte, v reflect.Value) ([]byte, error) {
	var err error
	for i := 0; i < v.Len() && err == nil; i++ {
		b, err = appendValue(b, v.Index(i))
	}
	return b, err
}

// errMalformed is a message that does not decode as its type.
var errMalformed error = protocolError("malformed message")

// unmarshal decodes msg into v (a pointer to a message). Strings and byte
// slices are copies: msg can be zeroed once it returns.
func unmarshal(msg []byte, v any) error {
	d := decoder{buf: msg}
	if err := d.value(reflect.ValueOf(v).Elem(), 0); err != nil {
		return err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d bytes after the value", errMalformed, len(d.buf))
	}
	return nil
}

type decoder struct{ buf []byte }

func (d *decoder) uvarint() (uint64, error) {
	n, k := binary.Uvarint(d.buf)
	if k <= 0 {
		return 0, errMalformed
	}
	d.buf = d.buf[k:]
	return n, nil
}

// length reads a length written as 1 + n (0: nil), checked against the
// bytes left (each element takes one byte at least, but those of types
// that encode to nothing, whose count is bounded by the message's size).
func (d *decoder) length() (n int, isNil bool, err error) {
	u, err := d.uvarint()
	switch {
	case err != nil:
		return 0, false, err
	case u == 0:
		return 0, true, nil
	case u-1 > uint64(len(d.buf)):
		return 0, false, fmt.Errorf("%w: a length of %d with %d bytes left", errMalformed, u-1, len(d.buf))
	}
	return int(u - 1), false, nil
}

func (d *decoder) take(n int) []byte {
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

func (d *decoder) value(v reflect.Value, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: values nested deeper than %d", errMalformed, maxDepth)
	}
	t := v.Type()
	if t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(binaryUnmarshaler) && t.Implements(binaryMarshaler) {
		n, _, err := d.length()
		if err != nil {
			return err
		}
		if err := v.Addr().Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(d.take(n)); err != nil {
			return fmt.Errorf("%w: %s: %w", errMalformed, t, err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		if len(d.buf) == 0 || d.buf[0] > 1 {
			return errMalformed
		}
		v.SetBool(d.take(1)[0] == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, k := binary.Varint(d.buf)
		if k <= 0 || v.OverflowInt(n) {
			return errMalformed
		}
		d.buf = d.buf[k:]
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := d.uvarint()
		if err != nil || v.OverflowUint(n) {
			return errMalformed
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		if len(d.buf) < 8 {
			return errMalformed
		}
		v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(d.take(8))))
	case reflect.String:
		u, err := d.uvarint()
		if err != nil || u > uint64(len(d.buf)) {
			return errMalformed
		}
		v.SetString(string(d.take(int(u))))
	case reflect.Slice:
		n, isNil, err := d.length()
		if err != nil || isNil {
			return err
		}
		if t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes(append([]byte{}, d.take(n)...))
			return nil
		}
		v.Set(reflect.MakeSlice(t, n, n))
		return d.elems(v, depth)
	case reflect.Array:
		return d.elems(v, depth)
	case reflect.Map:
		n, isNil, err := d.length()
		if err != nil || isNil {
			return err
		}
		v.Set(reflect.MakeMapWithSize(t, n))
		for range n {
			k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
			if err := d.value(k, depth+1); err != nil {
				return err
			}
			if err := d.value(e, depth+1); err != nil {
				return err
			}
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && f.Type.Kind() != reflect.Func {
				if err := d.value(v.Field(i), depth+1); err != nil {
					return err
				}
			}
		}
	case reflect.Pointer:
		if len(d.buf) == 0 || d.buf[0] > 1 {
			return errMalformed
		}
		if d.take(1)[0] == 0 {
			return nil
		}
		p := reflect.New(t.Elem())
		if err := d.value(p.Elem(), depth+1); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Interface:
		n, isNil, err := d.length()
		if err != nil || isNil {
			return err
		}
		name := string(d.take(n))
		et, ok := wireTypes()[name]
		if !ok || !et.Implements(t) {
			return fmt.Errorf("%w: type %q is not one that crosses to the agent here", errMalformed, name)
		}
		e := reflect.New(et).Elem()
		if err := d.value(e, depth+1); err != nil {
			return err
		}
		v.Set(e)
	default:
		return fmt.Errorf("%w: a value of kind %s cannot cross to the agent", errProtocol, t.Kind())
	}
	return nil
}

func (d *decoder) elems(v reflect.Value, depth int) error {
	for i := range v.Len() {
		if err := d.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	return nil
}
