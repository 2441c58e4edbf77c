//go:build wasip1

// Command sesame-go is the Go guest of the plugin-boundary benchmark: the
// smallest in-memory vault written with sesame's Go SDK (abi/guest).
//
// It keeps one secret, the last one set, as its secret encoding (SPEC.md
// §7.7) in the vault's keyring slot (§5.7): host memory, shared by every
// instance of the vault. Guest memory would be cheaper but does not last:
// the host recycles an instance after 10 000 calls. The benchmark uses one
// name, so one slot is a whole store for it.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o sesame-go.wasm ./guests/sesame-go
package main

import (
	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "bench-go",
		Version:       "1.0.0",
		Description:   "one secret in the keyring slot, for benchmarks",
		CaseSensitive: true,
		Operations:    []abi.Op{abi.OpGet, abi.OpSet},
	}, vault{})
}

func main() {}

type vault struct{}

func (vault) Get(name string) (abi.Info, abi.Value, error) {
	rec, err := guest.KeyringGet()
	if err != nil {
		return abi.Info{}, abi.Value{}, guest.Error(abi.NotFound, "")
	}
	info, v, err := abi.DecodeSecret(rec)
	if err != nil {
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "the keyring slot is corrupt")
	}
	if info.Name != name {
		return abi.Info{}, abi.Value{}, guest.Error(abi.NotFound, "")
	}
	return info, v, nil
}

func (vault) Set(name string, v abi.Value, _ abi.Metadata) error {
	rec, err := abi.AppendSecret(nil, abi.Info{Name: name, Type: v.Type}, v)
	if err != nil {
		return err
	}
	return guest.KeyringSet(rec, 0)
}

func (vault) Remove(string) error { return guest.Error(abi.Unsupported, "") }

func (vault) List(string) ([]abi.Info, error) { return nil, guest.Error(abi.Unsupported, "") }
