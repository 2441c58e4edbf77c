package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// Options describe what the vault under test is expected to do. Whether it
// keeps metadata, its case rule and its optional operations come from its
// Manifest.
type Options struct {
	// Types lists the value types the vault accepts; nil means all five.
	// Others must be refused with an error wrapping abi.InvalidArgument (or
	// engine.ErrInvalidArgument).
	Types []abi.Type

	// MaxValue is the size in bytes of the largest value payload (the Data
	// of a bytes value) the vault must round-trip. 0 means the largest the
	// ABI can encode: abi.MaxValueBytes minus the encoding overhead, that is
	// a bytes value of abi.MaxValueBytes-1 bytes.
	MaxValue int

	// Concurrency is how many goroutines the Concurrent test uses; 0 means 8.
	Concurrency int

	// ValidName, if set, reports whether the vault accepts a secret name
	// (a dotenv vault accepts only shell variable names). The suite skips
	// the names it rejects, and the checks that need them.
	ValidName func(name string) bool
}

// allTypes are the five value types, in order.
var allTypes = []abi.Type{abi.TypeBytes, abi.TypeString, abi.TypeSecureString, abi.TypeCredential, abi.TypeHashtable}

// Run runs the conformance suite as subtests of t. newVault must return a
// fresh, empty vault each time it is called: Run calls it once per subtest,
// so that subtests are independent (a wasm vault hands out a vault over a
// fresh storage area). Run never calls it concurrently.
//
// The subtests are Manifest, RoundTrip, RefusedTypes, Overwrite, Create, Metadata,
// Stat, List, CaseRules, Sizes, Many, Concurrent and Test; select them with
// go test -run 'TestX/Run/List'. See the package documentation for what each
// checks.
func Run(t *testing.T, newVault func(t *testing.T) engine.Vault, opts Options) {
	t.Helper()
	run(goT{t}, func(t T) engine.Vault { return newVault(t.(goT).T) }, opts)
}

// T is what the suite needs of a test: the methods of *testing.T it uses,
// with Run taking a T, so that the same suite runs under go test (Run) and
// outside it (Check).
type T interface {
	Helper()
	Name() string
	Context() context.Context
	TempDir() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Run(name string, f func(T)) bool
}

// goT is a *testing.T as a T.
type goT struct{ *testing.T }

func (t goT) Run(name string, f func(T)) bool {
	return t.T.Run(name, func(t *testing.T) { f(goT{t}) })
}

func run(t T, newVault func(t T) engine.Vault, opts Options) {
	t.Helper()
	if newVault == nil {
		t.Fatal("vaulttest.Run: newVault is nil")
	}
	if err := opts.check(); err != nil {
		t.Fatalf("vaulttest.Run: %v", err)
	}
	tests := []struct {
		name string
		fn   func(T, *suite)
	}{
		{"Manifest", testManifest},
		{"RoundTrip", testRoundTrip},
		{"RefusedTypes", testRefusedTypes},
		{"Overwrite", testOverwrite},
		{"Create", testCreate},
		{"Metadata", testMetadata},
		{"Stat", testStat},
		{"List", testList},
		{"CaseRules", testCaseRules},
		{"Sizes", testSizes},
		{"Many", testMany},
		{"Concurrent", testConcurrent},
		{"Test", testTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t T) {
			v := newVault(t)
			if v == nil {
				t.Fatal("newVault returned nil")
			}
			s := newSuite(t, v, opts)
			if tt.name != "Manifest" {
				for _, op := range coreOps {
					if !s.supports(op) {
						t.Skipf("the vault does not support %s; the suite needs get, set, remove and list", op)
					}
				}
			}
			tt.fn(t, s)
		})
	}
}

