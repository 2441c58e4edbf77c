package vaulttest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
	"github.com/sesamehq/sesame/engine/vaulttest"
)

// TestReference runs the suite on the reference vault with options that
// exercise the suite's own branches: refused types, filtered names, a small
// MaxValue and few goroutines.
func TestReference(t *testing.T) {
	t.Run("Types", func(t *testing.T) {
		types := []abi.Type{abi.TypeString, abi.TypeCredential}
		vaulttest.Run(t, func(*testing.T) engine.Vault {
			return &typed{Vault: memvault.New(memvault.Options{}), types: types}
		}, vaulttest.Options{Types: types, Concurrency: 3})
	})
	t.Run("HashtableOnly", func(t *testing.T) {
		types := []abi.Type{abi.TypeHashtable}
		vaulttest.Run(t, func(*testing.T) engine.Vault {
			return &typed{Vault: memvault.New(memvault.Options{CaseSensitive: true}), types: types}
		}, vaulttest.Options{Types: types})
	})
	t.Run("Dotenv", func(t *testing.T) {
		// Like a dotenv vault: shell names, strings, no metadata, small values.
		types := []abi.Type{abi.TypeString}
		vaulttest.Run(t, func(*testing.T) engine.Vault {
			return &typed{Vault: memvault.New(memvault.Options{CaseSensitive: true, NoMetadata: true}), types: types, names: shellName, max: 4096}
		}, vaulttest.Options{Types: types, ValidName: shellName.MatchString, MaxValue: 4096, Concurrency: 2})
	})
}

// TestEngineErrors runs the suite on a vault whose errors wrap the engine's
// sentinels instead of ABI statuses, which the suite accepts as well.
func TestEngineErrors(t *testing.T) {
	types := []abi.Type{abi.TypeBytes, abi.TypeCredential, abi.TypeHashtable}
	vaulttest.Run(t, func(*testing.T) engine.Vault {
		return &sentinels{&typed{Vault: memvault.New(memvault.Options{}), types: types}}
	}, vaulttest.Options{Types: types})
}

// sentinels maps the ABI statuses of a vault's errors to engine sentinels.
type sentinels struct{ *typed }

func sentinel(err error) error {
	switch {
	case errors.Is(err, abi.NotFound):
		return fmt.Errorf("lookup: %w", engine.ErrSecretNotFound)
	case errors.Is(err, abi.InvalidArgument):
		return fmt.Errorf("refused: %w", engine.ErrInvalidArgument)
	}
	return err
}

func (v *sentinels) Get(ctx context.Context, name string) (abi.Info, abi.Value, error) {
	in, val, err := v.typed.Get(ctx, name)
	return in, val, sentinel(err)
}

func (v *sentinels) Stat(ctx context.Context, name string) (abi.Info, error) {
	in, err := v.typed.Stat(ctx, name)
	return in, sentinel(err)
}

func (v *sentinels) Set(ctx context.Context, name string, val abi.Value, md abi.Metadata) error {
	return sentinel(v.typed.Set(ctx, name, val, md))
}

func (v *sentinels) SetMetadata(ctx context.Context, name string, md abi.Metadata) error {
	return sentinel(v.typed.SetMetadata(ctx, name, md))
}

func (v *sentinels) Remove(ctx context.Context, name string) error {
	return sentinel(v.typed.Remove(ctx, name))
}

var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// typed is a reference vault that accepts only some types, names and sizes.
type typed struct {
	*memvault.Vault
	types []abi.Type
	names *regexp.Regexp
	max   int
}

func (v *typed) Set(ctx context.Context, name string, val abi.Value, md abi.Metadata) error {
	switch {
	case !slices.Contains(v.types, val.Type):
		return fmt.Errorf("%w: this vault does not store %v values", abi.InvalidArgument, val.Type)
	case v.names != nil && !v.names.MatchString(name):
		return fmt.Errorf("%w: not a shell variable name", abi.InvalidArgument)
	case v.max > 0 && len(val.Data) > v.max:
		return abi.TooLarge
	}
	return v.Vault.Set(ctx, name, val, md)
}

// bugs maps each deliberately broken vault to the subtests that must catch
// it.
var bugs = map[string][]string{
	"nil-md-clears":        {"Metadata"},
	"empty-md-keeps":       {"Metadata"},
	"set-md-merges":        {"Metadata"},
	"remove-keeps-md":      {"Metadata"},
	"set-metadata-creates": {"Metadata"},
	"time-seconds":         {"Metadata"},
	"time-local":           {"Metadata"},
	"stat-no-md":           {"Metadata", "Stat"},
	"missing-wrong-error":  {"Overwrite"},
	"remove-missing-ok":    {"Overwrite"},
	"stale-username":       {"Overwrite"},
	"aliases":              {"RoundTrip"},
	"case-ignored":         {"CaseRules"},
	"case-doubled":         {"CaseRules"},
	"request-spelling":     {"CaseRules"},
	"ascii-fold":           {"CaseRules"},
	"list-drops":           {"List", "Many"},
	"list-bytewise":        {"List"},
	"truncate-large":       {"Sizes"},
	"short-names":          {"Sizes"},
	"ascii-names":          {"Sizes", "List"},
	"torn":                 {"Concurrent"},
	"accepts-all":          {"RefusedTypes"},
	"leaks-value":          {"RefusedTypes"},
	"bad-manifest":         {"Manifest"},
	"test-fails":           {"Test"},
}

