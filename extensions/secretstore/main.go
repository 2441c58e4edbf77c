//go:build wasip1

// Command secretstore is sesame's default local vault: an encrypted store of
// secrets in the host's storage area, one authenticated-encrypted record per
// secret, with metadata and case-insensitive names, unlocked with a password
// (or, with authentication = "none", protected by file permissions only).
//
// README.md beside this file gives the cryptography, the record layout and
// the threat model; package format holds the on-disk format.
//
// Build it as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o extensions/secretstore.wasm ./extensions/secretstore
package main

import (
	"errors"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/secretstore/format"
)

func init() {
	guest.Register(abi.Manifest{
		Name:           "secretstore",
		Version:        "1.0.0",
		Description:    "encrypted local store (Argon2id password, XChaCha20-Poly1305 records)",
		Metadata:       true,
		CaseSensitive:  false,
		DatetimeOffset: true, // metadata is stored as encoded, kind 4 too
		Grants:         []string{abi.GrantStorage},
	}, vault{})
}

// main is never run: the host calls the exports that package guest defines.
func main() {}

// The instance's memory is 64 MiB unless vaults.toml grants more, and the Go
// runtime cannot see that cap: without a limit it lets garbage pile up to
// twice the live heap, and a listing of 100 000 secrets (some 15 MiB live)
// runs out. A soft limit makes the collector work harder as the heap nears
// it, and never refuses an allocation.
func init() { debug.SetMemoryLimit(memoryLimit) }

const memoryLimit = 40 << 20

// vault implements guest.Vault and every optional interface. It has no
// fields: the store lives in host storage and the unlocked key in the host
// keyring, which every instance of the module shares.
type vault struct{}

func (vault) Init(_ string, params map[string]string) error {
	s, err := parseSettings(params)
	if err != nil {
		return err
	}
	conf = s
	return nil
}

// withKeys runs fn with the store's subkeys. create makes a new store without
// a password when there is none yet (only writes ask for that); otherwise an
// absent store is errEmpty.
func withKeys(create bool, fn func(k *format.Keys) error) error {
	k, err := storeKeys(create)
	if err != nil {
		return err
	}
	if conf.auth == authPassword {
		defer k.Clear()
	}
	return fn(k)
}

// load reads and opens the record of name.
func load(k *format.Keys, key []byte, name string) (abi.Info, abi.Value, error) {
	rec, err := guest.KVGet(key)
	if err != nil {
		return abi.Info{}, abi.Value{}, plain(err)
	}
	in, v, err := k.Open(key, rec, name)
	clear(rec)
	switch {
	case errors.Is(err, format.ErrAuth):
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "record of "+strconv.Quote(name)+" failed authentication: the store was tampered with or is corrupt")
	case err != nil:
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "record of "+strconv.Quote(name)+" is corrupt")
	}
	return in, v, nil
}

// store seals and writes the record of in.Name under key.
func store(k *format.Keys, key []byte, in abi.Info, v abi.Value) error {
	rec, err := k.Seal(key, in, v)
	if err != nil {
		return err // an *abi.EncodeError: names no value
	}
	return guest.KVSet(key, rec)
}

// missing turns errEmpty (no store yet, so no secret) into NOT_FOUND.
func missing(err error) error {
	if errors.Is(err, errEmpty) {
		return abi.NotFound
	}
	return err
}

func (vault) Get(name string) (in abi.Info, v abi.Value, err error) {
	err = withKeys(false, func(k *format.Keys) error {
		in, v, err = load(k, k.RecordKey(name), name)
		return err
	})
	return in, v, missing(err)
}

func (vault) Stat(name string) (in abi.Info, err error) {
	err = withKeys(false, func(k *format.Keys) error {
		var v abi.Value
		in, v, err = load(k, k.RecordKey(name), name)
		clearValue(v)
		return err
	})
	return in, missing(err)
}

