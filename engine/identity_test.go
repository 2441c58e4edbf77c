package engine_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestIdentityMadeOnceAndKept: the first Identity makes the age identity
// and keeps it as a string in the default vault; the next gives the same
// recipient, whose identity that secret holds. (Two processes making it at
// once are left to the no-clobber write, which this test does not force.)
func TestIdentityMadeOnceAndKept(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	got := make([]string, 2)
	for i := range got {
		var err error
		if got[i], err = e.Identity(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got[1] != got[0] || !strings.HasPrefix(got[0], "age1") {
		t.Fatalf("Identity gave %q, then %q", got[0], got[1])
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: engine.IdentitySecret, Vault: "LocalStore"})
	if err != nil {
		t.Fatal(err)
	}
	text, ok := s.Value.(string)
	if !ok {
		t.Fatalf("%s is a %T, want a string", engine.IdentitySecret, s.Value)
	}
	id, err := age.ParseX25519Identity(text)
	if err != nil || id.Recipient().String() != got[0] {
		t.Fatalf("the kept identity's recipient is not the one printed (%v)", err)
	}
}

// teamVault registers the sandbox's keyvault guest, which runs the age
// functions on command, as Team, granted identity.
func teamVault(t *testing.T, e *engine.Engine) {
	t.Helper()
	reg := engine.Registration{Name: "Team", Extension: testwasm.Build(t, "engine/internal/sandbox/testdata/keyvault"),
		Grants: engine.Grants{Storage: true, Identity: true}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
}

func command(t *testing.T, e *engine.Engine, cmd string) string {
	t.Helper()
	s, err := e.Get(ctx, engine.GetRequest{Name: cmd, Vault: "Team"})
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	out, _ := s.Value.(string)
	return out
}

// TestIdentityGrantedVault: a vault granted identity works with the
// identity kept in the default vault: it learns its recipient, and what it
// wraps to it opens with that identity.
func TestIdentityGrantedVault(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	teamVault(t, e)
	r, err := e.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := command(t, e, "cmd agerecipient"); got != r {
		t.Fatalf("the vault's recipient is %q, want the user's %s", got, r)
	}
	key := bytes.Repeat([]byte{7}, 32)
	out := command(t, e, "cmd agewrap "+hex.EncodeToString(key)+" "+hex.EncodeToString([]byte(r)))
	file, err := hex.DecodeString(out)
	if err != nil {
		t.Fatalf("agewrap: %s", out)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: engine.IdentitySecret, Vault: "LocalStore"})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.ParseX25519Identity(s.Value.(string))
	rd, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatalf("the file the vault wrapped does not open with the user's identity: %v", err)
	}
	if got, _ := io.ReadAll(rd); !bytes.Equal(got, key) {
		t.Fatalf("the file holds %x", got)
	}
}

// TestIdentityVaultRefusals: without a default vault, and with a default
// vault granted identity itself, there is no identity: said with the
// sentinel, and the vault granted identity does not load.
func TestIdentityVaultRefusals(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	teamVault(t, e)
	if err := e.SetDefault(ctx, engine.SetDefaultRequest{Vault: "Team"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Identity(ctx); !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "granted identity") {
		t.Fatalf("Identity with the default vault granted identity: %v, want ErrInvalidArgument", err)
	}
	if err := e.SetDefault(ctx, engine.SetDefaultRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Identity(ctx); !errors.Is(err, engine.ErrNoDefaultVault) {
		t.Fatalf("Identity without a default vault: %v, want ErrNoDefaultVault", err)
	}
}
