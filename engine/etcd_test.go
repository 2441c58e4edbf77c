//go:build unix

package engine_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/etcdtest"
)

// The team vault builtin:etcd on a real three-member cluster
// (internal/etcdtest). Each user is an engine over a home of its own: a
// default vault that keeps the age identity, and Team.

// prefixes numbers the teams of a test run, so that tests sharing a
// cluster never share a team.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("team%d/", prefixes.Add(1)) }

// teamUser returns a user's engine with Team registered on prefix of c,
// with the extra parameters params (key=value).
func teamUser(t testing.TB, c *etcdtest.Cluster, prefix string, params ...string) *engine.Engine {
	t.Helper()
	e := newEngine(t)
	registerTeam(t, e, "Team", c, prefix, params...)
	return e
}

// registerTeam registers the vault name in e: builtin:etcd on prefix of c,
// with the extra parameters params (key=value).
func registerTeam(t testing.TB, e *engine.Engine, name string, c *etcdtest.Cluster, prefix string, params ...string) {
	t.Helper()
	p := map[string]any{"prefix": prefix, "endpoints": strings.Join(c.Endpoints(), ",")}
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		p[k] = v
	}
	reg := engine.Registration{Name: name, Extension: "builtin:etcd", Parameters: p,
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: slices.Sorted(slices.Values(c.Endpoints()))}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
}

