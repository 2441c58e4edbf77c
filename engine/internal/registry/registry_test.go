package registry

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func names(r *Registry) string {
	var s []string
	for _, v := range r.Vaults {
		s = append(s, v.Name)
	}
	return strings.Join(s, ",")
}

func TestPut(t *testing.T) {
	r := &Registry{}
	for _, name := range []string{"b", "C", "a"} {
		if err := r.Put(Vault{Name: name, Extension: "builtin:x"}, false); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(r); got != "a,b,C" {
		t.Errorf("vaults = %s, want a,b,C", got)
	}
	r.Default = "b"

	err := r.Put(Vault{Name: "B", Extension: "builtin:y"}, false)
	if !errors.Is(err, ErrVaultExists) || err.Error() != `vault "b" is already registered` {
		t.Errorf("Put of a registered name = %v, want ErrVaultExists", err)
	}
	if v, _ := r.Lookup("b"); v.Extension != "builtin:x" {
		t.Errorf("a refused Put changed the vault: %+v", v)
	}

	if err := r.Put(Vault{Name: "B", Extension: "builtin:y"}, true); err != nil {
		t.Fatal(err)
	}
	if got := names(r); got != "a,B,C" || r.Default != "B" {
		t.Errorf("after clobbering: vaults = %s, default %q; want a,B,C and B", got, r.Default)
	}
	if v, _ := r.Lookup("b"); v.Extension != "builtin:y" {
		t.Errorf("clobbered vault = %+v", v)
	}

	err = r.Put(Vault{Name: "bad name", Extension: "builtin:x"}, true)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `vault name "bad name" is invalid`) {
		t.Errorf("Put of an invalid vault = %v", err)
	}
	if len(r.Vaults) != 3 {
		t.Errorf("a refused Put changed the registry: %s", names(r))
	}
}

