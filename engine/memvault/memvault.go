package memvault

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
)

// Options configure a Vault. The zero value is a case-insensitive vault with
// metadata, named "memvault".
type Options struct {
	// CaseSensitive makes names that differ in case different secrets.
	CaseSensitive bool
	// NoMetadata makes the vault declare and store no metadata.
	NoMetadata bool
	// Name is the manifest name; "" means "memvault".
	Name string
}

// Vault is an in-memory vault. Create one with New.
type Vault struct {
	manifest abi.Manifest

	mu      sync.RWMutex
	secrets map[string]*secret // by key(name)
}

// secret is one stored secret. Values are never mutated in place: Set
// replaces the pointer, so a reader that copies under the read lock sees one
// whole version.
type secret struct {
	name  string // as first stored
	value abi.Value
	md    abi.Metadata // nil or non-empty
}

// New returns an empty vault.
func New(opts Options) *Vault {
	name := opts.Name
	if name == "" {
		name = "memvault"
	}
	ops := []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpSetMetadata, abi.OpTest}
	if opts.NoMetadata {
		ops = slices.DeleteFunc(ops, func(op abi.Op) bool { return op == abi.OpSetMetadata })
	}
	return &Vault{
		manifest: abi.Manifest{
			ABI:           abi.Version,
			Name:          name,
			Version:       "1.0.0",
			Description:   "secrets in memory, gone when the process exits",
			Metadata:      !opts.NoMetadata,
			CaseSensitive: opts.CaseSensitive,
			Operations:    ops,
		},
		secrets: make(map[string]*secret),
	}
}

// Manifest describes the vault. Its Operations are a fresh slice on every
// call.
func (v *Vault) Manifest() abi.Manifest {
	m := v.manifest
	m.Operations = slices.Clone(m.Operations)
	return m
}

// Get returns the secret stored under name, with the name as stored, or an
// error wrapping abi.NotFound.
func (v *Vault) Get(ctx context.Context, name string) (abi.Info, abi.Value, error) {
	if err := v.check(ctx, name); err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	v.mu.RLock()
	s := v.secrets[v.key(name)]
	v.mu.RUnlock()
	if s == nil {
		return abi.Info{}, abi.Value{}, abi.NotFound
	}
	// s is immutable once stored, so copying outside the lock is safe.
	return s.info(), cloneValue(s.value), nil
}

// Stat returns the Info of the secret stored under name, or an error wrapping
// abi.NotFound.
func (v *Vault) Stat(ctx context.Context, name string) (abi.Info, error) {
	if err := v.check(ctx, name); err != nil {
		return abi.Info{}, err
	}
	v.mu.RLock()
	s := v.secrets[v.key(name)]
	v.mu.RUnlock()
	if s == nil {
		return abi.Info{}, abi.NotFound
	}
	return s.info(), nil
}

// Set creates or replaces the secret name. A nil md keeps the existing
// metadata, an empty one clears it. It refuses invalid values with an error
// wrapping abi.InvalidArgument or abi.TooLarge, and non-empty metadata on a
// vault without metadata with abi.Unsupported.
func (v *Vault) Set(ctx context.Context, name string, val abi.Value, md abi.Metadata) error {
	if err := v.check(ctx, name); err != nil {
		return err
	}
	if err := validateValue(val); err != nil {
		return err
	}
	if err := v.checkMetadata(md); err != nil {
		return err
	}
	s := &secret{name: name, value: cloneValue(val), md: cloneMetadata(md)}
	k := v.key(name)
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.secrets[k]; old != nil {
		s.name = old.name
		if md == nil {
			s.md = old.md // immutable: sharing is safe
		}
	}
	v.secrets[k] = s
	return nil
}

// SetMetadata replaces the metadata of the secret name (an empty md clears
// it), or returns an error wrapping abi.NotFound.
func (v *Vault) SetMetadata(ctx context.Context, name string, md abi.Metadata) error {
	if err := v.check(ctx, name); err != nil {
		return err
	}
	if !v.manifest.Metadata {
		return fmt.Errorf("%w: this vault stores no metadata", abi.Unsupported)
	}
	if err := v.checkMetadata(md); err != nil {
		return err
	}
	md = cloneMetadata(md)
	k := v.key(name)
	v.mu.Lock()
	defer v.mu.Unlock()
	old := v.secrets[k]
	if old == nil {
		return abi.NotFound
	}
	v.secrets[k] = &secret{name: old.name, value: old.value, md: md}
	return nil
}

// Remove deletes the secret name, or returns an error wrapping abi.NotFound.
func (v *Vault) Remove(ctx context.Context, name string) error {
	if err := v.check(ctx, name); err != nil {
		return err
	}
	k := v.key(name)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.secrets[k] == nil {
		return abi.NotFound
	}
	delete(v.secrets, k)
	return nil
}

