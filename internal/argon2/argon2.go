// Package argon2 is Argon2 (RFC 9106) in its three variants, for the KDBX
// format: KeePass and KeePassXC derive keys with Argon2d as well as
// Argon2id, and golang.org/x/crypto/argon2 exports only Argon2i and
// Argon2id. Written from the RFC; the RFC's test vectors (§5) and
// golang.org/x/crypto's Argon2i and Argon2id pin it (argon2_test.go).
//
// Versions 0x10 and 0x13 are both supported, because a KDBX file names its
// version and files from old KeePass releases carry 0x10.
package argon2

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Variant is the Argon2 type: y in RFC 9106 §3.2.
type Variant uint32

// The variants, with their RFC 9106 type numbers.
const (
	D  Variant = 0
	I  Variant = 1
	ID Variant = 2
)

// The versions: 0x13 is RFC 9106's; 0x10 is the earlier one, whose later
// passes overwrite blocks instead of XOR-ing into them.
const (
	Version10 = 0x10
	Version13 = 0x13
)

// Params are the inputs of one derivation besides the password.
type Params struct {
	Variant    Variant
	Version    uint32 // Version10 or Version13
	Time       uint32 // passes, at least 1
	MemoryKiB  uint32 // at least 8 × Lanes
	Lanes      uint32 // parallelism, 1 to 2^24-1
	Salt       []byte // at least 8 bytes
	Secret     []byte // K, optional
	Associated []byte // X, optional
	TagLen     uint32 // at least 4
	// Done, when not nil, stops the derivation between two slices once
	// it is closed: Key then returns ErrStopped. A host uses it to end a
	// derivation whose caller's deadline has passed.
	Done <-chan struct{}
}

// ErrStopped is Key's answer when Params.Done was closed.
var ErrStopped = errors.New("argon2: stopped")

// Check reports why p is not a valid parameter set, or nil.
func (p *Params) Check() error {
	switch {
	case p.Variant > ID:
		return errors.New("argon2: unknown variant")
	case p.Version != Version10 && p.Version != Version13:
		return errors.New("argon2: unknown version")
	case p.Time < 1:
		return errors.New("argon2: fewer than one pass")
	case p.Lanes < 1 || p.Lanes > 1<<24-1:
		return errors.New("argon2: parallelism out of range")
	case uint64(p.MemoryKiB) < 8*uint64(p.Lanes):
		return errors.New("argon2: less memory than 8 KiB a lane")
	case len(p.Salt) < 8:
		return errors.New("argon2: salt shorter than 8 bytes")
	case p.TagLen < 4:
		return errors.New("argon2: tag shorter than 4 bytes")
	}
	return nil
}

const (
	blockWords = 128 // 1 KiB blocks of 64-bit words
	syncPoints = 4   // slices per pass
)

type block [blockWords]uint64

// Key derives p.TagLen bytes from password. It returns an error only for
// parameters that Check refuses. The lanes of each slice run in parallel,
// one goroutine each, as the RFC allows.
func Key(password []byte, p Params) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	h0 := initialHash(password, &p)
	lanes := p.Lanes
	q := p.MemoryKiB / (syncPoints * lanes) * syncPoints // columns per lane
	mem := make([]block, q*lanes)
	for l := uint32(0); l < lanes; l++ {
		var buf [blockWords * 8]byte
		for j := uint32(0); j < 2; j++ {
			in := make([]byte, 0, len(h0)+8)
			in = append(in, h0[:]...)
			in = binary.LittleEndian.AppendUint32(in, j)
			in = binary.LittleEndian.AppendUint32(in, l)
			hashLong(buf[:], in)
			for w := range mem[l*q+j] {
				mem[l*q+j][w] = binary.LittleEndian.Uint64(buf[w*8:])
			}
		}
	}
	f := filler{p: &p, mem: mem, q: q, seg: q / syncPoints}
	for pass := uint32(0); pass < p.Time; pass++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			select {
			case <-p.Done:
				clearBlocks(mem)
				return nil, ErrStopped
			default:
			}
			var wg sync.WaitGroup
			for l := uint32(0); l < lanes; l++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					f.segment(pass, slice, l)
				}()
			}
			wg.Wait()
		}
	}
	var c block
	for l := uint32(0); l < lanes; l++ {
		xorBlock(&c, &mem[l*q+q-1])
	}
	var cb [blockWords * 8]byte
	for w, v := range c {
		binary.LittleEndian.PutUint64(cb[w*8:], v)
	}
	tag := make([]byte, p.TagLen)
	hashLong(tag, cb[:])
	clearBlocks(mem)
	clear(cb[:])
	return tag, nil
}

