// Package format is the on-disk format of the secretstore vault: its storage
// keys, the records it writes to the host's storage area, and the
// cryptography that seals them. It is pure Go with no host calls, so that it
// builds for the wasip1 guest (extensions/secretstore) and for the host,
// whose tests use it to check and to fill stores.
//
// # Keys
//
// A store has a random 32-byte master key and a random 16-byte store id. Two
// subkeys come from the master key with HKDF-SHA256 (salt: the store id):
// the record key, for XChaCha20-Poly1305, and the name key, for
// HMAC-SHA256. The master key itself encrypts nothing. An unlocked password
// store keeps the subkeys (Keys.Marshal) in the host keyring.
//
// # Storage keys and records (all integers little-endian)
//
//	c/config  password stores: the master key wrapped under a password (Config)
//	c/key     stores without a password: version 2, mode 0, created, store id,
//	          master key
//	s/HEX     one per secret: HEX = hex(HMAC-SHA256(name key, abi.Fold(name)))
//	m/root    the manifest's root (Root, format v2)
//	b/XX      the manifest's buckets (format v2): XX = HEX[:2]; b/XX the
//	          index and b/XX/i the infos of a bucket of one leaf
//	          (SealBucket), or its directory (MarshalDir) over leaves
//	          b/XXYY and b/XXYY/i (SealLeaf)
//	t/probe/… written and deleted by the vault's test
//
// A secret record is
//
//	u8 version (1) | u8 type | 24-byte nonce | XChaCha20-Poly1305(record key,
//	    nonce, abi secret encoding (info with the stored name and metadata,
//	    then the value), AD)
//
// with AD = "sesame secretstore v1 record\x00" | u32 len(storage key) |
// storage key | version | type. A record copied under another storage key,
// or with another type byte, fails authentication; Open also checks that
// the decrypted name hashes to the storage key it was read from.
//
// # Format v2: the manifest
//
// Format v2 (sesame 0.5) adds a manifest, so that a record deleted, or
// restored from an earlier copy of the file, is found: the AEAD alone
// cannot tell an old version of a record from the current one, both being
// sealed under the same key. A third subkey, the manifest key (HKDF info
// "sesame secretstore v2 manifest key"), MACs the root. Each record has an
// entry in bucket HEX[:2] (one of 256): its name hash, its tag (the
// record's last 16 bytes, unique to that version of it) and its info. A
// bucket is an index in clear (b/XX: hash and tag per entry, and the tag
// of the infos' box), whose HMAC under the manifest key is its digest in
// the root (BucketDigest), and its infos (b/XX/i) sealed under the record
// key. The manifest key MACs the root with an epoch that every write
// raises. A reader checks a record's tag against its entry in the index,
// the index against the root, and the root's MAC, and opens no box but
// the record's; a listing reads the infos (checked against the index)
// and every record's tag, so that a record missing, not
// the version its entry names, or without an entry is reported by name.
// Every write of the vault rewrites the record, its bucket and the root in
// one storage transaction (the vault's calls are atomic, SPEC.md §5.3).
//
// A bucket splits as it grows: once a leaf would hold more than LeafMax
// entries, b/XX becomes a directory (u8 DirVersion, u8 depth, 2^depth leaf
// digests, LeafDigest) whose digest in the root is DirDigest, over leaves
// b/XXYY holding the records whose hash's second byte starts with the
// leaf's depth bits (LeafOf), each an index and infos as above with
// depth and leaf number after idx in its digest and AD. A bucket of one
// leaf (depth 0) is the layout format v2 first had; readers accept any
// depth from 0 to MaxDepth, writers use the least depth at which no leaf
// passes LeafMax (Manifest), or more, as the vault's splits leave it.
// Within a batch of sesame import the vault keeps pending entries p/HEX
// and a mark m/batch, applied and deleted before the batch commits: they
// are never on disk (extensions/secretstore/README.md).
//
// c/config and c/key carry the format version (StoreVersion, 2) in their
// first byte; the records keep version 1, their layout being unchanged. A
// store whose key record says 1 is of format v1: the vault upgrades it,
// once it has the keys (the unlock of a password store, the first call of
// one without), by writing its manifest and the key record again, in one
// transaction. c/config's version byte is covered by the wrap's
// associated data, so a v2 store cannot be passed off as a v1 one (to have
// its manifest rebuilt from whatever records it holds) without the
// password.
package format

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
)