// List returns the Infos of the secrets whose names match pattern under the
// vault's case rule (abi.Match), sorted by name. It never returns nil.
func (v *Vault) List(ctx context.Context, pattern string) ([]abi.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%w: pattern is not UTF-8", abi.InvalidArgument)
	}
	cs := v.manifest.CaseSensitive
	var found []*secret
	v.mu.RLock()
	if !abi.HasWildcard(pattern) {
		if s := v.secrets[v.key(pattern)]; s != nil {
			found = append(found, s)
		}
	} else {
		for _, s := range v.secrets {
			if abi.Match(pattern, s.name, cs) {
				found = append(found, s)
			}
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(found, func(a, b *secret) int { return cmp.Compare(a.name, b.name) })
	out := make([]abi.Info, len(found))
	for i, s := range found {
		out[i] = s.info()
	}
	return out, nil
}

// Test reports whether the vault works: it always does, unless ctx is done.
func (v *Vault) Test(ctx context.Context) error { return ctx.Err() }

// Len returns the number of secrets stored.
func (v *Vault) Len() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.secrets)
}

func (s *secret) info() abi.Info {
	return abi.Info{Name: s.name, Type: s.value.Type, Metadata: cloneMetadata(s.md)}
}

// check checks ctx and a secret name.
func (v *Vault) check(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: empty secret name", abi.InvalidArgument)
	case len(name) > abi.MaxNameBytes:
		return fmt.Errorf("%w: secret name longer than %d bytes", abi.InvalidArgument, abi.MaxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: secret name is not UTF-8", abi.InvalidArgument)
	}
	return nil
}

func (v *Vault) checkMetadata(md abi.Metadata) error {
	if len(md) == 0 {
		return nil
	}
	if !v.manifest.Metadata {
		return fmt.Errorf("%w: this vault stores no metadata", abi.Unsupported)
	}
	return md.Validate()
}

// key is the map key of name: name itself, or its case-folded form.
func (v *Vault) key(name string) string {
	if v.manifest.CaseSensitive {
		return name
	}
	return abi.Fold(name)
}

// validateValue checks v as the ABI encoder would, without encoding it.
func validateValue(v abi.Value) error {
	size, err := valueSize(v, false)
	if err != nil {
		return err
	}
	if size > abi.MaxValueBytes {
		return fmt.Errorf("%w: value encodes to %d bytes, more than %d", abi.TooLarge, size, abi.MaxValueBytes)
	}
	return nil
}

// valueSize returns the size of v's encoding (SPEC.md §7.4).
func valueSize(v abi.Value, nested bool) (int, error) {
	if !v.Type.Valid() || nested && v.Type == abi.TypeHashtable {
		return 0, fmt.Errorf("%w: value type %d not allowed here", abi.InvalidArgument, v.Type)
	}
	switch v.Type {
	case abi.TypeBytes:
		return 1 + len(v.Data), nil
	case abi.TypeString, abi.TypeSecureString:
		if !utf8.Valid(v.Data) {
			return 0, fmt.Errorf("%w: %s value is not UTF-8", abi.InvalidArgument, v.Type)
		}
		return 1 + len(v.Data), nil
	case abi.TypeCredential:
		if !utf8.ValidString(v.UserName) || !utf8.Valid(v.Data) {
			return 0, fmt.Errorf("%w: credential is not UTF-8", abi.InvalidArgument)
		}
		return 1 + 4 + len(v.UserName) + len(v.Data), nil
	}
	if len(v.Entries) > abi.MaxHashtableKeys {
		return 0, fmt.Errorf("%w: hashtable has %d entries, more than %d", abi.TooLarge, len(v.Entries), abi.MaxHashtableKeys)
	}
	size := 1 + 4
	seen := make(map[string]bool, len(v.Entries))
	for _, e := range v.Entries {
		if e.Key == "" || !utf8.ValidString(e.Key) || seen[e.Key] {
			return 0, fmt.Errorf("%w: hashtable key empty, not UTF-8 or repeated", abi.InvalidArgument)
		}
		seen[e.Key] = true
		n, err := valueSize(e.Value, true)
		if err != nil {
			return 0, fmt.Errorf("hashtable key %q: %w", e.Key, err)
		}
		size += 4 + len(e.Key) + 4 + n
	}
	return size, nil
}

// cloneValue returns a deep copy of v, with hashtable entries sorted by key.
func cloneValue(v abi.Value) abi.Value {
	v.Data = slices.Clone(v.Data)
	if v.Entries != nil {
		entries := make([]abi.Entry, len(v.Entries))
		for i, e := range v.Entries {
			entries[i] = abi.Entry{Key: e.Key, Value: cloneValue(e.Value)}
		}
		slices.SortFunc(entries, func(a, b abi.Entry) int { return cmp.Compare(a.Key, b.Key) })
		v.Entries = entries
	}
	return v
}

// cloneMetadata copies md; an empty md becomes nil.
func cloneMetadata(md abi.Metadata) abi.Metadata {
	if len(md) == 0 {
		return nil
	}
	out := make(abi.Metadata, len(md))
	for k, mv := range md {
		if mv.Kind == abi.MetaDatetime {
			mv.Time = mv.Time.UTC()
		}
		out[k] = mv
	}
	return out
}
