package sandbox

import (
	"strings"
	"testing"
)

// TestHTTPNameReachesPublicOnly: a granted name may connect to public
// addresses only, also when the address is IPv6 that carries an IPv4
// address a translator on the way (NAT64's well-known prefix, 6to4) or the
// kernel (IPv4-mapped, IPv4-compatible) turns into that IPv4 address: a
// name whose DNS answers 64:ff9b::a9fe:a9fe reaches 169.254.169.254 on a
// network with NAT64, as a vault granted a name must not.
func TestHTTPNameReachesPublicOnly(t *testing.T) {
	byName := dialTo{port: 443}
	for _, c := range []struct {
		addr string
		kind string // "" when allowed
	}{
		{"[2606:4700::1111]:443", ""},
		{"1.1.1.1:443", ""},
		{"[64:ff9b::101:101]:443", ""}, // 1.1.1.1 through NAT64
		{"[2002:101:101::1]:443", ""},  // 1.1.1.1's 6to4
		{"127.0.0.1:443", "loopback"},
		{"[::ffff:10.0.0.1]:443", "private"},
		{"[64:ff9b::7f00:1]:443", "loopback"},       // 127.0.0.1 through NAT64
		{"[64:ff9b::a00:1]:443", "private"},         // 10.0.0.1
		{"[64:ff9b::a9fe:a9fe]:443", "link-local"},  // 169.254.169.254, the cloud's metadata
		{"[2002:a9fe:a9fe::1]:443", "link-local"},   // its 6to4
		{"[2002:c0a8:101::1]:443", "private"},       // 192.168.1.1's 6to4
		{"[::7f00:1]:443", "loopback"},              // IPv4-compatible 127.0.0.1
		{"[64:ff9b::101:101]:80", "port 80 is not"}, // the port still counts
	} {
		err := byName.allows(c.addr)
		switch {
		case c.kind == "" && err != nil:
			t.Errorf("%s: %v, want it allowed", c.addr, err)
		case c.kind != "" && (err == nil || !strings.Contains(err.Error(), c.kind)):
			t.Errorf("%s: %v, want it refused as %s", c.addr, err, c.kind)
		}
	}
}
