package kdbx

import (
	"encoding/binary"

	"github.com/sesamehq/sesame/internal/argon2"
)

// KDFKind is a key derivation function of the format.
type KDFKind int

const (
	AESKDF KDFKind = iota
	Argon2d
	Argon2id
)

func (k KDFKind) String() string {
	return [...]string{"AES-KDF", "Argon2d", "Argon2id"}[k]
}

// The KDF identifiers of KDBX 4 ($UUID of the parameters).
var (
	kdfAES      = [16]byte{0xc9, 0xd9, 0xf3, 0x9a, 0x62, 0x8a, 0x44, 0x60, 0xbf, 0x74, 0x0d, 0x08, 0xc1, 0x8a, 0x4f, 0xea}
	kdfArgon2d  = [16]byte{0xef, 0x63, 0x6d, 0xdf, 0x8c, 0x29, 0x44, 0x4b, 0x91, 0xf7, 0xa9, 0xa4, 0x03, 0xe3, 0x0a, 0x0c}
	kdfArgon2id = [16]byte{0x9e, 0x29, 0x8b, 0x19, 0x56, 0xdb, 0x47, 0x73, 0xb2, 0x3d, 0xfc, 0x3e, 0xc6, 0xf0, 0xa1, 0xe6}
)

// KDF is the key derivation of a database: its kind and parameters.
type KDF struct {
	Kind KDFKind
	Seed []byte // AES-KDF's seed (32 bytes) or Argon2's salt

	Rounds uint64 // AES-KDF

	Iterations  uint64 // Argon2 passes
	MemoryBytes uint64 // Argon2 memory, a multiple of 1024
	Parallelism uint32 // Argon2 lanes
	Version     uint32 // Argon2 version, 0x10 or 0x13
	Secret      []byte // Argon2 K, optional
	Associated  []byte // Argon2 X, optional
}

// Derive runs the KDF over key in this process (GoCrypto's Transform).
func (k *KDF) Derive(key []byte) ([]byte, error) {
	if k.Kind == AESKDF {
		return aesKDF(key, k.Seed, k.Rounds)
	}
	return argon2Key(key, k)
}

// Limits on what a file may ask of the KDF, so that a hostile file cannot
// make an unlock take the machine's memory or hours of work: far above
// what KeePassXC offers (its maximum memory is 4 GiB, rounds in the
// millions).
const (
	maxArgon2Memory = 4 << 30
	maxArgon2Time   = 1 << 16
	maxAESRounds    = 1 << 34
)

// check refuses parameters out of range before any derivation.
func (k *KDF) check() error {
	switch k.Kind {
	case AESKDF:
		if len(k.Seed) != 32 {
			return formatErr("an AES-KDF seed of %d bytes, not 32", len(k.Seed))
		}
		if k.Rounds > maxAESRounds {
			return formatErr("AES-KDF asks for %d rounds, more than %d", k.Rounds, uint64(maxAESRounds))
		}
		return nil
	}
	if k.MemoryBytes > maxArgon2Memory || k.Iterations > maxArgon2Time {
		return formatErr("Argon2 asks for %d bytes and %d passes, more than %d and %d", k.MemoryBytes, k.Iterations, maxArgon2Memory, maxArgon2Time)
	}
	if k.MemoryBytes%1024 != 0 {
		return formatErr("Argon2 memory of %d bytes is not a whole number of KiB", k.MemoryBytes)
	}
	v := argon2.D
	if k.Kind == Argon2id {
		v = argon2.ID
	}
	p := argon2.Params{Variant: v, Version: k.Version, Time: uint32(k.Iterations), MemoryKiB: uint32(k.MemoryBytes / 1024),
		Lanes: k.Parallelism, Salt: k.Seed, TagLen: 32}
	if err := p.Check(); err != nil {
		return formatErr("Argon2 parameters: %v", err)
	}
	return nil
}

// readKDF reads the KDF from the header: fields 5 and 6 in 3.1, the
// parameter dictionary in 4.x.
func readKDF(h *header) (*KDF, error) {
	if !h.v4() {
		seed, ok1 := h.get(hTransformSeed)
		r, ok2 := h.get(hTransformRounds)
		if !ok1 || !ok2 || len(r) != 8 {
			return nil, formatErr("a KDBX 3.1 header without its transform seed and rounds")
		}
		k := &KDF{Kind: AESKDF, Seed: seed, Rounds: binary.LittleEndian.Uint64(r)}
		return k, k.check()
	}
	raw, ok := h.get(hKdfParameters)
	if !ok {
		return nil, formatErr("a KDBX 4 header without KDF parameters")
	}
	d, err := parseVarDict(raw)
	if err != nil {
		return nil, err
	}
	id, _ := d.get("$UUID", vdByteArray)
	if len(id) != 16 {
		return nil, formatErr("a KDF identifier of %d bytes", len(id))
	}
	k := &KDF{}
	switch [16]byte(id) {
	case kdfAES:
		k.Kind = AESKDF
		k.Seed, _ = d.get("S", vdByteArray)
		var ok bool
		if k.Rounds, ok = d.uint64("R"); !ok {
			return nil, formatErr("AES-KDF parameters without rounds")
		}
	case kdfArgon2d, kdfArgon2id:
		k.Kind = Argon2d
		if [16]byte(id) == kdfArgon2id {
			k.Kind = Argon2id
		}
		k.Seed, _ = d.get("S", vdByteArray)
		k.Secret, _ = d.get("K", vdByteArray)
		k.Associated, _ = d.get("A", vdByteArray)
		var ok [4]bool
		k.Iterations, ok[0] = d.uint64("I")
		k.MemoryBytes, ok[1] = d.uint64("M")
		k.Parallelism, ok[2] = d.uint32("P")
		k.Version, ok[3] = d.uint32("V")
		if ok != [4]bool{true, true, true, true} {
			return nil, formatErr("Argon2 parameters without I, M, P or V")
		}
	default:
		return nil, formatErr("an unknown KDF %x", id)
	}
	return k, k.check()
}

// writeKDF puts k into the header in h's version's way. A 3.1 header can
// hold only AES-KDF.
func writeKDF(h *header, k *KDF) error {
	if err := k.check(); err != nil {
		return err
	}
	if !h.v4() {
		if k.Kind != AESKDF {
			return formatErr("KDBX 3.1 has no %s; only 4.x does", k.Kind)
		}
		h.set(hTransformSeed, k.Seed)
		h.set(hTransformRounds, binary.LittleEndian.AppendUint64(nil, k.Rounds))
		return nil
	}
	u64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	var d varDict
	if k.Kind == AESKDF {
		d = varDict{{vdByteArray, "$UUID", kdfAES[:]}, {vdUInt64, "R", u64(k.Rounds)}, {vdByteArray, "S", k.Seed}}
	} else {
		id := kdfArgon2d
		if k.Kind == Argon2id {
			id = kdfArgon2id
		}
		d = varDict{{vdByteArray, "$UUID", id[:]}, {vdByteArray, "S", k.Seed},
			{vdUInt32, "P", binary.LittleEndian.AppendUint32(nil, k.Parallelism)},
			{vdUInt64, "M", u64(k.MemoryBytes)}, {vdUInt64, "I", u64(k.Iterations)},
			{vdUInt32, "V", binary.LittleEndian.AppendUint32(nil, k.Version)}}
		if len(k.Secret) > 0 {
			d = append(d, vdItem{vdByteArray, "K", k.Secret})
		}
		if len(k.Associated) > 0 {
			d = append(d, vdItem{vdByteArray, "A", k.Associated})
		}
	}
	h.set(hKdfParameters, d.encode())
	return nil
}
