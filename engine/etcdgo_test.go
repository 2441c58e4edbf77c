//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/etcdtest"
)

// builtin:etcd was a Go guest until it was written in C; a team's records
// in etcd outlive that change. testdata/etcd-go holds what the Go guest
// (extensions/etcd.wasm of commit 55fdfa0) wrote on a real cluster: a team
// of A and B that also had C, removed (so its key is of generation 2 and
// every record was moved to it), with secrets of every type and metadata.
// The C vault reads it back; with -etcd-go-wasm, the test first writes the
// fixture again with that module, and then has the module read what the C
// vault wrote: each reads the other's records.

var etcdGoWasm = flag.String("etcd-go-wasm", "", "the Go guest that builtin:etcd was (git show 55fdfa0:extensions/etcd.wasm): write testdata/etcd-go with it, and check that it reads what the C vault writes")

const etcdGoFixture = "testdata/etcd-go/team.json"

// etcdGoTeam is the fixture: the prefix, member A's identity (a key made
// for this test alone), and the team's etcd keys and values.
type etcdGoTeam struct {
	Prefix   string           `json:"prefix"`
	Identity string           `json:"identity"`
	KVs      []etcdGoKeyValue `json:"kvs"`
	Members  []string         `json:"members"`
	Comment  string           `json:"comment"`
}

type etcdGoKeyValue struct {
	Key   []byte `json:"key"`
	Value []byte `json:"value"`
}

// etcdGoSecrets are what the fixture's team holds, as A wrote them (B wrote
// "token").
func etcdGoSecrets() []struct {
	name  string
	value any
	md    engine.Metadata
} {
	when := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	return []struct {
		name  string
		value any
		md    engine.Metadata
	}{
		{"db", engine.Credential{UserName: "app", Password: "db-pass-1f3a"}, engine.Metadata{"owner": "ops", "rotated": when, "uses": int64(3)}},
		{"token", "tok-77", nil},
		{"blob", []byte{0, 1, 2, 0xff}, engine.Metadata{"note": "bytes"}},
		{"stripe", engine.Hashtable{"live-key": "sk_live_7f00d", "note": "rotate-quarterly"}, nil},
		{"ünïcode/name with spaces", "välue", engine.Metadata{"k": ""}},
		{"after-removal", "written at generation 2", nil},
	}
}

// testEtcdGoGuestRecords runs in TestEtcdTeam.
func testEtcdGoGuestRecords(t *testing.T, c *etcdtest.Cluster) {
	if *etcdGoWasm != "" {
		writeEtcdGoFixture(t, c)
	}
	b, err := os.ReadFile(etcdGoFixture)
	if err != nil {
		t.Fatal(err)
	}
	var fx etcdGoTeam
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	cl := c.Client("", "")
	for _, kv := range fx.KVs {
		if _, err := cl.Put(ctx, kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	e := newEngine(t)
	if _, err := e.Set(ctx, engine.SetRequest{Name: engine.IdentitySecret, Vault: "LocalStore", Value: fx.Identity}); err != nil {
		t.Fatal(err)
	}
	registerTeam(t, e, "Team", c, fx.Prefix)
	acceptAll(t, e, "Team", fx.Members)
	checkEtcdGoSecrets(t, e, "Team")

	// The C vault writes over what the Go guest wrote, and anew.
	set(t, e, "token", "tok-78", nil)
	set(t, e, "from-c", engine.Hashtable{"a": "1"}, engine.Metadata{"by": "c"})
	if _, err := e.SetInfo(ctx, engine.SetInfoRequest{Name: "db", Vault: "Team", Metadata: engine.Metadata{"owner": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if *etcdGoWasm == "" {
		return
	}
	// The Go guest reads what the C vault wrote.
	reg := engine.Registration{Name: "GoTeam", Extension: *etcdGoWasm, Parameters: map[string]any{"prefix": fx.Prefix, "endpoints": c.Endpoint(0)},
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: []string{c.Endpoint(0)}}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	acceptAll(t, e, "GoTeam", fx.Members)
	for name, want := range map[string]any{"token": "tok-78", "from-c": engine.Hashtable{"a": "1"}} {
		s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: "GoTeam"})
		if err != nil || !reflect.DeepEqual(s.Value, want) {
			t.Errorf("the Go guest reads %s written by the C vault: %+v, %v", name, s, err)
		}
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "db", Vault: "GoTeam"}); err != nil || s.Metadata["owner"] != "dev" {
		t.Errorf("the Go guest reads db's metadata set by the C vault: %+v, %v", s, err)
	}
}

// acceptAll accepts vault's member list, which must be members.
func acceptAll(t *testing.T, e *engine.Engine, vault string, members []string) {
	t.Helper()
	m, err := e.Members(ctx, engine.MembersRequest{Vault: vault, Action: abi.MembersList})
	if err != nil || !slices.Equal(m.Members, members) {
		t.Fatalf("members list %s: %+v, %v; want %v", vault, m, err, members)
	}
	if _, err := e.Members(ctx, engine.MembersRequest{Vault: vault, Action: abi.MembersAccept, Digest: m.Digest}); err != nil {
		t.Fatalf("members accept %s: %v", vault, err)
	}
}

// checkEtcdGoSecrets checks that vault holds the fixture's secrets, each
// with its type and metadata, and lists them all.
func checkEtcdGoSecrets(t *testing.T, e *engine.Engine, vault string) {
	t.Helper()
	var names []string
	for _, want := range etcdGoSecrets() {
		names = append(names, want.name)
		s, err := e.Get(ctx, engine.GetRequest{Name: want.name, Vault: vault})
		if err != nil {
			t.Errorf("get %s: %v", want.name, err)
			continue
		}
		if !reflect.DeepEqual(s.Value, want.value) || len(s.Metadata) != len(want.md) {
			t.Errorf("get %s: %#v with %v, want %#v with %v", want.name, s.Value, s.Metadata, want.value, want.md)
		}
		for k, v := range want.md {
			if tv, ok := v.(time.Time); ok && !tv.Equal(s.Metadata[k].(time.Time)) || !ok && s.Metadata[k] != v {
				t.Errorf("get %s: metadata %s is %v, want %v", want.name, k, s.Metadata[k], v)
			}
		}
	}
	list, err := e.Info(ctx, engine.InfoRequest{Vault: vault})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Name)
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("list: %v, want %v", got, names)
	}
}

