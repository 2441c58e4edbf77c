package testwasm

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// The tests below drive the guests through fakeHost. They check the SDK
// (abi/guest) and the guests against SPEC.md; the sandbox has its own.

func str(s string) abi.Value { return abi.Value{Type: abi.TypeString, Data: []byte(s)} }

func encValue(t *testing.T, v abi.Value) []byte {
	t.Helper()
	b, err := abi.AppendValue(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encMeta(t *testing.T, md abi.Metadata) []byte {
	t.Helper()
	b, err := abi.AppendMetadata(nil, md)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func manifest(t *testing.T, r result) abi.Manifest {
	t.Helper()
	var m abi.Manifest
	if err := json.Unmarshal(r.out, &m); err != nil {
		t.Fatalf("manifest %s: %v", r.out, err)
	}
	return m
}

func TestGoVault(t *testing.T) {
	h := newFakeHost(t, Build(t, goVault))
	m := h.instance()

	got := manifest(t, h.mustCall(m, abi.OK, abi.ExportManifest))
	want := abi.Manifest{
		ABI: 1, Name: "go-vault", Version: "1.0.0", Description: "a vault over host storage",
		Metadata: true, CaseSensitive: false, DatetimeOffset: true,
		Operations: []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpSetMetadata, abi.OpTest},
		Grants:     []string{abi.GrantStorage},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("manifest = %+v\nwant %+v", got, want)
	}

	params, _ := abi.AppendParams(nil, map[string]string{"a": "b"})
	h.mustCall(m, abi.OK, abi.ExportInit, []byte("Vault"), params)
	h.mustCall(m, abi.OK, abi.ExportTest)
	if len(h.kv) != 0 {
		t.Errorf("Test left %d records", len(h.kv))
	}

	get := func(name string) (abi.Info, abi.Value) {
		t.Helper()
		r := h.mustCall(m, abi.OK, abi.ExportGet, []byte(name))
		in, v, err := abi.DecodeSecret(r.out)
		if err != nil {
			t.Fatal(err)
		}
		return in, v
	}
	note := abi.Metadata{"note": {Kind: abi.MetaString, Str: "x"}}

	// Create, then read back with another case.
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("Foo"), encValue(t, str("bar")), encMeta(t, note))
	in, v := get("FOO")
	if in.Name != "Foo" || string(v.Data) != "bar" || !reflect.DeepEqual(in.Metadata, note) {
		t.Errorf("get FOO = %+v %q", in, v.Data)
	}

	// No metadata given: keep the stored spelling and metadata.
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("fOO"), encValue(t, str("baz")), nil)
	if in, v = get("foo"); in.Name != "Foo" || string(v.Data) != "baz" || !reflect.DeepEqual(in.Metadata, note) {
		t.Errorf("after set without metadata: %+v %q", in, v.Data)
	}
	// An empty map clears it.
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("foo"), encValue(t, str("baz")), encMeta(t, abi.Metadata{}))
	if in, _ = get("foo"); len(in.Metadata) != 0 {
		t.Errorf("metadata not cleared: %+v", in)
	}

	// set_metadata, stat.
	h.mustCall(m, abi.NotFound, abi.ExportSetMetadata, []byte("nope"), encMeta(t, note))
	count := abi.Metadata{"n": {Kind: abi.MetaInt, Int: 3}}
	h.mustCall(m, abi.OK, abi.ExportSetMetadata, []byte("FOO"), encMeta(t, count))
	r := h.mustCall(m, abi.OK, abi.ExportStat, []byte("foo"))
	if in, err := abi.DecodeInfo(r.out); err != nil || in.Name != "Foo" || in.Type != abi.TypeString || !reflect.DeepEqual(in.Metadata, count) {
		t.Errorf("stat = %+v, %v", in, err)
	}
	h.mustCall(m, abi.NotFound, abi.ExportStat, []byte("nope"))

	// Unicode case folding: long s, Kelvin sign.
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("ſecret"), encValue(t, str("1")), nil)
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("\u212aey"), encValue(t, str("2")), nil)
	if in, _ = get("SECRET"); in.Name != "ſecret" {
		t.Errorf("get SECRET = %+v", in)
	}
	if in, _ = get("key"); in.Name != "\u212aey" {
		t.Errorf("get key = %+v", in)
	}
	h.mustCall(m, abi.NotFound, abi.ExportGet, []byte("İ"))

	list := func(pattern string) []string {
		t.Helper()
		r := h.mustCall(m, abi.OK, abi.ExportList, []byte(pattern))
		infos, err := abi.DecodeInfoList(r.out)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range infos {
			names = append(names, in.Name)
		}
		return names
	}
	if got := list("f*"); !reflect.DeepEqual(got, []string{"Foo"}) {
		t.Errorf("list f* = %q", got)
	}
	if got := list("S?CRET"); !reflect.DeepEqual(got, []string{"ſecret"}) {
		t.Errorf("list S?CRET = %q", got)
	}
	if got := list("*"); len(got) != 3 {
		t.Errorf("list * = %q", got)
	}

	// Remove.
	h.mustCall(m, abi.OK, abi.ExportRemove, []byte("FOO"))
	h.mustCall(m, abi.NotFound, abi.ExportGet, []byte("foo"))
	if r := h.mustCall(m, abi.NotFound, abi.ExportRemove, []byte("foo")); r.msg != "" {
		t.Errorf("remove of an absent secret: message %q, want none", r.msg)
	}

	// What the vault does not implement.
	h.mustCall(m, abi.Unsupported, abi.ExportUnlock, []byte("pw"))
	h.mustCall(m, abi.Unsupported, abi.ExportLock)
	h.mustCall(m, abi.Unsupported, abi.ExportSetPassword, nil, []byte("pw"))

	// Malformed arguments.
	if r := h.mustCall(m, abi.InvalidArgument, abi.ExportSet, []byte("x"), []byte{99}, nil); !strings.Contains(r.msg, "argument 1 (value)") {
		t.Errorf("bad value: message %q", r.msg)
	}
	h.mustCall(m, abi.InvalidArgument, abi.ExportGet, []byte{0xff})
	h.mustCall(m, abi.InvalidArgument, abi.ExportSetMetadata, []byte("ſecret"), nil)

	// Values larger than the first buffers, and more keys than one page.
	big := abi.Value{Type: abi.TypeBytes, Data: []byte(strings.Repeat("v", 100<<10))}
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("big"), encValue(t, big), nil)
	if _, v = get("BIG"); !reflect.DeepEqual(v, big) {
		t.Errorf("big value: %d bytes back", len(v.Data))
	}
	for i := range 300 {
		h.mustCall(m, abi.OK, abi.ExportSet, []byte("k"+strconv.Itoa(i)), encValue(t, str("v")), nil)
	}
	if got := list("K*"); len(got) != 301 { // and "Key" with the Kelvin sign
		t.Errorf("list K* = %d names, want 301", len(got))
	}

	// Without the storage grant.
	h.storage = false
	if r := h.mustCall(m, abi.PermissionDenied, abi.ExportGet, []byte("big")); !strings.Contains(r.msg, "kv_get") {
		t.Errorf("no grant: message %q", r.msg)
	}
	h.storage = true
}
