//go:build wasip1

package guest_test

import (
	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// tiny is the vault of the package documentation: each secret is stored
// under its name in host storage, with no metadata.
type tiny struct{}

func (tiny) Get(name string) (abi.Info, abi.Value, error) {
	b, err := guest.KVGet([]byte(name)) // wraps abi.NotFound when absent
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	v, err := abi.DecodeValue(b)
	return abi.Info{Name: name, Type: v.Type}, v, err
}

func (tiny) Set(name string, v abi.Value, _ abi.Metadata) error {
	b, err := abi.AppendValue(nil, v)
	if err != nil {
		return err
	}
	return guest.KVSet([]byte(name), b)
}

func (tiny) Remove(name string) error { return guest.KVDelete([]byte(name)) }

func (tiny) List(string) ([]abi.Info, error) {
	var list []abi.Info // every secret: the host filters by pattern
	err := guest.KVScan(nil, func(k []byte) bool {
		if b, err := guest.KVGet(k); err == nil && len(b) > 0 {
			list = append(list, abi.Info{Name: string(k), Type: abi.Type(b[0])})
		}
		return true
	})
	return list, err
}

// A vault registers itself from an init function of its main package; main
// itself is never run. This example only compiles: examples cannot run under
// wasip1 without a host.
func ExampleRegister() {
	guest.Register(abi.Manifest{
		Name:          "tiny",
		Version:       "0.1.0",
		CaseSensitive: true,
		Grants:        []string{abi.GrantStorage},
	}, tiny{})
}
