//go:build unix

package engine_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

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
func teamUser(t *testing.T, c *etcdtest.Cluster, prefix string, params ...string) *engine.Engine {
	t.Helper()
	e := newEngine(t)
	p := map[string]any{"prefix": prefix, "endpoints": strings.Join(c.Endpoints(), ",")}
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		p[k] = v
	}
	reg := engine.Registration{Name: "Team", Extension: "builtin:etcd", Parameters: p,
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: slices.Sorted(slices.Values(c.Endpoints()))}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	return e
}

func identity(t *testing.T, e *engine.Engine) string {
	t.Helper()
	r, err := e.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func members(t *testing.T, e *engine.Engine, action, arg string) abi.Members {
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

// TestEtcdConformance runs the conformance suite on builtin:etcd: each
// subtest a team of one member on a prefix of its own, on one cluster.
func TestEtcdConformance(t *testing.T) {
	c := etcdtest.Start(t)
	vaulttest.Run(t, func(t *testing.T) engine.Vault {
		e := teamUser(t, c, newPrefix())
		members(t, e, abi.MembersAdd, identity(t, e))
		v, err := e.Vault(ctx, "Team")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, vaulttest.Options{Concurrency: 4})
}

// TestEtcdNoTeam: before the first members add, an operation says there
// is no team and how to make one.
func TestEtcdNoTeam(t *testing.T) {
	c := etcdtest.Start(t)
	e := teamUser(t, c, newPrefix())
	_, err := e.Get(ctx, engine.GetRequest{Name: "x", Vault: "Team"})
	if !errors.Is(err, engine.ErrSecretNotFound) || !strings.Contains(err.Error(), "sesame vault members add Team age1") {
		t.Fatalf("get before the team exists: %v", err)
	}
}
