package api

import (
	"fmt"
	"time"

	"github.com/sesamehq/sesame/engine/internal/grant"
)

// Registration is one vault of the registry: Register-SecretVault's
// arguments, and what Vaults returns.
type Registration struct {
	Name        string
	Extension   string         // "builtin:NAME", or a .wasm path relative to the registry file
	SHA256      string         // optional pin of the module's bytes (lowercase hex)
	Description string         // free text
	Parameters  map[string]any // handed to the extension; string, int64, float64 or bool
	Grants      Grants
	// NoSearch leaves the vault out of the search of Get and Info without
	// a vault: it answers only when named, or as the default vault, so that
	// a vault that claims every name cannot answer for another vault's
	// secrets.
	NoSearch bool
	Default  bool // the default vault (in Vaults' results)
	Mounted  bool // an in-process vault attached with Mount (in Vaults' results)
}

// Grants are what an extension may use; everything else is denied.
type Grants struct {
	Storage   bool          // a private key-value storage area
	Directory string        // a host folder mounted at /data ("" = none)
	ReadOnly  bool          // mount Directory read-only
	Env       []string      // environment variables the extension may read
	Memory    uint64        // bytes of memory per instance (0 = 64 MiB)
	Timeout   time.Duration // deadline per call (0 = 5s)
	Instances int           // instances kept per vault (0 = 4)
	// HTTP lists the origins, scheme://host:port, the extension may send
	// requests to (abi/SPEC.md §5.9); none = no network.
	HTTP []string
	// CAFile adds the certificates of a PEM file to the system roots for
	// those requests; ClientCert and ClientKey (PEM, together) are the
	// client's for mutual TLS. Paths are relative to the registry's folder.
	CAFile     string
	ClientCert string
	ClientKey  string

	// Identity lets the extension wrap keys to age recipients and unwrap
	// them with the user's age identity, which the engine reads from the
	// default vault (IdentitySecret) and the extension never sees.
	Identity bool
}

// Unlocked is a vault that holds its key in host memory, and until when.
type Unlocked struct {
	Vault   string
	Expires time.Time // the zero time: until it is locked or the engine closes
}

// Set sets one grant from its text form, with the grammar and limits of
// vaults.toml: storage=true, directory=FOLDER, read_only=true,
// env=NAME,NAME, memory=64MiB, timeout=5s, instances=4,
// http=ORIGIN,ORIGIN, ca_file=FILE, client_cert=FILE, client_key=FILE.
// Errors wrap
// ErrInvalidArgument.
func (g *Grants) Set(key, value string) error {
	rg := grant.Grants(*g)
	if err := grant.Parse(&rg, key, value); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	*g = Grants(rg)
	return nil
}
