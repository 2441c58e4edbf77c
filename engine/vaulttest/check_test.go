package vaulttest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/engine/vaulttest"
)

// forgetful drops every value it is given but claims success.
type forgetful struct{ *memvault.Vault }

func (forgetful) Set(context.Context, string, abi.Value, abi.Metadata) error { return nil }

func TestCheck(t *testing.T) {
	open := func(broken bool) func() (engine.Vault, func(), error) {
		return func() (engine.Vault, func(), error) {
			v := memvault.New(memvault.Options{})
			if broken {
				return forgetful{v}, func() {}, nil
			}
			return v, func() {}, nil
		}
	}
	good := vaulttest.Check(context.Background(), open(false), vaulttest.Options{})
	if len(good) < 12 {
		t.Fatalf("%d results, want every subtest", len(good))
	}
	for _, r := range good {
		if r.Failed {
			t.Errorf("memvault failed %s: %s", r.Name, strings.Join(r.Messages, "; "))
		}
	}
	bad := vaulttest.Check(context.Background(), open(true), vaulttest.Options{})
	failed := map[string]bool{}
	for _, r := range bad {
		if r.Failed {
			failed[r.Name] = true
		}
	}
	if !failed["RoundTrip"] || failed["Manifest"] {
		t.Errorf("a vault that forgets every value: failed %v; want RoundTrip failed and Manifest passed", failed)
	}
}
