//go:build unix

package etcdgw_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/etcdgw"
	"github.com/sesamehq/sesame/internal/etcdtest"
)

const callTimeout = 5 * time.Second

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestCluster runs the tests of the client that need etcd on one cluster,
// each under a key prefix of its own (keyOf): none of them stops or
// reconfigures a member, and a cluster costs its three members' start, about
// 0.4 s of CPU, and about 50 ms of CPU per second it runs.
func TestCluster(t *testing.T) {
	c := etcdtest.Start(t)
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, *etcdtest.Cluster)
	}{
		{"CreateOneWins", testCreateOneWins},
		{"SwapRejectsStale", testSwapRejectsStale},
		{"PrefixPagesAndDelete", testPrefixPagesAndDelete},
		{"NextEndpoint", testNextEndpoint},
		{"EtcdError", testEtcdError},
		{"TxnDeleteIfUnchanged", testTxnDeleteIfUnchanged},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, c) })
	}
}

// keyOf returns k under the prefix of test t: the tests of TestCluster
// share a cluster, never a key.
func keyOf(t *testing.T, k string) []byte { return []byte(t.Name() + "/" + k) }

// testCreateOneWins races 20 clients creating one key, 20 times over: each
// time exactly one creates it, and the others see its value.
func testCreateOneWins(t *testing.T, c *etcdtest.Cluster) {
	const racers = 20
	for round := range 20 {
		key := keyOf(t, fmt.Sprintf("race/%d", round))
		var wg sync.WaitGroup
		wins := make([]bool, racers)
		seen := make([]string, racers)
		errs := make([]error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := etcdgw.New(etcdtest.HTTPTransport{}, c.Endpoints()[i%etcdtest.Size:], "", "")
				var kv *etcdgw.KeyValue
				wins[i], kv, errs[i] = cl.Create(timeout(t), key, []byte(fmt.Sprint(i)))
				if kv != nil {
					seen[i] = string(kv.Value)
				}
			}()
		}
		wg.Wait()
		winner := -1
		for i := range racers {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d, racer %d: %v", round, i, errs[i])
			case wins[i] && winner >= 0:
				t.Fatalf("round %d: racers %d and %d both created the key", round, winner, i)
			case wins[i]:
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer created the key", round)
		}
		for i := range racers {
			if !wins[i] && seen[i] != fmt.Sprint(winner) {
				t.Fatalf("round %d: racer %d lost and saw %q, want the winner's %d", round, i, seen[i], winner)
			}
		}
	}
}