// Version is the layout of the secret records, their first byte: 1 since
// format v1.
const Version = 1

// StoreVersion is the format version, the first byte of c/config, c/key,
// the manifest's root and its buckets: 2. A store whose c/config or c/key
// says 1 is of format v1 (no manifest), which the vault upgrades.
const StoreVersion = 2

// Storage keys.
const (
	KeyConfig    = "c/config"
	KeyMaster    = "c/key"
	PrefixSecret = "s/"
	PrefixProbe  = "t/probe/"
)

// Sizes.
const (
	MasterKeySize = 32
	StoreIDSize   = 16
	SaltSize      = 16
	NonceSize     = chacha20poly1305.NonceSizeX // 24
	TagSize       = chacha20poly1305.Overhead   // 16

	// RecordKeyLen is the length of a secret's storage key.
	RecordKeyLen = len(PrefixSecret) + 2*sha256.Size
	// MasterBlobSize is the length of Master.Marshal: store id, master key.
	MasterBlobSize = StoreIDSize + MasterKeySize

	recordHeader = 2 + NonceSize
)

// Authentication modes, the second byte of c/config and c/key.
const (
	AuthNone     = 0
	AuthPassword = 1
)

// Labels: HKDF infos and associated-data prefixes, one per use.
const (
	labelRecordKey   = "sesame secretstore v1 record key"
	labelNameKey     = "sesame secretstore v1 name key"
	labelManifestKey = "sesame secretstore v2 manifest key"
	labelRecordAD    = "sesame secretstore v1 record\x00"
	labelWrapAD      = "sesame secretstore v1 master key\x00"
)

// Errors. None of them carries key material, names or values.
var (
	// ErrAuth reports a record that failed authentication: tampered with,
	// copied from another key, or sealed under another store's key.
	ErrAuth = errors.New("record failed authentication")
	// ErrWrongKey reports a key-encryption key that does not unwrap the
	// master key: a wrong password, or a tampered configuration.
	ErrWrongKey = errors.New("wrong password")
	// ErrCorrupt reports a record or configuration whose layout is wrong.
	ErrCorrupt = errors.New("malformed record")
)

// Master is a store's root secret: its id, which is not secret, and its
// master key.
type Master struct {
	ID  [StoreIDSize]byte
	Key [MasterKeySize]byte
}

// NewMaster returns a fresh master with a random id and key.
func NewMaster() *Master {
	m := new(Master)
	rand.Read(m.ID[:])
	rand.Read(m.Key[:])
	return m
}

// Clear zeroes m. A nil m is fine.
func (m *Master) Clear() {
	if m != nil {
		clear(m.Key[:])
	}
}

// Marshal returns id | key.
func (m *Master) Marshal() []byte {
	b := make([]byte, 0, MasterBlobSize)
	b = append(b, m.ID[:]...)
	return append(b, m.Key[:]...)
}

// ParseMaster reads what Marshal wrote.
func ParseMaster(b []byte) (*Master, error) {
	if len(b) != MasterBlobSize {
		return nil, ErrCorrupt
	}
	m := new(Master)
	copy(m.ID[:], b)
	copy(m.Key[:], b[StoreIDSize:])
	return m, nil
}

// MarshalKeyRecord returns the c/key record of a store without a password:
// version (StoreVersion), AuthNone, i64 created (Unix milliseconds), store
// id, master key. created is when the record was first written (see
// Config.Created).
func (m *Master) MarshalKeyRecord(created int64) []byte {
	b := []byte{StoreVersion, AuthNone}
	b = binary.LittleEndian.AppendUint64(b, uint64(created))
	return append(b, m.Marshal()...)
}

// ParseKeyRecord reads a c/key record, of format v2 or v1, and returns the
// master and the time it was created.
func ParseKeyRecord(b []byte) (*Master, int64, error) {
	if len(b) != 10+MasterBlobSize || (b[0] != StoreVersion && b[0] != 1) || b[1] != AuthNone {
		return nil, 0, ErrCorrupt
	}
	m, err := ParseMaster(b[10:])
	return m, int64(binary.LittleEndian.Uint64(b[2:])), err
}

