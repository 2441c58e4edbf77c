package registry

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sesamehq/sesame/engine/internal/grant"
)

const header = "# sesame vault registry — edited by sesame; comments are not preserved\n"

// Marshal returns r as canonical TOML: a header comment, default, then the
// vaults in sorted order, each with only the keys that are set. It returns
// the Validate error if r is not valid. Parse(r.Path, data) yields a
// Registry equal to r whenever r.Vaults is sorted, as Parse and Put keep it.
func (r *Registry) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header)
	if r.Default != "" {
		fmt.Fprintf(&b, "default = %s\n", quote(r.Default))
	}
	vaults := slices.Clone(r.Vaults)
	sortVaults(vaults)
	for _, v := range vaults {
		table := "vaults." + quoteKey(v.Name)
		fmt.Fprintf(&b, "\n[%s]\n", table)
		fmt.Fprintf(&b, "extension   = %s\n", quote(v.Extension))
		if v.SHA256 != "" {
			fmt.Fprintf(&b, "sha256      = %s\n", quote(v.SHA256))
		}
		if v.Description != "" {
			fmt.Fprintf(&b, "description = %s\n", quote(v.Description))
		}
		if v.NoSearch {
			b.WriteString("search      = false\n")
		}
		if len(v.Parameters) > 0 {
			fmt.Fprintf(&b, "\n  [%s.parameters]\n", table)
			for _, k := range slices.Sorted(maps.Keys(v.Parameters)) {
				fmt.Fprintf(&b, "  %s = %s\n", quoteKey(k), scalar(v.Parameters[k]))
			}
		}
		if g := v.Grants; g.Storage || g.Directory != "" || g.ReadOnly || len(g.Env) > 0 ||
			g.Memory != 0 || g.Timeout != 0 || g.Instances != 0 || len(g.HTTP) > 0 ||
			g.CAFile != "" || g.ClientCert != "" || g.ClientKey != "" || g.Identity {
			fmt.Fprintf(&b, "\n  [%s.grants]\n", table)
			grant := func(ok bool, k, val string) {
				if ok {
					fmt.Fprintf(&b, "  %-9s = %s\n", k, val)
				}
			}
			grant(g.Storage, "storage", "true")
			grant(g.Directory != "", "directory", quote(g.Directory))
			grant(g.ReadOnly, "read_only", "true")
			grant(len(g.Env) > 0, "env", list(g.Env))
			grant(g.Memory != 0, "memory", sizeValue(g.Memory))
			grant(g.Timeout != 0, "timeout", quote(g.Timeout.String()))
			grant(g.Instances != 0, "instances", strconv.Itoa(g.Instances))
			grant(len(g.HTTP) > 0, "http", list(g.HTTP))
			grant(g.CAFile != "", "ca_file", quote(g.CAFile))
			grant(g.ClientCert != "", "client_cert", quote(g.ClientCert))
			grant(g.ClientKey != "", "client_key", quote(g.ClientKey))
			grant(g.Identity, "identity", "true")
		}
	}
	return b.Bytes(), nil
}

// scalar formats a parameter value that Validate accepted.
func scalar(x any) string {
	switch x := x.(type) {
	case string:
		return quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // keep it a float
		}
		return s
	}
	panic(fmt.Sprintf("registry: unexpected parameter type %T", x))
}

func list(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// quote returns s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// quoteKey returns k as a TOML key: bare if it can be, else quoted.
func quoteKey(k string) string {
	for i := range len(k) {
		if c := k[i]; !isAlnum(c) && c != '-' && c != '_' {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// keyString writes a key path as TOML would, for messages.
func keyString(key []string) string {
	q := make([]string, len(key))
	for i, k := range key {
		q[i] = quoteKey(k)
	}
	return strings.Join(q, ".")
}

// sizeValue is n as a TOML value: a size string, or an integer of bytes if
// no unit larger than a byte divides it.
func sizeValue(n uint64) string {
	if s := grant.FormatSize(n); n%1024 == 0 {
		return quote(s)
	}
	return strconv.FormatUint(n, 10)
}
