package abi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/vectors"
)

var update = flag.Bool("update", false, "rewrite abi/vectors/*.json from the vector table")

// The kinds of vectors (SPEC.md §7.9).
var kinds = []string{"value", "metadata", "params", "info", "info_list", "secret", "key_list", "entry_list", "http_request", "http_response"}

// vectorFile is the JSON layout of one vector file.
type vectorFile struct {
	Kind        string          `json:"kind"`
	Description string          `json:"description"`
	Input       json.RawMessage `json:"input,omitempty"` // the inputs of a crypto vector (cryptovectors_test.go)
	Hex         string          `json:"hex"`
	Decoded     json.RawMessage `json:"decoded,omitempty"`
	Error       string          `json:"error,omitempty"`
}

// secret is the decoded form of kind "secret".
type secret struct {
	Info  abi.Info
	Value abi.Value
}

// decodeKind decodes b as kind. The result is an abi.Value, abi.Metadata,
// map[string]string, abi.Info, []abi.Info, secret or [][]byte.
func decodeKind(kind string, b []byte) (any, error) {
	switch kind {
	case "value":
		return abi.DecodeValue(b)
	case "metadata":
		return abi.DecodeMetadata(b)
	case "params":
		return abi.DecodeParams(b)
	case "info":
		return abi.DecodeInfo(b)
	case "info_list":
		return abi.DecodeInfoList(b)
	case "secret":
		in, v, err := abi.DecodeSecret(b)
		return secret{in, v}, err
	case "key_list":
		return abi.DecodeKeyList(b)
	case "entry_list":
		return abi.DecodeEntryList(b)
	case "http_request":
		return abi.DecodeHTTPRequest(b)
	case "http_response":
		return abi.DecodeHTTPResponse(b)
	}
	panic("unknown kind " + kind)
}

// encodeKind is the inverse of decodeKind.
func encodeKind(kind string, v any) ([]byte, error) {
	switch kind {
	case "value":
		return abi.AppendValue(nil, v.(abi.Value))
	case "metadata":
		return abi.AppendMetadata(nil, v.(abi.Metadata))
	case "params":
		return abi.AppendParams(nil, v.(map[string]string))
	case "info":
		return abi.AppendInfo(nil, v.(abi.Info))
	case "info_list":
		return abi.AppendInfoList(nil, v.([]abi.Info))
	case "secret":
		s := v.(secret)
		return abi.AppendSecret(nil, s.Info, s.Value)
	case "key_list":
		return abi.AppendKeyList(nil, v.([][]byte)), nil
	case "entry_list":
		return abi.AppendEntryList(nil, v.([]abi.KV)), nil
	case "http_request":
		return abi.AppendHTTPRequest(nil, v.(abi.HTTPRequest))
	case "http_response":
		return abi.AppendHTTPResponse(nil, v.(abi.HTTPResponse))
	}
	panic("unknown kind " + kind)
}

// jsonForm returns the JSON form of a decoded v of kind, as abi/vectors/README.md
// defines it: maps, slices, strings and json.Number.
func jsonForm(kind string, v any) any {
	switch kind {
	case "value":
		return valueJSON(v.(abi.Value))
	case "metadata":
		return metadataJSON(v.(abi.Metadata))
	case "params":
		m := map[string]any{}
		for k, s := range v.(map[string]string) {
			m[k] = s
		}
		return m
	case "info":
		return infoJSON(v.(abi.Info))
	case "info_list":
		l := []any{}
		for _, in := range v.([]abi.Info) {
			l = append(l, infoJSON(in))
		}
		return l
	case "secret":
		s := v.(secret)
		return map[string]any{"info": infoJSON(s.Info), "value": valueJSON(s.Value)}
	case "key_list":
		l := []any{}
		for _, k := range v.([][]byte) {
			l = append(l, base64.StdEncoding.EncodeToString(k))
		}
		return l
	case "entry_list":
		l := []any{}
		for _, kv := range v.([]abi.KV) {
			l = append(l, map[string]any{"key": base64.StdEncoding.EncodeToString(kv.Key), "value": base64.StdEncoding.EncodeToString(kv.Value)})
		}
		return l
	case "http_request":
		r := v.(abi.HTTPRequest)
		return map[string]any{"method": r.Method, "url": r.URL, "headers": headersJSON(r.Header), "body": base64.StdEncoding.EncodeToString(r.Body)}
	case "http_response":
		r := v.(abi.HTTPResponse)
		return map[string]any{"status": json.Number(strconv.Itoa(r.Status)), "headers": headersJSON(r.Header), "body": base64.StdEncoding.EncodeToString(r.Body)}
	}
	panic("unknown kind " + kind)
}