// clearBlocks zeroes the memory of a derivation, which holds what the key
// was derived from.
func clearBlocks(mem []block) {
	for i := range mem {
		mem[i] = block{}
	}
}

// initialHash is H0 (RFC 9106 §3.2, step 1).
func initialHash(password []byte, p *Params) [blake2b.Size]byte {
	h, _ := blake2b.New512(nil)
	var n [4]byte
	put := func(v uint32) {
		binary.LittleEndian.PutUint32(n[:], v)
		h.Write(n[:])
	}
	put(p.Lanes)
	put(p.TagLen)
	put(p.MemoryKiB)
	put(p.Time)
	put(p.Version)
	put(uint32(p.Variant))
	for _, b := range [][]byte{password, p.Salt, p.Secret, p.Associated} {
		put(uint32(len(b)))
		h.Write(b)
	}
	var out [blake2b.Size]byte
	h.Sum(out[:0])
	return out
}

// hashLong is H' (RFC 9106 §3.3): fills out from in.
func hashLong(out, in []byte) {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(out)))
	if len(out) <= blake2b.Size {
		h, _ := blake2b.New(len(out), nil)
		h.Write(n[:])
		h.Write(in)
		h.Sum(out[:0])
		return
	}
	h, _ := blake2b.New512(nil)
	h.Write(n[:])
	h.Write(in)
	v := h.Sum(nil)
	r := (len(out)+31)/32 - 2
	off := 0
	for i := 1; i < r; i++ {
		off += copy(out[off:], v[:32])
		s := blake2b.Sum512(v)
		v = s[:]
	}
	off += copy(out[off:], v[:32])
	h, _ = blake2b.New(len(out)-32*r, nil)
	h.Write(v)
	h.Sum(out[off:off])
}

// filler fills the memory of one derivation.
type filler struct {
	p   *Params
	mem []block
	q   uint32 // columns per lane
	seg uint32 // columns per segment
}

// dataIndependent reports whether the reference blocks of this segment
// come from the address generator (Argon2i always, Argon2id in the first
// half of the first pass) rather than from the previous block.
func (f *filler) dataIndependent(pass, slice uint32) bool {
	return f.p.Variant == I || (f.p.Variant == ID && pass == 0 && slice < syncPoints/2)
}

// segment computes the blocks of lane l in one slice of one pass.
func (f *filler) segment(pass, slice, l uint32) {
	var addr, input, zero block
	indep := f.dataIndependent(pass, slice)
	if indep {
		input[0] = uint64(pass)
		input[1] = uint64(l)
		input[2] = uint64(slice)
		input[3] = uint64(len(f.mem))
		input[4] = uint64(f.p.Time)
		input[5] = uint64(f.p.Variant)
	}
	nextAddresses := func() {
		input[6]++
		compress(&addr, &zero, &input, false)
		compress(&addr, &zero, &addr, false)
	}
	start := uint32(0)
	if pass == 0 && slice == 0 {
		start = 2 // the first two blocks of each lane come from H0
		if indep {
			nextAddresses()
		}
	}
	base := l * f.q
	for i := start; i < f.seg; i++ {
		col := slice*f.seg + i
		prev := col - 1
		if col == 0 {
			prev = f.q - 1
		}
		var rand uint64
		if indep {
			if i%blockWords == 0 {
				nextAddresses()
			}
			rand = addr[i%blockWords]
		} else {
			rand = f.mem[base+prev][0]
		}
		refLane := uint32(rand>>32) % f.p.Lanes
		if pass == 0 && slice == 0 {
			refLane = l
		}
		ref := f.refColumn(pass, slice, i, uint32(rand), refLane == l)
		compress(&f.mem[base+col], &f.mem[base+prev], &f.mem[refLane*f.q+ref], pass > 0 && f.p.Version == Version13)
	}
}

// refColumn maps J1 onto the column of the reference block (RFC 9106
// §3.4.1.2) for block i of the segment.
func (f *filler) refColumn(pass, slice, i, j1 uint32, sameLane bool) uint32 {
	var area uint32
	switch {
	case pass == 0 && sameLane:
		area = slice*f.seg + i - 1
	case pass == 0:
		area = slice * f.seg
		if i == 0 {
			area--
		}
	case sameLane:
		area = f.q - f.seg + i - 1
	default:
		area = f.q - f.seg
		if i == 0 {
			area--
		}
	}
	x := uint64(j1) * uint64(j1) >> 32
	y := uint64(area) * x >> 32
	rel := uint64(area) - 1 - y
	startCol := uint64(0)
	if pass != 0 && slice != syncPoints-1 {
		startCol = uint64(slice+1) * uint64(f.seg)
	}
	return uint32((startCol + rel) % uint64(f.q))
}