func identity(t testing.TB, e *engine.Engine) string {
	t.Helper()
	r, err := e.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func members(t testing.TB, e *engine.Engine, action, arg string) abi.Members {
	t.Helper()
	r := engine.MembersRequest{Vault: "Team", Action: action, Recipient: arg}
	if action == abi.MembersAccept {
		r = engine.MembersRequest{Vault: "Team", Action: action, Digest: arg}
	}
	m, err := e.Members(ctx, r)
	if err != nil {
		t.Fatalf("members %s: %v", action, err)
	}
	return m
}

// testEtcdConformance runs the conformance suite on builtin:etcd: each
// subtest a team of one member on a prefix of its own, on one cluster.
// The teams are vaults of one engine (Team1, Team2, ...), so that the
// guests are compiled and loaded, and the identity made, once rather than
// for each subtest: what the suite checks is the vault, and each subtest
// still has a vault, a prefix and a team of its own.
func testEtcdConformance(t *testing.T, c *etcdtest.Cluster) {
	e := newEngine(t)
	self := identity(t, e)
	n := 0
	vaulttest.Run(t, func(t *testing.T) engine.Vault {
		n++
		name := fmt.Sprintf("Team%d", n)
		registerTeam(t, e, name, c, newPrefix())
		if _, err := e.Members(ctx, engine.MembersRequest{Vault: name, Action: abi.MembersAdd, Recipient: self}); err != nil {
			t.Fatal(err)
		}
		v, err := e.Vault(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, vaulttest.Options{Concurrency: 4})
}

// testEtcdNoTeam: before the first members add, an operation says there
// is no team and how to make one.
func testEtcdNoTeam(t *testing.T, c *etcdtest.Cluster) {
	e := teamUser(t, c, newPrefix())
	_, err := e.Get(ctx, engine.GetRequest{Name: "x", Vault: "Team"})
	if !errors.Is(err, engine.ErrSecretNotFound) || !strings.Contains(err.Error(), "sesame vault members add Team age1") {
		t.Fatalf("get before the team exists: %v", err)
	}
}

// twoUsers returns A and B, each with Team on one new prefix of c, A having
// made the team with both and B having accepted it.
func twoUsers(t *testing.T, c *etcdtest.Cluster, params ...string) (a, b *engine.Engine) {
	t.Helper()
	prefix := newPrefix()
	a, b = teamUser(t, c, prefix, params...), teamUser(t, c, prefix, params...)
	rb := identity(t, b)
	m := members(t, a, abi.MembersAdd, rb)
	if len(m.Members) != 2 || m.Changed {
		t.Fatalf("A's team after adding B: %+v", m)
	}
	if _, err := b.Get(ctx, engine.GetRequest{Name: "x", Vault: "Team"}); !errors.Is(err, engine.ErrPermissionDenied) ||
		!strings.Contains(err.Error(), "you have not accepted this team's member list yet (2 members)") {
		t.Fatalf("B before accepting: %v", err)
	}
	lb := members(t, b, abi.MembersList, "")
	if !lb.Changed || lb.Self != rb || !slices.Contains(lb.Members, rb) || !slices.Contains(lb.Members, identity(t, a)) {
		t.Fatalf("B's view of the new team: %+v", lb)
	}
	if m := members(t, b, abi.MembersAccept, lb.Digest); m.Changed {
		t.Fatalf("B's team after accepting: %+v", m)
	}
	return a, b
}

func set(t *testing.T, e *engine.Engine, name string, v any, md engine.Metadata) {
	t.Helper()
	if _, err := e.Set(ctx, engine.SetRequest{Name: name, Vault: "Team", Value: v, Metadata: md}); err != nil {
		t.Fatalf("set %s: %v", name, err)
	}
}

// testEtcdTeamOfTwo: A makes the team with B; B, once it accepted the
// member list, reads what A wrote with its type and metadata, and A what B
// wrote.
func testEtcdTeamOfTwo(t *testing.T, c *etcdtest.Cluster) {
	a, b := twoUsers(t, c)
	when := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cred := engine.Credential{UserName: "app", Password: "db-pass-1f3a"}
	set(t, a, "db", cred, engine.Metadata{"owner": "ops", "rotated": when, "uses": int64(3)})
	s, err := b.Get(ctx, engine.GetRequest{Name: "db", Vault: "Team"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != cred || s.Type != engine.TypeCredential || s.Metadata["owner"] != "ops" || s.Metadata["uses"] != int64(3) ||
		!when.Equal(s.Metadata["rotated"].(time.Time)) {
		t.Fatalf("B read %+v", s)
	}
	set(t, b, "token", "tok-77", nil)
	if s, err := a.Get(ctx, engine.GetRequest{Name: "token", Vault: "Team"}); err != nil || s.Value != "tok-77" {
		t.Fatalf("A read B's token: %+v, %v", s, err)
	}
}

// testEtcdNoClobberRace: A and B set the same name with no clobber at the
// same moment, 20 times: each time exactly one wins, and the other is told
// the secret exists.
func testEtcdNoClobberRace(t *testing.T, c *etcdtest.Cluster) {
	a, b := twoUsers(t, c)
	for round := range 20 {
		name := fmt.Sprintf("race-%d", round)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, e := range []*engine.Engine{a, b} {
			wg.Go(func() {
				_, errs[i] = e.Set(ctx, engine.SetRequest{Name: name, Vault: "Team", Value: fmt.Sprint(i), NoClobber: true})
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: both won", round)
			case err == nil:
				won = i
			case !errors.Is(err, engine.ErrNoClobber):
				t.Fatalf("round %d: user %d: %v, want ErrNoClobber", round, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither won", round)
		}
		for _, e := range []*engine.Engine{a, b} {
			if s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"}); err != nil || s.Value != fmt.Sprint(won) {
				t.Fatalf("round %d: %+v, %v; want the winner's %d", round, s, err, won)
			}
		}
	}
}

// testEtcdLeaderKilled: eight writers, four for each user, write while the
// leader is killed with SIGKILL. Every write acknowledged is read back
// afterwards by both users, and every writer has a write acknowledged after
// the kill: the clients moved to a live member within the call's deadline.
func testEtcdLeaderKilled(t *testing.T, c *etcdtest.Cluster) {
	a, b := twoUsers(t, c)
	const writers = 8
	var (
		killed atomic.Bool
		writes atomic.Int64 // acknowledged, by all writers
		wg     sync.WaitGroup
		acked  [writers][]string
		after  [writers]int
		failed [writers][]error
	)
	for w := range writers {
		e := []*engine.Engine{a, b}[w%2]
		wg.Go(func() {
			for n := 0; after[w] < 3 && n < 200; n++ {
				wasKilled := killed.Load()
				name := fmt.Sprintf("w%d-%d", w, n)
				if _, err := e.Set(ctx, engine.SetRequest{Name: name, Vault: "Team", Value: name}); err != nil {
					failed[w] = append(failed[w], err)
					continue
				}
				acked[w] = append(acked[w], name)
				writes.Add(1)
				if wasKilled {
					after[w]++
				}
			}
		})
	}
	for writes.Load() < writers {
		time.Sleep(10 * time.Millisecond) // the writers are under way
	}
	c.Kill(c.Leader())
	killed.Store(true)
	wg.Wait()
	for w := range writers {
		if after[w] < 3 {
			t.Errorf("writer %d: %d writes acknowledged after the kill, want 3; its failures: %v", w, after[w], failed[w])
		}
		for _, err := range failed[w] {
			if !errors.Is(err, engine.ErrUnavailable) && !errors.Is(err, engine.ErrDeadline) {
				t.Errorf("writer %d: a write failed with %v, want ErrUnavailable or ErrDeadline", w, err)
			}
		}
		for _, name := range acked[w] {
			for _, e := range []*engine.Engine{a, b} {
				if s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"}); err != nil || s.Value != name {
					t.Fatalf("the acknowledged %s: %+v, %v", name, s, err)
				}
			}
		}
	}
}

// TestEtcdTeam runs the tests of the team vault on two clusters, each test
// on a prefix of its own: a cluster costs its members' start, about 0.4 s
// of CPU for three, and about 30 ms of CPU per second it runs. Those whose
// point is not a quorum run first on one member (every member does every
// write: on three, etcd spent 8.2 s of CPU on these tests; so, 4.3), which
// is then stopped; Auth, which turns
// authentication on for good, comes last there. Then the tests that need a
// quorum run on three members, each leaving a quorum to the next:
// LeaderKilled kills the leader, NoQuorum stops all but one member and
// then starts one again.
func TestEtcdTeam(t *testing.T) {
	t.Parallel() // they wait on etcd: run beside one another, after the rest
	type test struct {
		name string
		fn   func(*testing.T, *etcdtest.Cluster)
	}
	one := etcdtest.StartOne(t)
	for _, tt := range []test{
		{"Conformance", testEtcdConformance},
		{"NoTeam", testEtcdNoTeam},
		{"TeamOfTwo", testEtcdTeamOfTwo},
		{"NoClobberRace", testEtcdNoClobberRace},
		{"RemoveMember", testEtcdRemoveMember},
		{"NothingInClear", testEtcdNothingInClear},
		{"NoSilentRecipient", testEtcdNoSilentRecipient},
		{"NoForgedPrev", testEtcdNoForgedPrev},
		{"RemoveInterrupted", testEtcdRemoveInterrupted},
		{"Conflict", testEtcdConflict},
		{"RemoveDeadline", testEtcdRemoveDeadline},
		{"SetRequests", testEtcdSetRequests},
		{"StaleHint", testEtcdStaleHint},
		{"WriteRace", testEtcdWriteRace},
		{"GoGuestRecords", testEtcdGoGuestRecords},
		{"InstancesRetired", testEtcdInstancesRetired},
		{"Auth", testEtcdAuth},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, one) })
	}
	one.Stop(0)
	three := etcdtest.Start(t)
	for _, tt := range []test{
		{"LeaderKilled", testEtcdLeaderKilled},
		{"NoQuorum", testEtcdNoQuorum},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, three) })
	}
}