func headersJSON(h map[string]string) map[string]any {
	m := map[string]any{}
	for k, v := range h {
		m[k] = v
	}
	return m
}

func valueJSON(v abi.Value) map[string]any {
	m := map[string]any{"type": v.Type.String()}
	switch v.Type {
	case abi.TypeBytes:
		m["base64"] = base64.StdEncoding.EncodeToString(v.Data)
	case abi.TypeString, abi.TypeSecureString:
		m["data"] = string(v.Data)
	case abi.TypeCredential:
		m["username"] = v.UserName
		m["password"] = string(v.Data)
	case abi.TypeHashtable:
		entries := map[string]any{}
		for _, e := range v.Entries {
			entries[e.Key] = valueJSON(e.Value)
		}
		m["entries"] = entries
	}
	return m
}

func metadataJSON(md abi.Metadata) map[string]any {
	m := map[string]any{}
	for k, v := range md {
		switch v.Kind {
		case abi.MetaString:
			m[k] = map[string]any{"string": v.Str}
		case abi.MetaInt:
			m[k] = map[string]any{"int": json.Number(strconv.FormatInt(v.Int, 10))}
		case abi.MetaDatetime:
			m[k] = map[string]any{"datetime": v.Time.UTC().Format(time.RFC3339Nano)}
		case abi.MetaDatetimeOffset:
			m[k] = map[string]any{"datetime_offset": v.Time.Format(time.RFC3339Nano)}
		default:
			m[k] = map[string]any{"unknown kind": int(v.Kind)}
		}
	}
	return m
}

func infoJSON(in abi.Info) map[string]any {
	return map[string]any{"name": in.Name, "type": in.Type.String(), "metadata": metadataJSON(in.Metadata)}
}

