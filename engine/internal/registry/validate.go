package registry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/grant"
)

// A reporter receives one problem: the TOML key at fault, by which Parse
// finds its line, and a message naming it.
type reporter func(key []string, msg string)

// Validate reports whether r holds a registry that can be written as it is:
// every vault valid (see Vault), no two names equal but for case, Default
// spelled exactly as registered when it names a registered vault. A Default
// that names no registered vault is kept (see DanglingDefault): it must not
// stop the commands that would fix it. It returns nil or
// an error wrapping ErrInvalid that lists every problem found. The order of
// r.Vaults does not matter: Marshal sorts.
func (r *Registry) Validate() error {
	var errs []error
	r.check(func(_ []string, msg string) {
		if r.Path != "" {
			msg = r.Path + ": " + msg
		}
		errs = append(errs, &regError{msg: msg, err: ErrInvalid})
	})
	return errors.Join(errs...)
}

func (r *Registry) check(report reporter) {
	seen := make(map[string]string, len(r.Vaults))
	for i := range r.Vaults {
		v := &r.Vaults[i]
		v.check(report)
		low := strings.ToLower(v.Name)
		if other, dup := seen[low]; dup {
			report([]string{"vaults", v.Name}, fmt.Sprintf("vault names %q and %q differ only in case", other, v.Name))
		}
		seen[low] = v.Name
	}
	if r.Default == "" {
		return
	}
	switch v, ok := r.Lookup(r.Default); {
	case !ok:
		// dangling: kept, and reported by the engine
	case v.Name != r.Default:
		report([]string{"default"}, fmt.Sprintf("default vault %q must be spelled as registered, %q", r.Default, v.Name))
	}
}

// validate checks v alone, as Put needs.
func (v *Vault) validate() error {
	var errs []error
	v.check(func(_ []string, msg string) { errs = append(errs, &regError{msg: msg, err: ErrInvalid}) })
	return errors.Join(errs...)
}

func (v *Vault) check(report reporter) {
	at := func(k ...string) []string { return append([]string{"vaults", v.Name}, k...) }
	bad := func(key []string, format string, args ...any) {
		report(key, fmt.Sprintf("vault %q: ", v.Name)+fmt.Sprintf(format, args...))
	}
	if !ValidName(v.Name) {
		report(at(), fmt.Sprintf("vault name %q is invalid: use 1 to 64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit", v.Name))
	}
	switch name, builtin := strings.CutPrefix(v.Extension, "builtin:"); {
	case v.Extension == "":
		bad(at(), "extension is required")
	case builtin && !validBuiltin(name):
		bad(at("extension"), "extension %q is invalid: a builtin name is lowercase letters, digits and '-', starting with a letter or digit", v.Extension)
	case !builtin && textProblem(v.Extension) != "":
		bad(at("extension"), "extension path %s", textProblem(v.Extension))
	}
	if v.SHA256 != "" && !validSHA256(v.SHA256) {
		bad(at("sha256"), "sha256 must be 64 lowercase hexadecimal digits")
	}
	if !utf8.ValidString(v.Description) {
		bad(at("description"), "description is not valid UTF-8")
	}
	for _, k := range slices.Sorted(maps.Keys(v.Parameters)) {
		key := at("parameters", k)
		switch {
		case k == "":
			bad(key, "parameter names must not be empty")
			continue
		case textProblem(k) != "":
			bad(key, "parameter name %q %s", k, textProblem(k))
			continue
		case strings.EqualFold(k, "verbose"):
			bad(key, "parameter %q is reserved", k)
			continue
		}
		switch x := v.Parameters[k].(type) {
		case int64, bool:
		case string:
			if !utf8.ValidString(x) {
				bad(key, "parameter %q is not valid UTF-8", k)
			} else if _, _, err := SecretRef(x); err != nil {
				bad(key, "parameter %q: %v", k, err)
			}
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				bad(key, "parameter %q must be a finite number", k)
			}
		default:
			bad(key, "parameter %q must be a string, integer, float or boolean, not %s", k, typeName(x))
		}
	}
	checkGrants(&v.Grants, at, bad)
}

func checkGrants(g *Grants, at func(...string) []string, bad func([]string, string, ...any)) {
	if p := textProblem(g.Directory); p != "" {
		bad(at("grants", "directory"), "grants.directory %s", p)
	}
	if g.ReadOnly && g.Directory == "" {
		bad(at("grants", "read_only"), "grants.read_only needs grants.directory")
	}
	for i, e := range g.Env {
		if e == "" || strings.Contains(e, "=") || textProblem(e) != "" {
			bad(at("grants", "env"), "grants.env: %q is not an environment variable name", e)
		} else if i > 0 && g.Env[i-1] >= e {
			bad(at("grants", "env"), "grants.env must be sorted and without duplicates")
		}
	}
	if p := grant.MemoryProblem(g.Memory); g.Memory != 0 && p != "" {
		bad(at("grants", "memory"), "grants.memory %s", p)
	}
	if p := grant.TimeoutProblem(g.Timeout); g.Timeout != 0 && p != "" {
		bad(at("grants", "timeout"), "grants.timeout %s", p)
	}
	if p := grant.InstancesProblem(int64(g.Instances)); g.Instances != 0 && p != "" {
		bad(at("grants", "instances"), "grants.instances %s", p)
	}
	for i, o := range g.HTTP {
		if p := abi.OriginProblem(o); p != "" {
			bad(at("grants", "http"), "grants.http: %q: %s", o, p)
		} else if i > 0 && g.HTTP[i-1] >= o {
			bad(at("grants", "http"), "grants.http must be sorted and without duplicates")
		}
	}
	for _, f := range []struct{ key, path string }{{"ca_file", g.CAFile}, {"client_cert", g.ClientCert}, {"client_key", g.ClientKey}} {
		if p := textProblem(f.path); p != "" {
			bad(at("grants", f.key), "grants.%s %s", f.key, p)
		} else if f.path != "" && len(g.HTTP) == 0 {
			bad(at("grants", f.key), "grants.%s needs grants.http", f.key)
		}
	}
	if (g.ClientCert == "") != (g.ClientKey == "") {
		bad(at("grants", "client_cert"), "grants.client_cert and grants.client_key go together: give both or neither")
	}
}

// MaxName is the length of the longest vault name, in bytes.
const MaxName = 64

// ValidName reports whether s is a valid vault name: 1 to 64 ASCII letters,
// digits, '-', '_' and '.', starting with a letter or digit. It is the one
// rule: the engine checks the names it is given with it too.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxName || !isAlnum(s[0]) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func validBuiltin(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

// textProblem says what is wrong with s as a path or a name, or "".
func textProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "contains a control character"
	}
	return ""
}

// typeName names the TOML type of a decoded value, with an article.
func typeName(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a Go %T", x)
}