// testSwapRejectsStale updates a key with the mod_revision of a read that
// another write has made stale: the update is refused and the other write
// stays.
func testSwapRejectsStale(t *testing.T, c *etcdtest.Cluster) {
	a, b := c.Client("", ""), c.Client("", "")
	ctx := timeout(t)
	key := keyOf(t, "team/x")
	if _, err := a.Put(ctx, key, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	read, _, err := a.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := b.Swap(ctx, key, []byte("b's"), int64(read.ModRevision)); err != nil || !ok {
		t.Fatalf("the first swap = %v, %v; want it done", ok, err)
	}
	ok, now, err := a.Swap(ctx, key, []byte("a's"), int64(read.ModRevision))
	if err != nil || ok {
		t.Fatalf("the stale swap = %v, %v; want it refused", ok, err)
	}
	if now == nil || string(now.Value) != "b's" {
		t.Fatalf("the refused swap reports %+v, want the key holding b's", now)
	}
	got, _, err := a.Get(ctx, key)
	if err != nil || string(got.Value) != "b's" {
		t.Fatalf("after the refused swap the key holds %+v, %v; want b's", got, err)
	}
}

// testPrefixPagesAndDelete lists more keys than one page holds, in byte
// order, and deletes them by prefix, leaving a key beside the prefix. It
// writes the keys a hundred to a transaction (etcd takes up to 128 by
// default): twelve requests, not 1200, for what the listing reads.
func testPrefixPagesAndDelete(t *testing.T, c *etcdtest.Cluster) {
	cl := c.Client("", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n, perTxn = 1200, 100 // more than two pages
	for first := 0; first < n; first += perTxn {
		var puts []etcdgw.Op
		for i := first; i < first+perTxn; i++ {
			puts = append(puts, etcdgw.Op{Kind: etcdgw.OpPut, Key: keyOf(t, fmt.Sprintf("p/%04d", i)), Value: []byte("x")})
		}
		if r, err := cl.Txn(ctx, nil, puts, nil); err != nil || !r.Succeeded {
			t.Fatalf("writing keys %d to %d: %+v, %v", first, first+perTxn-1, r, err)
		}
	}
	if _, err := cl.Put(ctx, keyOf(t, "p0"), []byte("beside")); err != nil {
		t.Fatal(err)
	}
	kvs, _, err := cl.Prefix(ctx, keyOf(t, "p/"))
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n || string(kvs[0].Key) != string(keyOf(t, "p/0000")) || string(kvs[n-1].Key) != string(keyOf(t, fmt.Sprintf("p/%04d", n-1))) {
		t.Fatalf("prefix listed %d keys, want %d in order", len(kvs), n)
	}
	if d, err := cl.Delete(ctx, keyOf(t, "p/"), true); err != nil || d != n {
		t.Fatalf("delete by prefix = %d, %v; want %d", d, err, n)
	}
	if kv, _, err := cl.Get(ctx, keyOf(t, "p0")); err != nil || kv == nil {
		t.Fatalf("the key beside the prefix: %+v, %v; want it kept", kv, err)
	}
}

// testNextEndpoint gives a client a first endpoint where nothing listens:
// it moves to the next and stays there.
func testNextEndpoint(t *testing.T, c *etcdtest.Cluster) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	cl := etcdgw.New(etcdtest.HTTPTransport{}, append([]string{dead}, c.Endpoints()...), "", "")
	ctx := timeout(t)
	if _, err := cl.Put(ctx, keyOf(t, "k"), []byte("v")); err != nil {
		t.Fatalf("put with a dead first endpoint: %v", err)
	}
	if kv, _, err := cl.Get(ctx, keyOf(t, "k")); err != nil || string(kv.Value) != "v" {
		t.Fatalf("get = %+v, %v", kv, err)
	}
}

// testEtcdError: etcd's refusal of a request is an *Error with its code,
// not a move to the next endpoint.
func testEtcdError(t *testing.T, c *etcdtest.Cluster) {
	_, err := c.Client("", "").Put(timeout(t), nil, []byte("v")) // etcd refuses an empty key
	var e *etcdgw.Error
	if !errors.As(err, &e) || e.Code != 3 || errors.Is(err, etcdgw.ErrUnavailable) {
		t.Fatalf("put of an empty key returned %v, want an *Error with code 3 (INVALID_ARGUMENT)", err)
	}
}

// TestErrorUnavailable: the answers of a member that cannot reach a
// quorum before the deadline are ErrUnavailable, whether the deadline ended
// in the member (DEADLINE_EXCEEDED) or in its gateway's call to it
// (UNKNOWN, saying so); other errors are not.
func TestErrorUnavailable(t *testing.T) {
	for _, tc := range []struct {
		e    etcdgw.Error
		want bool
	}{
		{etcdgw.Error{Status: 503, Code: 14, Message: "etcdserver: no leader"}, true},
		{etcdgw.Error{Status: 504, Code: 4, Message: "etcdserver: request timed out"}, true},
		{etcdgw.Error{Status: 500, Code: 2, Message: "context deadline exceeded"}, true},
		{etcdgw.Error{Status: 500, Code: 2, Message: "etcdserver: corrupt cluster"}, false},
		{etcdgw.Error{Status: 400, Code: 3, Message: "etcdserver: key is not provided"}, false},
	} {
		if got := errors.Is(&tc.e, etcdgw.ErrUnavailable); got != tc.want {
			t.Errorf("%v: unavailable %v, want %v", &tc.e, got, tc.want)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"team/", "team0"}, {"a\xff", "b"}, {"\xff\xff", "\x00"}, {"", "\x00"},
	} {
		if got := string(etcdgw.PrefixEnd([]byte(tc.in))); got != tc.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// testTxnDeleteIfUnchanged deletes a key only while it holds the revision a
// read saw: a write in between makes the delete fail and keeps the key.
func testTxnDeleteIfUnchanged(t *testing.T, c *etcdtest.Cluster) {
	cl := c.Client("", "")
	ctx := timeout(t)
	key := keyOf(t, "team/d")
	rev, err := cl.Put(ctx, key, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, key, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	del := func(rev int64) etcdgw.TxnResult {
		r, err := cl.Txn(ctx, []etcdgw.Compare{{Key: key, Target: etcdgw.ModRevision, Revision: rev}},
			[]etcdgw.Op{{Kind: etcdgw.OpDelete, Key: key}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := del(rev); r.Succeeded {
		t.Fatal("a delete with a stale mod_revision succeeded")
	}
	now, _, err := cl.Get(ctx, key)
	if err != nil || now == nil || string(now.Value) != "v2" {
		t.Fatalf("after the refused delete: %+v, %v", now, err)
	}
	if r := del(int64(now.ModRevision)); !r.Succeeded {
		t.Fatal("a delete with the current mod_revision failed")
	}
	if kv, _, err := cl.Get(ctx, key); err != nil || kv != nil {
		t.Fatalf("after the delete: %+v, %v; want none", kv, err)
	}
}
