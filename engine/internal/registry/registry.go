package registry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/sesamehq/sesame/engine/internal/grant"
)

// Sentinel errors, for use with errors.Is.
var (
	ErrVaultExists   = errors.New("vault already registered")
	ErrVaultNotFound = errors.New("vault not registered")
	ErrInvalid       = errors.New("invalid registry")
)

// Registry is the parsed content of a vaults.toml file.
type Registry struct {
	Path    string  // absolute path of the file it was read from / will be written to
	Default string  // canonical (as-registered) name of the default vault, "" = none; may name no registered vault (DanglingDefault)
	Vaults  []Vault // kept sorted by strings.ToLower(Name)
}

// Vault is one registered vault.
type Vault struct {
	Name        string
	Extension   string         // "builtin:NAME" or a path as written (relative paths are relative to the registry file's folder)
	SHA256      string         // optional pin: 64 lowercase hex chars, "" = none
	Description string         // free text
	Parameters  map[string]any // scalar values only: string, int64, float64, bool (handed to the extension)
	Grants      Grants
	// NoSearch leaves the vault out when sesame looks through the vaults
	// for a name (get and info without a vault): it answers only when
	// named, or as the default vault. In the file: search = false.
	NoSearch bool
}

// Equal reports whether v and w register the same vault the same way. It
// is reflect.DeepEqual spelled out, for the engine, which asks on every
// call whether its loaded extension still matches the registration: the
// reflective walk cost about 5 % of a get (TestEqualSeesEveryField keeps
// it in step with the fields).
func (v *Vault) Equal(w *Vault) bool {
	return v.Name == w.Name && v.Extension == w.Extension && v.SHA256 == w.SHA256 &&
		v.Description == w.Description && v.NoSearch == w.NoSearch &&
		maps.EqualFunc(v.Parameters, w.Parameters, sameParameter) && grant.Equal(&v.Grants, &w.Grants)
}

// sameParameter compares two parameter values, which are scalars.
func sameParameter(a, b any) bool {
	switch a.(type) {
	case string, int64, float64, bool:
		return a == b
	}
	return reflect.DeepEqual(a, b)
}

// Grants are the capabilities granted to a vault's extension (package
// grant, which the engine's API shares without this package's TOML).
type Grants = grant.Grants

// Lookup returns the vault registered under name, compared case-insensitively.
// The pointer refers into r.Vaults and is valid until the next Put or Remove.
func (r *Registry) Lookup(name string) (*Vault, bool) {
	i := r.index(name)
	if i < 0 {
		return nil, false
	}
	return &r.Vaults[i], true
}

func (r *Registry) index(name string) int {
	return slices.IndexFunc(r.Vaults, func(v Vault) bool { return strings.EqualFold(v.Name, name) })
}

// Put registers v, replacing a vault of the same name (compared
// case-insensitively) if allowClobber is set; otherwise that is an error
// wrapping ErrVaultExists. Put stores a normalised copy of v (lowercase
// SHA256, sorted and unique Env, Go integers and float32 in Parameters
// widened to int64 and float64) and returns an error wrapping ErrInvalid if
// that copy is not valid. A replaced default vault stays the default.
func (r *Registry) Put(v Vault, allowClobber bool) error {
	v = v.normalized()
	if err := v.validate(); err != nil {
		return err
	}
	if i := r.index(v.Name); i >= 0 {
		old := r.Vaults[i].Name
		if !allowClobber {
			return &regError{msg: fmt.Sprintf("vault %q is already registered", old), err: ErrVaultExists}
		}
		if strings.EqualFold(r.Default, old) {
			r.Default = v.Name
		}
		r.Vaults = slices.Delete(r.Vaults, i, i+1)
	}
	r.Vaults = append(r.Vaults, v)
	sortVaults(r.Vaults)
	return nil
}

// Remove unregisters the vault called name (case-insensitively), or returns
// an error wrapping ErrVaultNotFound. Removing the default vault leaves the
// registry without a default.
func (r *Registry) Remove(name string) error {
	i := r.index(name)
	if i < 0 {
		return notFound(name)
	}
	if strings.EqualFold(r.Default, r.Vaults[i].Name) {
		r.Default = ""
	}
	if r.Vaults = slices.Delete(r.Vaults, i, i+1); len(r.Vaults) == 0 {
		r.Vaults = nil // as Parse leaves an empty registry
	}
	return nil
}

// DanglingDefault reports whether r names a default vault that is not
// registered.
func (r *Registry) DanglingDefault() bool {
	_, ok := r.Lookup(r.Default)
	return r.Default != "" && !ok
}

// SetDefault makes the vault called name (case-insensitively) the default,
// stored as it is registered; "" clears the default. An unknown name is an
// error wrapping ErrVaultNotFound.
func (r *Registry) SetDefault(name string) error {
	if name == "" {
		r.Default = ""
		return nil
	}
	v, ok := r.Lookup(name)
	if !ok {
		return notFound(name)
	}
	r.Default = v.Name
	return nil
}

// ResolvePath returns p joined to the folder of r.Path if p is relative, and
// p unchanged if it is absolute or empty. Use it for Grants.Directory and for
// an Extension that is not "builtin:…".
func (r *Registry) ResolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(r.Path), p)
}

func notFound(name string) error {
	return &regError{msg: fmt.Sprintf("vault %q is not registered", name), err: ErrVaultNotFound}
}

func sortVaults(vs []Vault) {
	slices.SortStableFunc(vs, func(a, b Vault) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
}

// normalized returns a copy of v that shares no map or slice with it, in
// the canonical form Parse produces.
func (v Vault) normalized() Vault {
	v.SHA256 = strings.ToLower(v.SHA256)
	v.Grants.Env = grant.SortedUnique(v.Grants.Env)
	params := v.Parameters
	v.Parameters = nil
	for k, x := range params {
		if v.Parameters == nil {
			v.Parameters = make(map[string]any, len(params))
		}
		v.Parameters[k] = widen(x)
	}
	return v
}

// widen converts any Go integer, float, string or bool value to the type
// Parse produces (int64, float64, string, bool); other values are returned
// unchanged, for Validate to reject.
func widen(x any) any {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if v.Uint() <= math.MaxInt64 {
			return int64(v.Uint())
		}
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	}
	return x
}

// regError is the error this package returns for a bad registry or a failed
// edit: a message naming what failed, wrapping a sentinel and maybe a cause.
type regError struct {
	line  int // line in the file, 0 if unknown; orders the problems of a file
	msg   string
	err   error // the sentinel
	cause error // an underlying error, or nil
}

func (e *regError) Error() string { return e.msg }

func (e *regError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.err}
	}
	return []error{e.err, e.cause}
}
