package kdbx

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrKey is the answer to a password or key file that does not open the
// database: the header's HMAC (4.x) or the stream start bytes (3.1) do not
// match.
var ErrKey = errors.New("kdbx: the password or key file is wrong")

// Binary is an attachment's content in a KDBX 4 inner header.
type Binary struct {
	Protected bool // KeePass keeps it in protected memory
	Data      []byte
}

// Database is a decoded KDBX file: its header, its transformed key (held
// by the Crypto) and its XML document. Encode writes it back in the
// version it was read in.
type Database struct {
	// XML is the document (the KeePassFile element).
	XML *Node
	// Binaries are KDBX 4's attachment contents, referenced by index from
	// <Binary><Value Ref="i"/> in entries; KDBX 3.1 keeps them in
	// Meta/Binaries instead (see Attachment).
	Binaries []Binary
	// Rand is the source of seeds and IVs; crypto/rand's Reader when nil.
	Rand io.Reader

	c           Crypto
	h           *header
	kdf         *KDF
	transformed Key
	innerID     uint32
}

// Version returns the file's version, Version31, Version40 or Version41.
func (db *Database) Version() uint32 { return db.h.version }

// KDF returns a copy of the database's key derivation parameters.
func (db *Database) KDF() KDF { return *db.kdf }

// Cipher returns the outer cipher's identifier (CipherAES256 or
// CipherChaCha20).
func (db *Database) Cipher() Cipher {
	v, _ := db.h.get(hCipherID)
	return Cipher(v)
}

// Close forgets the transformed key.
func (db *Database) Close() {
	if db.transformed != nil {
		db.c.Forget(db.transformed)
		db.transformed = nil
	}
}

// maxPayload bounds the decompressed content, against a small file that
// inflates to fill memory.
const maxPayload = 1 << 30

// Decode opens a KDBX file with the composite key. It returns ErrKey when
// the key is wrong and a *FormatError when the file is not a database this
// package reads.
func Decode(data []byte, c Crypto, composite Key) (*Database, error) {
	h, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	db := &Database{c: c, h: h}
	cipherID, seed, iv, err := db.cipherFields()
	if err != nil {
		return nil, err
	}
	if db.kdf, err = readKDF(h); err != nil {
		return nil, err
	}
	if _, err := db.compression(); err != nil {
		return nil, err
	}
	if db.transformed, err = c.Transform(composite, db.kdf); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	rest := data[len(h.raw):]
	var plain []byte
	if h.v4() {
		plain, err = db.decrypt4(rest, cipherID, seed, iv)
	} else {
		plain, err = db.decrypt3(rest, cipherID, seed, iv)
	}
	if err != nil {
		return nil, err
	}
	if err := db.readPayload(plain); err != nil {
		return nil, err
	}
	ok = true
	return db, nil
}

// cipherFields returns the cipher, master seed and IV, checked.
func (db *Database) cipherFields() (cipherID Cipher, seed, iv []byte, err error) {
	id, _ := db.h.get(hCipherID)
	seed, _ = db.h.get(hMasterSeed)
	iv, _ = db.h.get(hEncryptionIV)
	if len(id) != 16 {
		return cipherID, nil, nil, formatErr("a header without a cipher")
	}
	cipherID = Cipher(id)
	switch cipherID {
	case CipherAES256:
		if len(iv) != 16 {
			return cipherID, nil, nil, formatErr("an AES IV of %d bytes", len(iv))
		}
	case CipherChaCha20:
		if len(iv) != 12 {
			return cipherID, nil, nil, formatErr("a ChaCha20 nonce of %d bytes", len(iv))
		}
	default:
		return cipherID, nil, nil, formatErr("cipher %x is not supported (AES-256 and ChaCha20 are; Twofish is not)", id)
	}
	if len(seed) != 32 {
		return cipherID, nil, nil, formatErr("a master seed of %d bytes", len(seed))
	}
	return cipherID, seed, iv, nil
}

func (db *Database) compression() (bool, error) {
	v, _ := db.h.get(hCompression)
	if len(v) != 4 || binary.LittleEndian.Uint32(v) > 1 {
		return false, formatErr("an unknown compression")
	}
	return binary.LittleEndian.Uint32(v) == 1, nil
}

