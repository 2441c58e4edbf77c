package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// The parsers here read what the vault finds in its storage area: bytes of
// a file on disk, which anyone with the user's rights may have changed.
// Each fuzz test checks that a parser never panics, fails only with the
// package's errors, and accepts only what the matching Marshal writes.
// Seeds: the f.Add calls below and testdata/fuzz/<FuzzName>/.

// fuzzMaster is a fixed master, so that fuzz inputs are reproducible.
func fuzzMaster() *Master {
	m := new(Master)
	for i := range m.ID {
		m.ID[i] = byte(i)
	}
	for i := range m.Key {
		m.Key[i] = byte(0x80 + i)
	}
	return m
}

var fuzzKEK = bytes.Repeat([]byte{7}, 32)

// FuzzParseConfig parses c/config records.
func FuzzParseConfig(f *testing.F) {
	m := fuzzMaster()
	for _, p := range []KDFParams{DefaultKDF(), {Time: 1, MemoryKiB: 8, Threads: 1}, {}} {
		for _, salt := range [][]byte{NewSalt(), nil, bytes.Repeat([]byte{1}, 255)} {
			c, err := WrapMaster(m, fuzzKEK, p, salt, 1_700_000_000_000)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(c.Marshal())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || c != nil {
				t.Fatalf("ParseConfig = %v, %v", c, err)
			}
			return
		}
		clear(b) // the result must not alias the input
		if out := c.Marshal(); !bytes.Equal(out, orig) {
			t.Fatalf("not canonical:\n in  %x\n out %x", orig, out)
		}
		got, err := c.Unwrap(fuzzKEK)
		switch {
		case errors.Is(err, ErrWrongKey):
		case err != nil:
			t.Fatalf("Unwrap: %v", err)
		case got.ID != c.ID:
			t.Fatalf("Unwrap gave the master of store %x from the config of %x", got.ID, c.ID)
		}
	})
}

// FuzzParseKeys parses the fixed-size records: c/key (ParseKeyRecord), and
// the keyring blobs (ParseMaster, ParseKeys), which come back from the
// host.
func FuzzParseKeys(f *testing.F) {
	m := fuzzMaster()
	f.Add(m.MarshalKeyRecord(1_700_000_000_000))
	f.Add(m.MarshalKeyRecord(-1))
	f.Add(m.Marshal())
	f.Add(m.Keys().Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		if m, created, err := ParseKeyRecord(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseKeyRecord: %v", err)
			}
		} else if out := m.MarshalKeyRecord(created); !bytes.Equal(out[1:], orig[1:]) || out[0] != orig[0] && orig[0] != 1 {
			// A record of format v1 differs only in its version byte.
			t.Fatalf("ParseKeyRecord not canonical:\n in  %x\n out %x", orig, out)
		}
		if m, err := ParseMaster(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseMaster: %v", err)
			}
		} else if out := m.Marshal(); !bytes.Equal(out, orig) {
			t.Fatalf("ParseMaster not canonical:\n in  %x\n out %x", orig, out)
		}
		if k, err := ParseKeys(b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseKeys: %v", err)
			}
		} else {
			clear(b)
			if out := k.Marshal(); !bytes.Equal(out, orig) {
				t.Fatalf("ParseKeys not canonical or aliased:\n in  %x\n out %x", orig, out)
			}
		}
	})
}

