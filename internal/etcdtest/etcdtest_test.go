//go:build unix

package etcdtest

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/etcdgw"
)

// callTimeout is the deadline of one call in these tests: as a vault call's.
const callTimeout = 5 * time.Second

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestCluster runs the tests of a started cluster on one cluster, in this
// order, each under a key prefix of its own (keyOf): a cluster costs its
// three members' start, about 0.4 s of CPU, and about 50 ms of CPU per
// second it runs. Each test leaves a quorum to the next: LeaderKilled
// restarts the member it killed, NoQuorum one of the two it stopped, and
// Auth, which turns authentication on for good, comes last.
func TestCluster(t *testing.T) {
	c := Start(t)
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, *Cluster)
	}{
		{"GatewayPutRange", testGatewayPutRange},
		{"LeaderKilled", testLeaderKilled},
		{"NoQuorum", testNoQuorum},
		{"Auth", testAuth},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, c) })
	}
}

// keyOf returns k under the prefix of test t: the tests of TestCluster
// share a cluster, never a key.
func keyOf(t *testing.T, k string) string { return t.Name() + "/" + k }

// testGatewayPutRange writes through one member's JSON gateway and reads
// through another's, keys and values in base64 as the gateway wants them.
func testGatewayPutRange(t *testing.T, c *Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := postJSON(ctx, c.Endpoint(0)+"/v3/kv/put", map[string]string{"key": b64(keyOf(t, "team/a")), "value": b64("one")}, &struct{}{}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		KVs []struct {
			Key   []byte `json:"key"`
			Value []byte `json:"value"`
		} `json:"kvs"`
	}
	if err := postJSON(ctx, c.Endpoint(2)+"/v3/kv/range", map[string]string{"key": b64(keyOf(t, "team/a"))}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.KVs) != 1 || string(out.KVs[0].Key) != keyOf(t, "team/a") || string(out.KVs[0].Value) != "one" {
		t.Fatalf("range answered %+v, want team/a = one", out.KVs)
	}
}

// testLeaderKilled kills the leader with SIGKILL: the two others elect a
// new one, a client that lists every member writes and reads on, and the
// killed member, started again, has every write.
func testLeaderKilled(t *testing.T, c *Cluster) {
	cl := c.Client("", "")
	put(t, cl, keyOf(t, "k/before"), "1")
	old := c.WaitLeader()
	c.Kill(old)
	if l := c.WaitLeader(); l == old || l < 0 {
		t.Fatalf("leader after the kill is member %d, the killed one was %d", l, old)
	}
	put(t, cl, keyOf(t, "k/after"), "2")
	c.Restart(old)
	solo := etcdgw.New(HTTPTransport{}, []string{c.Endpoint(old)}, "", "")
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	kvs, _, err := solo.Prefix(ctx, []byte(keyOf(t, "k/")))
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != 2 || string(kvs[0].Value) != "2" || string(kvs[1].Value) != "1" {
		t.Fatalf("the restarted member lists %+v, want k/after=2 and k/before=1", kvs)
	}
}

// testNoQuorum stops two of the three members: a write fails with
// ErrUnavailable when its deadline passes instead of hanging, and succeeds
// once a second member is back.
func testNoQuorum(t *testing.T, c *Cluster) {
	cl := c.Client("", "")
	c.Stop(0)
	c.Stop(1)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	_, err := cl.Put(ctx, []byte(keyOf(t, "k")), []byte("v"))
	cancel()
	if !errors.Is(err, etcdgw.ErrUnavailable) {
		t.Fatalf("a write without quorum returned %v, want ErrUnavailable", err)
	}
	c.Restart(1)
	put(t, cl, keyOf(t, "k"), "v")
}

// testAuth turns authentication on: a client without a user is refused
// (ErrAuth), one with the user and password writes.
func testAuth(t *testing.T, c *Cluster) {
	c.EnableAuth("team", "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := c.Client("", "").Put(ctx, []byte(keyOf(t, "k")), []byte("v")); !errors.Is(err, etcdgw.ErrAuth) {
		t.Fatalf("a write without a user returned %v, want ErrAuth", err)
	}
	if _, err := c.Client("team", "wrong").Put(ctx, []byte(keyOf(t, "k")), []byte("v")); !errors.Is(err, etcdgw.ErrAuth) {
		t.Fatalf("a write with a wrong password returned %v, want ErrAuth", err)
	}
	put(t, c.Client("team", "s3cret"), keyOf(t, "k"), "v")
}

func put(t *testing.T, cl *etcdgw.Client, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := cl.Put(ctx, []byte(k), []byte(v)); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
	got, _, err := cl.Get(ctx, []byte(k))
	if err != nil || got == nil || string(got.Value) != v {
		t.Fatalf("get %s after put = %+v, %v; want %q", k, got, err, v)
	}
}

// TestMissingEtcdNamesPackage runs a test that starts a cluster in a child
// process whose PATH has no etcd: it fails, naming the Debian package.
func TestMissingEtcdNamesPackage(t *testing.T) {
	if os.Getenv("ETCDTEST_CHILD") == "1" {
		Start(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingEtcdNamesPackage$")
	cmd.Env = append(os.Environ(), "ETCDTEST_CHILD=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "install the Debian package etcd-server") {
		t.Fatalf("without etcd the child test ended with %v:\n%s\nwant a failure naming etcd-server", err, out)
	}
}

// TestFreePortsDiffer: the ports of one cluster are distinct, round after
// round (picked one by one from listeners closed at once, two of six were
// the same often enough for a cluster to fail to start now and then).
func TestFreePortsDiffer(t *testing.T) {
	t.Parallel()
	for range 3000 {
		ports := freePorts(t, 6)
		seen := map[string]bool{}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("freePorts gave %s twice: %v", p, ports)
			}
			seen[p] = true
		}
	}
}