// Equal reports whether m and o are the same master, in constant time.
func (m *Master) Equal(o *Master) bool {
	return m.ID == o.ID && subtle.ConstantTimeCompare(m.Key[:], o.Key[:]) == 1
}

// Keys are the subkeys of a store, derived from its master. A Keys is not
// safe for concurrent use.
type Keys struct {
	id      [StoreIDSize]byte
	recKey  []byte
	nameKey []byte
	manKey  []byte // of the manifest's root (format v2)
	aead    cipher.AEAD
	mac     hash.Hash
	sum     []byte // scratch for RecordKey
	plain   []byte // scratch for Open, cleared after each use
}

// KeysBlobSize is the length of Keys.Marshal: store id, record key, name key.
const KeysBlobSize = StoreIDSize + 2*32

// Keys derives the subkeys of m.
func (m *Master) Keys() *Keys {
	recKey, err := hkdf.Key(sha256.New, m.Key[:], m.ID[:], labelRecordKey, chacha20poly1305.KeySize)
	if err != nil {
		panic("secretstore: hkdf: " + err.Error()) // only for lengths out of range
	}
	nameKey, err := hkdf.Key(sha256.New, m.Key[:], m.ID[:], labelNameKey, sha256.Size)
	if err != nil {
		panic("secretstore: hkdf: " + err.Error())
	}
	manKey, err := hkdf.Key(sha256.New, m.Key[:], m.ID[:], labelManifestKey, sha256.Size)
	if err != nil {
		panic("secretstore: hkdf: " + err.Error())
	}
	k := newKeys(m.ID, recKey, nameKey)
	k.manKey = manKey
	return k
}

func newKeys(id [StoreIDSize]byte, recKey, nameKey []byte) *Keys {
	k := &Keys{id: id, recKey: recKey, nameKey: nameKey}
	var err error
	if k.aead, err = chacha20poly1305.NewX(k.recKey); err != nil {
		panic("secretstore: xchacha20poly1305: " + err.Error())
	}
	k.mac = hmac.New(sha256.New, k.nameKey)
	return k
}

// ID returns the id of the store whose keys k holds.
func (k *Keys) ID() [StoreIDSize]byte { return k.id }

// Marshal returns store id | record key | name key: what the vault keeps in
// the host keyring once unlocked, so that calls do not derive the subkeys
// again (HKDF is slow inside the sandbox). Whoever holds them can read and
// write the store, exactly as with the master key; they cannot unwrap
// anything else.
func (k *Keys) Marshal() []byte {
	b := make([]byte, 0, KeysBlobSize)
	b = append(b, k.id[:]...)
	b = append(b, k.recKey...)
	return append(b, k.nameKey...)
}

// ParseKeys reads what Keys.Marshal wrote.
func ParseKeys(b []byte) (*Keys, error) {
	if len(b) != KeysBlobSize {
		return nil, ErrCorrupt
	}
	var id [StoreIDSize]byte
	copy(id[:], b)
	return newKeys(id, bytes.Clone(b[StoreIDSize:StoreIDSize+32]), bytes.Clone(b[StoreIDSize+32:])), nil
}

// Clear zeroes the subkeys that k holds. (The AEAD and the HMAC keep their
// own copies inside the standard library's types, out of reach; they become
// garbage with k.) A nil k is fine.
func (k *Keys) Clear() {
	if k == nil {
		return
	}
	clear(k.recKey)
	clear(k.nameKey)
	clear(k.manKey)
	clear(k.plain[:cap(k.plain)])
	if k.mac != nil {
		k.mac.Reset()
	}
	k.aead, k.mac = nil, nil
}

// RecordKey returns the storage key of the secret called name: the prefix
// and the hex HMAC of its folded spelling, so that names differing only in
// case share a record and no name appears on disk.
func (k *Keys) RecordKey(name string) []byte {
	k.mac.Reset()
	k.mac.Write([]byte(abi.Fold(name)))
	k.sum = k.mac.Sum(k.sum[:0])
	key := make([]byte, len(PrefixSecret), RecordKeyLen)
	copy(key, PrefixSecret)
	return hex.AppendEncode(key, k.sum)
}