// keys derives the cipher key and, for 4.x, the HMAC base key.
func (db *Database) keys(seed []byte) (cipherKey, hmacBase Key, err error) {
	if cipherKey, err = db.c.HashKey(SHA256, seed, db.transformed, nil); err != nil {
		return nil, nil, err
	}
	if db.h.v4() {
		if hmacBase, err = db.c.HashKey(SHA512, seed, db.transformed, []byte{1}); err != nil {
			db.c.Forget(cipherKey)
			return nil, nil, err
		}
	}
	return cipherKey, hmacBase, nil
}

func (db *Database) forget(keys ...Key) {
	for _, k := range keys {
		if k != nil {
			db.c.Forget(k)
		}
	}
}

func (db *Database) decrypt4(rest []byte, cipherID Cipher, seed, iv []byte) ([]byte, error) {
	if len(rest) < 64 {
		return nil, formatErr("the file ends after its header")
	}
	if sum := sha256.Sum256(db.h.raw); !bytes.Equal(sum[:], rest[:32]) {
		return nil, formatErr("the header does not match its hash: the file is damaged")
	}
	ck, hb, err := db.keys(seed)
	if err != nil {
		return nil, err
	}
	defer db.forget(ck, hb)
	// The header's HMAC is over the header alone, not index and length.
	hk, err := blockKey(db.c, hb, ^uint64(0))
	if err != nil {
		return nil, err
	}
	mac, err := db.c.HMACSHA256(hk, db.h.raw)
	db.c.Forget(hk)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(mac, rest[32:64]) {
		return nil, ErrKey
	}
	ct, err := readHMACBlocks(db.c, hb, rest[64:])
	if err != nil {
		return nil, err
	}
	plain, err := db.decipher(ck, cipherID, iv, ct)
	if errors.Is(err, errPadding) {
		return nil, formatErr("the content's padding is wrong: the file is damaged")
	}
	return plain, err
}

func (db *Database) decrypt3(rest []byte, cipherID Cipher, seed, iv []byte) ([]byte, error) {
	start, _ := db.h.get(hStreamStartBytes)
	if len(start) != 32 {
		return nil, formatErr("a KDBX 3.1 header without its 32 stream start bytes")
	}
	ck, _, err := db.keys(seed)
	if err != nil {
		return nil, err
	}
	defer db.forget(ck)
	plain, err := db.decipher(ck, cipherID, iv, rest)
	if errors.Is(err, errPadding) {
		return nil, ErrKey // what a wrong key makes of the last block
	}
	if err != nil {
		return nil, err
	}
	if len(plain) < 32 || !bytes.Equal(plain[:32], start) {
		return nil, ErrKey
	}
	return readHashedBlocks(plain[32:])
}

var errPadding = errors.New("bad padding")