func (o Options) check() error {
	for _, typ := range o.Types {
		if !typ.Valid() {
			return fmt.Errorf("Options.Types holds an invalid type %d", typ)
		}
	}
	if o.MaxValue < 0 || o.MaxValue > abi.MaxValueBytes-1 {
		return fmt.Errorf("Options.MaxValue is %d, want 0 to %d", o.MaxValue, abi.MaxValueBytes-1)
	}
	if o.Concurrency < 0 {
		return fmt.Errorf("Options.Concurrency is %d, want 0 or more", o.Concurrency)
	}
	return nil
}

// suite is the state of one subtest: a fresh vault and the resolved options.
type suite struct {
	ctx      context.Context
	v        engine.Vault
	m        abi.Manifest
	cs       bool       // case-sensitive names
	types    []abi.Type // accepted, in allTypes order
	maxValue int        // 0: the largest encodable
	workers  int
	valid    func(string) bool
}

func newSuite(t T, v engine.Vault, opts Options) *suite {
	m := v.Manifest()
	s := &suite{
		ctx:      t.Context(),
		v:        v,
		m:        m,
		cs:       m.CaseSensitive,
		maxValue: opts.MaxValue,
		workers:  opts.Concurrency,
		valid:    opts.ValidName,
	}
	for _, typ := range allTypes {
		if opts.Types == nil || slices.Contains(opts.Types, typ) {
			s.types = append(s.types, typ)
		}
	}
	if s.workers == 0 {
		s.workers = 8
	}
	if s.valid == nil {
		s.valid = func(string) bool { return true }
	}
	return s
}

var coreOps = []abi.Op{abi.OpGet, abi.OpSet, abi.OpRemove, abi.OpList}

// supports reports whether the vault supports op, by its manifest (no list
// means the core operations) and its methods, as the engine decides.
func (s *suite) supports(op abi.Op) bool {
	ops := s.m.Operations
	if ops == nil {
		ops = coreOps
	}
	return slices.Contains(ops, op) && implements(s.v, op)
}

// implements reports whether v has the methods of op.
func implements(v engine.Vault, op abi.Op) bool {
	var ok bool
	switch op {
	case abi.OpGet, abi.OpSet, abi.OpRemove, abi.OpList:
		ok = true
	case abi.OpStat:
		_, ok = v.(engine.Statter)
	case abi.OpSetMetadata:
		_, ok = v.(engine.MetadataSetter)
	case abi.OpUnlock, abi.OpLock:
		_, ok = v.(engine.Locker)
	case abi.OpSetPassword:
		_, ok = v.(engine.PasswordSetter)
	case abi.OpTest:
		_, ok = v.(engine.Tester)
	case abi.OpUnregister:
		_, ok = v.(engine.Unregisterer)
	case abi.OpCreate:
		_, ok = v.(engine.Creator)
	case abi.OpMembers:
		_, ok = v.(engine.MemberManager)
	}
	return ok
}

func (s *suite) accepts(typ abi.Type) bool { return slices.Contains(s.types, typ) }

// scalars returns the accepted types a hashtable entry may have, or all four
// when the vault accepts none of them on their own.
func (s *suite) scalars() []abi.Type {
	var out []abi.Type
	for _, typ := range s.types {
		if typ != abi.TypeHashtable {
			out = append(out, typ)
		}
	}
	if out == nil {
		out = allTypes[:4]
	}
	return out
}

// need skips t unless the vault accepts every name.
func (s *suite) need(t T, names ...string) {
	t.Helper()
	for _, n := range names {
		if !s.valid(n) {
			t.Skipf("Options.ValidName rejects %q", n)
		}
	}
}

// isStatus reports whether err wraps st or the engine sentinel it maps to.
func isStatus(err error, st abi.Status, sentinel error) bool {
	return err != nil && (errors.Is(err, st) || errors.Is(err, sentinel))
}

func isNotFound(err error) bool { return isStatus(err, abi.NotFound, engine.ErrSecretNotFound) }

