package registry

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseGrant(t *testing.T) {
	var g Grants
	for _, kv := range [][2]string{
		{"storage", "true"}, {"directory", "d"}, {"read_only", "1"}, {"env", "B, A,,B"},
		{"memory", " 2 MiB "}, {"timeout", "1m30s"}, {"instances", "3"}, {"identity", "true"},
		{"http", "https://etcd.example:2379, http://127.0.0.1:2379,https://etcd.example:2379"},
		{"ca_file", "ca.pem"}, {"client_cert", "c.pem"}, {"client_key", "k.pem"},
	} {
		if err := ParseGrant(&g, kv[0], kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	want := Grants{Storage: true, Directory: "d", ReadOnly: true, Env: []string{"A", "B"}, Memory: 2 << 20, Timeout: 90 * time.Second, Instances: 3,
		HTTP: []string{"http://127.0.0.1:2379", "https://etcd.example:2379"}, CAFile: "ca.pem", ClientCert: "c.pem", ClientKey: "k.pem", Identity: true}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %+v, want %+v", g, want)
	}
	for size, n := range map[string]uint64{"64MiB": 64 << 20, "1GiB": 1 << 30, "4096KiB": 4 << 20, "2097152": 2 << 20, "4194304B": 4 << 20} {
		if err := ParseGrant(&g, "memory", size); err != nil || g.Memory != n {
			t.Errorf("memory=%s: %d, %v; want %d", size, g.Memory, err, n)
		}
	}
	for _, kv := range [][2]string{
		{"storage", "yes please"}, {"memory", "64MB"}, {"memory", "1MiB"}, {"memory", "5GiB"}, {"memory", "1.5MiB"},
		{"memory", "99999999999GiB"}, {"timeout", "-1s"}, {"timeout", "11m"}, {"instances", "0"}, {"instances", "x"},
		{"directory", ""}, {"network", "true"}, {"identity", "maybe"},
		{"http", ""}, {"http", "etcd.example:2379"}, {"http", "https://etcd.example"}, {"http", "https://Etcd.example:2379"},
		{"http", "https://etcd.example:2379/"}, {"http", "https://u@etcd.example:2379"}, {"http", "ftp://etcd.example:21"},
		{"http", "http://[::1%eth0]:1"}, {"http", "http://[0:0::1]:1"}, {"http", "http://127.0.0.01:1"}, {"http", "http://a:0"},
		{"http", "http://a:65536"}, {"http", "http://a:080"}, {"http", "http://bücher.example:1"}, {"ca_file", ""},
	} {
		if err := ParseGrant(&g, kv[0], kv[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s=%q: err = %v, want ErrInvalid", kv[0], kv[1], err)
		}
	}
}

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