// testEtcdNoQuorum: with two of three members down (the one LeaderKilled
// killed, if it ran before, and those stopped here), a write fails with
// ErrUnavailable, saying etcd is unavailable, within the call's deadline;
// once a second member is back, it succeeds.
func testEtcdNoQuorum(t *testing.T, c *etcdtest.Cluster) {
	e := teamUser(t, c, newPrefix())
	members(t, e, abi.MembersAdd, identity(t, e))
	up := 0
	for i := range etcdtest.Size {
		if c.Running(i) {
			if up++; up > 1 {
				c.Stop(i)
			}
		}
	}
	_, err := e.Set(ctx, engine.SetRequest{Name: "x", Vault: "Team", Value: "v"})
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "etcd is unavailable") {
		t.Fatalf("a write without quorum: %v, want ErrUnavailable saying etcd is unavailable", err)
	}
	for i := range etcdtest.Size {
		if !c.Running(i) {
			c.Restart(i)
			break
		}
	}
	set(t, e, "x", "v", nil)
}

// testEtcdRemoveMember: after A removes B, B cannot read what is written
// afterwards, nor what was written before (moved to the new key), while A
// reads both.
func testEtcdRemoveMember(t *testing.T, c *etcdtest.Cluster) {
	a, b := twoUsers(t, c)
	set(t, a, "before", "old", engine.Metadata{"k": "v"})
	// B reads first, so that its vault holds the team's keys when removed.
	if s, err := b.Get(ctx, engine.GetRequest{Name: "before", Vault: "Team"}); err != nil || s.Value != "old" {
		t.Fatalf("B reads before its removal: %+v, %v", s, err)
	}
	m := members(t, a, abi.MembersRemove, identity(t, b))
	if len(m.Members) != 1 || m.Members[0] != identity(t, a) || m.Changed {
		t.Fatalf("A's team after removing B: %+v", m)
	}
	set(t, a, "after", "new", nil)
	for _, name := range []string{"before", "after"} {
		_, err := b.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"})
		if !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), "you are not a member of the team") {
			t.Fatalf("B reads %s after its removal: %v", name, err)
		}
		if s, err := a.Get(ctx, engine.GetRequest{Name: name, Vault: "Team"}); err != nil || s.Value == nil {
			t.Fatalf("A reads %s after the removal: %+v, %v", name, s, err)
		}
	}
	if s, _ := a.Get(ctx, engine.GetRequest{Name: "before", Vault: "Team"}); s.Metadata["k"] != "v" {
		t.Fatalf("the moved record lost its metadata: %+v", s)
	}
}

