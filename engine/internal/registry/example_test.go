package registry_test

import (
	"fmt"

	"github.com/sesamehq/sesame/engine/internal/registry"
)

func Example() {
	r, err := registry.Parse("vaults.toml", []byte(`
default = "localstore"

[vaults.LocalStore]
extension = "builtin:secretstore"
grants = { storage = true, memory = 67108864 }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := r.Lookup("LOCALSTORE")
	fmt.Println(r.Default, v.Extension, v.Grants.Memory>>20, "MiB")

	if err := r.Put(registry.Vault{Name: "Remote", Extension: "remote.wasm"}, false); err != nil {
		fmt.Println(err)
	}
	data, _ := r.Marshal()
	fmt.Print(string(data))

	_, err = registry.Parse("vaults.toml", []byte("[vaults.LocalStore]\nextension = \"builtin:secretstore\"\n\n[vaults.LocalStore.grants]\nstroage = true\n"))
	fmt.Println(err)
	// Output:
	// LocalStore builtin:secretstore 64 MiB
	// # sesame vault registry — edited by sesame; comments are not preserved
	// default = "LocalStore"
	//
	// [vaults.LocalStore]
	// extension   = "builtin:secretstore"
	//
	//   [vaults.LocalStore.grants]
	//   storage   = true
	//   memory    = "64MiB"
	//
	// [vaults.Remote]
	// extension   = "remote.wasm"
	// vaults.toml:5: unknown key "vaults.LocalStore.grants.stroage"
}