// recordAD returns the associated data of a record stored under key.
func recordAD(key []byte, typ abi.Type) []byte {
	ad := make([]byte, 0, len(labelRecordAD)+4+len(key)+2)
	ad = append(ad, labelRecordAD...)
	ad = binary.LittleEndian.AppendUint32(ad, uint32(len(key)))
	ad = append(ad, key...)
	return append(ad, Version, byte(typ))
}

// Seal returns the record of the secret (in, v) for storage key key, which
// must be k.RecordKey(in.Name). in.Type must be v.Type.
func (k *Keys) Seal(key []byte, in abi.Info, v abi.Value) ([]byte, error) {
	plain, err := abi.AppendSecret(nil, in, v)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	rec := make([]byte, recordHeader, recordHeader+len(plain)+TagSize)
	rec[0], rec[1] = Version, byte(v.Type)
	rand.Read(rec[2:recordHeader])
	return k.aead.Seal(rec, rec[2:recordHeader], plain, recordAD(key, v.Type)), nil
}

// Open authenticates and decrypts the record rec read from storage key key.
// name is the name the caller looked up (key is k.RecordKey(name)), or ""
// when it does not know it (a listing). Open returns ErrAuth when the record
// does not authenticate under key, or when the name inside is not name;
// ErrCorrupt when the layout is wrong. The result does not alias rec.
//
// With name "", the record's binding to key by its associated data is the
// only check: hashing every name again would cost a listing ~40 µs a
// record inside the sandbox, and only a writer holding the store's keys
// could seal a record under another name's key. CheckName does that check.
func (k *Keys) Open(key, rec []byte, name string) (abi.Info, abi.Value, error) {
	if len(rec) < recordHeader+TagSize || rec[0] != Version || !abi.Type(rec[1]).Valid() {
		return abi.Info{}, abi.Value{}, ErrCorrupt
	}
	typ := abi.Type(rec[1])
	plain, err := k.aead.Open(k.plain[:0], rec[2:recordHeader], rec[recordHeader:], recordAD(key, typ))
	if err != nil {
		clear(k.plain[:cap(k.plain)])
		return abi.Info{}, abi.Value{}, ErrAuth
	}
	k.plain = plain[:0]
	defer clear(plain)
	in, v, err := abi.DecodeSecret(plain)
	if err != nil || in.Type != typ {
		// Authentic but undecodable: written by a broken writer.
		clearValue(v)
		return abi.Info{}, abi.Value{}, ErrCorrupt
	}
	// Never hand out a secret under a name it was not stored as. (The AD
	// already binds the record to key; this catches a writer that sealed a
	// secret under another name's key.)
	if name != "" && abi.Fold(in.Name) != abi.Fold(name) {
		clearValue(v)
		return abi.Info{}, abi.Value{}, ErrAuth
	}
	return in, v, nil
}

// CheckName reports whether name hashes to the storage key key.
func (k *Keys) CheckName(key []byte, name string) bool {
	return bytes.Equal(k.RecordKey(name), key)
}

// clearValue zeroes the bytes of v.
func clearValue(v abi.Value) {
	clear(v.Data)
	for _, e := range v.Entries {
		clearValue(e.Value)
	}
}

// KDFParams are the parameters of Argon2id.
type KDFParams struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultKDF returns the parameters of new passwords: RFC 9106's second
// recommended option (t=3, 64 MiB, p=4).
func DefaultKDF() KDFParams { return KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4} }

// KDF algorithm ids in Config.
const kdfArgon2id = 1