// testEtcdNothingInClear: what etcdctl get --prefix shows of a team holds
// no secret's name, value or metadata.
func testEtcdNothingInClear(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	a := teamUser(t, c, prefix)
	members(t, a, abi.MembersAdd, identity(t, a))
	set(t, a, "payroll-db-password", engine.Credential{UserName: "payroll-admin", Password: "hunter2-c0ffee"},
		engine.Metadata{"environment": "production-eu", "ticket": "OPS-4242"})
	set(t, a, "stripe-api-key", engine.Hashtable{"live-key": "sk_live_7f00d", "note": "rotate-quarterly"}, nil)
	etcdctl, err := exec.LookPath("etcdctl")
	if err != nil {
		t.Fatalf("etcdctl is not installed (Debian package etcd-client): %v", err)
	}
	cmd := exec.Command(etcdctl, "--endpoints="+strings.Join(c.Endpoints(), ","), "get", "--prefix", prefix)
	cmd.Env = []string{"ETCDCTL_API=3"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl get: %v: %s", err, out)
	}
	if !strings.Contains(string(out), prefix+"team") || strings.Count(string(out), prefix+recordsDir) != 2 {
		t.Fatalf("etcdctl get --prefix %s shows:\n%s\nwant the team record and two records", prefix, out)
	}
	for _, clear := range []string{"payroll", "db-password", "hunter2", "c0ffee", "environment", "production", "OPS-4242",
		"ticket", "stripe", "api-key", "live-key", "sk_live", "rotate", "quarterly", "note"} {
		if strings.Contains(strings.ToLower(string(out)), strings.ToLower(clear)) {
			t.Errorf("etcdctl get --prefix %s shows %q in clear:\n%s", prefix, clear, out)
		}
	}
}