// parseJSON reads the JSON form of kind back into the Go form; it is strict,
// so that a typo in a vector file fails the test instead of being ignored.
func parseJSON(kind string, raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var j any
	if err := d.Decode(&j); err != nil {
		return nil, err
	}
	p := &jsonParser{}
	var v any
	switch kind {
	case "value":
		v = p.value(j, "decoded")
	case "metadata":
		v = p.metadata(j, "decoded")
	case "params":
		m := map[string]string{}
		for k, s := range p.object(j, "decoded") {
			m[k] = p.string(s, "decoded."+k)
		}
		v = m
	case "info":
		v = p.info(j, "decoded")
	case "info_list":
		l := []abi.Info{}
		for i, in := range p.array(j, "decoded") {
			l = append(l, p.info(in, fmt.Sprintf("decoded[%d]", i)))
		}
		v = l
	case "secret":
		o := p.fields(j, "decoded", "info", "value")
		v = secret{p.info(o["info"], "decoded.info"), p.value(o["value"], "decoded.value")}
	case "key_list":
		l := [][]byte{}
		for i, k := range p.array(j, "decoded") {
			l = append(l, p.base64(k, fmt.Sprintf("decoded[%d]", i)))
		}
		v = l
	case "entry_list":
		l := []abi.KV{}
		for i, e := range p.array(j, "decoded") {
			at := fmt.Sprintf("decoded[%d]", i)
			o := p.fields(e, at, "key", "value")
			l = append(l, abi.KV{Key: p.base64(o["key"], at+".key"), Value: p.base64(o["value"], at+".value")})
		}
		v = l
	case "http_request":
		o := p.fields(j, "decoded", "method", "url", "headers", "body")
		v = abi.HTTPRequest{Method: p.string(o["method"], "decoded.method"), URL: p.string(o["url"], "decoded.url"),
			Header: p.headers(o["headers"], "decoded.headers"), Body: p.base64(o["body"], "decoded.body")}
	case "http_response":
		o := p.fields(j, "decoded", "status", "headers", "body")
		n, ok := o["status"].(json.Number)
		status, err := strconv.Atoi(string(n))
		if !ok || err != nil {
			p.fail("decoded.status", "want an integer, have %v", o["status"])
		}
		v = abi.HTTPResponse{Status: status, Header: p.headers(o["headers"], "decoded.headers"), Body: p.base64(o["body"], "decoded.body")}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	return v, p.err
}

type jsonParser struct{ err error }

func (p *jsonParser) fail(path, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func (p *jsonParser) object(j any, path string) map[string]any {
	m, ok := j.(map[string]any)
	if !ok {
		p.fail(path, "want an object, have %T", j)
	}
	return m
}

// fields checks that j is an object with exactly the given fields.
func (p *jsonParser) fields(j any, path string, names ...string) map[string]any {
	m := p.object(j, path)
	for k := range m {
		if !slices.Contains(names, k) {
			p.fail(path, "unknown field %q", k)
		}
	}
	for _, k := range names {
		if _, ok := m[k]; !ok {
			p.fail(path, "missing field %q", k)
		}
	}
	return m
}

func (p *jsonParser) array(j any, path string) []any {
	a, ok := j.([]any)
	if !ok {
		p.fail(path, "want an array, have %T", j)
	}
	return a
}

func (p *jsonParser) string(j any, path string) string {
	s, ok := j.(string)
	if !ok {
		p.fail(path, "want a string, have %T", j)
	}
	return s
}

func (p *jsonParser) headers(j any, path string) map[string]string {
	h := map[string]string{}
	for k, s := range p.object(j, path) {
		h[k] = p.string(s, path+"."+k)
	}
	return h
}

func (p *jsonParser) base64(j any, path string) []byte {
	b, err := base64.StdEncoding.Strict().DecodeString(p.string(j, path))
	if err != nil {
		p.fail(path, "%v", err)
	}
	return b
}

func (p *jsonParser) value(j any, path string) abi.Value {
	t, ok := abi.ParseType(p.string(p.object(j, path)["type"], path+".type"))
	if !ok {
		p.fail(path, "unknown type")
		return abi.Value{}
	}
	v := abi.Value{Type: t}
	switch t {
	case abi.TypeBytes:
		v.Data = p.base64(p.fields(j, path, "type", "base64")["base64"], path+".base64")
	case abi.TypeString, abi.TypeSecureString:
		v.Data = []byte(p.string(p.fields(j, path, "type", "data")["data"], path+".data"))
	case abi.TypeCredential:
		o := p.fields(j, path, "type", "username", "password")
		v.UserName = p.string(o["username"], path+".username")
		v.Data = []byte(p.string(o["password"], path+".password"))
	case abi.TypeHashtable:
		entries := p.object(p.fields(j, path, "type", "entries")["entries"], path+".entries")
		for k, e := range entries {
			v.Entries = append(v.Entries, abi.Entry{Key: k, Value: p.value(e, path+".entries."+k)})
		}
		// Map order is random; the encoder sorts.
	}
	return v
}

func (p *jsonParser) metadata(j any, path string) abi.Metadata {
	md := abi.Metadata{}
	for k, e := range p.object(j, path) {
		o := p.object(e, path+"."+k)
		if len(o) != 1 {
			p.fail(path+"."+k, "want exactly one of string, int, datetime, datetime_offset")
			continue
		}
		switch {
		case o["string"] != nil:
			md[k] = abi.MetaValue{Kind: abi.MetaString, Str: p.string(o["string"], path+"."+k)}
		case o["int"] != nil:
			n, ok := o["int"].(json.Number)
			i, err := strconv.ParseInt(string(n), 10, 64)
			if !ok || err != nil {
				p.fail(path+"."+k, "want a 64-bit integer, have %v", o["int"])
			}
			md[k] = abi.MetaValue{Kind: abi.MetaInt, Int: i}
		case o["datetime"] != nil:
			t, err := time.Parse(time.RFC3339Nano, p.string(o["datetime"], path+"."+k))
			if err != nil {
				p.fail(path+"."+k, "%v", err)
			}
			md[k] = abi.MetaValue{Kind: abi.MetaDatetime, Time: t}
		case o["datetime_offset"] != nil:
			t, err := time.Parse(time.RFC3339Nano, p.string(o["datetime_offset"], path+"."+k))
			if err != nil {
				p.fail(path+"."+k, "%v", err)
			}
			md[k] = abi.MetaValue{Kind: abi.MetaDatetimeOffset, Time: t}
		default:
			p.fail(path+"."+k, "want exactly one of string, int, datetime, datetime_offset")
		}
	}
	return md
}

func (p *jsonParser) info(j any, path string) abi.Info {
	o := p.fields(j, path, "name", "type", "metadata")
	t, ok := abi.ParseType(p.string(o["type"], path+".type"))
	if !ok {
		p.fail(path+".type", "unknown type")
	}
	return abi.Info{Name: p.string(o["name"], path+".name"), Type: t, Metadata: p.metadata(o["metadata"], path+".metadata")}
}

// canonicalJSON re-marshals a JSON document so that two documents with the
// same content compare equal byte for byte.
func canonicalJSON(t testing.TB, raw []byte) string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var j any
	if err := d.Decode(&j); err != nil {
		t.Fatalf("bad JSON: %v", err)
	}
	return string(marshalJSON(t, j))
}

func marshalJSON(t testing.TB, j any) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(j); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// readVectors returns every vector in fsys, keyed by file name.
func readVectors(t testing.TB, fsys fs.FS) map[string]vectorFile {
	t.Helper()
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]vectorFile{}
	for _, name := range names {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		var v vectorFile
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all[name] = v
	}
	return all
}

