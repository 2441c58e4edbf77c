package kdbx

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"strings"
)

// PasswordKey is the raw key part of a password: its SHA-256.
func PasswordKey(password []byte) []byte { return HashOf(SHA256, password) }

// KeyFileKey is the raw key part of a key file, read the way KeePassXC
// reads one: an XML key file (version 2.0, .keyx, hex with a hash check;
// or version 1.0, base64), else 32 bytes used as they are, else 64 hex
// digits, else the SHA-256 of the whole file. It fails only for an XML
// key file whose data is malformed or fails its hash check: such a file
// was meant as a key file, and hashing it would open nothing.
func KeyFileKey(file []byte) ([]byte, error) {
	if k, ok, err := xmlKeyFile(file); ok {
		return k, err
	}
	switch {
	case len(file) == 32:
		return bytes.Clone(file), nil
	case len(file) == 64:
		if k, err := hex.DecodeString(string(file)); err == nil {
			return k, nil
		}
	}
	sum := sha256.Sum256(file)
	return sum[:], nil
}

// KeyFileError says why a key file was refused.
type KeyFileError struct{ What string }

func (e *KeyFileError) Error() string { return "kdbx: key file: " + e.What }

type xmlKey struct {
	XMLName xml.Name `xml:"KeyFile"`
	Version string   `xml:"Meta>Version"`
	Data    struct {
		Hash string `xml:"Hash,attr"`
		Text string `xml:",chardata"`
	} `xml:"Key>Data"`
}

// xmlKeyFile reads an XML key file; ok is false when file is not one (it
// is then read the other ways).
func xmlKeyFile(file []byte) (key []byte, ok bool, err error) {
	var x xmlKey
	if xml.Unmarshal(file, &x) != nil || x.Data.Text == "" {
		return nil, false, nil
	}
	text := strings.Join(strings.Fields(x.Data.Text), "")
	switch {
	case strings.HasPrefix(x.Version, "1."):
		k, err := base64.StdEncoding.DecodeString(text)
		if err != nil || len(k) != 32 {
			return nil, true, &KeyFileError{"version 1.0 data is not 32 bytes of base64"}
		}
		return k, true, nil
	case strings.HasPrefix(x.Version, "2."):
		k, err := hex.DecodeString(text)
		if err != nil || len(k) != 32 {
			return nil, true, &KeyFileError{"version 2.0 data is not 32 bytes of hex"}
		}
		sum := sha256.Sum256(k)
		if x.Data.Hash != "" && !strings.EqualFold(x.Data.Hash, hex.EncodeToString(sum[:4])) {
			return nil, true, &KeyFileError{"its data does not match its hash: the file is damaged"}
		}
		return k, true, nil
	}
	return nil, true, &KeyFileError{"XML key file version " + x.Version + " is not supported (1.0 and 2.0 are)"}
}

// CompositeKey returns the composite key of a password, a key file, or
// both (a nil password or key file is absent; an empty password is a
// password).
func CompositeKey(c Crypto, password, keyFile []byte) (Key, error) {
	var parts [][]byte
	if password != nil {
		parts = append(parts, PasswordKey(password))
	}
	if keyFile != nil {
		k, err := KeyFileKey(keyFile)
		if err != nil {
			return nil, err
		}
		parts = append(parts, k)
	}
	return c.Composite(parts...)
}
