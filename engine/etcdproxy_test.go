//go:build unix

package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/etcdtest"
)

// etcdProxy stands between a vault and member 0 of a cluster, on a
// loopback origin of its own, and calls before with the etcd keys of the
// records that each transaction puts (under the team's records prefix)
// before it forwards the transaction: a test's way to make another
// writer's change land at a chosen moment, or a request that never
// answers.
type etcdProxy struct {
	*httptest.Server
	prefix string
	before atomic.Pointer[func(r *http.Request, puts [][]byte)]
	txns   atomic.Int64 // transactions forwarded
}

func newEtcdProxy(t *testing.T, c *etcdtest.Cluster, prefix string) *etcdProxy {
	t.Helper()
	target, err := url.Parse(c.Endpoint(0))
	if err != nil {
		t.Fatal(err)
	}
	p := &etcdProxy{prefix: prefix}
	rp := httputil.NewSingleHostReverseProxy(target)
	// A request the vault gave up on (a test's deadline) fails here as
	// canceled: answer 502 as the proxy does, without its line in the
	// test's output.
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v3/kv/txn" {
			p.txns.Add(1)
		}
		if f := p.before.Load(); f != nil && r.URL.Path == "/v3/kv/txn" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if puts := p.recordPuts(body); len(puts) > 0 {
				(*f)(r, puts)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// recordPuts returns the keys of the records that the transaction body
// puts.
func (p *etcdProxy) recordPuts(body []byte) [][]byte {
	var txn struct {
		Success []struct {
			Put *struct {
				Key []byte `json:"key"`
			} `json:"request_put"`
		} `json:"success"`
	}
	json.Unmarshal(body, &txn)
	var keys [][]byte
	for _, op := range txn.Success {
		if op.Put != nil && bytes.HasPrefix(op.Put.Key, []byte(p.prefix+recordsDir)) {
			keys = append(keys, op.Put.Key)
		}
	}
	return keys
}

// proxiedTeam registers vault name of e on prefix through p, with the
// call deadline timeout (0: the default).
func proxiedTeam(t *testing.T, e *engine.Engine, name string, p *etcdProxy, prefix string, timeout time.Duration) {
	t.Helper()
	reg := engine.Registration{Name: name, Extension: "builtin:etcd", Parameters: map[string]any{"prefix": prefix, "endpoints": p.URL},
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: []string{p.URL}, Timeout: timeout}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
}

// testEtcdConflict: a write that another member beats at every attempt
// (the proxy rewrites the record, as another member would, between each
// attempt's read and its transaction) gives up after its eight attempts
// with ErrConflict, and the record is as the other member left it.
func testEtcdConflict(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	p := newEtcdProxy(t, c, prefix)
	e := newEngine(t)
	proxiedTeam(t, e, "Team", p, prefix, 0)
	members(t, e, abi.MembersAdd, identity(t, e))
	set(t, e, "db", "theirs", nil)
	cl := c.Client("", "")
	var beaten atomic.Int64
	rewrite := func(_ *http.Request, puts [][]byte) {
		for _, key := range puts {
			kv, _, err := cl.Get(ctx, key)
			if err != nil || kv == nil {
				t.Errorf("the proxy reads %s: %v, %v", key, kv, err)
				return
			}
			if _, err := cl.Put(ctx, key, kv.Value); err != nil {
				t.Errorf("the proxy rewrites %s: %v", key, err)
				return
			}
		}
		beaten.Add(1)
	}
	p.before.Store(&rewrite)
	_, err := e.Set(ctx, engine.SetRequest{Name: "db", Vault: "Team", Value: "mine"})
	p.before.Store(nil)
	if !errors.Is(err, engine.ErrConflict) || !strings.Contains(err.Error(), "other members kept changing it at the same moment (8 attempts); nothing was written") {
		t.Fatalf("a set beaten at every attempt: %v, want ErrConflict after 8 attempts", err)
	}
	if n := beaten.Load(); n != 8 {
		t.Errorf("%d transactions were tried, want 8", n)
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "db", Vault: "Team"}); err != nil || s.Value != "theirs" {
		t.Fatalf("db after the conflict: %+v, %v; want the other member's", s, err)
	}
}