// vectorsOfKind returns the bytes of every vector of kind, valid or not.
func vectorsOfKind(t testing.TB, kind string) [][]byte {
	t.Helper()
	var out [][]byte
	for name, v := range readVectors(t, vectors.FS()) {
		if v.Kind != kind {
			continue
		}
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, b)
	}
	return out
}

// TestVectors runs every vector in vectors.FS(), and checks that the files are
// those the table in vectorgen_test.go produces. With -update it rewrites
// them first and runs the files on disk (the embedded ones are stale).
func TestVectors(t *testing.T) {
	want := generateVectors(t)
	fsys := vectors.FS()
	if *update {
		writeVectors(t, want)
		fsys = os.DirFS("vectors")
	}

	have := readVectors(t, fsys)
	if len(have) < 40 {
		t.Errorf("only %d vectors", len(have))
	}
	counts := map[string][2]int{}
	for name, v := range have {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) { runVector(t, name, v) })
		c := counts[v.Kind]
		if v.Error == "" {
			c[0]++
		} else {
			c[1]++
		}
		counts[v.Kind] = c
	}
	for _, k := range append(slices.Sorted(maps.Keys(cryptoKinds)), kinds...) {
		if c := counts[k]; c[0] == 0 || c[1] == 0 {
			t.Errorf("kind %s has %d valid and %d invalid vectors, want some of each", k, c[0], c[1])
		}
	}

	t.Run("in-sync", func(t *testing.T) {
		for name, raw := range want {
			on, err := fs.ReadFile(fsys, name)
			if err != nil || !bytes.Equal(on, raw) {
				t.Errorf("%s differs from the vector table; run go test ./abi -run TestVectors -update", name)
			}
		}
		for name := range have {
			if _, ok := want[name]; !ok {
				t.Errorf("%s is not in the vector table; run go test ./abi -run TestVectors -update", name)
			}
		}
	})
}