// set stores a secret or stops the test.
func (s *suite) set(t T, name string, v abi.Value, md abi.Metadata) {
	t.Helper()
	if err := s.v.Set(s.ctx, name, v, md); err != nil {
		t.Fatalf("Set(%q, %s): %v", name, describe(v), err)
	}
}

// get reads a secret or stops the test.
func (s *suite) get(t T, name string) (abi.Info, abi.Value) {
	t.Helper()
	in, v, err := s.v.Get(s.ctx, name)
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return in, v
}

// remove deletes a secret or stops the test.
func (s *suite) remove(t T, name string) {
	t.Helper()
	if err := s.v.Remove(s.ctx, name); err != nil {
		t.Fatalf("Remove(%q): %v", name, err)
	}
}

// checkGet checks that Get(name) returns want under the stored name stored.
func (s *suite) checkGet(t T, name, stored string, want abi.Value) bool {
	t.Helper()
	in, got, err := s.v.Get(s.ctx, name)
	switch {
	case err != nil:
		t.Errorf("Get(%q): %v", name, err)
		return false
	case in.Name != stored:
		t.Errorf("Get(%q): Info.Name = %q, want %q", name, in.Name, stored)
	case in.Type != want.Type:
		t.Errorf("Get(%q): Info.Type = %v, want %v", name, in.Type, want.Type)
	case !equalValue(got, want):
		t.Errorf("Get(%q) = %s, want %s", name, describe(got), describe(want))
	default:
		return true
	}
	return false
}

// checkMissing checks that Get (and Stat) of name report NotFound.
func (s *suite) checkMissing(t T, name string) {
	t.Helper()
	if _, v, err := s.v.Get(s.ctx, name); !isNotFound(err) {
		if err == nil {
			t.Errorf("Get(%q) = %s, want an error wrapping abi.NotFound", name, describe(v))
		} else {
			t.Errorf("Get(%q): %v, want an error wrapping abi.NotFound", name, err)
		}
	}
	if s.supports(abi.OpStat) {
		if _, err := s.v.(engine.Statter).Stat(s.ctx, name); !isNotFound(err) {
			t.Errorf("Stat(%q): error %v, want one wrapping abi.NotFound", name, err)
		}
	}
}

// list returns the secrets List(pattern) returns that match pattern under
// the vault's case rule: the engine filters again, so only these count.
func (s *suite) list(t T, pattern string) []abi.Info {
	t.Helper()
	all, err := s.v.List(s.ctx, pattern)
	if err != nil {
		t.Fatalf("List(%q): %v", pattern, err)
	}
	var out []abi.Info
	for _, in := range all {
		if abi.Match(pattern, in.Name, s.cs) {
			out = append(out, in)
		}
	}
	return out
}

// checkList checks that the matches of List(pattern) are exactly want (name
// to type), each once.
func (s *suite) checkList(t T, pattern string, want map[string]abi.Type) {
	t.Helper()
	seen := make(map[string]bool)
	for _, in := range s.list(t, pattern) {
		typ, ok := want[in.Name]
		switch {
		case !ok:
			t.Errorf("List(%q) returned %q, which matches but was never set", pattern, in.Name)
		case seen[in.Name]:
			t.Errorf("List(%q) returned %q twice", pattern, in.Name)
		case in.Type != typ:
			t.Errorf("List(%q): %q has Type %v, want %v", pattern, in.Name, in.Type, typ)
		}
		seen[in.Name] = true
	}
	var missing []string
	for name := range want {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if missing != nil {
		slices.Sort(missing)
		t.Errorf("List(%q) is missing %q", pattern, missing)
	}
}

// matching returns the names of stored that match pattern under the vault's
// case rule.
func (s *suite) matching(pattern string, stored map[string]abi.Type) map[string]abi.Type {
	out := make(map[string]abi.Type)
	for name, typ := range stored {
		if abi.Match(pattern, name, s.cs) {
			out[name] = typ
		}
	}
	return out
}