// Set keeps the stored spelling of a name that differs only in case, and the
// stored metadata when md is nil (SPEC.md §4).
func (vault) Set(name string, v abi.Value, md abi.Metadata) error {
	return withKeys(true, func(k *format.Keys) error {
		key := k.RecordKey(name)
		in := abi.Info{Name: name, Type: v.Type, Metadata: md}
		old, oldValue, err := load(k, key, name)
		clearValue(oldValue)
		switch {
		case err == nil:
			in.Name = old.Name
			if md == nil {
				in.Metadata = old.Metadata
			}
		case !errors.Is(err, abi.NotFound):
			return err
		}
		return store(k, key, in, v)
	})
}

func (vault) SetMetadata(name string, md abi.Metadata) error {
	err := withKeys(false, func(k *format.Keys) error {
		key := k.RecordKey(name)
		in, v, err := load(k, key, name)
		if err != nil {
			return err
		}
		defer clearValue(v)
		in.Metadata = md
		return store(k, key, in, v)
	})
	return missing(err)
}

func (vault) Remove(name string) error {
	err := withKeys(false, func(k *format.Keys) error {
		return plain(guest.KVDelete(k.RecordKey(name)))
	})
	return missing(err)
}

// List opens every record: the names are only inside them. A record that
// fails authentication is left out and logged (its name is unknown); Get of
// its name reports the failure.
//
// It yields every 64 records: the garbage collector's goroutines run only
// when the guest yields, and a listing of 100 000 records would otherwise
// outgrow the instance's memory with garbage.
func (vault) List(pattern string) ([]abi.Info, error) {
	var list []abi.Info
	err := withKeys(false, func(k *format.Keys) error {
		var failed error
		seen := 0
		buf := make([]byte, 4<<10)
		defer func() { clear(buf) }()
		err := guest.KVScan([]byte(format.PrefixSecret), func(key []byte) bool {
			if seen++; seen%64 == 0 {
				runtime.Gosched()
			}
			rec, err := kvGetInto(key, buf)
			if cap(rec) > cap(buf) {
				clear(buf)
				buf = rec
			}
			switch {
			case errors.Is(err, abi.NotFound):
				return true // removed since the scan
			case err != nil:
				failed = err
				return false
			}
			in, v, err := k.Open(key, rec, "")
			clear(rec)
			clearValue(v)
			if err != nil {
				guest.Log(guest.LogWarn, "secretstore: left out record "+string(key[:min(len(key), 18)])+"…: "+err.Error())
				return true
			}
			if abi.Match(pattern, in.Name, false) {
				list = append(list, in)
			}
			return true
		})
		if err == nil {
			err = failed
		}
		return err
	})
	if errors.Is(err, errEmpty) {
		return nil, nil
	}
	return list, err
}

// Test writes, reads back and deletes a probe under a random key (several
// processes may test at once), and checks that the store's key records
// parse. It does not need the vault unlocked.
func (vault) Test() error {
	id := make([]byte, 8)
	randRead(id)
	key := []byte(format.PrefixProbe + hexString(id))
	probe := make([]byte, 16)
	randRead(probe)
	if err := guest.KVSet(key, probe); err != nil {
		return err
	}
	got, err := guest.KVGet(key)
	if err != nil {
		return err
	}
	if string(got) != string(probe) {
		return guest.Error(abi.Unavailable, "storage returned other bytes than were written")
	}
	if err := guest.KVDelete(key); err != nil {
		return err
	}
	if _, _, err := loadConfig(); err != nil {
		return err
	}
	m, _, err := loadKeyRecord()
	m.Clear()
	return err
}

// plain turns a storage error that says "no such key" into a bare
// abi.NotFound, which the engine reports as "secret not found".
func plain(err error) error {
	if errors.Is(err, abi.NotFound) {
		return abi.NotFound
	}
	return err
}

// clearValue zeroes the bytes of v.
func clearValue(v abi.Value) {
	clear(v.Data)
	for _, e := range v.Entries {
		clearValue(e.Value)
	}
}