// Config is the c/config record of a password store: the master key wrapped
// with XChaCha20-Poly1305 under a key-encryption key that Argon2id derives
// from the password and Salt. Its layout:
//
//	u8 version (2; 1 in format v1) | u8 mode (1: password) | i64 created | u8 kdf (1:
//	Argon2id) | u32 time | u32 memory KiB | u8 threads | u8 salt length |
//	salt | store id (16) | nonce (24) | wrapped master key (32 + 16)
//
// The associated data of the wrap is a label and every byte before the
// nonce, so that no header field can be changed without the password.
type Config struct {
	// Version is StoreVersion, or 1 in a store of format v1.
	Version byte
	// Created is when the store got its password, in Unix milliseconds. A
	// password change keeps it. Creators of a store wait a moment after
	// writing and read again, and users of a fresh record wait as long, so
	// that of two processes creating a store at once, both end up with the
	// record written last (see the vault's keys.go).
	Created int64
	KDF     KDFParams
	Salt    []byte
	ID      [StoreIDSize]byte
	nonce   [NonceSize]byte
	wrapped []byte
}

// NewSalt returns a random salt.
func NewSalt() []byte {
	s := make([]byte, SaltSize)
	rand.Read(s)
	return s
}

// WrapMaster returns the Config, created at created (Unix milliseconds),
// that keeps m under kek, a key Argon2id derived with params from the
// password and salt.
func WrapMaster(m *Master, kek []byte, params KDFParams, salt []byte, created int64) (*Config, error) {
	if len(kek) != chacha20poly1305.KeySize {
		return nil, errors.New("key-encryption key must be 32 bytes")
	}
	c := &Config{Version: StoreVersion, Created: created, KDF: params, Salt: bytes.Clone(salt), ID: m.ID}
	rand.Read(c.nonce[:])
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, err
	}
	c.wrapped = aead.Seal(nil, c.nonce[:], m.Key[:], c.ad())
	return c, nil
}

// Unwrap returns the master that c keeps, or ErrWrongKey when kek does not
// open it.
func (c *Config) Unwrap(kek []byte) (*Master, error) {
	aead, err := chacha20poly1305.NewX(kek)
	if err != nil {
		return nil, ErrWrongKey
	}
	key, err := aead.Open(nil, c.nonce[:], c.wrapped, c.ad())
	if err != nil || len(key) != MasterKeySize {
		clear(key)
		return nil, ErrWrongKey
	}
	m := &Master{ID: c.ID}
	copy(m.Key[:], key)
	clear(key)
	return m, nil
}

// header returns the bytes of c before the nonce.
func (c *Config) header() []byte {
	b := []byte{c.Version, AuthPassword}
	b = binary.LittleEndian.AppendUint64(b, uint64(c.Created))
	b = append(b, kdfArgon2id)
	b = binary.LittleEndian.AppendUint32(b, c.KDF.Time)
	b = binary.LittleEndian.AppendUint32(b, c.KDF.MemoryKiB)
	b = append(b, c.KDF.Threads, byte(len(c.Salt)))
	b = append(b, c.Salt...)
	return append(b, c.ID[:]...)
}

func (c *Config) ad() []byte { return append([]byte(labelWrapAD), c.header()...) }

// Marshal returns the c/config record.
func (c *Config) Marshal() []byte {
	b := c.header()
	b = append(b, c.nonce[:]...)
	return append(b, c.wrapped...)
}

// ParseConfig reads a c/config record. It checks the layout, not the
// parameters' bounds: the host refuses a derivation outside its own.
func ParseConfig(b []byte) (*Config, error) {
	if len(b) < 21 || (b[0] != StoreVersion && b[0] != 1) || b[1] != AuthPassword || b[10] != kdfArgon2id {
		return nil, ErrCorrupt
	}
	c := &Config{
		Version: b[0],
		Created: int64(binary.LittleEndian.Uint64(b[2:])),
		KDF: KDFParams{
			Time:      binary.LittleEndian.Uint32(b[11:]),
			MemoryKiB: binary.LittleEndian.Uint32(b[15:]),
			Threads:   b[19],
		},
	}
	n := int(b[20])
	rest := b[21:]
	if len(rest) != n+StoreIDSize+NonceSize+MasterKeySize+TagSize {
		return nil, ErrCorrupt
	}
	c.Salt = bytes.Clone(rest[:n])
	rest = rest[n:]
	copy(c.ID[:], rest)
	rest = rest[StoreIDSize:]
	copy(c.nonce[:], rest)
	c.wrapped = bytes.Clone(rest[NonceSize:])
	return c, nil
}
