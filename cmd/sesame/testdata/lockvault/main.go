//go:build wasip1

// Command lockvault is a test vault for the CLI's scripts: it keeps secrets
// in host storage, has no metadata support, compares names exactly, and can
// be locked with a password. It has no password until the first unlock sets
// one; while it has one and is not unlocked, every operation fails with
// LOCKED. It keeps its password in the clear: it is for tests only.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o lockvault.wasm ./cmd/sesame/testdata/lockvault
package main

import (
	"bytes"
	"errors"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "lockvault",
		Version:       "0.0.1",
		Description:   "a lockable test vault without metadata",
		Metadata:      false,
		CaseSensitive: true,
		Grants:        []string{abi.GrantStorage},
	}, vault{})
}

func main() {}

const (
	secretPrefix = "s/"
	passwordKey  = "p"
	unlockedKey  = "u"
)

type vault struct{}

// open fails with LOCKED while the vault has a password and is locked.
func open() error {
	if _, err := guest.KVGet([]byte(passwordKey)); errors.Is(err, abi.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if _, err := guest.KVGet([]byte(unlockedKey)); errors.Is(err, abi.NotFound) {
		return guest.Error(abi.Locked, "the vault is locked")
	} else if err != nil {
		return err
	}
	return nil
}

func (vault) Get(name string) (abi.Info, abi.Value, error) {
	if err := open(); err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	rec, err := guest.KVGet([]byte(secretPrefix + name))
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	return abi.DecodeSecret(rec)
}

func (vault) Set(name string, v abi.Value, _ abi.Metadata) error {
	if err := open(); err != nil {
		return err
	}
	rec, err := abi.AppendSecret(nil, abi.Info{Name: name, Type: v.Type}, v)
	if err != nil {
		return err
	}
	return guest.KVSet([]byte(secretPrefix+name), rec)
}

func (vault) Remove(name string) error {
	if err := open(); err != nil {
		return err
	}
	return guest.KVDelete([]byte(secretPrefix + name))
}

func (vault) List(pattern string) ([]abi.Info, error) {
	if err := open(); err != nil {
		return nil, err
	}
	var list []abi.Info
	var failed error
	err := guest.KVScan([]byte(secretPrefix), func(k []byte) bool {
		name := string(k[len(secretPrefix):])
		if !abi.Match(pattern, name, true) {
			return true
		}
		rec, err := guest.KVGet(k)
		if err != nil {
			failed = err
			return false
		}
		info, _, err := abi.DecodeSecret(rec)
		if err != nil {
			failed = err
			return false
		}
		list = append(list, info)
		return true
	})
	if err == nil {
		err = failed
	}
	return list, err
}

// Unlock sets the password on first use, else checks it.
func (vault) Unlock(password []byte) error {
	stored, err := guest.KVGet([]byte(passwordKey))
	switch {
	case errors.Is(err, abi.NotFound):
		if err := guest.KVSet([]byte(passwordKey), password); err != nil {
			return err
		}
	case err != nil:
		return err
	case !bytes.Equal(stored, password):
		return guest.Error(abi.Locked, "wrong password")
	}
	return guest.KVSet([]byte(unlockedKey), []byte{1})
}

func (vault) Lock() error {
	err := guest.KVDelete([]byte(unlockedKey))
	if errors.Is(err, abi.NotFound) {
		return nil
	}
	return err
}
