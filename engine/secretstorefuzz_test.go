package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/secretstore/format"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The decoders of the secretstore (the C module, through the sandbox) fed
// any bytes as the records it reads from storage, and compared with package
// format, the spec of format v1 that the Go guest used: what format reads,
// the module reads alike; what format refuses, the module refuses with the
// message of a corrupt record, never a trap. The storage area is in memory,
// so that an execution costs calls, not fsyncs.

// ssFuzzPassword is the password of the stores the targets seed.
var ssFuzzPassword = []byte("fuzz password")

// ssFuzz is the module loaded twice over one in-memory storage area: with
// a password and without.
type ssFuzz struct {
	host           *sandbox.Host
	wasm           []byte
	area           *memArea
	password, none *wasmVault
}

func openSSFuzz(tb testing.TB) *ssFuzz {
	wasm, err := os.ReadFile(testwasm.Build(tb, "extensions/secretstore"))
	if err != nil {
		tb.Fatal(err)
	}
	h, err := sandbox.NewHost(sandbox.Config{CacheDir: benchCache, CacheKey: benchCacheKey})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close(context.Background()) })
	f := &ssFuzz{host: h, wasm: wasm, area: &memArea{m: map[string][]byte{}}}
	f.password, f.none = f.load(tb, "Fuzzpassword", "password"), f.load(tb, "Fuzznone", "none")
	return f
}