// recordsDir is where builtin:etcd keeps the records under its prefix.
const recordsDir = "s/"

// testEtcdAuth: with authentication on, the vault works with the user and
// the password given as a reference to a secret of the default vault, and
// vaults.toml does not hold the password.
func testEtcdAuth(t *testing.T, c *etcdtest.Cluster) {
	const password = "etcd-pw-9c1e"
	c.EnableAuth("team", password)
	e := newEngine(t)
	if _, err := e.Set(ctx, engine.SetRequest{Name: "etcd-password", Vault: "LocalStore", Value: password}); err != nil {
		t.Fatal(err)
	}
	reg := engine.Registration{Name: "Team", Extension: "builtin:etcd", Parameters: map[string]any{
		"prefix": newPrefix(), "endpoints": strings.Join(c.Endpoints(), ","),
		"user": "team", "password": "sesame:LocalStore/etcd-password"},
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: slices.Sorted(slices.Values(c.Endpoints()))}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	members(t, e, abi.MembersAdd, identity(t, e))
	set(t, e, "k", "v", nil)
	if s, err := e.Get(ctx, engine.GetRequest{Name: "k", Vault: "Team"}); err != nil || s.Value != "v" {
		t.Fatalf("get with authentication: %+v, %v", s, err)
	}
	toml, err := os.ReadFile(e.Path())
	if err != nil || strings.Contains(string(toml), password) {
		t.Fatalf("vaults.toml holds the password (or cannot be read: %v)", err)
	}
	// A wrong password is refused by etcd, and said so.
	if _, err := e.Set(ctx, engine.SetRequest{Name: "etcd-password", Vault: "LocalStore", Value: "wrong-pw-7f3a"}); err != nil {
		t.Fatal(err)
	}
	e2, err := engine.Open(ctx, e.Path(), &engine.Options{DataDir: filepath.Join(filepath.Dir(e.Path()), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	_, err = e2.Get(ctx, engine.GetRequest{Name: "k", Vault: "Team"})
	if !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), `etcd refused the user "team"`) {
		t.Fatalf("a wrong etcd password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-pw-7f3a") || strings.Contains(err.Error(), password) {
		t.Fatalf("the error of a wrong etcd password shows a password: %v", err)
	}
}

// forgeTeam writes, as someone with write access to etcd but no member
// identity would, a team record of a key of their own wrapped to members,
// with a valid check under that key: all a forger can do.
func forgeTeam(t *testing.T, c *etcdtest.Cluster, prefix string, members []string) {
	t.Helper()
	if _, err := c.Client("", "").Put(ctx, []byte(prefix+"team"), forgeRecord(t, 1, members, nil)); err != nil {
		t.Fatal(err)
	}
}

// forgeRecord makes a team record of generation gen, a new key wrapped to
// members, and prev (when not nil) as the previous key, in the format of
// extensions/etcd (team.c).
func forgeRecord(t *testing.T, gen int, members []string, prev []byte) []byte {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return forgeRecordOf(t, key, gen, members, prev)
}

// forgeRecordOf is forgeRecord with the team key key.
func forgeRecordOf(t testing.TB, key []byte, gen int, members []string, prev []byte) []byte {
	t.Helper()
	checkKey, err := hkdf.Key(sha256.New, key, nil, "sesame etcd members", 32)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, checkKey)
	fmt.Fprintf(mac, "%d\n%s", gen, strings.Join(members, "\n"))
	rec := map[string]any{"gen": gen, "members": members, "key": ageWrap(t, key, members)}
	if prev != nil {
		file := ageWrap(t, prev, members)
		rec["prev"] = file
		fmt.Fprintf(mac, "\nprev %x", sha256.Sum256(file))
	}
	rec["check"] = mac.Sum(nil)
	b, _ := json.Marshal(rec)
	return b
}

func ageWrap(t testing.TB, key []byte, members []string) []byte {
	t.Helper()
	var recips []age.Recipient
	for _, m := range members {
		r, err := age.ParseX25519Recipient(m)
		if err != nil {
			t.Fatal(err)
		}
		recips = append(recips, r)
	}
	var file bytes.Buffer
	w, err := age.Encrypt(&file, recips...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(key)
	w.Close()
	return file.Bytes()
}

// testEtcdNoSilentRecipient: a team record replaced behind the members'
// backs, by someone who adds their own recipient, or who keeps the list
// and puts in a key of their own, stops every operation, naming the
// change, until the user accepts it; a list changed without the key is
// refused outright; an accept of a digest other than the list's is
// refused.
func testEtcdNoSilentRecipient(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	a := teamUser(t, c, prefix)
	ra := identity(t, a)
	members(t, a, abi.MembersAdd, ra)
	set(t, a, "k", "v", nil)
	stranger, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rs := stranger.Recipient().String()
	for _, tc := range []struct {
		name    string
		members []string
		want    string
	}{
		{"added", slices.Sorted(slices.Values([]string{ra, rs})), "the team's member list changed since you accepted it; added: " + rs + ": review it with sesame vault members list Team"},
		{"key replaced", []string{ra}, "the team's member list changed since you accepted it; the team key was replaced"},
	} {
		forgeTeam(t, c, prefix, tc.members)
		for _, op := range []func() error{
			func() error {
				_, err := a.Set(ctx, engine.SetRequest{Name: "new", Vault: "Team", Value: "x"})
				return err
			},
			func() error { _, err := a.Get(ctx, engine.GetRequest{Name: "k", Vault: "Team"}); return err },
			func() error {
				_, err := a.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersAdd, Recipient: rs})
				return err
			},
		} {
			if err := op(); !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%s: an operation after the forged record: %v", tc.name, err)
			}
		}
		m := members(t, a, abi.MembersList, "")
		if !m.Changed || !slices.Equal(m.Members, tc.members) {
			t.Fatalf("%s: members list shows %+v", tc.name, m)
		}
		_, err := a.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersAccept, Digest: "0123"})
		if !errors.Is(err, engine.ErrConflict) {
			t.Fatalf("%s: accept of another digest: %v", tc.name, err)
		}
	}
	// Members changed without the key: the check fails.
	kv, _, err := c.Client("", "").Get(ctx, []byte(prefix+"team"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.Unmarshal(kv.Value, &rec)
	rec["members"] = []string{ra, rs}
	b, _ := json.Marshal(rec)
	if _, err := c.Client("", "").Put(ctx, []byte(prefix+"team"), b); err != nil {
		t.Fatal(err)
	}
	_, err = a.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersList})
	if !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), "was not written by a holder of the team key") {
		t.Fatalf("a member list changed without the key: %v", err)
	}
}