// FuzzOpen opens secret records. The fuzzer chooses the record's type byte
// and its plain text, which is sealed under the store's keys as a broken or
// hostile writer holding them could; and, separately, a record of raw bytes,
// which must fail authentication unless it is one of the seeds. Open must
// return the secret only when the plain text is a canonical secret of that
// type under the name looked up, and otherwise ErrCorrupt or ErrAuth.
func FuzzOpen(f *testing.F) {
	k := fuzzMaster().Keys()
	in, v := testSecret()
	plain, err := abi.AppendSecret(nil, in, v)
	if err != nil {
		f.Fatal(err)
	}
	rec, err := k.Seal(k.RecordKey(in.Name), in, v)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(byte(v.Type), plain, in.Name, rec)
	s, _ := abi.AppendSecret(nil, abi.Info{Name: "b", Type: abi.TypeBytes}, abi.Value{Type: abi.TypeBytes, Data: []byte{0, 1}})
	f.Add(byte(abi.TypeBytes), s, "B", []byte{Version, 1})
	f.Add(byte(abi.TypeString), s, "b", []byte{})
	f.Add(byte(abi.TypeHashtable), []byte{}, "", bytes.Repeat([]byte{Version}, recordHeader+TagSize))
	f.Fuzz(func(t *testing.T, typ byte, plain []byte, name string, raw []byte) {
		// A record sealed with the store's keys.
		key := k.RecordKey(name)
		rec := make([]byte, recordHeader, recordHeader+len(plain)+TagSize)
		rec[0], rec[1] = Version, typ
		rec = k.aead.Seal(rec, rec[2:recordHeader], plain, recordAD(key, abi.Type(typ)))
		gotIn, gotV, err := k.Open(key, rec, name)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrAuth) {
				t.Fatalf("Open: %v", err)
			}
		} else {
			if gotIn.Type != abi.Type(typ) || gotV.Type != abi.Type(typ) || abi.Fold(gotIn.Name) != abi.Fold(name) {
				t.Fatalf("Open of a %d record looked up as %q gave %q of type %d", typ, name, gotIn.Name, gotV.Type)
			}
			re, err := abi.AppendSecret(nil, gotIn, gotV)
			if err != nil || !bytes.Equal(re, plain) {
				t.Fatalf("Open accepted a non-canonical secret: %x (%v)", plain, err)
			}
		}
		// The same record under another storage key fails authentication.
		if _, _, err := k.Open(k.RecordKey(name+"x"), rec, ""); !errors.Is(err, ErrAuth) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open under another key: %v", err)
		}
		// Raw bytes.
		if _, _, err := k.Open(key, raw, ""); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrAuth) {
			t.Fatalf("Open of raw bytes: %v", err)
		}
	})
}

// FuzzManifest parses the manifest's root (ParseRoot), a bucket's index
// (ParseIndex) and its infos (OpenBucket, on the bytes as stored, and on
// any plain text sealed as infos under the keys, to reach the decoder
// behind authentication): errors are ErrCorrupt or ErrTampered only, and
// what is accepted is canonical: the root marshals back to its bytes, the
// entries seal into a bucket that opens to them again.
func FuzzManifest(f *testing.F) {
	k := fuzzMaster().Keys()
	key := k.RecordKey("name")
	rec, err := k.Seal(key, abi.Info{Name: "Name", Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte("v")})
	if err != nil {
		f.Fatal(err)
	}
	man, err := k.Manifest(map[string][]byte{string(key): rec})
	if err != nil {
		f.Fatal(err)
	}
	for name, b := range man {
		f.Add(b, name == KeyRoot)
	}
	f.Add([]byte{}, false)
	f.Add(binary.LittleEndian.AppendUint32(nil, 0), false)
	f.Fuzz(func(t *testing.T, b []byte, root bool) {
		if root {
			r, err := k.ParseRoot(b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTampered) {
					t.Fatalf("ParseRoot: %v", err)
				}
				return
			}
			if out := k.MarshalRoot(r); !bytes.Equal(out, b) {
				t.Fatalf("root not canonical:\n in  %x\n out %x", b, out)
			}
			return
		}
		idx := byte(len(b))
		if entries, tag, err := ParseIndex(idx, b); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("ParseIndex: %v", err)
			}
		} else if again := indexOf(entries, tag); !bytes.Equal(again, b) {
			t.Fatalf("index not canonical:\n in  %x\n out %x", b, again)
		}
		box := k.sealRaw(idx, b)
		entries, err := k.openInfos(idx, 0, 0, box)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTampered) {
				t.Fatalf("openInfos: %v", err)
			}
			return
		}
		if _, err := k.OpenBucket(idx, indexOf(entries, [TagSize]byte(box[len(box)-TagSize:])), box); err != nil && len(entries) > 0 {
			t.Fatalf("OpenBucket of infos and their index: %v", err)
		}
		if len(entries) == 0 {
			return // no bucket is empty: an empty one has no records
		}
		index, infos, err := k.SealBucket(idx, entries)
		if err != nil {
			t.Fatalf("SealBucket of what OpenBucket read: %v", err)
		}
		if back, err := k.OpenBucket(idx, index, infos); err != nil || !reflect.DeepEqual(back, entries) {
			t.Fatalf("entries %+v sealed and opened again: %+v, %v", entries, back, err)
		}
	})
}

// indexOf returns the index of entries whose infos' box has tag.
func indexOf(entries []Entry, tag [TagSize]byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte{StoreVersion}, uint32(len(entries)))
	for _, e := range entries {
		b = append(append(b, e.Hash[:]...), e.Tag[:]...)
	}
	return append(b, tag[:]...)
}

// sealRaw seals plain as the box of bucket idx.
func (k *Keys) sealRaw(idx byte, plain []byte) []byte {
	b := make([]byte, 1+NonceSize, 1+NonceSize+len(plain)+TagSize)
	b[0] = StoreVersion
	return k.aead.Seal(b, b[1:], plain, leafAD(idx, 0, 0))
}
