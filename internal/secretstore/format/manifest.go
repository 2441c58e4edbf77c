package format

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"

	"github.com/sesamehq/sesame/abi"
)

// The manifest of format v2: the storage keys of its records.
const (
	KeyRoot      = "m/root"
	PrefixBucket = "b/"
)

// Sizes of the manifest.
const (
	Buckets    = 256
	DigestSize = 16 // a bucket's digest in the root: of the HMAC of its index
	HashSize   = sha256.Size
	rootBody   = 1 + 8 + Buckets*DigestSize
	// RootSize is the length of the m/root record.
	RootSize = rootBody + sha256.Size
)

const (
	labelRootMAC  = "sesame secretstore v2 root\x00"
	labelBucketAD = "sesame secretstore v2 bucket\x00"
	labelIndex    = "sesame secretstore v2 index\x00"
	indexHead     = 1 + 4 // version, count
	indexEntry    = HashSize + TagSize
)

// ErrTampered reports a manifest that does not authenticate under the
// store's keys, or a bucket that is not the one its root names.
var ErrTampered = errors.New("manifest does not authenticate")

// A Root is the manifest's root record:
//
//	u8 version (2) | u64 epoch | 256 bucket digests (16 each) |
//	HMAC-SHA256(manifest key, "sesame secretstore v2 root\x00" | the bytes before)
//
// A bucket's digest is BucketDigest of its index (b/XX), all zeros for an
// empty bucket, which has no index and no infos. Every write raises the
// epoch.
type Root struct {
	Epoch   uint64
	Digests [Buckets][DigestSize]byte
}

// An Entry is a record's line in its bucket: the name hash of its storage
// key (s/HEX), the tag of the record (its last 16 bytes), and its info
// record (SPEC.md §7.5), which listings read instead of the record.
type Entry struct {
	Hash [HashSize]byte
	Tag  [TagSize]byte
	Info abi.Info
}

// MarshalRoot returns the m/root record of r, MAC'd under k.
func (k *Keys) MarshalRoot(r *Root) []byte {
	b := make([]byte, 0, RootSize)
	b = append(b, StoreVersion)
	b = binary.LittleEndian.AppendUint64(b, r.Epoch)
	for _, d := range r.Digests {
		b = append(b, d[:]...)
	}
	return append(b, k.rootMAC(b)...)
}

func (k *Keys) rootMAC(body []byte) []byte {
	m := hmac.New(sha256.New, k.manKey)
	m.Write([]byte(labelRootMAC))
	m.Write(body)
	return m.Sum(nil)
}

// ParseRoot reads an m/root record: ErrCorrupt for a wrong layout,
// ErrTampered when its MAC is not k's.
func (k *Keys) ParseRoot(b []byte) (*Root, error) {
	if len(b) != RootSize || b[0] != StoreVersion {
		return nil, ErrCorrupt
	}
	if subtle.ConstantTimeCompare(k.rootMAC(b[:rootBody]), b[rootBody:]) != 1 {
		return nil, ErrTampered
	}
	r := &Root{Epoch: binary.LittleEndian.Uint64(b[1:])}
	for i := range r.Digests {
		copy(r.Digests[i][:], b[9+i*DigestSize:])
	}
	return r, nil
}

// BucketKey returns the storage key of bucket idx's index: b/ and idx in
// hex.
func BucketKey(idx byte) []byte { return hex.AppendEncode([]byte(PrefixBucket), []byte{idx}) }

// InfosKey returns the storage key of bucket idx's infos: its BucketKey
// and /i, under the same prefix.
func InfosKey(idx byte) []byte { return append(BucketKey(idx), "/i"...) }

func bucketAD(idx byte) []byte { return append([]byte(labelBucketAD), idx) }

// BucketDigest returns the digest in the root of bucket idx whose index is
// b: the first DigestSize bytes of HMAC-SHA256(manifest key, "sesame
// secretstore v2 index\x00" | idx | b).
func (k *Keys) BucketDigest(idx byte, b []byte) [DigestSize]byte {
	m := hmac.New(sha256.New, k.manKey)
	m.Write([]byte(labelIndex))
	m.Write([]byte{idx})
	m.Write(b)
	var d [DigestSize]byte
	copy(d[:], m.Sum(nil))
	return d
}

// SealBucket returns the two records of bucket idx, whose entries are
// sorted by hash and all start with idx: its index (b/XX), in clear,
//
//	u8 version (2) | u32 n | n × (hash (32) | tag (16)) | tag of infos' box
//
// which is all a get reads, and its infos (b/XX/i), sealed,
//
//	u8 version (2) | XChaCha20-Poly1305(record key, nonce, u32 n | n × (hash
//	(32) | tag (16) | u32 len(info) | info), "sesame secretstore v2
//	bucket\x00" | idx)
//
// which hold the names, read by listings and writes.
func (k *Keys) SealBucket(idx byte, entries []Entry) (index, infos []byte, err error) {
	plain := binary.LittleEndian.AppendUint32(nil, uint32(len(entries)))
	index = append([]byte{StoreVersion}, plain...)
	for _, e := range entries {
		info, err := abi.AppendInfo(nil, e.Info)
		if err != nil {
			return nil, nil, err
		}
		plain = append(plain, e.Hash[:]...)
		plain = append(plain, e.Tag[:]...)
		plain = binary.LittleEndian.AppendUint32(plain, uint32(len(info)))
		plain = append(plain, info...)
		index = append(index, e.Hash[:]...)
		index = append(index, e.Tag[:]...)
	}
	infos = make([]byte, 1+NonceSize, 1+NonceSize+len(plain)+TagSize)
	infos[0] = StoreVersion
	rand.Read(infos[1:])
	infos = k.aead.Seal(infos, infos[1:], plain, bucketAD(idx))
	return append(index, infos[len(infos)-TagSize:]...), infos, nil
}

