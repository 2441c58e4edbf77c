//go:build wasip1

// Command httpguest is a Go guest of the SDK's guest.HTTP: its get sends
// POST URL/NAME (URL is its parameter "url") and returns the status and
// the body as a string secret; a failed request returns its error.
package main

import (
	"strconv"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{Name: "httpguest", Version: "1.0.0", Grants: []string{abi.GrantHTTP},
		Operations: []abi.Op{abi.OpGet}}, &vault{})
}

func main() {}

type vault struct{ url string }

func (v *vault) Init(_ string, params map[string]string) error {
	v.url = params["url"]
	return nil
}

func (v *vault) Get(name string) (abi.Info, abi.Value, error) {
	resp, err := guest.HTTP(abi.HTTPRequest{Method: "POST", URL: v.url + "/" + name,
		Header: map[string]string{"x-name": name}, Body: []byte("from the guest")})
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	text := strconv.Itoa(resp.Status) + " " + resp.Header["x-echo"] + " " + string(resp.Body)
	return abi.Info{}, abi.Value{Type: abi.TypeString, Data: []byte(text)}, nil
}

func (*vault) Set(string, abi.Value, abi.Metadata) error { return abi.Unsupported }
func (*vault) Remove(string) error                       { return abi.Unsupported }
func (*vault) List(string) ([]abi.Info, error)           { return nil, abi.Unsupported }