// testEtcdNoForgedPrev: a previous key that someone with write access to
// etcd but no member identity puts into the team record (a key of their
// own, wrapped to the members' public recipients) is refused like a
// changed member list. Unchecked, it made every member open the records
// of generation gen-1 with the forger's key: secrets the forger sealed
// there were read as the team's, and the next members command moved them
// under the real team key.
func testEtcdNoForgedPrev(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	a := teamUser(t, c, prefix)
	ra := identity(t, a)
	members(t, a, abi.MembersAdd, ra)
	set(t, a, "k", "v", nil)
	cl := c.Client("", "")
	kv, _, err := cl.Get(ctx, []byte(prefix+"team"))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	json.Unmarshal(kv.Value, &rec)
	forgersKey := make([]byte, 32)
	rand.Read(forgersKey)
	rec["prev"] = ageWrap(t, forgersKey, []string{ra})
	b, _ := json.Marshal(rec)
	if _, err := cl.Put(ctx, []byte(prefix+"team"), b); err != nil {
		t.Fatal(err)
	}
	_, err = a.Get(ctx, engine.GetRequest{Name: "k", Vault: "Team"})
	if !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), "was not written by a holder of the team key") {
		t.Fatalf("a get after a forged previous key: %v, want the team record refused", err)
	}
}