// load loads the module over the area as the vault name, with
// authentication auth.
func (f *ssFuzz) load(tb testing.TB, name, auth string) *wasmVault {
	mod, err := f.host.Load(context.Background(), sandbox.Spec{Vault: name, Wasm: f.wasm, Storage: f.area,
		Params: map[string]string{"authentication": auth}, Timeout: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	return newWasmVault(mod)
}

// fresh calls fn with a new instance of the module without a password over
// the area, which has checked nothing of it yet (a new engine over the same
// file), and closes it.
func (f *ssFuzz) fresh(tb testing.TB, fn func(v *wasmVault)) {
	v := f.load(tb, "Fuzzfresh", "none")
	defer v.mod.Close(context.Background())
	fn(v)
}

// reset makes the storage hold records alone.
func (f *ssFuzz) reset(records map[string][]byte) {
	f.area.mu.Lock()
	f.area.m = records
	f.area.mu.Unlock()
}

// checkNoTrap fails on an error that is a trap or an exit of the module.
func checkNoTrap(t *testing.T, op string, err error) {
	t.Helper()
	if se := (*sandbox.Error)(nil); errors.As(err, &se) && strings.HasPrefix(se.Message, "extension ") {
		t.Fatalf("%s: %v (stderr %q)", op, err, se.Stderr)
	}
}

// checkCorrupt fails unless err is the module's report of a corrupt record
// of key.
func checkCorrupt(t *testing.T, op, key string, err error) {
	t.Helper()
	if !errors.Is(err, abi.Internal) || !strings.Contains(err.Error(), "the store's "+key+" record is corrupt") {
		t.Fatalf("%s with a %s that format refuses: %v, want it reported corrupt", op, key, err)
	}
}

// hostTakes reports whether the host's Argon2id takes c's parameters within
// the default memory grant (SPEC.md §5.6): the module reports the others as
// a corrupt c/config, or TOO_LARGE past the grant.
func hostTakes(c *format.Config) bool {
	k := c.KDF
	return len(c.Salt) >= 8 && len(c.Salt) <= 64 && k.Time >= 1 && k.Time <= 10 &&
		k.MemoryKiB >= 8<<10 && uint64(k.MemoryKiB)<<10 <= abi.DefaultMemory && k.Threads >= 1 && k.Threads <= 16
}

// FuzzSecretStoreConfig: any bytes as c/config. test reports them corrupt
// exactly when format.ParseConfig refuses them; an unlock opens the store
// exactly when format unwraps the master key with the same password (the
// seeds are configs that format wrote), and otherwise fails as locked or
// corrupt.
func FuzzSecretStoreConfig(f *testing.F) {
	for _, params := range []format.KDFParams{format.DefaultKDF(), {Time: 1, MemoryKiB: 8 << 10, Threads: 1}} {
		c, err := format.WrapMaster(format.NewMaster(), testonly.Argon2id(ssFuzzPassword, bytes.Repeat([]byte{7}, 16), params.Time, params.MemoryKiB, params.Threads, 32),
			params, bytes.Repeat([]byte{7}, 16), 1700000000000)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.Marshal())
		f.Add(c.Marshal()[:40])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 1})
	s := openSSFuzz(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		s.reset(map[string][]byte{format.KeyConfig: bytes.Clone(raw)})
		c, perr := format.ParseConfig(raw)
		err := s.password.Test(context.Background())
		checkNoTrap(t, "test", err)
		if perr != nil {
			checkCorrupt(t, "test", format.KeyConfig, err)
		} else if err != nil {
			t.Fatalf("test with a c/config that format reads: %v", err)
		}
		err = s.password.Unlock(context.Background(), bytes.Clone(ssFuzzPassword))
		checkNoTrap(t, "unlock", err)
		switch {
		case perr != nil:
			checkCorrupt(t, "unlock", format.KeyConfig, err)
		case !hostTakes(c):
			if err == nil || !errors.Is(err, abi.TooLarge) && !strings.Contains(err.Error(), "c/config record is corrupt") {
				t.Fatalf("unlock with parameters the host refuses (%+v): %v", c.KDF, err)
			}
		default:
			_, uerr := c.Unwrap(testonly.Argon2id(ssFuzzPassword, c.Salt, c.KDF.Time, c.KDF.MemoryKiB, c.KDF.Threads, 32))
			if (uerr == nil) != (err == nil) {
				t.Fatalf("unlock: %v; format's unwrap: %v", err, uerr)
			}
			if err != nil && (!errors.Is(err, abi.Locked) || !strings.Contains(err.Error(), "wrong password")) {
				t.Fatalf("unlock that format refuses: %v, want a wrong password", err)
			}
		}
		if err == nil && c.Version == format.StoreVersion { // format v2: with its (empty) manifest
			m, err := c.Unwrap(testonly.Argon2id(ssFuzzPassword, c.Salt, c.KDF.Time, c.KDF.MemoryKiB, c.KDF.Threads, 32))
			if err != nil {
				t.Fatal(err)
			}
			s.area.mu.Lock()
			s.area.m[format.KeyRoot] = m.Keys().MarshalRoot(&format.Root{})
			s.area.mu.Unlock()
		}
		if err == nil {
			if _, _, err := s.password.Get(context.Background(), "x"); !errors.Is(err, abi.NotFound) {
				t.Fatalf("get from an unlocked empty store: %v", err)
			}
			if err := s.password.Lock(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzSecretStoreKeyRecord: any bytes as c/key. test and get report them
// corrupt exactly when format.ParseKeyRecord refuses them; otherwise a set
// writes a record that format opens with the master key they hold.
func FuzzSecretStoreKeyRecord(f *testing.F) {
	f.Add(format.NewMaster().MarshalKeyRecord(1700000000000))
	v1 := format.NewMaster().MarshalKeyRecord(1700000000000)
	v1[0] = 1 // format v1: the module upgrades it
	f.Add(v1)
	f.Add([]byte{})
	f.Add(make([]byte, 58))
	s := openSSFuzz(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _, perr := format.ParseKeyRecord(raw)
		recs := map[string][]byte{format.KeyMaster: bytes.Clone(raw)}
		if perr == nil && raw[0] == format.StoreVersion { // format v2: with its (empty) manifest
			recs[format.KeyRoot] = m.Keys().MarshalRoot(&format.Root{})
		}
		s.reset(recs)
		err := s.none.Test(context.Background())
		checkNoTrap(t, "test", err)
		if perr != nil {
			checkCorrupt(t, "test", format.KeyMaster, err)
			_, _, err = s.none.Get(context.Background(), "x")
			checkNoTrap(t, "get", err)
			checkCorrupt(t, "get", format.KeyMaster, err)
			return
		}
		if err != nil {
			t.Fatalf("test with a c/key that format reads: %v", err)
		}
		if err := s.none.Set(context.Background(), "Name", abi.Value{Type: abi.TypeString, Data: []byte("value")}, nil); err != nil {
			t.Fatalf("set: %v", err)
		}
		k := m.Keys()
		key := k.RecordKey("NAME")
		s.area.mu.Lock()
		rec := bytes.Clone(s.area.m[string(key)])
		s.area.mu.Unlock()
		in, v, err := k.Open(key, rec, "name")
		if err != nil || in.Name != "Name" || string(v.Data) != "value" {
			t.Fatalf("format opens the record the module wrote as %+v %q: %v", in, v.Data, err)
		}
	})
}

// FuzzSecretStoreRecord: a store whose keys are known, and under the
// storage key of "name" any bytes as the record (raw), or any plain text
// sealed with the store's record key under the record header (version,
// type) of the input, so that the decoder behind authentication is reached.
// The key record says format v1, so the module builds the manifest over the
// record first, leaving it out when it does not open. Get and list read the
// record exactly when format's Open does, and then as format does; list
// fails (the record is not in the manifest) when format's Open fails.
func FuzzSecretStoreRecord(f *testing.F) {
	m := format.NewMaster()
	k := m.Keys()
	key := k.RecordKey("name")
	in := abi.Info{Name: "Name", Type: abi.TypeCredential, Metadata: abi.Metadata{"k": {Kind: abi.MetaInt, Int: 7}}}
	val := abi.Value{Type: abi.TypeCredential, UserName: "u", Data: []byte("p")}
	sealed, err := k.Seal(key, in, val)
	if err != nil {
		f.Fatal(err)
	}
	plain, err := abi.AppendSecret(nil, in, val)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, false, byte(1), byte(abi.TypeCredential))
	f.Add(plain, true, byte(1), byte(abi.TypeCredential))
	f.Add(plain, true, byte(1), byte(abi.TypeString))
	f.Add([]byte{}, true, byte(1), byte(abi.TypeBytes))
	f.Add(sealed[:41], false, byte(1), byte(abi.TypeBytes))
	recKey := k.Marshal()[format.StoreIDSize : format.StoreIDSize+32]
	aead, err := chacha20poly1305.NewX(recKey)
	if err != nil {
		f.Fatal(err)
	}
	keyRecord := m.MarshalKeyRecord(1700000000000)
	keyRecord[0] = 1
	s := openSSFuzz(f)
	f.Fuzz(func(t *testing.T, b []byte, seal bool, version, typ byte) {
		rec := b
		if seal {
			ad := append([]byte("sesame secretstore v1 record\x00"), binary.LittleEndian.AppendUint32(nil, uint32(len(key)))...)
			ad = append(append(ad, key...), version, typ)
			rec = make([]byte, 2+chacha20poly1305.NonceSizeX)
			rec[0], rec[1] = version, typ
			rand.Read(rec[2:])
			rec = aead.Seal(rec, rec[2:], b, ad)
		}
		s.reset(map[string][]byte{format.KeyMaster: bytes.Clone(keyRecord), string(key): bytes.Clone(rec)})
		wantIn, wantV, werr := k.Open(key, rec, "name")
		gotIn, gotV, err := s.none.Get(context.Background(), "NAME")
		checkNoTrap(t, "get", err)
		if (err == nil) != (werr == nil) {
			t.Fatalf("get: %v; format's open: %v", err, werr)
		}
		if err == nil && (!infoEqual(gotIn, wantIn) || !valueEqual(gotV, wantV)) {
			t.Fatalf("get: %+v %+v; format's open: %+v %+v", gotIn, gotV, wantIn, wantV)
		}
		if err != nil && !errors.Is(err, abi.Internal) {
			t.Fatalf("get of a record format refuses: %v, want an internal error", err)
		}
		_, _, lerr := k.Open(key, rec, "")
		list, err := s.none.List(context.Background(), "*")
		checkNoTrap(t, "list", err)
		if (err == nil) != (lerr == nil) || err == nil && len(list) != 1 || err != nil && !errors.Is(err, abi.Internal) {
			t.Fatalf("list: %v, %v; format's open: %v", list, err, lerr)
		}
	})
}

func infoEqual(a, b abi.Info) bool {
	x, err1 := abi.AppendInfo(nil, a)
	y, err2 := abi.AppendInfo(nil, b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func valueEqual(a, b abi.Value) bool {
	x, err1 := abi.AppendValue(nil, a)
	y, err2 := abi.AppendValue(nil, b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// FuzzSecretStoreManifest: a store of format v2 whose keys are known, with
// one record ("name") and its manifest, and in place of the manifest's root
// (part 0) or of the record's bucket's index (part 1) any bytes; or (part
// 2) any plain text sealed as the bucket's infos under the store's key,
// named by an index that lists the record, or (part 3) any bytes as the
// index, its digest in a root MAC'd under the store's key, so that the
// decoders behind authentication are reached. Get succeeds exactly when
// format reads the root and the index and the index lists the record with
// its tag; list exactly when, besides, format reads the infos the index
// names and the bucket lists that record only; otherwise they fail as
// tampered, never trapping; a get that succeeds reads the record's value.
//
// That is exact for an instance that has checked nothing of the store yet,
// a new engine over the file (ssFuzz.fresh). The instance of every
// execution (ssFuzz.none) keeps what it checked between calls, under the
// store's key: the b/XX of a bucket, and it serves it again when the root
// still names it, without reading the file's copy (manifest.c, known;
// docs/SECURITY.md). So where the file's b/XX is not the one an authentic
// root names, and an earlier execution had the one it names there, that
// instance's get and list may succeed or fail exactly as if the file held
// the one the root names (manifestLists over those bytes), and a fresh
// instance's exactly as the file is. Before the store without a password
// kept anything between calls, the one instance was held to the file as
// it is; it is now held to what its authentic root names, and the fresh
// instance to the file, in every execution where the two can differ.
func FuzzSecretStoreManifest(f *testing.F) {
	m := format.NewMaster()
	k := m.Keys()
	key := k.RecordKey("name")
	rec, err := k.Seal(key, abi.Info{Name: "Name", Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte("v")})
	if err != nil {
		f.Fatal(err)
	}
	man, err := k.Manifest(map[string][]byte{string(key): rec})
	if err != nil {
		f.Fatal(err)
	}
	hash, err := hex.DecodeString(string(key[2:4]))
	if err != nil {
		f.Fatal(err)
	}
	idx := hash[0]
	bucketKey, infosKey := string(format.BucketKey(idx)), string(format.InfosKey(idx))
	entries, err := k.OpenBucket(idx, man[bucketKey], man[infosKey])
	if err != nil {
		f.Fatal(err)
	}
	plain := binary.LittleEndian.AppendUint32(nil, 1)
	plain = append(plain, entries[0].Hash[:]...)
	plain = append(plain, entries[0].Tag[:]...)
	info, _ := abi.AppendInfo(nil, entries[0].Info)
	plain = binary.LittleEndian.AppendUint32(plain, uint32(len(info)))
	plain = append(plain, info...)
	f.Add(man[format.KeyRoot], byte(0))
	f.Add(man[bucketKey], byte(1))
	f.Add(plain, byte(2))
	f.Add(plain[:40], byte(2))
	f.Add(man[bucketKey], byte(3))
	f.Add([]byte{}, byte(1))
	// The bucket split at each depth: its leaf's records, fixed, and seeds
	// of its directory (part 4).
	var hash32 [format.HashSize]byte
	if _, err := hex.Decode(hash32[:], key[2:]); err != nil {
		f.Fatal(err)
	}
	leaves := map[int][2][]byte{}
	for depth := 1; depth <= format.MaxDepth; depth++ {
		j := format.LeafOf(hash32, depth)
		ix, infos, err := k.SealLeaf(idx, depth, j, entries)
		if err != nil {
			f.Fatal(err)
		}
		leaves[depth] = [2][]byte{ix, infos}
		digests := make([][format.DigestSize]byte, 1<<depth)
		digests[j] = k.LeafDigest(idx, depth, j, ix)
		if depth == 1 || depth == 3 || depth == format.MaxDepth {
			f.Add(format.MarshalDir(depth, digests), byte(4))
		}
	}
	recKey := k.Marshal()[format.StoreIDSize : format.StoreIDSize+32]
	aead, err := chacha20poly1305.NewX(recKey)
	if err != nil {
		f.Fatal(err)
	}
	s := openSSFuzz(f)
	checked := map[[format.DigestSize]byte][]byte{} // each b/XX an authentic root named, by digest
	f.Fuzz(func(t *testing.T, b []byte, part byte) {
		recs := map[string][]byte{format.KeyMaster: m.MarshalKeyRecord(1), string(key): rec}
		maps.Copy(recs, man)
		index := func(ix []byte) {
			recs[bucketKey] = ix
			r := &format.Root{Epoch: 7}
			r.Digests[idx] = k.BucketDigest(idx, ix)
			recs[format.KeyRoot] = k.MarshalRoot(r)
		}
		switch part % 5 {
		case 0:
			recs[format.KeyRoot] = bytes.Clone(b)
		case 1:
			recs[bucketKey] = bytes.Clone(b)
		case 2:
			box := make([]byte, 1+chacha20poly1305.NonceSizeX)
			box[0] = format.StoreVersion
			rand.Read(box[1:])
			box = aead.Seal(box, box[1:], b, append([]byte("sesame secretstore v2 bucket\x00"), idx))
			recs[infosKey] = box
			ix := slices.Clone(man[bucketKey])
			copy(ix[len(ix)-format.TagSize:], box[len(box)-format.TagSize:])
			index(ix)
		case 3:
			index(bytes.Clone(b))
		case 4: // b as the bucket's directory, over the leaf of its depth
			delete(recs, infosKey)
			recs[bucketKey] = bytes.Clone(b)
			if depth, _, err := format.ParseDir(b); err == nil {
				j := format.LeafOf(hash32, depth)
				recs[string(format.LeafKey(idx, depth, j))] = leaves[depth][0]
				recs[string(format.LeafInfosKey(idx, depth, j))] = leaves[depth][1]
			}
			r := &format.Root{Epoch: 7}
			r.Digests[idx] = k.DirDigest(idx, b)
			recs[format.KeyRoot] = k.MarshalRoot(r)
		}
		wantGet, wantList := manifestLists(k, recs, idx, key, rec)
		keptGet, keptList := wantGet, wantList
		named, authentic := bucketNamed(k, recs, idx)
		if kept, ok := checked[named]; authentic && ok && !bytes.Equal(kept, recs[bucketKey]) {
			served := maps.Clone(recs)
			served[bucketKey] = kept
			keptGet, keptList = manifestLists(k, served, idx, key, rec)
		}
		if authentic && (named == k.BucketDigest(idx, recs[bucketKey]) || named == k.DirDigest(idx, recs[bucketKey])) {
			checked[named] = recs[bucketKey]
		}
		s.reset(recs)
		checkManifestOps(t, "this instance", s.none, wantGet || keptGet, wantGet && keptGet, wantList || keptList, wantList && keptList)
		if keptGet != wantGet || keptList != wantList {
			s.fresh(t, func(v *wasmVault) { checkManifestOps(t, "a fresh instance", v, wantGet, wantGet, wantList, wantList) })
		}
	})
}

// bucketNamed returns the digest that the root in recs names for bucket
// idx, and whether that root is authentic under k.
func bucketNamed(k *format.Keys, recs map[string][]byte, idx byte) ([format.DigestSize]byte, bool) {
	root, err := k.ParseRoot(recs[format.KeyRoot])
	if err != nil {
		return [format.DigestSize]byte{}, false
	}
	return root.Digests[idx], true
}

// checkManifestOps gets and lists the one record ("name", of value "v") of
// the store through v (who says which instance that is): the get may
// succeed only if mayGet and must if mustGet, the list alike; what fails
// fails as tampered (internal), never trapping, and what succeeds reads the
// record as it is.
func checkManifestOps(t *testing.T, who string, v *wasmVault, mayGet, mustGet, mayList, mustList bool) {
	t.Helper()
	_, val, err := v.Get(context.Background(), "name")
	checkNoTrap(t, "get", err)
	if err == nil && !mayGet || err != nil && mustGet || err != nil && !errors.Is(err, abi.Internal) {
		t.Fatalf("get by %s: %v; may succeed: %t, must: %t", who, err, mayGet, mustGet)
	}
	if err == nil && string(val.Data) != "v" {
		t.Fatalf("get by %s reads %q, want \"v\"", who, val.Data)
	}
	list, err := v.List(context.Background(), "*")
	checkNoTrap(t, "list", err)
	if err == nil && !mayList || err != nil && mustList || err != nil && !errors.Is(err, abi.Internal) {
		t.Fatalf("list by %s: %v; may succeed: %t, must: %t", who, err, mayList, mustList)
	}
	if err == nil && (len(list) != 1 || list[0].Name != "Name") {
		t.Fatalf("list by %s: %+v, want the record \"Name\" alone", who, list)
	}
}

// manifestLists reports whether format reads the root of recs and the
// index of the leaf of bucket idx that holds key (the bucket's own, or one
// below its directory) and finds there the record rec of storage key key
// with its tag (get), and whether besides it reads the leaf's infos and the
// whole manifest lists that record only (list).
func manifestLists(k *format.Keys, recs map[string][]byte, idx byte, key, rec []byte) (get, list bool) {
	root, err := k.ParseRoot(recs[format.KeyRoot])
	if err != nil {
		return false, false
	}
	others := false // a bucket that is not there
	for i, d := range root.Digests {
		others = others || byte(i) != idx && d != ([format.DigestSize]byte{})
	}
	var hash [format.HashSize]byte
	hex.Decode(hash[:], key[len(format.PrefixSecret):])
	b := recs[string(format.BucketKey(idx))]
	depth, j, ix, want := 0, 0, b, root.Digests[idx]
	if len(b) > 0 && b[0] == format.DirVersion {
		d, digests, err := format.ParseDir(b)
		if err != nil || root.Digests[idx] != k.DirDigest(idx, b) {
			return false, false
		}
		depth, j = d, format.LeafOf(hash, d)
		for i, dg := range digests {
			others = others || i != j && dg != ([format.DigestSize]byte{})
		}
		ix, want = recs[string(format.LeafKey(idx, depth, j))], digests[j]
	}
	if want != k.LeafDigest(idx, depth, j, ix) {
		return false, false
	}
	listed, _, err := format.ParseLeafIndex(idx, depth, j, ix)
	if err != nil {
		return false, false
	}
	has := func(entries []format.Entry) bool {
		return slices.ContainsFunc(entries, func(e format.Entry) bool {
			return bytes.Equal(e.Tag[:], rec[len(rec)-format.TagSize:]) && e.Hash == hash
		})
	}
	entries, err := k.OpenLeaf(idx, depth, j, ix, recs[string(format.LeafInfosKey(idx, depth, j))])
	return has(listed), !others && err == nil && len(entries) == 1 && has(entries)
}