// ParseIndex reads the index of bucket idx (b/XX): its entries, without
// infos, and the tag of its infos' box; ErrCorrupt for a wrong layout: an
// empty index, entries out of strictly ascending order of hash or not of
// bucket idx. The index is authenticated by its digest in the root
// (BucketDigest), which the caller checks.
func ParseIndex(idx byte, b []byte) (entries []Entry, infosTag [TagSize]byte, err error) {
	if len(b) < indexHead+TagSize || b[0] != StoreVersion {
		return nil, infosTag, ErrCorrupt
	}
	n := binary.LittleEndian.Uint32(b[1:])
	if n == 0 || uint64(len(b)) != indexHead+uint64(n)*indexEntry+TagSize {
		return nil, infosTag, ErrCorrupt
	}
	for i := range int(n) {
		var e Entry
		copy(e.Hash[:], b[indexHead+i*indexEntry:])
		copy(e.Tag[:], b[indexHead+i*indexEntry+HashSize:])
		if e.Hash[0] != idx || (i > 0 && bytes.Compare(entries[i-1].Hash[:], e.Hash[:]) >= 0) {
			return nil, infosTag, ErrCorrupt
		}
		entries = append(entries, e)
	}
	copy(infosTag[:], b[len(b)-TagSize:])
	return entries, infosTag, nil
}

// OpenBucket reads bucket idx from its index (b/XX) and its infos
// (b/XX/i): ErrCorrupt for a wrong layout, ErrTampered when the infos are
// not the ones the index names or do not authenticate under k. The index
// must parse (ParseIndex), the infos list the index's entries in its
// order, each info canonical. The index's digest in the root is the
// caller's to check.
func (k *Keys) OpenBucket(idx byte, index, infos []byte) ([]Entry, error) {
	want, infosTag, err := ParseIndex(idx, index)
	if err != nil {
		return nil, err
	}
	if len(infos) < 1+NonceSize+TagSize || infos[0] != StoreVersion {
		return nil, ErrCorrupt
	}
	if subtle.ConstantTimeCompare(infos[len(infos)-TagSize:], infosTag[:]) != 1 {
		return nil, ErrTampered
	}
	entries, err := k.openInfos(idx, infos)
	if err != nil {
		return nil, err
	}
	if len(entries) != len(want) {
		return nil, ErrCorrupt
	}
	for i, e := range entries {
		if e.Hash != want[i].Hash || e.Tag != want[i].Tag {
			return nil, ErrCorrupt
		}
	}
	return entries, nil
}

// openInfos opens the infos of bucket idx and reads their entries.
func (k *Keys) openInfos(idx byte, b []byte) ([]Entry, error) {
	plain, err := k.aead.Open(nil, b[1:1+NonceSize], b[1+NonceSize:], bucketAD(idx))
	if err != nil {
		return nil, ErrTampered
	}
	if len(plain) < 4 {
		return nil, ErrCorrupt
	}
	n := binary.LittleEndian.Uint32(plain)
	rest := plain[4:]
	var out []Entry
	for i := uint32(0); i < n; i++ {
		if len(rest) < HashSize+TagSize+4 {
			return nil, ErrCorrupt
		}
		var e Entry
		copy(e.Hash[:], rest)
		copy(e.Tag[:], rest[HashSize:])
		size := binary.LittleEndian.Uint32(rest[HashSize+TagSize:])
		rest = rest[HashSize+TagSize+4:]
		if uint64(size) > uint64(len(rest)) || e.Hash[0] != idx || (len(out) > 0 && bytes.Compare(out[len(out)-1].Hash[:], e.Hash[:]) >= 0) {
			return nil, ErrCorrupt
		}
		if e.Info, err = abi.DecodeInfo(rest[:size]); err != nil {
			return nil, ErrCorrupt
		}
		rest = rest[size:]
		out = append(out, e)
	}
	if len(rest) != 0 {
		return nil, ErrCorrupt
	}
	return out, nil
}

// Manifest returns the records of the manifest (m/root, b/XX and b/XX/i,
// epoch 1) of records, a store's secret records by storage key, each of which
// must open under k: what the vault writes when it upgrades a store of
// format v1, for tests and benchmarks that fill a store natively.
func (k *Keys) Manifest(records map[string][]byte) (map[string][]byte, error) {
	buckets := map[byte][]Entry{}
	for key, rec := range records {
		in, v, err := k.Open([]byte(key), rec, "")
		if err != nil {
			return nil, err
		}
		clearValue(v)
		var e Entry
		if _, err := hex.Decode(e.Hash[:], []byte(key[len(PrefixSecret):])); err != nil {
			return nil, ErrCorrupt
		}
		copy(e.Tag[:], rec[len(rec)-TagSize:])
		e.Info = in
		buckets[e.Hash[0]] = append(buckets[e.Hash[0]], e)
	}
	out := map[string][]byte{}
	root := &Root{Epoch: 1}
	for idx, entries := range buckets {
		slices.SortFunc(entries, func(a, b Entry) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
		index, infos, err := k.SealBucket(idx, entries)
		if err != nil {
			return nil, err
		}
		out[string(BucketKey(idx))] = index
		out[string(InfosKey(idx))] = infos
		root.Digests[idx] = k.BucketDigest(idx, index)
	}
	out[KeyRoot] = k.MarshalRoot(root)
	return out, nil
}
