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
	DigestSize = 16 // a bucket's digest in the root: the tag of its box
	HashSize   = sha256.Size
	rootBody   = 1 + 8 + Buckets*DigestSize
	// RootSize is the length of the m/root record.
	RootSize = rootBody + sha256.Size
)

const (
	labelRootMAC  = "sesame secretstore v2 root\x00"
	labelBucketAD = "sesame secretstore v2 bucket\x00"
)

// ErrTampered reports a manifest that does not authenticate under the
// store's keys, or a bucket that is not the one its root names.
var ErrTampered = errors.New("manifest does not authenticate")

// A Root is the manifest's root record:
//
//	u8 version (2) | u64 epoch | 256 bucket digests (16 each) |
//	HMAC-SHA256(manifest key, "sesame secretstore v2 root\x00" | the bytes before)
//
// A bucket's digest is the tag of its box (the last 16 bytes of b/XX), all
// zeros for an empty bucket, which has no record. Every write raises the
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

// BucketKey returns the storage key of bucket idx: b/ and idx in hex.
func BucketKey(idx byte) []byte { return hex.AppendEncode([]byte(PrefixBucket), []byte{idx}) }

func bucketAD(idx byte) []byte { return append([]byte(labelBucketAD), idx) }

// SealBucket returns the b/XX record of bucket idx, whose entries are
// sorted by hash and all start with idx:
//
//	u8 version (2) | XChaCha20-Poly1305(record key, nonce, u32 n | n × (hash
//	(32) | tag (16) | u32 len(info) | info), "sesame secretstore v2
//	bucket\x00" | idx)
func (k *Keys) SealBucket(idx byte, entries []Entry) ([]byte, error) {
	plain := binary.LittleEndian.AppendUint32(nil, uint32(len(entries)))
	for _, e := range entries {
		info, err := abi.AppendInfo(nil, e.Info)
		if err != nil {
			return nil, err
		}
		plain = append(plain, e.Hash[:]...)
		plain = append(plain, e.Tag[:]...)
		plain = binary.LittleEndian.AppendUint32(plain, uint32(len(info)))
		plain = append(plain, info...)
	}
	b := make([]byte, 1+NonceSize, 1+NonceSize+len(plain)+TagSize)
	b[0] = StoreVersion
	rand.Read(b[1:])
	return k.aead.Seal(b, b[1:], plain, bucketAD(idx)), nil
}

// OpenBucket reads the b/XX record of bucket idx: ErrCorrupt for a wrong
// layout, ErrTampered when it does not authenticate under k. The entries
// must be in strictly ascending order of hash, each of bucket idx, each
// info canonical.
func (k *Keys) OpenBucket(idx byte, b []byte) ([]Entry, error) {
	if len(b) < 1+NonceSize+TagSize || b[0] != StoreVersion {
		return nil, ErrCorrupt
	}
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

// Manifest returns the records of the manifest (m/root and b/XX, epoch
// 1) of records, a store's secret records by storage key, each of which
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
		b, err := k.SealBucket(idx, entries)
		if err != nil {
			return nil, err
		}
		out[string(BucketKey(idx))] = b
		copy(root.Digests[idx][:], b[len(b)-TagSize:])
	}
	out[KeyRoot] = k.MarshalRoot(root)
	return out, nil
}
