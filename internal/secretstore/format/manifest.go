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
	Buckets = 256
	// DirVersion is the first byte of b/XX when its bucket is split in
	// leaves (a directory); a bucket of one leaf has its index there,
	// StoreVersion first.
	DirVersion = 3
	// MaxDepth is the most a bucket splits: in 2^MaxDepth leaves.
	MaxDepth = 8
	// LeafMax is the most entries a leaf holds before its bucket splits
	// (below MaxDepth).
	LeafMax    = 32
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
	labelDir      = "sesame secretstore v2 directory\x00"
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

// BucketKey returns the storage key of bucket idx's index (or, once the
// bucket is split, its directory): b/ and idx in hex.
func BucketKey(idx byte) []byte { return LeafKey(idx, 0, 0) }

// InfosKey returns the storage key of the infos of bucket idx of one
// leaf: its BucketKey and /i, under the same prefix.
func InfosKey(idx byte) []byte { return LeafInfosKey(idx, 0, 0) }

// LeafKey returns the storage key of the index of leaf j of bucket idx
// split at depth: b/XX at depth 0 (the bucket is its one leaf), else b/XXYY,
// YY the first byte after XX of the hashes the leaf holds, in hex.
func LeafKey(idx byte, depth, j int) []byte {
	k := hex.AppendEncode([]byte(PrefixBucket), []byte{idx})
	if depth > 0 {
		k = hex.AppendEncode(k, []byte{byte(j << (MaxDepth - depth))})
	}
	return k
}

// LeafInfosKey returns the storage key of the infos of that leaf: its
// LeafKey and /i.
func LeafInfosKey(idx byte, depth, j int) []byte { return append(LeafKey(idx, depth, j), "/i"...) }

// LeafOf returns the leaf of a bucket split at depth that holds hash.
func LeafOf(hash [HashSize]byte, depth int) int {
	if depth == 0 {
		return 0
	}
	return int(hash[1]) >> (MaxDepth - depth)
}

// leafTail names leaf j of bucket idx at depth in its digest and its AD:
// idx, and below a directory the depth and j.
func leafTail(idx byte, depth, j int) []byte {
	if depth == 0 {
		return []byte{idx}
	}
	return []byte{idx, byte(depth), byte(j)}
}

func leafAD(idx byte, depth, j int) []byte {
	return append([]byte(labelBucketAD), leafTail(idx, depth, j)...)
}

// BucketDigest returns the digest in the root of bucket idx of one leaf
// whose index is b: LeafDigest(idx, 0, 0, b).
func (k *Keys) BucketDigest(idx byte, b []byte) [DigestSize]byte { return k.LeafDigest(idx, 0, 0, b) }

// LeafDigest returns the digest of the index b of leaf j of bucket idx at
// depth, which the root names at depth 0 and the bucket's directory
// otherwise: the first DigestSize bytes of HMAC-SHA256(manifest key,
// "sesame secretstore v2 index\x00" | idx [| u8 depth | u8 j] | b).
func (k *Keys) LeafDigest(idx byte, depth, j int, b []byte) [DigestSize]byte {
	return k.digest(labelIndex, leafTail(idx, depth, j), b)
}

// DirDigest returns the digest in the root of bucket idx whose directory
// is b: HMAC-SHA256(manifest key, "sesame secretstore v2 directory\x00" |
// idx | b), cut as LeafDigest's.
func (k *Keys) DirDigest(idx byte, b []byte) [DigestSize]byte {
	return k.digest(labelDir, []byte{idx}, b)
}

func (k *Keys) digest(label string, tail, b []byte) [DigestSize]byte {
	m := hmac.New(sha256.New, k.manKey)
	m.Write([]byte(label))
	m.Write(tail)
	m.Write(b)
	var d [DigestSize]byte
	copy(d[:], m.Sum(nil))
	return d
}

// MarshalDir returns the directory of a bucket split at depth (1 to
// MaxDepth) whose leaves have digests (2^depth of them, zeros for an empty
// leaf): u8 version (3) | u8 depth | the digests.
func MarshalDir(depth int, digests [][DigestSize]byte) []byte {
	b := []byte{DirVersion, byte(depth)}
	for _, d := range digests {
		b = append(b, d[:]...)
	}
	return b
}

// ParseDir reads a directory (MarshalDir): its depth and leaf digests;
// ErrCorrupt for a wrong layout. Its digest in the root (DirDigest) is
// the caller's to check.
func ParseDir(b []byte) (depth int, digests [][DigestSize]byte, err error) {
	if len(b) < 2 || b[0] != DirVersion || b[1] == 0 || b[1] > MaxDepth || len(b) != 2+DigestSize<<b[1] {
		return 0, nil, ErrCorrupt
	}
	depth = int(b[1])
	for i := range 1 << depth {
		digests = append(digests, [DigestSize]byte(b[2+i*DigestSize:]))
	}
	return depth, digests, nil
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
	return k.SealLeaf(idx, 0, 0, entries)
}

