//go:build unix

package etcdgw_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/internal/etcdtest"
)

// The cost of one request through the JSON gateway over net/http, beside
// etcdctl get (a process per read, as a script would run it), on the same
// three-member loopback cluster: the floor under the etcd vault's get and
// set, which add the sandbox and the host's http function.

func benchCluster(b *testing.B) *etcdtest.Cluster {
	c := etcdtest.Start(b)
	if _, err := c.Client("", "").Put(context.Background(), []byte("bench/k"), []byte("value")); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkGatewayGet(b *testing.B) {
	cl := benchCluster(b).Client("", "")
	for b.Loop() {
		if _, _, err := cl.Get(context.Background(), []byte("bench/k")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGatewayPut(b *testing.B) {
	cl := benchCluster(b).Client("", "")
	for b.Loop() {
		if _, err := cl.Put(context.Background(), []byte("bench/k"), []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGatewayCreate(b *testing.B) {
	cl := benchCluster(b).Client("", "")
	for b.Loop() {
		if _, _, err := cl.Create(context.Background(), []byte("bench/k"), []byte("value")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEtcdctlGet(b *testing.B) {
	c := benchCluster(b)
	etcdctl, err := exec.LookPath("etcdctl")
	if err != nil {
		b.Fatalf("etcdctl is not installed (Debian package etcd-client): %v", err)
	}
	eps := strings.Join(c.Endpoints(), ",")
	for b.Loop() {
		cmd := exec.Command(etcdctl, "--endpoints="+eps, "get", "bench/k")
		cmd.Env = []string{"ETCDCTL_API=3"}
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "value") {
			b.Fatalf("etcdctl get: %v: %s", err, out)
		}
	}
}