func TestPutNormalises(t *testing.T) {
	type mode string
	params := map[string]any{"n": 7, "u": uint8(3), "f": float32(0.5), "m": mode("x"), "b": true}
	env := []string{"USER", "HOME", "USER"}
	r := &Registry{}
	err := r.Put(Vault{
		Name: "A", Extension: "a.wasm", SHA256: strings.Repeat("AB", 32), Parameters: params,
		Grants: Grants{Env: env},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Vault{
		Name: "A", Extension: "a.wasm", SHA256: strings.Repeat("ab", 32),
		Parameters: map[string]any{"n": int64(7), "u": int64(3), "f": 0.5, "m": "x", "b": true},
		Grants:     Grants{Env: []string{"HOME", "USER"}},
	}
	if !reflect.DeepEqual(r.Vaults[0], want) {
		t.Errorf("Put stored %#v\nwant %#v", r.Vaults[0], want)
	}
	if params["n"] != 7 || env[0] != "USER" {
		t.Errorf("Put changed its argument's map or slice")
	}
	if err := r.Put(Vault{Name: "B", Extension: "b", Parameters: map[string]any{"x": []int{1}}}, false); !errors.Is(err, ErrInvalid) {
		t.Errorf("Put with a slice parameter = %v, want ErrInvalid", err)
	}
}

func TestRemove(t *testing.T) {
	r := &Registry{}
	for _, name := range []string{"a", "B", "c"} {
		if err := r.Put(Vault{Name: name, Extension: "builtin:x"}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.SetDefault("b"); err != nil || r.Default != "B" {
		t.Fatalf("SetDefault(b) = %v, default %q; want B", err, r.Default)
	}
	if err := r.Remove("A"); err != nil || names(r) != "B,c" || r.Default != "B" {
		t.Errorf("Remove(A) = %v: vaults %s, default %q", err, names(r), r.Default)
	}
	if err := r.Remove("b"); err != nil || names(r) != "c" || r.Default != "" {
		t.Errorf("Remove of the default = %v: vaults %s, default %q; want c and no default", err, names(r), r.Default)
	}
	err := r.Remove("nope")
	if !errors.Is(err, ErrVaultNotFound) || err.Error() != `vault "nope" is not registered` {
		t.Errorf("Remove(nope) = %v, want ErrVaultNotFound", err)
	}
}

func TestSetDefault(t *testing.T) {
	r := &Registry{Vaults: []Vault{{Name: "LocalStore", Extension: "builtin:x"}}}
	for _, tt := range []struct {
		name, want string
		err        error
	}{
		{"localstore", "LocalStore", nil},
		{"LOCALSTORE", "LocalStore", nil},
		{"other", "LocalStore", ErrVaultNotFound},
		{"", "", nil},
		{"*", "", ErrVaultNotFound},
	} {
		if err := r.SetDefault(tt.name); !errors.Is(err, tt.err) || r.Default != tt.want {
			t.Errorf("SetDefault(%q) = %v, default %q; want %v, %q", tt.name, err, r.Default, tt.err, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	r := &Registry{Vaults: []Vault{{Name: "a.b", Extension: "x"}, {Name: "LocalStore", Extension: "y"}}}
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"localSTORE", true}, {"A.B", true}, {"a*", false}, {"", false}, {"LocalStor", false}} {
		v, ok := r.Lookup(tt.name)
		if ok != tt.ok || ok && !strings.EqualFold(v.Name, tt.name) {
			t.Errorf("Lookup(%q) = %v, %v", tt.name, v, ok)
		}
	}
	v, _ := r.Lookup("localstore")
	v.Description = "changed"
	if r.Vaults[1].Description != "changed" {
		t.Error("Lookup does not return a pointer into the registry")
	}
}

func TestResolvePath(t *testing.T) {
	dir := filepath.FromSlash("/etc/sesame")
	r := &Registry{Path: filepath.Join(dir, "vaults.toml")}
	abs := filepath.Join(dir, "..", "abs")
	if !filepath.IsAbs(abs) {
		t.Skip("no absolute path form on this system")
	}
	for in, want := range map[string]string{
		"secrets":       filepath.Join(dir, "secrets"),
		"../ext/a.wasm": filepath.Join(filepath.Dir(dir), "ext", "a.wasm"),
		abs:             abs,
		"":              "",
		"./x/../y.wasm": filepath.Join(dir, "y.wasm"),
	} {
		if got := r.ResolvePath(in); got != want {
			t.Errorf("ResolvePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := func() *Registry {
		return &Registry{Default: "A", Vaults: []Vault{{Name: "A", Extension: "builtin:a"}, {Name: "b", Extension: "b.wasm"}}}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("Validate of a valid registry: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(r *Registry)
		want   string
	}{
		{"default case", func(r *Registry) { r.Default = "a" }, `default vault "a" must be spelled as registered, "A"`},
		{"duplicate", func(r *Registry) { r.Vaults[1].Name = "a" }, `vault names "A" and "a" differ only in case`},
		{"int parameter", func(r *Registry) { r.Vaults[0].Parameters = map[string]any{"n": 1} },
			`vault "A": parameter "n" must be a string, integer, float or boolean, not a Go int`},
		{"uppercase sha256", func(r *Registry) { r.Vaults[0].SHA256 = strings.Repeat("A", 64) },
			`vault "A": sha256 must be 64 lowercase hexadecimal digits`},
		{"unsorted env", func(r *Registry) { r.Vaults[0].Grants.Env = []string{"B", "A"} },
			`vault "A": grants.env must be sorted and without duplicates`},
		{"negative instances", func(r *Registry) { r.Vaults[0].Grants.Instances = -1 },
			`vault "A": grants.instances must be between 1 and 64, not -1`},
		{"negative timeout", func(r *Registry) { r.Vaults[0].Grants.Timeout = -1 },
			`vault "A": grants.timeout must be more than 0s and at most 10m, not -1ns`},
		{"bad UTF-8", func(r *Registry) { r.Vaults[0].Description = "\xff" }, `vault "A": description is not valid UTF-8`},
		{"path prefix", func(r *Registry) { r.Path = "/x/vaults.toml"; r.Vaults[1].Extension = "" },
			`/x/vaults.toml: vault "b": extension is required`},
		{"two problems", func(r *Registry) { r.Vaults[0].Extension = ""; r.Default = "a" },
			"vault \"A\": extension is required\ndefault vault \"a\" must be spelled as registered, \"A\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(r)
			err := r.Validate()
			if !errors.Is(err, ErrInvalid) || err.Error() != tt.want {
				t.Errorf("Validate = %v\n      want %s", err, tt.want)
			}
		})
	}
}

// TestDanglingDefault: a default that names no registered vault is read and
// written as it is, so that the commands that fix it (list, default,
// unregister) can run; DanglingDefault reports it.
func TestDanglingDefault(t *testing.T) {
	r, err := Parse("vaults.toml", []byte("default = \"Nope\"\n[vaults.A]\nextension = \"builtin:a\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Default != "Nope" || !r.DanglingDefault() {
		t.Errorf("Default = %q, DanglingDefault = %v; want \"Nope\", true", r.Default, r.DanglingDefault())
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	if err := r.SetDefault("a"); err != nil || r.DanglingDefault() || r.Default != "A" {
		t.Errorf("after SetDefault: %v, %q, %v", err, r.Default, r.DanglingDefault())
	}
	if (&Registry{}).DanglingDefault() {
		t.Error("no default is not a dangling one")
	}
}

// TestEqualSeesEveryField: Vault.Equal, which spells reflect.DeepEqual out
// for speed, tells apart two registrations that differ in any one field,
// the grants' included, so that a field added later cannot be forgotten.
func TestEqualSeesEveryField(t *testing.T) {
	base := func() Vault {
		return Vault{Parameters: map[string]any{"p": "v"}, Grants: Grants{Env: []string{"E"}, HTTP: []string{"https://a:443"}}}
	}
	b := base()
	if c := base(); !b.Equal(&c) {
		t.Fatal("two equal registrations differ")
	}
	change := func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Int, reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Uint64:
			v.SetUint(v.Uint() + 1)
		case reflect.Slice:
			v.Set(reflect.Append(v, reflect.ValueOf("x")))
		case reflect.Map:
			v.Set(reflect.ValueOf(map[string]any{"p": "w"}))
		default:
			t.Fatalf("a field of kind %s: teach this test to change it", v.Kind())
		}
	}
	for _, s := range []struct {
		name   string
		fields func(*Vault) reflect.Value
	}{
		{"Vault", func(v *Vault) reflect.Value { return reflect.ValueOf(v).Elem() }},
		{"Grants", func(v *Vault) reflect.Value { return reflect.ValueOf(&v.Grants).Elem() }},
	} {
		typ := s.fields(&b).Type()
		for i := range typ.NumField() {
			if typ.Field(i).Type == reflect.TypeFor[Grants]() {
				continue // its own fields come next
			}
			c := base()
			change(s.fields(&c).Field(i))
			if b.Equal(&c) || c.Equal(&b) {
				t.Errorf("registrations that differ in %s.%s are Equal", s.name, typ.Field(i).Name)
			}
		}
	}
}
