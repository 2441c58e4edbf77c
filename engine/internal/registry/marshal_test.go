package registry

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// rich is a registry that uses every field, and names and strings that need
// quoting.
func rich() *Registry {
	return &Registry{
		Path:    "/etc/sesame/vaults.toml",
		Default: "team.vault",
		Vaults: []Vault{
			{Name: "a", Extension: "builtin:secretstore"},
			{
				Name:        "LocalStore",
				Extension:   "builtin:secretstore",
				SHA256:      "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
				Description: "encrypted \"local\" store\n\ttab\x01 — ünïcode \\",
				Parameters: map[string]any{
					"authentication": "password", "timeout": int64(900), "ratio": 0.5, "whole": 2.0,
					"tiny": 1e-300, "big": math.MaxFloat64, "neg": int64(math.MinInt64), "strict": true,
					"with space": "x", "dotted.key": "y", "ünï": "z", "empty": "",
				},
				Grants: Grants{
					Storage: true, Directory: "../secrets dir", ReadOnly: true, Env: []string{"HOME", "USER"},
					Memory: 64 << 20, Timeout: 5 * time.Second, Instances: 4,
				},
			},
			{Name: "team.vault", Extension: "C:\\ext\\team.wasm", Grants: Grants{Memory: 3_000_000, Timeout: 1500 * time.Millisecond, Identity: true}},
			{Name: "Z_last-1", Extension: "z.wasm", Grants: Grants{Memory: 2049 << 10, Instances: 64}, NoSearch: true},
		},
	}
}

func TestMarshal(t *testing.T) {
	r := &Registry{Default: "LocalStore", Vaults: []Vault{
		{Name: "team.vault", Extension: "team.wasm", Grants: Grants{Memory: 3_000_000}, NoSearch: true},
		{
			Name: "LocalStore", Extension: "builtin:secretstore", Description: "encrypted local store",
			Parameters: map[string]any{"authentication": "password", "timeout": int64(900), "ratio": 1.0},
			Grants:     Grants{Storage: true, Memory: 64 << 20, Timeout: 5 * time.Second, Env: []string{"HOME"}},
		},
	}}
	const want = `# sesame vault registry — edited by sesame; comments are not preserved
default = "LocalStore"

[vaults.LocalStore]
extension   = "builtin:secretstore"
description = "encrypted local store"

  [vaults.LocalStore.parameters]
  authentication = "password"
  ratio = 1.0
  timeout = 900

  [vaults.LocalStore.grants]
  storage   = true
  env       = ["HOME"]
  memory    = "64MiB"
  timeout   = "5s"

[vaults."team.vault"]
extension   = "team.wasm"
search      = false

  [vaults."team.vault".grants]
  memory    = 3000000
`
	got, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("Marshal:\n%s\nwant:\n%s", got, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	r := rich()
	sortVaults(r.Vaults)
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(r.Path, data)
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %#v\nwant %#v\n%s", got, r, data)
	}
}

func TestMarshalInvalid(t *testing.T) {
	r := rich()
	r.Vaults[1].Parameters["verbose"] = true
	if data, err := r.Marshal(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Marshal of an invalid registry = %q, %v; want an error wrapping ErrInvalid", data, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		sample,
		"default = \"a\"\n[vaults.A]\nextension = \"builtin:a\"\n",
		"[vaults.\"x.y\"]\nextension = 'p.wasm'\nparameters = { \"a b\" = 1.5e10, c = -0.0, d = \"\\u00e9\" }\n",
		"[vaults.A]\nextension = \"a\"\ngrants = { memory = 2097153, timeout = \"1h\", env = [\"B\", \"A\"] }\n",
		"[vaults.A]\nextension = \"a\"\n[vaults.a]\nextension = \"b\"\n",
		"[vaults.A]\nextension = \"builtin:a\"\nparameters.verbose = 1\n",
		"[vaults.A]\nextension = \"builtin:a\"\ngrants.stroage = true\n",
		"[[vaults]]\n",
		"vaults = 1\n",
		"a = \"\"\"\n[b]\n\"\"\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("vaults.toml", data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed registry: %v", err)
		}
		r2, err := Parse("vaults.toml", out)
		if err != nil {
			t.Fatalf("Parse(Marshal()): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip:\n got %#v\nwant %#v\n%s", r2, r, out)
		}
		if out2, _ := r2.Marshal(); string(out2) != string(out) {
			t.Fatalf("Marshal is not stable:\n%s\n%s", out, out2)
		}
	})
}
