package abi

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DecodeError reports malformed bytes. It wraps InvalidArgument, or TooLarge
// when the bytes exceed a size limit of SPEC.md §7 (as EncodeError does).
type DecodeError struct {
	What   string // the encoding being decoded: "value", "metadata", …
	Offset int    // byte offset of the problem
	Reason string

	status Status // TooLarge for a size limit; zero means InvalidArgument
}

func (e *DecodeError) Error() string {
	return "abi: bad " + e.What + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap lets errors.Is(err, InvalidArgument) (or TooLarge) match.
func (e *DecodeError) Unwrap() error {
	if e.status != OK {
		return e.status
	}
	return InvalidArgument
}

// EncodeError reports a value that cannot be encoded. It wraps InvalidArgument,
// or TooLarge for a size limit.
type EncodeError struct {
	What   string
	Reason string
	Err    Status
}

func (e *EncodeError) Error() string { return "abi: cannot encode " + e.What + ": " + e.Reason }

// Unwrap returns the status the error maps to.
func (e *EncodeError) Unwrap() error { return e.Err }

// reader walks an encoding; the first error sticks and later reads return zero values.
type reader struct {
	what string
	b    []byte
	off  int
	err  error
}

func (r *reader) fail(reason string) {
	if r.err == nil {
		r.err = &DecodeError{What: r.what, Offset: r.off, Reason: reason}
	}
}

// failLimit is fail for a size limit: the error wraps TooLarge.
func (r *reader) failLimit(reason string) {
	if r.err == nil {
		r.err = &DecodeError{What: r.what, Offset: r.off, Reason: reason, status: TooLarge}
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8() byte {
	if r.err != nil {
		return 0
	}
	if r.left() < 1 {
		r.fail("unexpected end")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if r.left() < 4 {
		r.fail("unexpected end")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	if r.left() < 8 {
		r.fail("unexpected end")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// offset reads the i16 UTC offset in minutes of a MetaDatetimeOffset and
// returns t in it (in UTC for 0).
func (r *reader) offset(t time.Time) time.Time {
	if r.err != nil {
		return t
	}
	if r.left() < 2 {
		r.fail("unexpected end")
		return t
	}
	m := int(int16(binary.LittleEndian.Uint16(r.b[r.off:])))
	if m < -MaxOffsetMinutes || m > MaxOffsetMinutes {
		r.fail("UTC offset out of range")
		return t
	}
	r.off += 2
	if m == 0 {
		return t
	}
	return t.In(time.FixedZone("", m*60))
}

// bytes returns the next n bytes, aliasing the input.
func (r *reader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(r.left()) {
		r.fail("length " + strconv.FormatUint(uint64(n), 10) + " past the end")
		return nil
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v
}

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	v := r.b[r.off:]
	r.off = len(r.b)
	return v
}

func (r *reader) str(max int) string {
	start := r.off
	n := r.u32()
	if r.err == nil && max > 0 && uint64(n) > uint64(max) {
		r.off = start
		r.failLimit("string of " + strconv.FormatUint(uint64(n), 10) + " bytes exceeds " + strconv.Itoa(max))
		return ""
	}
	b := r.bytes(n)
	if r.err == nil && !utf8.Valid(b) {
		r.off = start
		r.fail("invalid UTF-8")
		return ""
	}
	return string(b)
}

// count reads an entry count and checks it against the bytes left, each entry
// taking at least min bytes, so that a huge count cannot make us allocate.
func (r *reader) count(min, max int) int {
	start := r.off
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if max > 0 && uint64(n) > uint64(max) {
		r.off = start
		r.failLimit("count " + strconv.FormatUint(uint64(n), 10) + " exceeds " + strconv.Itoa(max))
		return 0
	}
	if uint64(n)*uint64(min) > uint64(r.left()) {
		r.off = start
		r.fail("count " + strconv.FormatUint(uint64(n), 10) + " past the end")
		return 0
	}
	return int(n)
}

// key reads a map key that must sort strictly after prev.
func (r *reader) key(prev string, first bool, max int) string {
	start := r.off
	k := r.str(max)
	if r.err != nil {
		return ""
	}
	if k == "" {
		r.off = start
		r.fail("empty key")
		return ""
	}
	if !first && k <= prev {
		r.off = start
		r.fail("keys not in ascending order")
		return ""
	}
	return k
}

func (r *reader) end() error {
	if r.err == nil && r.left() != 0 {
		r.fail(strconv.Itoa(r.left()) + " trailing bytes")
	}
	return r.err
}

func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func appendStr(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendParams appends the params-map encoding of m (SPEC.md §7.2).
func AppendParams(b []byte, m map[string]string) ([]byte, error) {
	b = appendU32(b, uint32(len(m)))
	for _, k := range sortedKeys(m) {
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(m[k]) {
			return nil, &EncodeError{What: "params", Reason: "empty key or invalid UTF-8", Err: InvalidArgument}
		}
		b = appendStr(b, k)
		b = appendStr(b, m[k])
	}
	return b, nil
}

// DecodeParams decodes a params map.
func DecodeParams(b []byte) (map[string]string, error) {
	r := &reader{what: "params", b: b}
	n := r.count(8, 0)
	m := make(map[string]string, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k := r.key(prev, i == 0, 0)
		v := r.str(0)
		m[k], prev = v, k
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// AppendMetadata appends the metadata encoding of md (SPEC.md §7.3). A nil md
// encodes as zero entries.
func AppendMetadata(b []byte, md Metadata) ([]byte, error) {
	if err := md.Validate(); err != nil {
		return nil, err
	}
	start := len(b)
	b = appendU32(b, uint32(len(md)))
	for _, k := range sortedKeys(md) {
		v := md[k]
		b = appendStr(b, k)
		b = append(b, byte(v.Kind))
		switch v.Kind {
		case MetaString:
			b = appendStr(b, v.Str)
		case MetaInt:
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Int))
		case MetaDatetime:
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Time.Unix()))
			b = appendU32(b, uint32(v.Time.Nanosecond()))
		case MetaDatetimeOffset:
			_, off := v.Time.Zone()
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Time.Unix()))
			b = appendU32(b, uint32(v.Time.Nanosecond()))
			b = binary.LittleEndian.AppendUint16(b, uint16(int16(off/60)))
		}
	}
	if len(b)-start > MaxMetadataBytes {
		return nil, &EncodeError{What: "metadata", Reason: "encoding exceeds " + strconv.Itoa(MaxMetadataBytes) + " bytes", Err: TooLarge}
	}
	return b, nil
}

// Validate checks md against the limits and kinds of SPEC.md §7.3. Errors name
// the offending key, never a value.
func (md Metadata) Validate() error {
	if len(md) > MaxMetadataKeys {
		return &EncodeError{What: "metadata", Reason: strconv.Itoa(len(md)) + " keys exceed " + strconv.Itoa(MaxMetadataKeys), Err: TooLarge}
	}
	for k, v := range md {
		switch {
		case k == "" || !utf8.ValidString(k):
			return &EncodeError{What: "metadata", Reason: "empty key or key not UTF-8", Err: InvalidArgument}
		case len(k) > MaxMetaKeyBytes:
			return &EncodeError{What: "metadata", Reason: "key " + strconv.Quote(k[:32]+"…") + " longer than " + strconv.Itoa(MaxMetaKeyBytes) + " bytes", Err: TooLarge}
		case v.Kind == MetaString && !utf8.ValidString(v.Str):
			return &EncodeError{What: "metadata", Reason: "value of key " + strconv.Quote(k) + " is not UTF-8", Err: InvalidArgument}
		case v.Kind == MetaString && len(v.Str) > MaxMetaStringLen:
			return &EncodeError{What: "metadata", Reason: "value of key " + strconv.Quote(k) + " longer than " + strconv.Itoa(MaxMetaStringLen) + " bytes", Err: TooLarge}
		case v.Kind < MetaString || v.Kind > MetaDatetimeOffset:
			return &EncodeError{What: "metadata", Reason: "key " + strconv.Quote(k) + " has an unknown kind", Err: InvalidArgument}
		case v.Kind == MetaDatetimeOffset && !validOffset(v.Time):
			return &EncodeError{What: "metadata", Reason: "the UTC offset of key " + strconv.Quote(k) + " is not whole minutes less than a day", Err: InvalidArgument}
		}
	}
	return nil
}

// validOffset reports whether t's UTC offset can be encoded: whole minutes,
// at most MaxOffsetMinutes either way.
func validOffset(t time.Time) bool {
	_, off := t.Zone()
	return off%60 == 0 && off/60 >= -MaxOffsetMinutes && off/60 <= MaxOffsetMinutes
}

// DecodeMetadata decodes a metadata map. It never returns a nil map.
func DecodeMetadata(b []byte) (Metadata, error) {
	r := &reader{what: "metadata", b: b}
	md := r.metadata()
	if err := r.end(); err != nil {
		return nil, err
	}
	return md, nil
}

func (r *reader) metadata() Metadata {
	start := r.off
	n := r.count(4+1+4, MaxMetadataKeys)
	md := make(Metadata, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		k := r.key(prev, i == 0, MaxMetaKeyBytes)
		kindAt := r.off
		var v MetaValue
		v.Kind = MetaKind(r.u8())
		switch v.Kind {
		case MetaString:
			v.Str = r.str(MaxMetaStringLen)
		case MetaInt:
			v.Int = int64(r.u64())
		case MetaDatetime, MetaDatetimeOffset:
			sec := int64(r.u64())
			nsec := r.u32()
			if r.err == nil && nsec >= 1e9 {
				r.off -= 4
				r.fail("nanoseconds out of range")
			}
			v.Time = time.Unix(sec, int64(nsec)).UTC()
			if v.Kind == MetaDatetimeOffset {
				v.Time = r.offset(v.Time)
			}
		default:
			if r.err == nil {
				r.off = kindAt
				r.fail("unknown metadata kind " + strconv.Itoa(int(v.Kind)))
			}
		}
		md[k], prev = v, k
	}
	if r.err == nil && r.off-start > MaxMetadataBytes {
		r.off = start
		r.failLimit("metadata exceeds " + strconv.Itoa(MaxMetadataBytes) + " bytes")
	}
	return md
}

// AppendValue appends the value encoding of v (SPEC.md §7.4).
func AppendValue(b []byte, v Value) ([]byte, error) {
	start := len(b)
	b, err := appendValue(b, v, false)
	if err != nil {
		return nil, err
	}
	if len(b)-start > MaxValueBytes {
		return nil, &EncodeError{What: "value", Reason: "encoding exceeds " + strconv.Itoa(MaxValueBytes) + " bytes", Err: TooLarge}
	}
	return b, nil
}

// appendValue returns its error as *EncodeError, so that a hashtable entry's
// error is re-wrapped with its key without a type assertion.
func appendValue(b []byte, v Value, nested bool) ([]byte, *EncodeError) {
	if !v.Type.Valid() || (nested && v.Type == TypeHashtable) {
		return nil, &EncodeError{What: "value", Reason: "type " + strconv.Itoa(int(v.Type)) + " not allowed here", Err: InvalidArgument}
	}
	b = append(b, byte(v.Type))
	switch v.Type {
	case TypeBytes:
		b = append(b, v.Data...)
	case TypeString, TypeSecureString:
		if !utf8.Valid(v.Data) {
			return nil, &EncodeError{What: "value", Reason: v.Type.String() + " is not UTF-8", Err: InvalidArgument}
		}
		b = append(b, v.Data...)
	case TypeCredential:
		if !utf8.ValidString(v.UserName) || !utf8.Valid(v.Data) {
			return nil, &EncodeError{What: "value", Reason: "credential is not UTF-8", Err: InvalidArgument}
		}
		b = appendStr(b, v.UserName)
		b = append(b, v.Data...)
	case TypeHashtable:
		if len(v.Entries) > MaxHashtableKeys {
			return nil, &EncodeError{What: "value", Reason: "hashtable has " + strconv.Itoa(len(v.Entries)) + " entries, more than " + strconv.Itoa(MaxHashtableKeys), Err: TooLarge}
		}
		entries := slices.Clone(v.Entries)
		slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
		b = appendU32(b, uint32(len(entries)))
		for i, e := range entries {
			if e.Key == "" || !utf8.ValidString(e.Key) || (i > 0 && e.Key == entries[i-1].Key) {
				return nil, &EncodeError{What: "value", Reason: "hashtable key empty, not UTF-8 or repeated", Err: InvalidArgument}
			}
			b = appendStr(b, e.Key)
			lenAt := len(b)
			b = appendU32(b, 0)
			var err *EncodeError
			if b, err = appendValue(b, e.Value, true); err != nil {
				return nil, &EncodeError{What: "value", Reason: "hashtable key " + strconv.Quote(e.Key) + ": " + err.Reason, Err: err.Err}
			}
			binary.LittleEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
		}
	}
	return b, nil
}

// DecodeValue decodes a value. The result does not alias b.
func DecodeValue(b []byte) (Value, error) {
	if len(b) > MaxValueBytes {
		return Value{}, &DecodeError{What: "value", Offset: MaxValueBytes, Reason: "value exceeds " + strconv.Itoa(MaxValueBytes) + " bytes", status: TooLarge}
	}
	r := &reader{what: "value", b: b}
	v := r.value(false)
	if err := r.end(); err != nil {
		return Value{}, err
	}
	return v, nil
}

func (r *reader) value(nested bool) Value {
	at := r.off
	t := Type(r.u8())
	if r.err != nil {
		return Value{}
	}
	if !t.Valid() || (nested && t == TypeHashtable) {
		r.off = at
		r.fail("type " + strconv.Itoa(int(t)) + " not allowed here")
		return Value{}
	}
	v := Value{Type: t}
	switch t {
	case TypeBytes:
		v.Data = slices.Clone(r.rest())
		if v.Data == nil {
			v.Data = []byte{}
		}
	case TypeString, TypeSecureString:
		v.Data = slices.Clone(r.rest())
		if !utf8.Valid(v.Data) {
			r.off = at + 1
			r.fail("invalid UTF-8")
		}
		if v.Data == nil {
			v.Data = []byte{}
		}
	case TypeCredential:
		v.UserName = r.str(0)
		pwAt := r.off
		pw := r.rest()
		if r.err == nil && !utf8.Valid(pw) {
			r.off = pwAt
			r.fail("invalid UTF-8 in password")
		}
		v.Data = append([]byte{}, pw...)
	case TypeHashtable:
		n := r.count(4+4+1, MaxHashtableKeys)
		v.Entries = make([]Entry, 0, n)
		prev := ""
		for i := 0; i < n && r.err == nil; i++ {
			k := r.key(prev, i == 0, 0)
			size := r.u32()
			inner := r.bytes(size)
			if r.err != nil {
				break
			}
			sub := &reader{what: r.what, b: inner}
			ev := sub.value(true)
			if err := sub.end(); err != nil {
				de := err.(*DecodeError)
				r.off = r.off - len(inner) + de.Offset
				r.fail("hashtable key " + strconv.Quote(k) + ": " + de.Reason)
				break
			}
			v.Entries = append(v.Entries, Entry{Key: k, Value: ev})
			prev = k
		}
	}
	return v
}

// AppendInfo appends an info record (SPEC.md §7.5).
func AppendInfo(b []byte, in Info) ([]byte, error) {
	if !utf8.ValidString(in.Name) || !in.Type.Valid() {
		return nil, &EncodeError{What: "info", Reason: "name not UTF-8 or unknown type", Err: InvalidArgument}
	}
	b = appendStr(b, in.Name)
	b = append(b, byte(in.Type))
	return AppendMetadata(b, in.Metadata)
}

func (r *reader) info() Info {
	var in Info
	in.Name = r.str(0)
	at := r.off
	in.Type = Type(r.u8())
	if r.err == nil && !in.Type.Valid() {
		r.off = at
		r.fail("unknown type " + strconv.Itoa(int(in.Type)))
	}
	in.Metadata = r.metadata()
	return in
}

// DecodeInfo decodes one info record.
func DecodeInfo(b []byte) (Info, error) {
	r := &reader{what: "info", b: b}
	in := r.info()
	if err := r.end(); err != nil {
		return Info{}, err
	}
	return in, nil
}

// AppendInfoList appends an info list (SPEC.md §7.6).
func AppendInfoList(b []byte, list []Info) ([]byte, error) {
	b = appendU32(b, uint32(len(list)))
	for _, in := range list {
		var err error
		if b, err = AppendInfo(b, in); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// DecodeInfoList decodes an info list.
func DecodeInfoList(b []byte) ([]Info, error) { return DecodeInfoListMax(b, 0) }

// DecodeInfoListMax is DecodeInfoList for a list of at most max entries
// (0: no limit): a longer one is refused with an error wrapping TooLarge
// before any entry is decoded, so that what decoding allocates is bounded
// by max (a host bounds a vault's list answers by its memory grant).
func DecodeInfoListMax(b []byte, max int) ([]Info, error) {
	r := &reader{what: "info list", b: b}
	n := r.count(4+1+4, max)
	list := make([]Info, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		list = append(list, r.info())
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return list, nil
}

// AppendSecret appends a secret: an info record followed by the value (SPEC.md §7.7).
func AppendSecret(b []byte, in Info, v Value) ([]byte, error) {
	if in.Type != v.Type {
		return nil, &EncodeError{What: "secret", Reason: "info type " + in.Type.String() + " differs from value type " + v.Type.String(), Err: InvalidArgument}
	}
	b, err := AppendInfo(b, in)
	if err != nil {
		return nil, err
	}
	return AppendValue(b, v)
}

// DecodeSecret decodes a secret.
func DecodeSecret(b []byte) (Info, Value, error) {
	r := &reader{what: "secret", b: b}
	in := r.info()
	if r.err == nil && r.left() > MaxValueBytes {
		r.failLimit("value exceeds " + strconv.Itoa(MaxValueBytes) + " bytes")
	}
	v := r.value(false)
	if err := r.end(); err != nil {
		return Info{}, Value{}, err
	}
	if in.Type != v.Type {
		return Info{}, Value{}, &DecodeError{What: "secret", Offset: 0, Reason: "info type " + in.Type.String() + " differs from value type " + v.Type.String()}
	}
	return in, v, nil
}

// AppendKeyList appends a key list (SPEC.md §7.8).
func AppendKeyList(b []byte, keys [][]byte) []byte {
	b = appendU32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendU32(b, uint32(len(k)))
		b = append(b, k...)
	}
	return b
}

// DecodeKeyList decodes a key list; the keys do not alias b.
func DecodeKeyList(b []byte) ([][]byte, error) {
	r := &reader{what: "key list", b: b}
	n := r.count(4, 0)
	keys := make([][]byte, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		keys = append(keys, slices.Clone(r.bytes(r.u32())))
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return keys, nil
}

// A KV is one entry of a page of kv_scan: a storage key and its value.
type KV struct {
	Key, Value []byte
}

// KVSize is the length of kv's entry in an entry list.
func KVSize(kv KV) int { return 8 + len(kv.Key) + len(kv.Value) }

// AppendEntryList appends an entry list (SPEC.md §7.12).
func AppendEntryList(b []byte, kvs []KV) []byte {
	b = appendU32(b, uint32(len(kvs)))
	for _, kv := range kvs {
		b = appendU32(b, uint32(len(kv.Key)))
		b = append(b, kv.Key...)
		b = appendU32(b, uint32(len(kv.Value)))
		b = append(b, kv.Value...)
	}
	return b
}

// DecodeEntryList decodes an entry list; the keys and values do not alias
// b.
func DecodeEntryList(b []byte) ([]KV, error) {
	r := &reader{what: "entry list", b: b}
	n := r.count(8, 0)
	kvs := make([]KV, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		k := slices.Clone(r.bytes(r.u32()))
		v := slices.Clone(r.bytes(r.u32()))
		kvs = append(kvs, KV{Key: k, Value: v})
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return kvs, nil
}
