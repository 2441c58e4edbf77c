package grant

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	var g Grants
	for _, kv := range [][2]string{
		{"storage", "true"}, {"directory", "d"}, {"read_only", "1"}, {"env", "B, A,,B"},
		{"memory", " 2 MiB "}, {"timeout", "1m30s"}, {"instances", "3"}, {"identity", "true"},
		{"http", "https://etcd.example:2379, http://127.0.0.1:2379,https://etcd.example:2379"},
		{"ca_file", "ca.pem"}, {"client_cert", "c.pem"}, {"client_key", "k.pem"},
	} {
		if err := Parse(&g, kv[0], kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	want := Grants{Storage: true, Directory: "d", ReadOnly: true, Env: []string{"A", "B"}, Memory: 2 << 20, Timeout: 90 * time.Second, Instances: 3,
		HTTP: []string{"http://127.0.0.1:2379", "https://etcd.example:2379"}, CAFile: "ca.pem", ClientCert: "c.pem", ClientKey: "k.pem", Identity: true}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %+v, want %+v", g, want)
	}
	for size, n := range map[string]uint64{"64MiB": 64 << 20, "1GiB": 1 << 30, "4096KiB": 4 << 20, "2097152": 2 << 20, "4194304B": 4 << 20} {
		if err := Parse(&g, "memory", size); err != nil || g.Memory != n {
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
		if err := Parse(&g, kv[0], kv[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s=%q: err = %v, want ErrInvalid", kv[0], kv[1], err)
		}
	}
}

func TestSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    uint64
		ok   bool
		back string
	}{
		{"64MiB", 64 << 20, true, "64MiB"},
		{"512KiB", 512 << 10, true, "512KiB"},
		{"1GiB", 1 << 30, true, "1GiB"},
		{" 2 MiB ", 2 << 20, true, "2MiB"},
		{"1024MiB", 1 << 30, true, "1GiB"},
		{"3000000B", 3_000_000, true, "3000000B"},
		{"3000000", 3_000_000, true, "3000000B"},
		{"0", 0, true, "0B"},
		{"64MB", 0, false, ""},
		{"64mib", 0, false, ""},
		{"-1MiB", 0, false, ""},
		{"1.5GiB", 0, false, ""},
		{"MiB", 0, false, ""},
		{"", 0, false, ""},
		{"17179869184GiB", 0, false, ""}, // 2^64 bytes
	} {
		n, ok := ParseSize(tt.in)
		if n != tt.n || ok != tt.ok {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.ok)
		}
		if ok && FormatSize(n) != tt.back {
			t.Errorf("FormatSize(%d) = %q, want %q", n, FormatSize(n), tt.back)
		}
	}
}