// TestCatchesBugs runs the suite on each broken vault in a child process and
// checks that the subtests meant to catch the bug fail.
func TestCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite once per bug")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBroken$", "-test.count=1")
	cmd.Env = append(os.Environ(), "VAULTTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed every broken vault:\n%s", out)
	}
	failed := make(map[string]bool)
	for _, m := range regexp.MustCompile(`--- FAIL: TestBroken/([a-z-]+)/(\w+) `).FindAllStringSubmatch(string(out), -1) {
		failed[m[1]+"/"+m[2]] = true
	}
	for _, bug := range slices.Sorted(maps.Keys(bugs)) {
		for _, sub := range bugs[bug] {
			if !failed[bug+"/"+sub] {
				t.Errorf("bug %s: subtest %s did not fail", bug, sub)
			}
		}
	}
	if t.Failed() {
		t.Logf("output of the broken runs:\n%s", out)
	}
}

// TestBroken runs the suite on every broken vault; only TestCatchesBugs
// runs it, in a child process, and expects it to fail.
func TestBroken(t *testing.T) {
	if os.Getenv("VAULTTEST_BROKEN") == "" {
		t.Skip("run by TestCatchesBugs")
	}
	for _, bug := range slices.Sorted(maps.Keys(bugs)) {
		t.Run(bug, func(t *testing.T) {
			var opts vaulttest.Options
			switch bug {
			case "accepts-all":
				opts.Types = []abi.Type{abi.TypeString, abi.TypeCredential}
			case "leaks-value":
				opts.Types = []abi.Type{abi.TypeBytes}
			}
			vaulttest.Run(t, func(*testing.T) engine.Vault { return newBroken(bug) }, opts)
		})
	}
}

// broken is the reference vault with one bug.
type broken struct {
	*memvault.Vault
	bug string
	cs  bool

	mu      sync.Mutex
	last    map[string]abi.Value    // aliases: as given; torn: the latest
	prev    map[string]abi.Value    // torn: the one before
	removed map[string]abi.Metadata // remove-keeps-md
}

func newBroken(bug string) *broken {
	cs := bug == "case-doubled"
	inner := cs
	switch bug {
	case "case-ignored":
		inner = true // says insensitive, is sensitive
	case "case-doubled":
		inner = false // says sensitive, is insensitive
	case "ascii-fold":
		inner = true // folds ASCII letters itself, and only those
	}
	return &broken{
		Vault:   memvault.New(memvault.Options{CaseSensitive: inner}),
		bug:     bug,
		cs:      cs,
		last:    make(map[string]abi.Value),
		prev:    make(map[string]abi.Value),
		removed: make(map[string]abi.Metadata),
	}
}

func (b *broken) Manifest() abi.Manifest {
	m := b.Vault.Manifest()
	m.CaseSensitive = b.cs
	if b.bug == "bad-manifest" {
		m.Operations = append(m.Operations, abi.OpSetPassword)
	}
	return m
}

