package api

import (
	"os"
	"regexp"
	"testing"
)

// An operation's internal name never reaches the English: each reads as
// plain words, naming what it acted on once.
func TestErrorWording(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "info", Vault: "V", Err: ErrVaultNotFound}, "cannot list the secrets of vault V: vault not found"},
		{&Error{Op: "info", Err: ErrLocked}, "cannot list the secrets: vault is locked"},
		{&Error{Op: "set-info", Vault: "V", Secret: "n", Err: ErrSecretNotFound}, `cannot change the metadata of secret "n" in vault V: secret not found`},
		{&Error{Op: "set-password", Vault: "V", Err: ErrUnsupported}, "cannot change the password of vault V: operation not supported by the vault"},
		{&Error{Op: "set-default", Vault: "V", Err: ErrVaultNotFound}, "cannot make vault V the default: vault not found"},
		{&Error{Op: "open", Err: ErrRegistry}, "cannot open the vaults: registry error"},
		{&Error{Op: "vaults", Err: ErrUnavailable}, "cannot list the vaults: vault unavailable"},
		{&Error{Op: OpManifest, Vault: "V", Err: ErrUnavailable}, "cannot read the manifest of vault V: vault unavailable"},
		{&Error{Op: "get", Vault: "V", Secret: "n", Err: ErrSecretNotFound}, `cannot get secret "n" in vault V: secret not found`},
		{&Error{Op: "register", Vault: "V", Err: ErrVaultExists}, "cannot register vault V: vault already registered"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.err.Op, got, tt.want)
		}
	}
}

// Every operation name the engine and the agent put in an Error or an
// Action has its words in opPhrases: the sources are searched for them, so
// a new operation without words fails here rather than in a user's
// terminal.
func TestEveryOpHasWords(t *testing.T) {
	t.Parallel()
	// The engine's operations (op.go) and the agent's own messages
	// (internal/agent/wire.go), as declared.
	decls := map[string]*regexp.Regexp{
		"op.go":                        regexp.MustCompile(`\bOp\w*\s+Op\s*=\s*"([a-z-]+)"`),
		"../../internal/agent/wire.go": regexp.MustCompile(`\bop[A-Z]\w*\s*=\s*"([a-z-]+)"`),
	}
	seen := 0
	for f, decl := range decls {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			seen++
			if _, ok := opPhrases[Op(m[1])]; !ok {
				t.Errorf("%s: operation %q has no words in opPhrases", f, m[1])
			}
		}
	}
	if seen < 20 {
		t.Fatalf("found %d operation names; the search no longer matches the sources", seen)
	}
}
