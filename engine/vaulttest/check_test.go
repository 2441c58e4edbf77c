package vaulttest_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

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
	if len(good) < 13 {
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

// stuck answers Set only when its context ends, or, if deaf, never (until
// released).
type stuck struct {
	*memvault.Vault
	deaf    bool
	release chan struct{}
}

func (s stuck) Set(ctx context.Context, _ string, _ abi.Value, _ abi.Metadata) error {
	if s.deaf {
		<-s.release
		return context.Canceled
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestCheckStream: a vault that does not answer is reported test by test, in
// suite order, each as it ends; a test stops at its deadline, and one whose
// vault ignores the deadline is left behind.
func TestCheckStream(t *testing.T) {
	for _, deaf := range []bool{false, true} {
		release := make(chan struct{})
		defer close(release)
		open := func() (engine.Vault, func(), error) {
			return stuck{memvault.New(memvault.Options{}), deaf, release}, func() {}, nil
		}
		var reported []string
		results := vaulttest.CheckStream(context.Background(), open, vaulttest.Options{}, 100*time.Millisecond, func(rs []vaulttest.Result) {
			if strings.Contains(rs[0].Name, "/") {
				t.Errorf("reported %q first, want a top-level test", rs[0].Name)
			}
			reported = append(reported, rs[0].Name)
			if rs[0].Name != "RoundTrip" {
				return
			}
			want := "stopped at its deadline of 100ms"
			if deaf {
				want = "did not return within 100ms of its deadline of 100ms; left behind"
			}
			if !rs[0].Failed || !slices.Contains(rs[0].Messages, want) {
				t.Errorf("deaf=%v: RoundTrip: failed=%v %q, want failed with %q", deaf, rs[0].Failed, rs[0].Messages, want)
			}
		})
		var top []string
		for _, r := range results {
			if !strings.Contains(r.Name, "/") {
				top = append(top, r.Name)
			}
		}
		if !slices.Equal(reported, top) || len(top) != 13 {
			t.Errorf("deaf=%v: reported %q, want each of the 13 top-level tests once, in order: %q", deaf, reported, top)
		}
	}
}

// ownClock gives up on Set at its context's deadline by its own timer and
// returns DeadlineExceeded, as the sandbox stops a guest: possibly before
// the context itself reports that its deadline passed.
type ownClock struct{ *memvault.Vault }

func (ownClock) Set(ctx context.Context, _ string, _ abi.Value, _ abi.Metadata) error {
	if d, ok := ctx.Deadline(); ok {
		time.Sleep(time.Until(d))
	}
	return context.DeadlineExceeded
}

// TestCheckStreamOwnClock: a test whose vault gave up at the deadline is
// reported as stopped at its deadline, even when it returns before its
// context says that the deadline passed.
func TestCheckStreamOwnClock(t *testing.T) {
	open := func() (engine.Vault, func(), error) {
		return ownClock{memvault.New(memvault.Options{})}, func() {}, nil
	}
	const want = "stopped at its deadline of 20ms"
	stopped := 0
	for _, r := range vaulttest.CheckStream(context.Background(), open, vaulttest.Options{}, 20*time.Millisecond, nil) {
		if strings.Contains(r.Name, "/") || !r.Failed {
			continue
		}
		if !slices.Contains(r.Messages, want) {
			t.Errorf("%s: %q, want %q", r.Name, r.Messages, want)
		}
		stopped++
	}
	if stopped < 8 {
		t.Errorf("%d tests stopped, want the 8 that set a secret", stopped)
	}
}
