package grant

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grants are the capabilities granted to a vault's extension; all that is
// not granted is denied.
type Grants struct {
	Storage   bool          // per-vault key-value storage area
	Directory string        // a host folder mounted for the extension ("" = none); relative to the registry folder
	ReadOnly  bool          // the directory mount is read-only
	Env       []string      // names of environment variables passed through (sorted, unique)
	Memory    uint64        // bytes of linear memory allowed; 0 = engine default; else 2MiB..4GiB
	Timeout   time.Duration // deadline per call; 0 = engine default; else at most 10m
	Instances int           // max pooled instances; 0 = engine default; else 1..64
	// HTTP lists the origins (scheme://host:port) the extension may send
	// requests to (sorted, unique); none = no network.
	HTTP []string
	// CAFile, ClientCert and ClientKey are PEM files for the HTTP grant's
	// TLS, relative to the registry folder: certificates added to the
	// system roots, and the client's certificate and key for mutual TLS.
	CAFile     string
	ClientCert string
	ClientKey  string

	// Identity lets the extension use the user's age identity through the
	// host (SPEC.md §5.10): wrap a key to age recipients, unwrap an age
	// file. The identity itself never reaches the extension.
	Identity bool
}

// Equal reports whether g and h grant the same.
func Equal(g, h *Grants) bool {
	return g.Storage == h.Storage && g.Directory == h.Directory && g.ReadOnly == h.ReadOnly &&
		slices.Equal(g.Env, h.Env) && g.Memory == h.Memory && g.Timeout == h.Timeout &&
		g.Instances == h.Instances && slices.Equal(g.HTTP, h.HTTP) && g.CAFile == h.CAFile &&
		g.ClientCert == h.ClientCert && g.ClientKey == h.ClientKey && g.Identity == h.Identity
}

// SortedUnique returns ss sorted, without duplicates; nil for none.
func SortedUnique(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(ss)))
}

// Limits on grants.
const (
	MinMemory    = 2 << 20
	MaxMemory    = 4 << 30
	MaxTimeout   = 10 * time.Minute
	MaxInstances = 64
)

// MemoryProblem says what is wrong with a memory grant of n bytes, or "".
func MemoryProblem(n uint64) string {
	if n < MinMemory || n > MaxMemory {
		return fmt.Sprintf("must be between 2MiB and 4GiB, not %s", FormatSize(n))
	}
	return ""
}

// TimeoutProblem says what is wrong with a timeout grant of d, or "".
func TimeoutProblem(d time.Duration) string {
	if d <= 0 || d > MaxTimeout {
		return fmt.Sprintf("must be more than 0s and at most 10m, not %s", d)
	}
	return ""
}

// InstancesProblem says what is wrong with an instances grant of n, or "".
func InstancesProblem(n int64) string {
	if n < 1 || n > MaxInstances {
		return fmt.Sprintf("must be between 1 and %d, not %d", MaxInstances, n)
	}
	return ""
}

var units = []struct {
	suffix string
	size   uint64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize parses "64MiB", "512KiB", "1GiB", "4096B" or "4096".
func ParseSize(s string) (uint64, bool) {
	num, unit := strings.TrimSpace(s), uint64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > math.MaxUint64/unit {
		return 0, false
	}
	return n * unit, true
}

// FormatSize writes n in the largest unit that divides it.
func FormatSize(n uint64) string {
	for _, u := range units {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatUint(n/u.size, 10) + u.suffix
		}
	}
	return "0B"
}