func (db *Database) decipher(k Key, cipherID Cipher, iv, ct []byte) ([]byte, error) {
	if cipherID == CipherChaCha20 {
		return db.c.ChaCha20(k, iv, ct)
	}
	if len(ct) == 0 || len(ct)%16 != 0 {
		return nil, formatErr("the content is not whole AES blocks: the file is damaged")
	}
	p, err := db.c.AESCBC(k, iv, ct, false)
	if err != nil {
		return nil, err
	}
	n := int(p[len(p)-1])
	if n < 1 || n > 16 || !bytes.Equal(p[len(p)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, errPadding
	}
	return p[:len(p)-n], nil
}

func (db *Database) encipher(k Key, cipherID Cipher, iv, plain []byte) ([]byte, error) {
	if cipherID == CipherChaCha20 {
		return db.c.ChaCha20(k, iv, plain)
	}
	n := 16 - len(plain)%16
	return db.c.AESCBC(k, iv, append(plain, bytes.Repeat([]byte{byte(n)}, n)...), true)
}

// readPayload decompresses the content, reads 4.x's inner header, and
// parses the XML with the inner stream.
func (db *Database) readPayload(p []byte) error {
	gz, _ := db.compression()
	if gz {
		r, err := gzip.NewReader(bytes.NewReader(p))
		if err != nil {
			return formatErr("the content is not gzip: %v", err)
		}
		if p, err = io.ReadAll(io.LimitReader(r, maxPayload+1)); err != nil {
			return formatErr("the content's gzip: %v", err)
		}
		if len(p) > maxPayload {
			return formatErr("the content inflates to more than %d bytes", maxPayload)
		}
	}
	var streamKey []byte
	if db.h.v4() {
		var err error
		if p, streamKey, err = db.readInnerHeader(p); err != nil {
			return err
		}
	} else {
		id, _ := db.h.get(hInnerRandomStreamID)
		if len(id) != 4 {
			return formatErr("a KDBX 3.1 header without its inner stream")
		}
		db.innerID = binary.LittleEndian.Uint32(id)
		streamKey, _ = db.h.get(hProtectedStreamKey)
	}
	s, err := newInnerStream(db.innerID, streamKey)
	if err != nil {
		return err
	}
	if db.XML, err = parseXML(p, s); err != nil {
		return err
	}
	if db.XML.Name != "KeePassFile" {
		return formatErr("the XML's root is <%s>, not <KeePassFile>", db.XML.Name)
	}
	return db.checkHeaderHash()
}

// checkHeaderHash checks 3.1's Meta/HeaderHash, when the file has one.
func (db *Database) checkHeaderHash() error {
	if db.h.v4() {
		return nil
	}
	n := db.meta().Child("HeaderHash")
	if n == nil {
		return nil
	}
	sum := sha256.Sum256(db.h.raw)
	if n.Text != base64.StdEncoding.EncodeToString(sum[:]) {
		return formatErr("the header does not match the hash in the content: the file is damaged")
	}
	return nil
}

// Inner header field identifiers (4.x).
const (
	ihEnd      = 0
	ihStreamID = 1
	ihStreamKy = 2
	ihBinary   = 3
)

func (db *Database) readInnerHeader(p []byte) (rest, streamKey []byte, err error) {
	for {
		if len(p) < 5 {
			return nil, nil, formatErr("the inner header ends early")
		}
		id := p[0]
		n := int(int32(binary.LittleEndian.Uint32(p[1:])))
		if n < 0 || n > len(p)-5 {
			return nil, nil, formatErr("inner header field %d runs past the end", id)
		}
		v := p[5 : 5+n]
		p = p[5+n:]
		switch id {
		case ihEnd:
			if streamKey == nil {
				return nil, nil, formatErr("an inner header without a stream key")
			}
			return p, streamKey, nil
		case ihStreamID:
			if n != 4 {
				return nil, nil, formatErr("an inner stream identifier of %d bytes", n)
			}
			db.innerID = binary.LittleEndian.Uint32(v)
		case ihStreamKy:
			streamKey = bytes.Clone(v)
		case ihBinary:
			if n < 1 {
				return nil, nil, formatErr("an empty binary in the inner header")
			}
			db.Binaries = append(db.Binaries, Binary{Protected: v[0]&1 != 0, Data: bytes.Clone(v[1:])})
		default:
			return nil, nil, formatErr("an unknown inner header field %d", id)
		}
	}
}

func (db *Database) random(n int) ([]byte, error) {
	r := db.Rand
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("kdbx: random bytes: %w", err)
	}
	return b, nil
}

// Encode writes the database in the version it was read in, with a new
// master seed, IV and inner stream key. The KDF's seed and the
// transformed key are kept, so that a write costs no key derivation (the
// master seed alone makes the cipher and HMAC keys new).
func (db *Database) Encode() ([]byte, error) {
	if db.transformed == nil {
		return nil, errors.New("kdbx: the database is closed")
	}
	id, _ := db.h.get(hCipherID)
	cipherID := Cipher(id) // checked by Decode and SetCipher
	ivLen := 16
	if cipherID == CipherChaCha20 {
		ivLen = 12
	}
	seed, err := db.random(32)
	if err != nil {
		return nil, err
	}
	iv, err := db.random(ivLen)
	if err != nil {
		return nil, err
	}
	db.h.set(hMasterSeed, seed)
	db.h.set(hEncryptionIV, iv)
	if db.h.v4() {
		return db.encode4(cipherID, seed, iv)
	}
	return db.encode3(cipherID, seed, iv)
}

