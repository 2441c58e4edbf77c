//go:build wasip1

// Command logvault is a test vault for the CLI's scripts: it keeps secrets
// in host storage, without metadata, and talks through the host's log. Its
// test logs one line at each level, the warning with a terminal escape and
// a line break in it; each get logs a warning. Its unregister hook logs (at
// info) what it was told of the storage, or fails when the parameter
// unregister is "fail".
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o logvault.wasm ./cmd/sesame/testdata/logvault
package main

import (
	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "logvault",
		Version:       "0.0.1",
		Description:   "a test vault that logs",
		CaseSensitive: true,
		Grants:        []string{abi.GrantStorage},
	}, vault{})
}

func main() {}

const secretPrefix = "s/"

type vault struct{}

// failUnregister is the parameter unregister = "fail" of this instance.
var failUnregister bool

func (vault) Init(_ string, params map[string]string) error {
	failUnregister = params["unregister"] == "fail"
	return nil
}

func (vault) Unregister(removeStorage bool) error {
	if failUnregister {
		return guest.Error(abi.Unavailable, "the remote service did not answer")
	}
	if removeStorage {
		guest.Log(guest.LogInfo, "cleaned up; the storage goes too")
	} else {
		guest.Log(guest.LogInfo, "cleaned up; the storage stays")
	}
	return nil
}

func (vault) Get(name string) (abi.Info, abi.Value, error) {
	guest.Log(guest.LogWarn, "answering from a stale copy")
	rec, err := guest.KVGet([]byte(secretPrefix + name))
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	return abi.DecodeSecret(rec)
}

func (vault) Set(name string, v abi.Value, _ abi.Metadata) error {
	rec, err := abi.AppendSecret(nil, abi.Info{Name: name, Type: v.Type}, v)
	if err != nil {
		return err
	}
	return guest.KVSet([]byte(secretPrefix+name), rec)
}

func (vault) Remove(name string) error {
	return guest.KVDelete([]byte(secretPrefix + name))
}

func (vault) List(pattern string) ([]abi.Info, error) {
	var list []abi.Info
	err := guest.KVScan([]byte(secretPrefix), func(k []byte) bool {
		if name := string(k[len(secretPrefix):]); abi.Match(pattern, name, true) {
			list = append(list, abi.Info{Name: name, Type: abi.TypeString})
		}
		return true
	})
	return list, err
}

// Test logs one line at each level.
func (vault) Test() error {
	guest.Log(guest.LogDebug, "checked 3 records")
	guest.Log(guest.LogInfo, "storage reachable")
	guest.Log(guest.LogWarn, "disk almost full \x1b[31mred\nsesame: error: forged")
	guest.Log(guest.LogError, "one record unreadable")
	return nil
}