// SealLeaf is SealBucket for leaf j of bucket idx split at depth: its
// entries are those of the leaf (LeafOf), the AD of its infos ends with
// u8 depth | u8 j after idx.
func (k *Keys) SealLeaf(idx byte, depth, j int, entries []Entry) (index, infos []byte, err error) {
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
	infos = k.aead.Seal(infos, infos[1:], plain, leafAD(idx, depth, j))
	return append(index, infos[len(infos)-TagSize:]...), infos, nil
}

// ParseIndex reads the index of bucket idx (b/XX): its entries, without
// infos, and the tag of its infos' box; ErrCorrupt for a wrong layout: an
// empty index, entries out of strictly ascending order of hash or not of
// bucket idx. The index is authenticated by its digest in the root
// (BucketDigest), which the caller checks.
func ParseIndex(idx byte, b []byte) (entries []Entry, infosTag [TagSize]byte, err error) {
	return ParseLeafIndex(idx, 0, 0, b)
}

// ParseLeafIndex is ParseIndex for leaf j of bucket idx split at depth:
// its entries must be of that leaf (LeafOf).
func ParseLeafIndex(idx byte, depth, j int, b []byte) (entries []Entry, infosTag [TagSize]byte, err error) {
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
		if e.Hash[0] != idx || LeafOf(e.Hash, depth) != j || (i > 0 && bytes.Compare(entries[i-1].Hash[:], e.Hash[:]) >= 0) {
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
	return k.OpenLeaf(idx, 0, 0, index, infos)
}

// OpenLeaf is OpenBucket for leaf j of bucket idx split at depth.
func (k *Keys) OpenLeaf(idx byte, depth, j int, index, infos []byte) ([]Entry, error) {
	want, infosTag, err := ParseLeafIndex(idx, depth, j, index)
	if err != nil {
		return nil, err
	}
	if len(infos) < 1+NonceSize+TagSize || infos[0] != StoreVersion {
		return nil, ErrCorrupt
	}
	if subtle.ConstantTimeCompare(infos[len(infos)-TagSize:], infosTag[:]) != 1 {
		return nil, ErrTampered
	}
	entries, err := k.openInfos(idx, depth, j, infos)
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

// openInfos opens the infos of leaf j of bucket idx at depth and reads
// their entries.
func (k *Keys) openInfos(idx byte, depth, j int, b []byte) ([]Entry, error) {
	plain, err := k.aead.Open(nil, b[1:1+NonceSize], b[1+NonceSize:], leafAD(idx, depth, j))
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
		if uint64(size) > uint64(len(rest)) || e.Hash[0] != idx || LeafOf(e.Hash, depth) != j || (len(out) > 0 && bytes.Compare(out[len(out)-1].Hash[:], e.Hash[:]) >= 0) {
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

// Manifest returns the records of the manifest (m/root, and each
// bucket's index and infos, or directory and leaves; epoch 1) of records,
// a store's secret records by storage key, each of which must open under
// k: what the vault writes when it upgrades a store of format v1, for
// tests and benchmarks that fill a store natively. Each bucket is split at
// the least depth at which no leaf holds more than LeafMax entries, as the
// vault's rebuild of a manifest does.
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
		d, err := k.putBucket(out, idx, entries)
		if err != nil {
			return nil, err
		}
		root.Digests[idx] = d
	}
	out[KeyRoot] = k.MarshalRoot(root)
	return out, nil
}

// putBucket adds to out the records of bucket idx holding entries, sorted,
// split at the least depth at which no leaf holds more than LeafMax, and
// returns its digest in the root.
func (k *Keys) putBucket(out map[string][]byte, idx byte, entries []Entry) ([DigestSize]byte, error) {
	depth := 0
	leaves := func(depth int) [][]Entry {
		ls := make([][]Entry, 1<<depth)
		for _, e := range entries {
			ls[LeafOf(e.Hash, depth)] = append(ls[LeafOf(e.Hash, depth)], e)
		}
		return ls
	}
	for depth < MaxDepth && slices.ContainsFunc(leaves(depth), func(l []Entry) bool { return len(l) > LeafMax }) {
		depth++
	}
	digests := make([][DigestSize]byte, 1<<depth)
	for j, l := range leaves(depth) {
		if len(l) == 0 {
			continue
		}
		index, infos, err := k.SealLeaf(idx, depth, j, l)
		if err != nil {
			return [DigestSize]byte{}, err
		}
		out[string(LeafKey(idx, depth, j))] = index
		out[string(LeafInfosKey(idx, depth, j))] = infos
		digests[j] = k.LeafDigest(idx, depth, j, index)
	}
	if depth == 0 {
		return digests[0], nil
	}
	dir := MarshalDir(depth, digests)
	out[string(BucketKey(idx))] = dir
	return k.DirDigest(idx, dir), nil
}