func runVector(t *testing.T, name string, v vectorFile) {
	if _, ok := cryptoKinds[v.Kind]; ok && strings.HasPrefix(name, v.Kind+"-") {
		runCryptoVector(t, v)
		return
	}
	if !slices.Contains(kinds, v.Kind) {
		t.Fatalf("unknown kind %q", v.Kind)
	}
	if !strings.HasPrefix(name, v.Kind+"-") {
		t.Errorf("file name does not start with the kind %q", v.Kind)
	}
	if v.Description == "" {
		t.Error("no description")
	}
	if (v.Error == "") == (v.Decoded == nil) {
		t.Fatal(`want exactly one of "decoded" and "error"`)
	}
	b, err := hex.DecodeString(v.Hex)
	if err != nil || hex.EncodeToString(b) != v.Hex {
		t.Fatalf("hex is not lower-case hex: %v", err)
	}

	got, err := decodeKind(v.Kind, b)
	if v.Error != "" {
		if err == nil {
			t.Fatalf("decoded an invalid %s (%s): %s", v.Kind, v.Error, marshalJSON(t, jsonForm(v.Kind, got)))
		}
		var de *abi.DecodeError
		if !errors.As(err, &de) || !(errors.Is(err, abi.InvalidArgument) || errors.Is(err, abi.TooLarge)) {
			t.Errorf("error %v (%T) is not a DecodeError wrapping InvalidArgument or TooLarge", err, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if g, w := string(marshalJSON(t, jsonForm(v.Kind, got))), canonicalJSON(t, v.Decoded); g != w {
		t.Errorf("decoded\n have %s\n want %s", g, w)
	}
	re, err := encodeKind(v.Kind, got)
	if err != nil || !bytes.Equal(re, b) {
		t.Errorf("re-encoding the decoded value: %x, %v; want %s", re, err, v.Hex)
	}
	// The JSON form alone must carry everything: encode it and get the hex.
	parsed, err := parseJSON(v.Kind, v.Decoded)
	if err != nil {
		t.Fatalf("decoded: %v", err)
	}
	re, err = encodeKind(v.Kind, parsed)
	if err != nil || !bytes.Equal(re, b) {
		t.Errorf("encoding the JSON form: %x, %v; want %s", re, err, v.Hex)
	}
}

// generateVectors renders the tables of vectorgen_test.go and
// cryptovectors_test.go as files.
func generateVectors(t *testing.T) map[string][]byte {
	t.Helper()
	files := map[string]vectorFile{}
	generateCryptoVectors(t, files)
	for _, c := range vectorCases() {
		kind, _, ok := strings.Cut(c.name, "-")
		if !ok || !slices.Contains(kinds, kind) {
			t.Fatalf("vector %s: name is not <kind>-<case>", c.name)
		}
		f := vectorFile{Kind: kind, Description: c.desc}
		if c.err == "" {
			b, err := encodeKind(kind, c.value)
			if err != nil {
				t.Fatalf("vector %s: %v", c.name, err)
			}
			got, err := decodeKind(kind, b)
			if err != nil {
				t.Fatalf("vector %s: %v", c.name, err)
			}
			f.Hex = hex.EncodeToString(b)
			f.Decoded = marshalJSON(t, jsonForm(kind, got))
		} else {
			f.Hex = hex.EncodeToString(c.bytes)
			f.Error = c.err
		}
		name := c.name + ".json"
		if _, dup := files[name]; dup {
			t.Fatalf("vector %s twice", c.name)
		}
		files[name] = f
	}
	out := map[string][]byte{}
	for name, f := range files {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		e.SetIndent("", "  ")
		if err := e.Encode(f); err != nil {
			t.Fatal(err)
		}
		out[name] = buf.Bytes()
	}
	return out
}

func writeVectors(t *testing.T, files map[string][]byte) {
	t.Helper()
	old, err := filepath.Glob(filepath.Join("vectors", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range old {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
	for name, raw := range files {
		if err := os.WriteFile(filepath.Join("vectors", name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJSONFormRoundTrip checks the JSON helpers themselves on a value that
// uses every field, so that a vector cannot pass by both sides being empty.
func TestJSONFormRoundTrip(t *testing.T) {
	s := secret{
		Info: abi.Info{Name: "n", Type: abi.TypeHashtable, Metadata: abi.Metadata{
			"s": {Kind: abi.MetaString, Str: "x"},
			"i": {Kind: abi.MetaInt, Int: -7},
			"d": {Kind: abi.MetaDatetime, Time: time.Unix(-1, 5).UTC()},
		}},
		Value: abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{
			{Key: "b", Value: abi.Value{Type: abi.TypeBytes, Data: []byte{0, 0xff}}},
			{Key: "c", Value: abi.Value{Type: abi.TypeCredential, UserName: "u", Data: []byte("p")}},
			{Key: "s", Value: abi.Value{Type: abi.TypeSecureString, Data: []byte("ss")}},
		}},
	}
	raw := marshalJSON(t, jsonForm("secret", s))
	const want = `{"info":{"metadata":{"d":{"datetime":"1969-12-31T23:59:59.000000005Z"},"i":{"int":-7},"s":{"string":"x"}},"name":"n","type":"hashtable"},` +
		`"value":{"entries":{"b":{"base64":"AP8=","type":"bytes"},"c":{"password":"p","type":"credential","username":"u"},"s":{"data":"ss","type":"securestring"}},"type":"hashtable"}}`
	if string(raw) != want {
		t.Errorf("JSON form\n have %s\n want %s", raw, want)
	}
	back, err := parseJSON("secret", raw)
	if err != nil {
		t.Fatal(err)
	}
	b1, err1 := encodeKind("secret", s)
	b2, err2 := encodeKind("secret", back)
	if err1 != nil || err2 != nil || !bytes.Equal(b1, b2) {
		t.Errorf("JSON round trip changed the encoding: %v %v\n%x\n%x", err1, err2, b1, b2)
	}

	for _, bad := range []string{
		`{"info":{"name":"n","type":"string","metadata":{}},"value":{"type":"string","data":"x","extra":1}}`,
		`{"info":{"name":"n","type":"string","metadata":{"k":{"int":1.5}}},"value":{"type":"string","data":"x"}}`,
		`{"info":{"name":"n","type":"string","metadata":{"k":{"int":1,"string":"x"}}},"value":{"type":"string","data":"x"}}`,
		`{"info":{"name":"n","type":"nope","metadata":{}},"value":{"type":"string","data":"x"}}`,
		`{"info":{"name":"n","type":"bytes","metadata":{}},"value":{"type":"bytes","base64":"!!"}}`,
		`{"info":{"name":"n","type":"string"},"value":{"type":"string","data":"x"}}`,
	} {
		if _, err := parseJSON("secret", []byte(bad)); err == nil {
			t.Errorf("parseJSON accepted %s", bad)
		}
	}
}

// TestVectorsReflectTable guards the Go form of decoded vectors: the table's
// values must survive a decode unchanged (apart from sorting and nil maps).
func TestVectorsReflectTable(t *testing.T) {
	for _, c := range vectorCases() {
		if c.err != "" {
			continue
		}
		kind, _, _ := strings.Cut(c.name, "-")
		b, err := encodeKind(kind, c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := decodeKind(kind, b)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g, w := jsonForm(kind, got), jsonForm(kind, c.value)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: decode changed the value\n have %s\n want %s", c.name, marshalJSON(t, g), marshalJSON(t, w))
		}
	}
}
