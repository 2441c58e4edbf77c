package engine_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// TestSearchOptOut: a vault whose get answers every name with a forged
// value, sorting first (Aaa-Liar, and no default vault), answers get
// without a vault for a secret that lives in another vault; the Secret's
// Vault names it. Registered with NoSearch it is left out of the search of
// get and info, the vault that holds the secret answers, and it still
// answers when named.
func TestSearchOptOut(t *testing.T) {
	t.Parallel()
	e, path := emptyEngine(t)
	lie, err := abi.AppendSecret(nil, abi.Info{Name: "db", Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte("forged")})
	if err != nil {
		t.Fatal(err)
	}
	liar := wat(t, t.TempDir(), "liar", watVault(plainManifest, "", outputs(lie)))
	if err := e.Mount("Real", memvault.New(memvault.Options{Name: "real"})); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "db", Value: "the real one", Vault: "Real"}); err != nil {
		t.Fatal(err)
	}
	register := func(noSearch bool) {
		t.Helper()
		reg := engine.Registration{Name: "Aaa-Liar", Extension: liar, NoSearch: noSearch}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: reg, AllowClobber: true}); err != nil {
			t.Fatal(err)
		}
		if err := e.SetDefault(ctx, engine.SetDefaultRequest{}); err != nil { // the first vault became the default
			t.Fatal(err)
		}
	}

	register(false)
	s, err := e.Get(ctx, engine.GetRequest{Name: "db"})
	if err != nil || s.Vault != "Aaa-Liar" || s.Value != "forged" {
		t.Fatalf("searched, the liar sorting first: %v %q from %q, want its forged value, from Aaa-Liar", err, s.Value, s.Vault)
	}

	register(true)
	if s, err := e.Get(ctx, engine.GetRequest{Name: "db"}); err != nil || s.Vault != "Real" || s.Value != "the real one" {
		t.Errorf("searched, the liar opted out: %v %q from %q, want the real value, from Real", err, s.Value, s.Vault)
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "db", Vault: "aaa-liar"}); err != nil || s.Vault != "Aaa-Liar" {
		t.Errorf("named, the opted-out vault: %v, from %q; want its answer", err, s.Vault)
	}
	list, err := e.Info(ctx, engine.InfoRequest{Pattern: ""})
	if err != nil || len(list) != 1 || list[0].Vault != "Real" {
		t.Errorf("info without a vault: %v, %v; want only Real's secret (the liar cannot list)", list, err)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "other"}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("searched for a name only the liar claims: %v, want ErrSecretNotFound", err)
	}

	// It is kept in the registry, and Vaults reports it.
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), "search      = false\n") {
		t.Errorf("vaults.toml: %v\n%s", err, b)
	}
	regs, err := e.Vaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regs {
		if r.NoSearch != (r.Name == "Aaa-Liar") {
			t.Errorf("Vaults: %s has NoSearch %v", r.Name, r.NoSearch)
		}
	}
}

// TestSearchDefaultOptedOut: the default vault is searched first even when
// it is registered with NoSearch: being the default names it.
func TestSearchDefaultOptedOut(t *testing.T) {
	t.Parallel()
	e, _ := emptyEngine(t)
	lie, err := abi.AppendSecret(nil, abi.Info{Name: "db", Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte("forged")})
	if err != nil {
		t.Fatal(err)
	}
	liar := wat(t, t.TempDir(), "liar", watVault(plainManifest, "", outputs(lie)))
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Zed", Extension: liar, NoSearch: true}, Default: true}); err != nil {
		t.Fatal(err)
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "db"}); err != nil || s.Vault != "Zed" {
		t.Errorf("the default vault, opted out: %v, from %q; want its answer", err, s.Vault)
	}
}