func xorBlock(dst, src *block) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// compress sets out to G(x, y) (RFC 9106 §3.5), or, when xor is set,
// XORs G(x, y) into out (version 0x13's later passes, without a block on
// the stack to zero and XOR); out may be x or y. P runs on sixteen words
// at a time held in locals, read through array pointers at constant
// offsets: no bounds checks and no indexing in the mixing. This and the
// xor mode cut the CPU time of a later pass over 64 MiB by a fifth; a
// derivation took 1.50× the CPU time of x/crypto's Argon2id, whose block
// function is SSE assembly, and takes 1.18× (3 passes over 64 MiB, one
// lane, 12 interleaved runs, median ratios).
func compress(out, x, y *block, xor bool) {
	var z block
	for i := range z {
		z[i] = x[i] ^ y[i]
	}
	for i := 0; i < blockWords; i += 16 {
		permute((*[16]uint64)(z[i : i+16]))
	}
	for i := 0; i < 16; i += 2 {
		permuteCol((*[114]uint64)(z[i : i+114]))
	}
	// x ^ y again rather than kept: out may be x or y, but each of their
	// words is read before out's is written.
	if xor {
		for i := range out {
			out[i] ^= z[i] ^ x[i] ^ y[i]
		}
		return
	}
	for i := range out {
		out[i] = z[i] ^ x[i] ^ y[i]
	}
}

// permute is P (RFC 9106 §3.6) over sixteen words, a row of the block:
// GB on the columns, then on the diagonals, each GB as its two halves
// (half), which the compiler inlines where a whole GB is over its budget.
func permute(v *[16]uint64) {
	v0, v1, v2, v3, v4, v5, v6, v7 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	v8, v9, v10, v11, v12, v13, v14, v15 := v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 32, 24)
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 16, 63)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 32, 24)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 16, 63)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 32, 24)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 16, 63)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 32, 24)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 16, 63)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 32, 24)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 16, 63)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 32, 24)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 16, 63)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 32, 24)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 16, 63)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 32, 24)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 16, 63)
	v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = v0, v1, v2, v3, v4, v5, v6, v7
	v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15] = v8, v9, v10, v11, v12, v13, v14, v15
}

// permuteCol is permute over a column of the block: the words at 0, 1,
// 16, 17, … 112, 113 of v. The same lines as permute's, over another
// layout: gathering the column into a row for permute, and back, cost a
// tenth more.
func permuteCol(v *[114]uint64) {
	v0, v1, v2, v3, v4, v5, v6, v7 := v[0], v[1], v[16], v[17], v[32], v[33], v[48], v[49]
	v8, v9, v10, v11, v12, v13, v14, v15 := v[64], v[65], v[80], v[81], v[96], v[97], v[112], v[113]
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 32, 24)
	v0, v4, v8, v12 = half(v0, v4, v8, v12, 16, 63)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 32, 24)
	v1, v5, v9, v13 = half(v1, v5, v9, v13, 16, 63)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 32, 24)
	v2, v6, v10, v14 = half(v2, v6, v10, v14, 16, 63)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 32, 24)
	v3, v7, v11, v15 = half(v3, v7, v11, v15, 16, 63)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 32, 24)
	v0, v5, v10, v15 = half(v0, v5, v10, v15, 16, 63)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 32, 24)
	v1, v6, v11, v12 = half(v1, v6, v11, v12, 16, 63)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 32, 24)
	v2, v7, v8, v13 = half(v2, v7, v8, v13, 16, 63)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 32, 24)
	v3, v4, v9, v14 = half(v3, v4, v9, v14, 16, 63)
	v[0], v[1], v[16], v[17], v[32], v[33], v[48], v[49] = v0, v1, v2, v3, v4, v5, v6, v7
	v[64], v[65], v[80], v[81], v[96], v[97], v[112], v[113] = v8, v9, v10, v11, v12, v13, v14, v15
}

// half is one half of GB, BLAKE2b's mixing with the multiplications Argon2
// adds: rotations by r1 and r2 (32 and 24, then 16 and 63).
func half(a, b, c, d uint64, r1, r2 int) (uint64, uint64, uint64, uint64) {
	a += b + 2*uint64(uint32(a))*uint64(uint32(b))
	d = bits.RotateLeft64(d^a, -r1)
	c += d + 2*uint64(uint32(c))*uint64(uint32(d))
	b = bits.RotateLeft64(b^c, -r2)
	return a, b, c, d
}
