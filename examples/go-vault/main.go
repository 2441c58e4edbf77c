//go:build wasip1

// Command go-vault is a complete small sesame vault written in Go: it keeps
// each secret as one record in the host's storage area, supports metadata,
// and compares names without regard to case.
//
// Build it as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o go-vault.wasm ./examples/go-vault
package main

import (
	"bytes"
	"errors"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:           "go-vault",
		Version:        "1.0.0",
		Description:    "a vault over host storage",
		Metadata:       true,
		CaseSensitive:  false,
		DatetimeOffset: true, // metadata is stored as encoded, kind 4 too
		Grants:         []string{abi.GrantStorage},
	}, vault{})
}

// main is never run: the host calls the exports that package guest defines.
func main() {}

// Storage layout: one record per secret under secretPrefix + abi.Fold(name),
// holding the secret encoding of abi (an info record with the name as first
// stored, then the value). probeKey is written and deleted by Test.
const (
	secretPrefix = "s/"
	probeKey     = "t/probe"
)

// vault implements guest.Vault, guest.Statter, guest.MetadataSetter and
// guest.Tester. It has no fields: every instance of the module sees the same
// host storage, which holds all the state.
type vault struct{}

func key(name string) []byte { return []byte(secretPrefix + abi.Fold(name)) }

// load reads and decodes the record of name.
func load(name string) (abi.Info, abi.Value, error) {
	rec, err := guest.KVGet(key(name))
	if err != nil {
		return abi.Info{}, abi.Value{}, plain(err)
	}
	info, v, err := abi.DecodeSecret(rec)
	clear(rec)
	if err != nil {
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "the stored record of "+name+" is corrupt")
	}
	return info, v, nil
}

// store writes the record of info.Name.
func store(info abi.Info, v abi.Value) error {
	rec, err := abi.AppendSecret(nil, info, v)
	if err != nil {
		return err // an *abi.EncodeError: names no value
	}
	defer clear(rec)
	return guest.KVSet(key(info.Name), rec)
}

func (vault) Get(name string) (abi.Info, abi.Value, error) { return load(name) }

func (vault) Stat(name string) (abi.Info, error) {
	info, v, err := load(name)
	clear(v.Data)
	return info, err
}

// Set keeps the stored spelling of a name that differs only in case, and the
// stored metadata when md is nil.
func (vault) Set(name string, v abi.Value, md abi.Metadata) error {
	info := abi.Info{Name: name, Type: v.Type, Metadata: md}
	old, oldValue, err := load(name)
	clear(oldValue.Data)
	switch {
	case err == nil:
		info.Name = old.Name
		if md == nil {
			info.Metadata = old.Metadata
		}
	case !errors.Is(err, abi.NotFound):
		return err
	}
	return store(info, v)
}

func (vault) SetMetadata(name string, md abi.Metadata) error {
	info, v, err := load(name)
	if err != nil {
		return err
	}
	defer clear(v.Data)
	info.Metadata = md
	return store(info, v)
}

func (vault) Remove(name string) error { return plain(guest.KVDelete(key(name))) }

// plain turns a storage error that says "no such key" into a bare
// abi.NotFound, which reaches the host without a message: the engine's own
// "secret not found" says it better than "sesame_v1.kv_get: not found".
func plain(err error) error {
	if errors.Is(err, abi.NotFound) {
		return abi.NotFound
	}
	return err
}

// List matches the pattern against the folded names in the keys first, which
// gives the same answer as matching the names themselves, so that only the
// records that match are read.
func (vault) List(pattern string) ([]abi.Info, error) {
	var matched []string
	err := guest.KVScan([]byte(secretPrefix), func(k []byte) bool {
		if folded := string(k[len(secretPrefix):]); abi.Match(pattern, folded, false) {
			matched = append(matched, folded)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	list := make([]abi.Info, 0, len(matched))
	for _, name := range matched {
		info, v, err := load(name)
		clear(v.Data)
		switch {
		case errors.Is(err, abi.NotFound): // removed since the scan
		case err != nil:
			return nil, err
		default:
			list = append(list, info)
		}
	}
	return list, nil
}

// Test writes, reads back and deletes a probe record.
func (vault) Test() error {
	probe := []byte("sesame go-vault probe")
	if err := guest.KVSet([]byte(probeKey), probe); err != nil {
		return err
	}
	got, err := guest.KVGet([]byte(probeKey))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, probe) {
		return guest.Error(abi.Unavailable, "storage returned other bytes than were written")
	}
	return guest.KVDelete([]byte(probeKey))
}
