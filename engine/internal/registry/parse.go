package registry

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/engine/internal/grant"
)

// Load reads and parses the registry file at path. A missing file is an
// error wrapping fs.ErrNotExist. Load changes and removes nothing.
//
// The file decides what runs with which grants, so Load refuses one that
// anyone but the user or root could have written (fileperm.Open: the file,
// the folders above it, a link to it and its target), with an error
// wrapping fileperm.ErrUntrusted that names the path and the fix.
func Load(path string) (*Registry, error) {
	f, err := fileperm.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses data, the content of the registry file at path, and checks
// it as Validate does. Every problem is an error wrapping ErrInvalid whose
// message starts with path (as given) and the line, "vaults.toml:12: …";
// all problems found are joined in the order of their lines. Keys this
// package does not know are errors. The result is canonical: SHA256 in
// lowercase, Env sorted and unique, empty tables nil, Vaults sorted, Default
// spelled as registered (or as written, when it names no registered vault).
// Its Path is path made absolute.
func Parse(path string, data []byte) (*Registry, error) {
	p := &parser{path: path, src: data}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		line, msg := 0, err.Error()
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line, msg = pe.Position.Line, pe.Message
		}
		return nil, &regError{line: line, msg: p.where(line) + msg, err: ErrInvalid, cause: err}
	}
	r := &Registry{Path: path}
	if abs, err := filepath.Abs(path); path != "" && err == nil {
		r.Path = abs
	}
	for _, k := range sortedKeys(doc) {
		key := []string{k}
		switch k {
		case "default":
			r.Default, _ = as[string](p, key, doc[k], "a string")
		case "vaults":
			vaults, _ := as[map[string]any](p, key, doc[k], "a table")
			for _, name := range sortedKeys(vaults) {
				if v, ok := p.vault(name, vaults[name]); ok {
					r.Vaults = append(r.Vaults, v)
				}
			}
		default:
			p.unknown(key)
		}
	}
	if len(p.errs) == 0 { // a value of the wrong type would cause spurious errors
		sortVaults(r.Vaults)
		if v, ok := r.Lookup(r.Default); ok && r.Default != "" {
			r.Default = v.Name
		}
		r.check(p.report)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *regError) int { return cmp.Compare(a.line, b.line) })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return r, nil
}

type parser struct {
	path  string
	src   []byte
	lines map[string]int // from keyLines, computed on the first error
	errs  []*regError
}

func (p *parser) vault(name string, x any) (Vault, bool) {
	t, ok := as[map[string]any](p, []string{"vaults", name}, x, "a table")
	if !ok {
		return Vault{}, false
	}
	v := Vault{Name: name}
	for _, k := range sortedKeys(t) {
		key, x := []string{"vaults", name, k}, t[k]
		switch k {
		case "extension":
			v.Extension, _ = as[string](p, key, x, "a string")
		case "sha256":
			s, _ := as[string](p, key, x, "a string")
			v.SHA256 = strings.ToLower(s)
		case "description":
			v.Description, _ = as[string](p, key, x, "a string")
		case "search":
			search, ok := as[bool](p, key, x, "a boolean")
			v.NoSearch = ok && !search
		case "parameters":
			if params, _ := as[map[string]any](p, key, x, "a table"); len(params) > 0 {
				v.Parameters = params // value types are checked by Vault.check
			}
		case "grants":
			grants, _ := as[map[string]any](p, key, x, "a table")
			v.Grants = p.grants(key, grants)
		default:
			p.unknown(key)
		}
	}
	return v, true
}

func (p *parser) grants(table []string, t map[string]any) (g Grants) {
	for _, k := range sortedKeys(t) {
		key, x := append(slices.Clip(table), k), t[k]
		problem := func(s string) bool {
			if s != "" {
				p.report(key, label(key)+" "+s)
			}
			return s == ""
		}
		switch k {
		case "storage":
			g.Storage, _ = as[bool](p, key, x, "a boolean")
		case "read_only":
			g.ReadOnly, _ = as[bool](p, key, x, "a boolean")
		case "identity":
			g.Identity, _ = as[bool](p, key, x, "a boolean")
		case "directory":
			g.Directory, _ = as[string](p, key, x, "a string")
		case "env":
			g.Env = grant.SortedUnique(p.strings(key, x))
		case "http":
			g.HTTP = grant.SortedUnique(p.strings(key, x))
		case "ca_file":
			g.CAFile, _ = as[string](p, key, x, "a string")
		case "client_cert":
			g.ClientCert, _ = as[string](p, key, x, "a string")
		case "client_key":
			g.ClientKey, _ = as[string](p, key, x, "a string")
		case "memory":
			switch x := x.(type) {
			case string:
				n, ok := grant.ParseSize(x)
				if !ok {
					problem(fmt.Sprintf(`%q is not a size such as "64MiB"`, x))
				} else if problem(grant.MemoryProblem(n)) {
					g.Memory = n
				}
			case int64:
				if x < 0 {
					problem(fmt.Sprintf("must be between 2MiB and 4GiB, not %d", x))
				} else if problem(grant.MemoryProblem(uint64(x))) {
					g.Memory = uint64(x)
				}
			default:
				as[string](p, key, x, `a size such as "64MiB" or an integer of bytes`)
			}
		case "timeout":
			if s, ok := as[string](p, key, x, `a duration such as "5s"`); ok {
				d, err := time.ParseDuration(s)
				if err != nil {
					problem(fmt.Sprintf(`%q is not a duration such as "5s"`, s))
				} else if problem(grant.TimeoutProblem(d)) {
					g.Timeout = d
				}
			}
		case "instances":
			if n, ok := as[int64](p, key, x, "an integer"); ok && problem(grant.InstancesProblem(n)) {
				g.Instances = int(n)
			}
		default:
			p.unknown(key)
		}
	}
	return g
}

// strings returns x, which must be an array of strings.
func (p *parser) strings(key []string, x any) []string {
	var out []string
	list, _ := as[[]any](p, key, x, "an array of strings")
	for _, e := range list {
		s, ok := as[string](p, key, e, "an array of strings")
		if !ok {
			break
		}
		out = append(out, s)
	}
	return out
}

// as returns x as a T, or reports that key must be what (a TOML type).
func as[T any](p *parser, key []string, x any, what string) (T, bool) {
	t, ok := x.(T)
	if !ok {
		p.report(key, fmt.Sprintf("%s must be %s, not %s", label(key), what, typeName(x)))
	}
	return t, ok
}

func (p *parser) unknown(key []string) {
	p.report(key, fmt.Sprintf("unknown key %q", keyString(key)))
}

func (p *parser) report(key []string, msg string) {
	if p.lines == nil {
		p.lines = keyLines(p.src)
	}
	line := p.lines[strings.Join(key, "\x00")]
	p.errs = append(p.errs, &regError{line: line, msg: p.where(line) + msg, err: ErrInvalid})
}

// where is the "path:line: " prefix of a message; the line is left out if
// unknown.
func (p *parser) where(line int) string {
	switch {
	case line > 0 && p.path != "":
		return fmt.Sprintf("%s:%d: ", p.path, line)
	case line > 0:
		return fmt.Sprintf("line %d: ", line)
	case p.path != "":
		return p.path + ": "
	}
	return ""
}

// label names the value at key in a message: `vault "X": grants.memory`.
func label(key []string) string {
	switch {
	case len(key) > 2 && key[0] == "vaults":
		return fmt.Sprintf("vault %q: %s", key[1], keyString(key[2:]))
	case len(key) == 2 && key[0] == "vaults":
		return fmt.Sprintf("vault %q", key[1])
	}
	return keyString(key)
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