// testEtcdRemoveDeadline: a removal whose call deadline ends while it
// moves the records to the new team key (the proxy lets two moves through
// and holds the next until the host gives up on it) fails with
// ErrDeadline having lost nothing: the next members command (accept, as
// the member list changed) moves the rest, every record reads back as it
// was, and the removed member reads none.
func testEtcdRemoveDeadline(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	p := newEtcdProxy(t, c, prefix)
	a, b := teamUser(t, c, prefix), teamUser(t, c, prefix)
	ra, rb := identity(t, a), identity(t, b)
	members(t, a, abi.MembersAdd, rb)
	const n = 5
	for i := range n {
		set(t, a, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i), engine.Metadata{"i": int64(i)})
	}
	// A's second vault on the team, through the proxy, with a short
	// deadline; it has seen and accepted the member list.
	proxiedTeam(t, a, "Slow", p, prefix, 2*time.Second)
	l, err := a.Members(ctx, engine.MembersRequest{Vault: "Slow", Action: abi.MembersList})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Members(ctx, engine.MembersRequest{Vault: "Slow", Action: abi.MembersAccept, Digest: l.Digest}); err != nil {
		t.Fatal(err)
	}
	var moves atomic.Int64
	release := make(chan struct{})
	defer close(release)
	hold := func(r *http.Request, _ [][]byte) {
		if moves.Add(1) > 2 {
			select { // until the host ends the request (or the test ends)
			case <-r.Context().Done():
			case <-release:
			}
		}
	}
	p.before.Store(&hold)
	_, err = a.Members(ctx, engine.MembersRequest{Vault: "Slow", Action: abi.MembersRemove, Recipient: rb})
	p.before.Store(nil)
	if !errors.Is(err, engine.ErrDeadline) {
		t.Fatalf("a removal past its deadline: %v, want ErrDeadline", err)
	}
	gens := map[byte]int{}
	kvs, _, err := c.Client("", "").Prefix(ctx, []byte(prefix+recordsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		gens[kv.Value[7]]++
	}
	if len(kvs) != n || gens[2] < 2 || gens[1] == 0 {
		t.Fatalf("the interrupted removal left %d records, by generation %v: want %d, some moved and some not", len(kvs), gens, n)
	}
	m := members(t, a, abi.MembersList, "")
	if !m.Changed || !slices.Equal(m.Members, []string{ra}) {
		t.Fatalf("A's Team after the interrupted removal: %+v", m)
	}
	members(t, a, abi.MembersAccept, m.Digest)
	for i := range n {
		name := fmt.Sprintf("s%d", i)
		s, err := a.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"})
		if err != nil || s.Value != fmt.Sprintf("v%d", i) || s.Metadata["i"] != int64(i) {
			t.Fatalf("%s after the interrupted removal: %+v, %v", name, s, err)
		}
		if _, err := b.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"}); !errors.Is(err, engine.ErrPermissionDenied) {
			t.Fatalf("B reads %s after its removal: %v", name, err)
		}
	}
	kvs, _, err = c.Client("", "").Prefix(ctx, []byte(prefix+recordsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if kv.Value[7] != 2 {
			t.Errorf("%s is still under generation %d after the accept", kv.Key, kv.Value[7])
		}
	}
}

// testEtcdSetRequests: a set that replaces takes two etcd requests, the
// engine's check (a read) and the write, whose transaction uses what the
// check read; a no-clobber set of a new name takes two, the create's read
// and its write.
func testEtcdSetRequests(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	p := newEtcdProxy(t, c, prefix)
	e := newEngine(t)
	proxiedTeam(t, e, "Team", p, prefix, 0)
	members(t, e, abi.MembersAdd, identity(t, e))
	set(t, e, "db", "v1", nil)
	for _, req := range []engine.SetRequest{
		{Name: "db", Vault: "Team", Value: "v2"},
		{Name: "new", Vault: "Team", Value: "v", NoClobber: true},
	} {
		p.txns.Store(0)
		if _, err := e.Set(ctx, req); err != nil {
			t.Fatal(err)
		}
		if n := p.txns.Load(); n != 2 {
			t.Errorf("set %s (no clobber %v): %d etcd transactions, want 2", req.Name, req.NoClobber, n)
		}
	}
}

// testEtcdStaleHint: when another member writes a secret between the
// engine's check and its set (here while the user confirms), the set does
// not write over what it did not see: it reads again, and a set without
// metadata keeps the other member's.
func testEtcdStaleHint(t *testing.T, c *etcdtest.Cluster) {
	a, b := twoUsers(t, c)
	set(t, a, "db", "v1", engine.Metadata{"by": "a"})
	confirm := func(engine.Action) bool {
		set(t, b, "db", "v2", engine.Metadata{"by": "b"})
		return true
	}
	if _, err := a.Set(ctx, engine.SetRequest{Name: "db", Vault: "Team", Value: "v3", Change: engine.Change{Confirm: confirm}}); err != nil {
		t.Fatal(err)
	}
	s, err := b.Get(ctx, engine.GetRequest{Name: "db", Vault: "Team"})
	if err != nil || s.Value != "v3" || s.Metadata["by"] != "b" {
		t.Fatalf("db after a set over a stale check: %+v, %v; want v3 with B's metadata", s, err)
	}
}

// testEtcdWriteRace: when another member writes a secret between a set's
// read and its transaction (the proxy has B write just before A's
// transaction goes), A's set reads again and applies itself to B's write:
// a set without metadata keeps B's metadata, not what A read first.
func testEtcdWriteRace(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	p := newEtcdProxy(t, c, prefix)
	a, b := newEngine(t), teamUser(t, c, prefix)
	proxiedTeam(t, a, "Team", p, prefix, 0)
	members(t, a, abi.MembersAdd, identity(t, b))
	members(t, b, abi.MembersAccept, members(t, b, abi.MembersList, "").Digest)
	set(t, a, "db", "v1", engine.Metadata{"by": "a"})
	var once atomic.Bool
	race := func(*http.Request, [][]byte) {
		if once.CompareAndSwap(false, true) {
			set(t, b, "db", "v2", engine.Metadata{"by": "b"})
		}
	}
	p.before.Store(&race)
	set(t, a, "db", "v3", nil)
	p.before.Store(nil)
	s, err := b.Get(ctx, engine.GetRequest{Name: "db", Vault: "Team"})
	if err != nil || s.Value != "v3" || s.Metadata["by"] != "b" {
		t.Fatalf("db after A's set raced B's: %+v, %v; want v3 with B's metadata", s, err)
	}
}
