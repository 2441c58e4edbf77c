package grant

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
)

// grantKeys lists the grants in the order vaults.toml writes them.
const grantKeys = "storage, directory, read_only, env, memory, timeout, instances, http, ca_file, client_cert, client_key, identity"

// Parse sets the grant key of g from its text form, as a command line
// gives it: "true"/"false" for storage, read_only and identity, a folder, a
// comma-separated list of variable names for env, a size such as "64MiB" for
// memory, a duration such as "5s" for timeout, a count for instances, a
// comma-separated list of origins (scheme://host:port) for http, a file for
// ca_file, client_cert and client_key. Values
// are checked against the same limits as vaults.toml. Errors wrap ErrInvalid.
func Parse(g *Grants, key, value string) error {
	bad := func(want string) error {
		return &grantError{msg: fmt.Sprintf("grant %s=%q: want %s", key, value, want)}
	}
	var err error
	switch key {
	case "storage":
		if g.Storage, err = strconv.ParseBool(value); err != nil {
			return bad("true or false")
		}
	case "identity":
		if g.Identity, err = strconv.ParseBool(value); err != nil {
			return bad("true or false")
		}
	case "read_only":
		if g.ReadOnly, err = strconv.ParseBool(value); err != nil {
			return bad("true or false")
		}
	case "directory":
		if value == "" {
			return bad("a folder")
		}
		g.Directory = value
	case "env":
		g.Env = nil
		for _, name := range strings.Split(value, ",") {
			if name = strings.TrimSpace(name); name != "" {
				g.Env = append(g.Env, name)
			}
		}
		g.Env = SortedUnique(g.Env)
	case "http":
		g.HTTP = nil
		for _, o := range strings.Split(value, ",") {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			if p := abi.OriginProblem(o); p != "" {
				return &grantError{msg: fmt.Sprintf("grant http=%q: %q: %s", value, o, p)}
			}
			g.HTTP = append(g.HTTP, o)
		}
		if g.HTTP = SortedUnique(g.HTTP); len(g.HTTP) == 0 {
			return bad("one or more origins, such as https://etcd.example:2379")
		}
	case "ca_file", "client_cert", "client_key":
		if value == "" {
			return bad("a file")
		}
		*map[string]*string{"ca_file": &g.CAFile, "client_cert": &g.ClientCert, "client_key": &g.ClientKey}[key] = value
	case "memory":
		n, ok := ParseSize(value)
		if !ok || MemoryProblem(n) != "" {
			return bad(`a size from 2MiB to 4GiB, such as "64MiB"`)
		}
		g.Memory = n
	case "timeout":
		d, err := time.ParseDuration(value)
		if err != nil || TimeoutProblem(d) != "" {
			return bad(`a duration from 1ms to 10m, such as "5s"`)
		}
		g.Timeout = d
	case "instances":
		n, err := strconv.Atoi(value)
		if err != nil || InstancesProblem(int64(n)) != "" {
			return bad(fmt.Sprintf("a count from 1 to %d", MaxInstances))
		}
		g.Instances = n
	default:
		return &grantError{msg: fmt.Sprintf("grant %s=%q: unknown grant (want %s)", key, value, grantKeys)}
	}
	return nil
}

// ErrInvalid is wrapped by every error of Parse.
var ErrInvalid = errors.New("invalid grant")

// grantError is a refused grant: its message alone, wrapping ErrInvalid.
type grantError struct{ msg string }

func (e *grantError) Error() string { return e.msg }
func (e *grantError) Unwrap() error { return ErrInvalid }
