//go:build wasip1

// Command keyvault is a password vault built on the host's keys behind
// handles (SPEC.md §5.8), for the sandbox's tests. Unlock derives a key
// from the password with Argon2id, unwraps the master key with it (making
// and wrapping one on the first unlock), derives a record key and a name
// key, keeps both and puts their handles in the keyring, with the time to
// live of the parameter ttl_ms (0: none). Set seals a value under the
// record key, bound to the name, in the record named by the name's HMAC;
// Get opens it. Lock clears the keyring, or, with the parameter
// lock = "noop", does nothing.
//
// Get also runs commands, a name of words separated by spaces:
//
//	cmd handle       the record key's handle, in decimal
//	cmd seal H       seals "x" under handle H: "ok" or the error
//	cmd many N       makes N keys in this call: "ok" or the error
//	cmd keep N       makes and keeps N keys: "ok" or the error
//	cmd open K N A B opens box B (hex) under the imported key K with nonce
//	                 N prepended and additional data A (all hex): the plain
//	                 text in hex, or the error ("-" is empty)
//	cmd hmac K D     HMAC of D under the imported key K (both hex), in hex
//	cmd sealopen W N makes a key and seals and opens 64 bytes under it N
//	                 times, in the host (W = host) or in the guest
//	                 (W = wasm), or does nothing (W = none): "ok"
//	cmd agerecipient the user's age recipient, or the error
//	cmd agewrap K R  wraps the imported key K (hex) to the recipients R
//	                 (hex of the list, newline-separated): the age file in
//	                 hex, or the error
//	cmd ageunwrap F  unwraps the age file F (hex): the HMAC of "probe"
//	                 under the key it holds, in hex, or the error
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:    "keyvault",
		Version: "0.0.1",
		Grants:  []string{abi.GrantStorage},
	}, &vault{})
}

func main() {}

type vault struct {
	ttl      int
	lockNoop bool
}

var salt = []byte("keyvault-salt-16")

func (v *vault) Init(_ string, params map[string]string) error {
	v.ttl, _ = strconv.Atoi(params["ttl_ms"])
	v.lockNoop = params["lock"] == "noop"
	return nil
}

func (v *vault) Unlock(password []byte) error {
	pk, err := guest.KeyArgon2id(password, salt, 1, 8<<10, 1, 32)
	if err != nil {
		return err
	}
	ad := []byte("keyvault master key")
	var master guest.Key
	wrapped, err := guest.KVGet([]byte("c/key"))
	switch {
	case errors.Is(err, abi.NotFound):
		if master, err = guest.GenerateKey(32); err != nil {
			return err
		}
		if wrapped, err = pk.Wrap(master, ad); err != nil {
			return err
		}
		err = guest.KVSet([]byte("c/key"), wrapped)
	case err == nil:
		master, err = pk.Unwrap(wrapped, ad)
		if errors.Is(err, abi.PermissionDenied) {
			return guest.Error(abi.Locked, "wrong password")
		}
	}
	if err != nil {
		return err
	}
	var ring []byte
	for _, info := range []string{"record key", "name key"} {
		k, err := master.Derive(salt, []byte(info), 32)
		if err != nil {
			return err
		}
		if err := k.Keep(); err != nil {
			return err
		}
		ring = binary.LittleEndian.AppendUint32(ring, uint32(k))
	}
	return guest.KeyringSet(ring, msec(v.ttl))
}

func (v *vault) Lock() error {
	if v.lockNoop {
		return nil // leaves it all to the host
	}
	return guest.KeyringClear()
}

// keys returns the kept record and name keys, or LOCKED.
func keys() (rec, name guest.Key, err error) {
	ring, err := guest.KeyringGet()
	if err != nil || len(ring) != 8 {
		return 0, 0, guest.Error(abi.Locked, "locked")
	}
	return guest.Key(binary.LittleEndian.Uint32(ring)), guest.Key(binary.LittleEndian.Uint32(ring[4:])), nil
}

func record(name guest.Key, s string) ([]byte, error) {
	sum, err := name.HMAC([]byte(s))
	if errors.Is(err, abi.NotFound) {
		return nil, guest.Error(abi.Locked, "locked")
	}
	return []byte("s/" + hex.EncodeToString(sum[:])), err
}

func (v *vault) Set(s string, val abi.Value, _ abi.Metadata) error {
	rec, name, err := keys()
	if err != nil {
		return err
	}
	key, err := record(name, s)
	if err != nil {
		return err
	}
	box, err := rec.Seal(val.Data, []byte(s))
	if err != nil {
		return err
	}
	return guest.KVSet(key, box)
}