// writeEtcdGoFixture makes the fixture's team with the Go guest: A, B and
// C, then C removed, on a prefix of its own, and writes its records to
// testdata/etcd-go.
func writeEtcdGoFixture(t *testing.T, c *etcdtest.Cluster) {
	const prefix = "goguest/"
	users := make([]*engine.Engine, 3)
	for i := range users {
		users[i] = newEngine(t)
		reg := engine.Registration{Name: "Team", Extension: *etcdGoWasm, Parameters: map[string]any{"prefix": prefix, "endpoints": c.Endpoint(0)},
			Grants: engine.Grants{Storage: true, Identity: true, HTTP: []string{c.Endpoint(0)}}}
		if err := users[i].Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
			t.Fatal(err)
		}
	}
	a, b, third := users[0], users[1], users[2]
	members(t, a, abi.MembersAdd, identity(t, b))
	members(t, a, abi.MembersAdd, identity(t, third))
	for _, u := range []*engine.Engine{b, third} {
		members(t, u, abi.MembersAccept, members(t, u, abi.MembersList, "").Digest)
	}
	for _, s := range etcdGoSecrets() {
		switch s.name {
		case "token":
			set(t, b, s.name, s.value, s.md)
		case "after-removal":
		default:
			set(t, a, s.name, s.value, s.md)
		}
	}
	m := members(t, a, abi.MembersRemove, identity(t, third))
	for _, s := range etcdGoSecrets() {
		if s.name == "after-removal" {
			set(t, a, s.name, s.value, s.md)
		}
	}
	checkEtcdGoSecrets(t, a, "Team")
	kvs, _, err := c.Client("", "").Prefix(context.Background(), []byte(prefix))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Get(ctx, engine.GetRequest{Name: engine.IdentitySecret, Vault: "LocalStore"})
	if err != nil {
		t.Fatal(err)
	}
	fx := etcdGoTeam{Prefix: prefix, Identity: id.Value.(string), Members: m.Members,
		Comment: "written by the Go guest of builtin:etcd (extensions/etcd.wasm of 55fdfa0) with engine/etcdgo_test.go -etcd-go-wasm; the identity is member A's, made for this test alone"}
	for _, kv := range kvs {
		fx.KVs = append(fx.KVs, etcdGoKeyValue{Key: kv.Key, Value: kv.Value})
	}
	if _, err := c.Client("", "").Delete(ctx, []byte(prefix), true); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(fx, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(etcdGoFixture), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(etcdGoFixture, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