// testEtcdRemoveInterrupted: a removal stopped after it wrote the new team
// key and before it moved any record (the state a crash there leaves,
// written here with a member's identity) loses nothing: the records, all
// still under the previous key, are read through it, and the next members
// command (accept) moves them all to the new key and drops the previous
// one.
func testEtcdRemoveInterrupted(t *testing.T, c *etcdtest.Cluster) {
	prefix := newPrefix()
	a := teamUser(t, c, prefix)
	ra := identity(t, a)
	members(t, a, abi.MembersAdd, ra)
	const n = 5
	for i := range n {
		set(t, a, fmt.Sprintf("s%d", i), fmt.Sprintf("v%d", i), engine.Metadata{"i": int64(i)})
	}
	s, err := a.Get(ctx, engine.GetRequest{Name: engine.IdentitySecret, Vault: "LocalStore"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(s.Value.(string))
	if err != nil {
		t.Fatal(err)
	}
	cl := c.Client("", "")
	kv, _, err := cl.Get(ctx, []byte(prefix+"team"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Key []byte `json:"key"`
	}
	json.Unmarshal(kv.Value, &rec)
	r, err := age.Decrypt(bytes.NewReader(rec.Key), id)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := io.ReadAll(r)
	// Before it, a stranger's record of a far generation, seen and refused
	// (not accepted), then taken back: it must not count as a generation
	// this member saw settled, or the removal's previous key below would be
	// ignored and the records under it lost to this member.
	if _, err := cl.Put(ctx, []byte(prefix+"team"), forgeRecord(t, 1<<40, []string{ra}, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, engine.GetRequest{Name: "s0", Vault: "Team"}); !errors.Is(err, engine.ErrPermissionDenied) {
		t.Fatalf("a get under a stranger's team record: %v, want it refused", err)
	}
	// The crash's state: generation 2 with the old key as prev.
	forged := forgeRecord(t, 2, []string{ra}, old)
	if _, err := cl.Put(ctx, []byte(prefix+"team"), forged); err != nil {
		t.Fatal(err)
	}
	m := members(t, a, abi.MembersList, "")
	if !m.Changed {
		t.Fatalf("the new key is not shown as a change: %+v", m)
	}
	members(t, a, abi.MembersAccept, m.Digest)
	for i := range n {
		s, err := a.Get(ctx, engine.GetRequest{Name: fmt.Sprintf("s%d", i), Vault: "Team"})
		if err != nil || s.Value != fmt.Sprintf("v%d", i) || s.Metadata["i"] != int64(i) {
			t.Fatalf("s%d after the interrupted removal: %+v, %v", i, s, err)
		}
	}
	kvs, _, err := cl.Prefix(ctx, []byte(prefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		switch {
		case string(kv.Key) == prefix+"team":
			if strings.Contains(string(kv.Value), `"prev"`) {
				t.Errorf("the team record keeps the previous key after the move: %s", kv.Value)
			}
		case len(kv.Value) < 8 || kv.Value[7] != 2:
			t.Errorf("%s is still under generation %d", kv.Key, kv.Value[7])
		}
	}
	// The record of the removal put back once the move is over (by a
	// removed member, who knows the previous key and can seal records
	// under it): its check is good and its digest the accepted one, yet
	// it must not bring the previous key back.
	t.Run("Replayed", func(t *testing.T) {
		if _, err := cl.Put(ctx, []byte(prefix+"team"), forged); err != nil {
			t.Fatal(err)
		}
		key, value := sealUnder(t, prefix, old, 1, "planted", "the forger's")
		if _, err := cl.Put(ctx, key, value); err != nil {
			t.Fatal(err)
		}
		if s, err := a.Get(ctx, engine.GetRequest{Name: "planted", Vault: "Team"}); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Fatalf("a secret sealed under the previous key after the move: %+v, %v, want not found", s, err)
		}
		if s, err := a.Get(ctx, engine.GetRequest{Name: "s0", Vault: "Team"}); err != nil || s.Value != "v0" {
			t.Fatalf("s0 after the removal's record was put back: %+v, %v", s, err)
		}
	})
}

// sealUnder makes the etcd key and value of the string secret name in
// generation gen of team key k, as extensions/etcd (records.c) seals it:
// what someone who knows an old team key can write.
func sealUnder(t *testing.T, prefix string, k []byte, gen uint64, name, value string) ([]byte, []byte) {
	t.Helper()
	plain, err := abi.AppendSecret(nil, abi.Info{Name: name, Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte(value)})
	if err != nil {
		t.Fatal(err)
	}
	return sealPlain(t, prefix, k, gen, name, plain)
}

// sealPlain is sealUnder with the bytes plain in the box: its secret
// encoding, or anything else.
func sealPlain(t testing.TB, prefix string, k []byte, gen uint64, name string, plain []byte) ([]byte, []byte) {
	t.Helper()
	derive := func(info string) []byte {
		d, err := hkdf.Key(sha256.New, k, nil, info, 32)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	mac := hmac.New(sha256.New, derive("sesame etcd names"))
	mac.Write([]byte(name))
	key := base64.RawURLEncoding.AppendEncode([]byte(prefix+"s/"), mac.Sum(nil))
	aead, err := chacha20poly1305.NewX(derive("sesame etcd records"))
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	ad := binary.BigEndian.AppendUint64(append([]byte("sesame etcd record\x00"), key...), gen)
	out := binary.BigEndian.AppendUint64(nil, gen)
	out = append(out, nonce...)
	return key, aead.Seal(out, nonce, plain, ad)
}

// BenchmarkEtcdVault: get and set of one secret, and set --no-clobber of
// new ones, in builtin:etcd on a three-member loopback cluster, through
// the engine (the agent's side of a command): beside internal/etcdgw's BenchmarkGatewayGet and
// BenchmarkGatewayPut, the cost of the sandbox, the crypto and the
// transaction.
func BenchmarkEtcdVault(b *testing.B) {
	c := etcdtest.Start(b)
	e := teamUser(b, c, newPrefix())
	members(b, e, abi.MembersAdd, identity(b, e))
	if _, err := e.Set(ctx, engine.SetRequest{Name: "db", Vault: "Team", Value: "hunter2"}); err != nil {
		b.Fatal(err)
	}
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Get(ctx, engine.GetRequest{Name: "db", Vault: "Team"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Set(ctx, engine.SetRequest{Name: "db", Vault: "Team", Value: "hunter2"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// set --no-clobber of a new name: sesame_create.
	b.Run("create", func(b *testing.B) {
		n := 0
		for b.Loop() {
			n++
			if _, err := e.Set(ctx, engine.SetRequest{Name: fmt.Sprint("new-", n), Vault: "Team", Value: "hunter2", NoClobber: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// testEtcdInstancesRetired: the host retires an instance that grew large
// (or made 10 000 calls) and starts another, whose first call opens and
// caches the team again; the keys the retired one kept must not pile up in
// the vault's key table (64 keys), or after some twenty retirements every
// operation fails. A get of a large secret in a vault of 8 MiB grows its
// instance past the half that retires it, so each get here retires one.
func testEtcdInstancesRetired(t *testing.T, c *etcdtest.Cluster) {
	e := newEngine(t)
	reg := engine.Registration{Name: "Team", Extension: "builtin:etcd", Parameters: map[string]any{"prefix": newPrefix(), "endpoints": strings.Join(c.Endpoints(), ",")},
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: slices.Sorted(slices.Values(c.Endpoints())), Memory: 8 << 20}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	members(t, e, abi.MembersAdd, identity(t, e))
	big := strings.Repeat("v", 900<<10)
	set(t, e, "big", big, nil)
	for i := range 40 {
		if s, err := e.Get(ctx, engine.GetRequest{Name: "big", Vault: "Team"}); err != nil || s.Value != big {
			t.Fatalf("get %d of a large secret, each in an instance of its own: %v", i, err)
		}
	}
}
