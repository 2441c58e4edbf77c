package kdbx

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/salsa20"
)

// blockSize is the size of the blocks this package writes, as KeePass's.
const blockSize = 1 << 20

// blockKey returns the HMAC key of block index (KDBX 4): SHA-512 of the
// index and the HMAC base key. The header's index is 2^64-1.
func blockKey(c Crypto, base Key, index uint64) (Key, error) {
	return c.HashKey(SHA512, binary.LittleEndian.AppendUint64(nil, index), base, nil)
}

func blockMAC(c Crypto, base Key, index uint64, data []byte) ([]byte, error) {
	k, err := blockKey(c, base, index)
	if err != nil {
		return nil, err
	}
	defer c.Forget(k)
	msg := binary.LittleEndian.AppendUint64(nil, index)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(len(data)))
	return c.HMACSHA256(k, append(msg, data...))
}

// readHMACBlocks reads KDBX 4's HMAC block stream, checking each block's
// HMAC, up to the empty block that ends it.
func readHMACBlocks(c Crypto, base Key, data []byte) ([]byte, error) {
	var out bytes.Buffer
	for i := uint64(0); ; i++ {
		if len(data) < 36 {
			return nil, formatErr("the block stream ends early")
		}
		mac := data[:32]
		n := int(int32(binary.LittleEndian.Uint32(data[32:])))
		if n < 0 || n > len(data)-36 {
			return nil, formatErr("block %d runs past the end of the file", i)
		}
		block := data[36 : 36+n]
		want, err := blockMAC(c, base, i, block)
		if err != nil {
			return nil, err
		}
		if !hmac.Equal(mac, want) {
			return nil, formatErr("block %d fails its HMAC check: the file is damaged", i)
		}
		data = data[36+n:]
		if n == 0 {
			if len(data) != 0 {
				return nil, formatErr("bytes after the last block")
			}
			return out.Bytes(), nil
		}
		out.Write(block)
	}
}

func writeHMACBlocks(c Crypto, base Key, data []byte) ([]byte, error) {
	var out bytes.Buffer
	for i := uint64(0); ; i++ {
		n := min(len(data), blockSize)
		mac, err := blockMAC(c, base, i, data[:n])
		if err != nil {
			return nil, err
		}
		out.Write(mac)
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
		out.Write(data[:n])
		data = data[n:]
		if n == 0 {
			return out.Bytes(), nil
		}
	}
}

// readHashedBlocks reads KDBX 3.1's hashed block stream: blocks of index,
// SHA-256 and size, up to an empty block with a zero hash.
func readHashedBlocks(data []byte) ([]byte, error) {
	var out bytes.Buffer
	for i := uint32(0); ; i++ {
		if len(data) < 40 {
			return nil, formatErr("the block stream ends early")
		}
		if binary.LittleEndian.Uint32(data) != i {
			return nil, formatErr("block %d is out of order", i)
		}
		hash := data[4:36]
		n := int(int32(binary.LittleEndian.Uint32(data[36:])))
		if n < 0 || n > len(data)-40 {
			return nil, formatErr("block %d runs past the end of the data", i)
		}
		block := data[40 : 40+n]
		data = data[40+n:]
		if n == 0 {
			if !bytes.Equal(hash, make([]byte, 32)) {
				return nil, formatErr("the last block has a hash")
			}
			return out.Bytes(), nil
		}
		if sum := sha256.Sum256(block); !bytes.Equal(hash, sum[:]) {
			return nil, formatErr("block %d fails its hash check: the file is damaged", i)
		}
		out.Write(block)
	}
}

func writeHashedBlocks(data []byte) []byte {
	var out bytes.Buffer
	for i := uint32(0); ; i++ {
		n := min(len(data), blockSize)
		out.Write(binary.LittleEndian.AppendUint32(nil, i))
		if n == 0 {
			out.Write(make([]byte, 32))
		} else {
			sum := sha256.Sum256(data[:n])
			out.Write(sum[:])
		}
		out.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
		out.Write(data[:n])
		data = data[n:]
		if n == 0 {
			return out.Bytes()
		}
	}
}

// Inner random stream identifiers: the cipher that hides protected values.
const (
	innerSalsa20  = 2
	innerChaCha20 = 3
)

// innerStream is the keystream that protected values are XORed with, in
// document order.
type innerStream struct {
	xorKeyStream func(dst, src []byte)
}

var salsaNonce = []byte{0xE8, 0x30, 0x09, 0x4B, 0x97, 0x20, 0x5D, 0x2A}

// newInnerStream makes the stream of id and key: ChaCha20 keyed by
// SHA-512 of the key (key, then nonce), or Salsa20 keyed by its SHA-256
// with KeePass's fixed nonce.
func newInnerStream(id uint32, key []byte) (*innerStream, error) {
	switch id {
	case innerChaCha20:
		h := HashOf(SHA512, key)
		c, err := chacha20.NewUnauthenticatedCipher(h[:32], h[32:44])
		if err != nil {
			return nil, err
		}
		return &innerStream{c.XORKeyStream}, nil
	case innerSalsa20:
		return &innerStream{newSalsa20(HashOf(SHA256, key))}, nil
	}
	return nil, formatErr("inner random stream %d is not supported (Salsa20 and ChaCha20 are)", id)
}

// newSalsa20 is Salsa20 with KeePass's nonce as a stream that can be used
// a piece at a time. x/crypto's salsa20 starts over at each call, so the
// keystream is made from the start, each time twice as long as before:
// linear in all, and protected values are short.
func newSalsa20(key []byte) func(dst, src []byte) {
	k := [32]byte(key)
	var ks []byte
	used := 0
	return func(dst, src []byte) {
		if used+len(src) > len(ks) {
			ks = make([]byte, max(2*len(ks), used+len(src), 64))
			salsa20.XORKeyStream(ks, ks, salsaNonce, &k)
		}
		for i := range src {
			dst[i] = src[i] ^ ks[used+i]
		}
		used += len(src)
	}
}

// xor XORs b in place with the next len(b) bytes of the stream.
func (s *innerStream) xor(b []byte) { s.xorKeyStream(b, b) }
