package registry

import (
	"errors"
	"reflect"
	"testing"
)

// TestHTTPGrantInFile: the http grant and its files are read from
// vaults.toml, written back the same, and checked as the command line's.
func TestHTTPGrantInFile(t *testing.T) {
	src := `[vaults.Team]
extension = "builtin:etcd"

  [vaults.Team.grants]
  http      = ["http://127.0.0.1:2379", "http://[::1]:2379", "https://etcd.example:2379"]
  ca_file   = "ca.pem"
  client_cert = "c.pem"
  client_key = "k.pem"
`
	r, err := Parse("/x/vaults.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g := r.Vaults[0].Grants
	if len(g.HTTP) != 3 || g.CAFile != "ca.pem" || g.ClientCert != "c.pem" || g.ClientKey != "k.pem" {
		t.Fatalf("parsed %+v", g)
	}
	out, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse("/x/vaults.toml", out)
	if err != nil || !reflect.DeepEqual(again.Vaults[0].Grants, g) {
		t.Fatalf("written and read again: %+v, %v\n%s", again.Vaults[0].Grants, err, out)
	}
	for _, bad := range []string{
		`http = ["http://localhost"]`,
		`http = "http://a:1"`,
		"http = [\"http://a:1\"]\n  client_cert = \"c.pem\"",
		`ca_file = "ca.pem"`,
	} {
		src := "[vaults.Team]\nextension = \"builtin:etcd\"\n[vaults.Team.grants]\n  " + bad + "\n"
		if _, err := Parse("/x/vaults.toml", []byte(src)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", bad, err)
		} else {
			t.Log(err)
		}
	}
}
