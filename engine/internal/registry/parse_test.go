package registry

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `# a registry
default = "localstore"

[vaults.LocalStore]
extension   = "builtin:secretstore"
sha256      = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
description = "encrypted local store"

  [vaults.LocalStore.parameters]
  authentication = "password"
  timeout = 900
  ratio = 0.5
  strict = true

  [vaults.LocalStore.grants]
  storage = true
  memory  = "64MiB"
  timeout = "5s"
  instances = 4
  directory = "secrets"
  read_only = true
  env = ["USER", "HOME", "USER"]

[vaults."team.vault"]
extension = "../ext/team.wasm"
search = false
grants = { memory = 3145728, timeout = "1m30s" }
`

func TestParse(t *testing.T) {
	abs, _ := filepath.Abs("vaults.toml")
	tests := []struct {
		name string
		doc  string
		want *Registry
	}{
		{"empty", "", &Registry{Path: abs}},
		{"only comments", "# nothing\n\n", &Registry{Path: abs}},
		{"empty vaults", "[vaults]\n", &Registry{Path: abs}},
		{"sample", sample, &Registry{
			Path:    abs,
			Default: "LocalStore",
			Vaults: []Vault{
				{
					Name:        "LocalStore",
					Extension:   "builtin:secretstore",
					SHA256:      "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
					Description: "encrypted local store",
					Parameters: map[string]any{
						"authentication": "password", "timeout": int64(900), "ratio": 0.5, "strict": true,
					},
					Grants: Grants{
						Storage: true, Memory: 64 << 20, Timeout: 5 * time.Second, Instances: 4,
						Directory: "secrets", ReadOnly: true, Env: []string{"HOME", "USER"},
					},
				},
				{
					Name:      "team.vault",
					Extension: "../ext/team.wasm",
					Grants:    Grants{Memory: 3 << 20, Timeout: 90 * time.Second},
					NoSearch:  true,
				},
			},
		}},
		{"sorted case-insensitively, empty tables dropped", `
[vaults.b]
extension = "builtin:b"
[vaults.b.parameters]
[vaults.b.grants]
env = []
[vaults.A]
extension = "builtin:a"
[vaults.C]
extension = "builtin:c"
`, &Registry{Path: abs, Vaults: []Vault{
			{Name: "A", Extension: "builtin:a"},
			{Name: "b", Extension: "builtin:b"},
			{Name: "C", Extension: "builtin:c"},
		}}},
		{"limits", `
[vaults.x]
extension = "builtin:x"
grants.memory = "2MiB"
grants.timeout = "10m"
grants.instances = 64
[vaults.y]
extension = "builtin:y"
grants.memory = "4GiB"
grants.timeout = "1ns"
grants.instances = 1
`, &Registry{Path: abs, Vaults: []Vault{
			{Name: "x", Extension: "builtin:x", Grants: Grants{Memory: 2 << 20, Timeout: 10 * time.Minute, Instances: 64}},
			{Name: "y", Extension: "builtin:y", Grants: Grants{Memory: 4 << 30, Timeout: 1, Instances: 1}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("vaults.toml", []byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// vault is a valid vault table for the error tests to build on.
const vault = "[vaults.A]\nextension = \"builtin:a\"\n"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // the whole message, or a part of it if it starts with "…"
	}{
		// syntax
		{"syntax", "default = \"A\"\n\ndescription = \n", `vaults.toml:3: expected value but found '\n' instead`},
		{"duplicate key", vault + "extension = \"builtin:b\"\n", `vaults.toml:3: Key 'vaults.A.extension' has already been defined.`},

		// unknown keys, at every level
		{"unknown top-level key", "version = 1\n", `vaults.toml:1: unknown key "version"`},
		{"unknown vault key", vault + "extention = \"x\"\n", `vaults.toml:3: unknown key "vaults.A.extention"`},
		{"unknown table", vault + "\n[vaults.A.grantz]\nstorage = true\n", `vaults.toml:4: unknown key "vaults.A.grantz"`},
		{"unknown grant", vault + "[vaults.A.grants]\nstorage = true\n\n  stroage = true\n", `vaults.toml:6: unknown key "vaults.A.grants.stroage"`},
		{"unknown dotted grant", vault + "grants.storage = true\ngrants.stroage = true\n", `vaults.toml:4: unknown key "vaults.A.grants.stroage"`},
		{"unknown grant in inline table", vault + "grants = { storage = true,\n  memroy = \"64MiB\" }\n", `vaults.toml:4: unknown key "vaults.A.grants.memroy"`},
		{"unknown quoted key", vault + "'my key' = 1\n", `vaults.toml:3: unknown key "vaults.A.\"my key\""`},
		{"unknown key in quoted vault", "[vaults.\"a.b\"]\nextension = \"builtin:a\"\n[ vaults . \"a.b\" . grants ]\nx = 1\n", `vaults.toml:4: unknown key "vaults.\"a.b\".grants.x"`},
		{"unknown key after tricky strings", vault + "description = \"\"\"\n[vaults.A.grants]\nstroage = true\n\"\"\"\n[vaults.A.parameters]\np = '''\nx = 1'''\nq = [\n  \"]\", # ]\n  { a = 1 },\n]\n[vaults.A.grants]\nstroage = true\n", `vaults.toml:15: unknown key "vaults.A.grants.stroage"`},

		// wrong types
		{"default not a string", "default = 1\n", `vaults.toml:1: default must be a string, not an integer`},
		{"vaults not a table", "vaults = [1]\n", `vaults.toml:1: vaults must be a table, not an array`},
		{"array of vaults", "[[vaults]]\nname = \"a\"\n", `vaults.toml:1: vaults must be a table, not an array of tables`},
		{"vault not a table", "[vaults]\nA = \"builtin:a\"\n", `vaults.toml:2: vault "A" must be a table, not a string`},
		{"extension not a string", "[vaults.A]\nextension = true\n", `vaults.toml:2: vault "A": extension must be a string, not a boolean`},
		{"grants not a table", vault + "grants = 1\n", `vaults.toml:3: vault "A": grants must be a table, not an integer`},
		{"storage not a boolean", vault + "[vaults.A.grants]\nstorage = \"yes\"\n", `vaults.toml:4: vault "A": grants.storage must be a boolean, not a string`},
		{"env not strings", vault + "grants.env = [\"HOME\", 1]\n", `vaults.toml:3: vault "A": grants.env must be an array of strings, not an integer`},
		{"timeout not a string", vault + "grants.timeout = 5\n", `vaults.toml:3: vault "A": grants.timeout must be a duration such as "5s", not an integer`},
		{"instances not an integer", vault + "grants.instances = \"4\"\n", `vaults.toml:3: vault "A": grants.instances must be an integer, not a string`},
		{"search not a boolean", vault + "search = \"no\"\n", `vaults.toml:3: vault "A": search must be a boolean, not a string`},

		// names
		{"name with space", "[vaults.\"my vault\"]\nextension = \"builtin:a\"\n", `vaults.toml:1: vault name "my vault" is invalid: use 1 to 64 ASCII letters, digits, '-', '_' or '.', starting with a letter or digit`},
		{"name with wildcard", "[vaults.\"a*\"]\nextension = \"builtin:a\"\n", `…vault name "a*" is invalid`},
		{"empty name", "[vaults.\"\"]\nextension = \"builtin:a\"\n", `…vaults.toml:1: vault name "" is invalid`},
		{"name starting with a dot", "[vaults.\".a\"]\nextension = \"builtin:a\"\n", `…vault name ".a" is invalid`},
		{"name starting with a dash", "[vaults.-a]\nextension = \"builtin:a\"\n", `…vault name "-a" is invalid`},
		{"name too long", "[vaults." + strings.Repeat("a", 65) + "]\nextension = \"builtin:a\"\n", `…vault name "aaaa`},
		{"non-ASCII name", "[vaults.\"café\"]\nextension = \"builtin:a\"\n", `…vault name "café" is invalid`},
		{"names differing in case", vault + "[vaults.a]\nextension = \"builtin:a\"\n", `vaults.toml:3: vault names "A" and "a" differ only in case`},

		// extension, sha256
		{"no extension", "\n[vaults.A]\ndescription = \"x\"\n", `vaults.toml:2: vault "A": extension is required`},
		{"empty extension", "[vaults.A]\nextension = \"\"\n", `vaults.toml:1: vault "A": extension is required`},
		{"bad builtin", "[vaults.A]\nextension = \"builtin:Secret\"\n", `vaults.toml:2: vault "A": extension "builtin:Secret" is invalid: a builtin name is lowercase letters, digits and '-', starting with a letter or digit`},
		{"empty builtin", "[vaults.A]\nextension = \"builtin:\"\n", `…extension "builtin:" is invalid`},
		{"control character in path", "[vaults.A]\nextension = \"a\\u0007.wasm\"\n", `vaults.toml:2: vault "A": extension path contains a control character`},
		{"short sha256", vault + "sha256 = \"abc\"\n", `vaults.toml:3: vault "A": sha256 must be 64 lowercase hexadecimal digits`},
		{"non-hex sha256", vault + "sha256 = \"" + strings.Repeat("g", 64) + "\"\n", `vaults.toml:3: vault "A": sha256 must be 64 lowercase hexadecimal digits`},

		// parameters
		{"reserved verbose", vault + "[vaults.A.parameters]\nVerbose = true\n", `vaults.toml:4: vault "A": parameter "Verbose" is reserved`},
		{"array parameter", vault + "parameters.list = [1, 2]\n", `vaults.toml:3: vault "A": parameter "list" must be a string, integer, float or boolean, not an array`},
		{"table parameter", vault + "[vaults.A.parameters.sub]\nx = 1\n", `vaults.toml:3: vault "A": parameter "sub" must be a string, integer, float or boolean, not a table`},
		{"date parameter", vault + "parameters.when = 1979-05-27\n", `…parameter "when" must be a string, integer, float or boolean, not a date-time`},
		{"nan parameter", vault + "parameters.x = nan\n", `vaults.toml:3: vault "A": parameter "x" must be a finite number`},
		{"empty parameter name", vault + "parameters.\"\" = 1\n", `vaults.toml:3: vault "A": parameter names must not be empty`},
		{"parameter name with newline", vault + "parameters.\"a\\nb\" = 1\n", `vaults.toml:3: vault "A": parameter name "a\nb" contains a control character`},

		// grants
		{"bad memory", vault + "grants.memory = \"64MB\"\n", `vaults.toml:3: vault "A": grants.memory "64MB" is not a size such as "64MiB"`},
		{"small memory", vault + "grants.memory = \"1MiB\"\n", `vaults.toml:3: vault "A": grants.memory must be between 2MiB and 4GiB, not 1MiB`},
		{"large memory", vault + "grants.memory = \"5GiB\"\n", `vaults.toml:3: vault "A": grants.memory must be between 2MiB and 4GiB, not 5GiB`},
		{"huge memory", vault + "grants.memory = \"99999999999GiB\"\n", `…is not a size such as "64MiB"`},
		{"zero memory", vault + "grants.memory = 0\n", `vaults.toml:3: vault "A": grants.memory must be between 2MiB and 4GiB, not 0B`},
		{"negative memory", vault + "grants.memory = -1\n", `vaults.toml:3: vault "A": grants.memory must be between 2MiB and 4GiB, not -1`},
		{"bad timeout", vault + "grants.timeout = \"5\"\n", `vaults.toml:3: vault "A": grants.timeout "5" is not a duration such as "5s"`},
		{"zero timeout", vault + "grants.timeout = \"0s\"\n", `vaults.toml:3: vault "A": grants.timeout must be more than 0s and at most 10m, not 0s`},
		{"long timeout", vault + "grants.timeout = \"10m1s\"\n", `vaults.toml:3: vault "A": grants.timeout must be more than 0s and at most 10m, not 10m1s`},
		{"zero instances", vault + "grants.instances = 0\n", `vaults.toml:3: vault "A": grants.instances must be between 1 and 64, not 0`},
		{"too many instances", vault + "grants.instances = 65\n", `vaults.toml:3: vault "A": grants.instances must be between 1 and 64, not 65`},
		{"read_only without directory", vault + "grants.read_only = true\n", `vaults.toml:3: vault "A": grants.read_only needs grants.directory`},
		{"bad env name", vault + "grants.env = [\"A=B\"]\n", `vaults.toml:3: vault "A": grants.env: "A=B" is not an environment variable name`},

		// several problems, in the order of their lines
		{"all problems", "default = 1\n[vaults.b]\nextension = 2\nx = 3\n", "vaults.toml:1: default must be a string, not an integer\n" +
			"vaults.toml:3: vault \"b\": extension must be a string, not an integer\n" +
			"vaults.toml:4: unknown key \"vaults.b.x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse("vaults.toml", []byte(tt.doc))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v, %v; want an error wrapping ErrInvalid", r, err)
			}
			if r != nil {
				t.Errorf("Parse returned a registry with its error")
			}
			if part, ok := strings.CutPrefix(tt.want, "…"); ok {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q\ndoes not contain %q", err, part)
				}
			} else if err.Error() != tt.want {
				t.Errorf("error %q\n        want %q", err, tt.want)
			}
		})
	}
}

func TestParseNoPath(t *testing.T) {
	r, err := Parse("", nil)
	if err != nil || r.Path != "" {
		t.Errorf(`Parse("", nil) = %+v, %v`, r, err)
	}
	_, err = Parse("", []byte("x = 1\n"))
	if want := `line 1: unknown key "x"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestKeyLines(t *testing.T) {
	doc := "\uFEFFa = 1 # [x]\n" +
		"b = \"\"\"\n[not.a.table]\nc = 1\n\\\"\"\"\"\"\"\n" + // lines 2-5: a multi-line string ending in quotes
		"[t] # comment\n" + // 6
		"d.\"e.f\".'g' = [\n  1, # ]\n  { h = 2 },\n]\n" + // 7-10
		"i = { j = { k = 1979-05-27 07:32:00Z, l = 'm' }, n = 2 }\n" + // 11
		"[[arr]]\n" + // 12
		"o = '''\n'''\n" + // 13-14
		"\"p\\u0041\\\"\" = 3\n" // 15
	want := map[string]int{
		"a": 1, "b": 2, "t": 6, "t d": 7, "t d e.f": 7, "t d e.f g": 7,
		"t i": 11, "t i j": 11, "t i j k": 11, "t i j l": 11, "t i n": 11,
		"arr": 12, "arr o": 13, "arr pA\"": 15,
	}
	got := keyLines([]byte(doc))
	for k, line := range want {
		if g := got[strings.ReplaceAll(k, " ", "\x00")]; g != line {
			t.Errorf("line of %q = %d, want %d", k, g, line)
		}
	}
	if len(got) != len(want) {
		t.Errorf("keyLines found %d keys, want %d: %v", len(got), len(want), got)
	}
	if _, err := Parse("x.toml", []byte(doc)); err == nil {
		t.Fatal("the document is not a registry, yet it parsed")
	}
}