func (b *broken) Get(ctx context.Context, name string) (abi.Info, abi.Value, error) {
	name = b.fold(ctx, name)
	in, v, err := b.Vault.Get(ctx, name)
	if err != nil {
		if b.bug == "missing-wrong-error" {
			return in, v, errors.New("no such secret")
		}
		return in, v, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.bug {
	case "aliases":
		v = b.last[strings.ToLower(name)]
	case "torn":
		if p, ok := b.prev[strings.ToLower(name)]; ok && len(p.Data) >= len(v.Data) && len(v.Data) > 1 {
			half := len(v.Data) / 2
			copy(v.Data[half:], p.Data[half:len(v.Data)])
		}
	case "truncate-large":
		if len(v.Data) > 64<<10 {
			v.Data = v.Data[:64<<10]
		}
	case "time-seconds", "time-local":
		in.Metadata = b.skew(in.Metadata)
	case "request-spelling":
		in.Name = name
	}
	return in, v, nil
}

// fold returns, for the bug ascii-fold, the stored name equal to name but for
// the case of ASCII letters, or name.
func (b *broken) fold(ctx context.Context, name string) string {
	if b.bug != "ascii-fold" {
		return name
	}
	list, _ := b.Vault.List(ctx, "*")
	for _, in := range list {
		if asciiFold(in.Name) == asciiFold(name) {
			return in.Name
		}
	}
	return name
}

func (b *broken) skew(md abi.Metadata) abi.Metadata {
	for k, mv := range md {
		if mv.Kind != abi.MetaDatetime {
			continue
		}
		if b.bug == "time-seconds" {
			mv.Time = mv.Time.Truncate(time.Second)
		} else {
			mv.Time = mv.Time.In(time.FixedZone("CET", 3600))
		}
		md[k] = mv
	}
	return md
}

func (b *broken) Stat(ctx context.Context, name string) (abi.Info, error) {
	name = b.fold(ctx, name)
	in, err := b.Vault.Stat(ctx, name)
	if err == nil && b.bug == "stat-no-md" {
		in.Metadata = nil
	}
	return in, err
}

func (b *broken) Set(ctx context.Context, name string, v abi.Value, md abi.Metadata) error {
	name = b.fold(ctx, name)
	key := strings.ToLower(name)
	switch b.bug {
	case "nil-md-clears":
		if md == nil {
			md = abi.Metadata{}
		}
	case "empty-md-keeps":
		if md != nil && len(md) == 0 {
			md = nil
		}
	case "set-md-merges":
		if in, err := b.Vault.Stat(ctx, name); err == nil && len(md) > 0 {
			merged := maps.Clone(in.Metadata)
			maps.Copy(merged, md)
			md = merged
		}
	case "remove-keeps-md":
		b.mu.Lock()
		if old, ok := b.removed[key]; ok && md == nil {
			md = old
		}
		b.mu.Unlock()
	case "stale-username":
		if in, old, err := b.Vault.Get(ctx, name); err == nil && in.Type == abi.TypeCredential && v.Type != abi.TypeCredential {
			v.UserName = old.UserName
		}
	case "accepts-all":
		// It should refuse bytes, securestring and hashtable.
	case "leaks-value":
		if v.Type != abi.TypeBytes {
			return fmt.Errorf("%w: cannot store %q", abi.InvalidArgument, v.Data)
		}
	case "short-names":
		if len(name) > 200 {
			return fmt.Errorf("%w: name too long", abi.InvalidArgument)
		}
	case "ascii-names":
		if !isASCII(name) {
			return fmt.Errorf("%w: name not ASCII", abi.InvalidArgument)
		}
	}
	if err := b.Vault.Set(ctx, name, v, md); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if last, ok := b.last[key]; ok {
		b.prev[key] = last
	}
	if b.bug == "aliases" {
		b.last[key] = v
	} else {
		b.last[key] = abi.Value{Type: v.Type, Data: slices.Clone(v.Data)}
	}
	return nil
}

func (b *broken) SetMetadata(ctx context.Context, name string, md abi.Metadata) error {
	name = b.fold(ctx, name)
	err := b.Vault.SetMetadata(ctx, name, md)
	if errors.Is(err, abi.NotFound) && b.bug == "set-metadata-creates" {
		return b.Vault.Set(ctx, name, abi.Value{Type: abi.TypeString}, md)
	}
	return err
}

func (b *broken) Remove(ctx context.Context, name string) error {
	name = b.fold(ctx, name)
	in, statErr := b.Vault.Stat(ctx, name)
	err := b.Vault.Remove(ctx, name)
	if errors.Is(err, abi.NotFound) && b.bug == "remove-missing-ok" {
		return nil
	}
	if err == nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		key := strings.ToLower(name)
		delete(b.last, key)
		delete(b.prev, key)
		if statErr == nil {
			b.removed[key] = in.Metadata
		}
	}
	return err
}

func (b *broken) List(ctx context.Context, pattern string) ([]abi.Info, error) {
	if b.bug == "list-bytewise" || b.bug == "ascii-fold" {
		all, err := b.Vault.List(ctx, "*")
		var out []abi.Info
		for _, in := range all {
			if b.bug == "ascii-fold" || matchBytes(pattern, in.Name) {
				out = append(out, in)
			}
		}
		return out, err
	}
	list, err := b.Vault.List(ctx, pattern)
	if b.bug == "list-drops" && len(list) > 1 {
		list = list[:len(list)-1]
	}
	return list, err
}

func (b *broken) Test(ctx context.Context) error {
	if b.bug == "test-fails" {
		return fmt.Errorf("%w: backend down", abi.Unavailable)
	}
	return b.Vault.Test(ctx)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiFold lowers ASCII letters only.
func asciiFold(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// matchBytes is a wrong Match: '?' matches one byte.
func matchBytes(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(name); i++ {
			if matchBytes(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	case '?':
		return name != "" && matchBytes(pattern[1:], name[1:])
	}
	return name != "" && pattern[0] == name[0] && matchBytes(pattern[1:], name[1:])
}