func (v *vault) Get(s string) (abi.Info, abi.Value, error) {
	if words := strings.Fields(s); len(words) > 0 && words[0] == "cmd" {
		out := command(words[1:])
		return abi.Info{Name: s}, abi.Value{Type: abi.TypeString, Data: []byte(out)}, nil
	}
	rec, name, err := keys()
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	key, err := record(name, s)
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	box, err := guest.KVGet(key)
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	plain, err := rec.Open(box, []byte(s))
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	return abi.Info{Name: s, Type: abi.TypeBytes}, abi.Value{Type: abi.TypeBytes, Data: plain}, nil
}

func (v *vault) Remove(string) error             { return abi.Unsupported }
func (v *vault) List(string) ([]abi.Info, error) { return nil, nil }
func msec(ms int) time.Duration                  { return time.Duration(ms) * time.Millisecond }
func result(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func command(args []string) string {
	num := func(i int) int {
		if i >= len(args) {
			return 0
		}
		n, _ := strconv.Atoi(args[i])
		return n
	}
	switch args[0] {
	case "handle":
		rec, _, err := keys()
		if err != nil {
			return err.Error()
		}
		return strconv.Itoa(int(rec))
	case "seal":
		_, err := guest.Key(num(1)).Seal([]byte("x"), nil)
		return result(err)
	case "many", "keep":
		for range num(1) {
			k, err := guest.GenerateKey(32)
			if err == nil && args[0] == "keep" {
				err = k.Keep()
			}
			if err != nil {
				return err.Error()
			}
		}
		return "ok"
	case "sealopen":
		return result(sealOpen(args[1], num(2)))
	case "hmac":
		if len(args) != 3 {
			return "usage"
		}
		kb, _ := hex.DecodeString(args[1])
		data, _ := hex.DecodeString(args[2])
		k, err := guest.ImportKey(kb)
		if err != nil {
			return err.Error()
		}
		sum, err := k.HMAC(data)
		if err != nil {
			return err.Error()
		}
		return hex.EncodeToString(sum[:])
	case "agerecipient":
		r, err := guest.AgeRecipient()
		if err != nil {
			return err.Error()
		}
		return r
	case "agewrap":
		if len(args) != 3 {
			return "usage"
		}
		kb, _ := hex.DecodeString(args[1])
		list, _ := hex.DecodeString(args[2])
		k, err := guest.ImportKey(kb)
		if err != nil {
			return err.Error()
		}
		file, err := k.AgeWrap(strings.Split(string(list), "\n"))
		if err != nil {
			return err.Error()
		}
		return hex.EncodeToString(file)
	case "ageunwrap":
		if len(args) != 2 {
			return "usage"
		}
		file, _ := hex.DecodeString(args[1])
		k, err := guest.AgeUnwrap(file)
		if err != nil {
			return err.Error()
		}
		sum, err := k.HMAC([]byte("probe"))
		if err != nil {
			return err.Error()
		}
		return hex.EncodeToString(sum[:])
	case "open":
		if len(args) != 5 {
			return "usage"
		}
		var b [4][]byte
		for i := range b {
			b[i], _ = hex.DecodeString(args[i+1])
		}
		k, err := guest.ImportKey(b[0])
		if err != nil {
			return err.Error()
		}
		plain, err := k.Open(append(b[1], b[3]...), b[2])
		if err != nil {
			return err.Error()
		}
		return hex.EncodeToString(plain)
	}
	return "unknown command"
}

// sealOpen makes a key and seals and opens 64 bytes under it n times, with
// the host's keys (where = "host") or with x/crypto compiled into the
// guest ("wasm"): the two paths the benchmark compares.
func sealOpen(where string, n int) error {
	plain, ad := make([]byte, 64), []byte("ad")
	switch where {
	case "host":
		k, err := guest.GenerateKey(32)
		for range n {
			var box []byte
			if err == nil {
				box, err = k.Seal(plain, ad)
			}
			if err == nil {
				_, err = k.Open(box, ad)
			}
		}
		return err
	case "wasm":
		key := make([]byte, 32)
		rand.Read(key)
		aead, err := chacha20poly1305.NewX(key)
		nonce := make([]byte, 24)
		for range n {
			rand.Read(nonce)
			if err == nil {
				_, err = aead.Open(nil, nonce, aead.Seal(nil, nonce, plain, ad), ad)
			}
		}
		return err
	}
	return nil
}