func (db *Database) encode4(cipherID Cipher, seed, iv []byte) ([]byte, error) {
	streamKey, err := db.random(64)
	if err != nil {
		return nil, err
	}
	var p bytes.Buffer
	ih := func(id byte, v []byte) {
		p.WriteByte(id)
		p.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(v))))
		p.Write(v)
	}
	db.pruneBinaries()
	ih(ihStreamID, binary.LittleEndian.AppendUint32(nil, db.innerID))
	ih(ihStreamKy, streamKey)
	for _, b := range db.Binaries {
		flag := byte(0)
		if b.Protected {
			flag = 1
		}
		ih(ihBinary, append([]byte{flag}, b.Data...))
	}
	ih(ihEnd, nil)
	x, err := db.xmlBytes(streamKey)
	if err != nil {
		return nil, err
	}
	p.Write(x)
	payload, err := db.compress(p.Bytes())
	if err != nil {
		return nil, err
	}
	head := db.h.encode()
	db.h.raw = head
	ck, hb, err := db.keys(seed)
	if err != nil {
		return nil, err
	}
	defer db.forget(ck, hb)
	ct, err := db.encipher(ck, cipherID, iv, payload)
	if err != nil {
		return nil, err
	}
	hk, err := blockKey(db.c, hb, ^uint64(0))
	if err != nil {
		return nil, err
	}
	mac, err := db.c.HMACSHA256(hk, head)
	db.c.Forget(hk)
	if err != nil {
		return nil, err
	}
	blocks, err := writeHMACBlocks(db.c, hb, ct)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(head)
	out := append(head, sum[:]...)
	out = append(out, mac...)
	return append(out, blocks...), nil
}

func (db *Database) encode3(cipherID Cipher, seed, iv []byte) ([]byte, error) {
	streamKey, err := db.random(32)
	if err != nil {
		return nil, err
	}
	start, err := db.random(32)
	if err != nil {
		return nil, err
	}
	db.h.set(hProtectedStreamKey, streamKey)
	db.h.set(hStreamStartBytes, start)
	head := db.h.encode()
	db.h.raw = head
	sum := sha256.Sum256(head)
	db.meta().Ensure("HeaderHash").Text = base64.StdEncoding.EncodeToString(sum[:])
	x, err := db.xmlBytes(streamKey)
	if err != nil {
		return nil, err
	}
	payload, err := db.compress(x)
	if err != nil {
		return nil, err
	}
	ck, _, err := db.keys(seed)
	if err != nil {
		return nil, err
	}
	defer db.forget(ck)
	ct, err := db.encipher(ck, cipherID, iv, append(start, writeHashedBlocks(payload)...))
	if err != nil {
		return nil, err
	}
	return append(head, ct...), nil
}

func (db *Database) xmlBytes(streamKey []byte) ([]byte, error) {
	s, err := newInnerStream(db.innerID, streamKey)
	if err != nil {
		return nil, err
	}
	return encodeXML(db.XML, s)
}

// compress gzips the payload when the header asks for it, at flate's
// fastest level: a write rewrites every attachment, and the default level
// costs ten times as much on data that does not compress (0.4 s for 1 MiB
// in wasm), for a file a few per cent smaller. Any level reads back the
// same in KeePassXC.
func (db *Database) compress(p []byte) ([]byte, error) {
	if gz, _ := db.compression(); !gz {
		return p, nil
	}
	var b bytes.Buffer
	w, _ := gzipWriters.Get().(*gzip.Writer)
	if w == nil {
		w, _ = gzip.NewWriterLevel(&b, gzip.BestSpeed)
	} else {
		w.Reset(&b)
	}
	defer gzipWriters.Put(w)
	w.Write(p)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// gzipWriters keeps compressors between writes: each holds some 600 KiB of
// tables, which a new one allocates and clears.
var gzipWriters sync.Pool

// SetKDF changes the key derivation and derives the transformed key anew
// from the composite key: a 3.1 file can have AES-KDF only.
func (db *Database) SetKDF(k KDF, composite Key) error {
	old := *db.h
	old.fields = append([]field(nil), db.h.fields...)
	if err := writeKDF(db.h, &k); err != nil {
		*db.h = old
		return err
	}
	t, err := db.c.Transform(composite, &k)
	if err != nil {
		*db.h = old
		return err
	}
	db.Close()
	db.kdf, db.transformed = &k, t
	return nil
}

// SetCipher changes the outer cipher (CipherAES256 or CipherChaCha20).
func (db *Database) SetCipher(id Cipher) error {
	if id != CipherAES256 && id != CipherChaCha20 {
		return errors.New("kdbx: only AES-256 and ChaCha20 can be set")
	}
	db.h.set(hCipherID, []byte(id))
	return nil
}

// SetCompression turns gzip on or off.
func (db *Database) SetCompression(gz bool) {
	v := uint32(0)
	if gz {
		v = 1
	}
	db.h.set(hCompression, binary.LittleEndian.AppendUint32(nil, v))
}

func (db *Database) meta() *Node { return db.XML.Ensure("Meta") }
