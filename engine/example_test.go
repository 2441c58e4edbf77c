package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// A Go program opens an engine on a registry file and uses its vaults. Here
// the only vault is an in-process one, mounted beside the (empty) registry.
func Example() {
	dir, _ := os.MkdirTemp("", "sesame-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	e, err := engine.Open(ctx, filepath.Join(dir, "vaults.toml"), &engine.Options{DataDir: dir, NoCache: true})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	e.Mount("Memory", memvault.New(memvault.Options{}))

	set := engine.SetRequest{Name: "db-password", Vault: "Memory", Value: engine.SecureString("hunter2"), Metadata: engine.Metadata{"owner": "ops"}}
	if _, err := e.Set(ctx, set); err != nil {
		panic(err)
	}
	s, err := e.Get(ctx, engine.GetRequest{Name: "db-password"})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Name, s.Type, s.Vault, s.Metadata["owner"])
	fmt.Println(s.Value) // a SecureString prints masked
	fmt.Println(string(s.Value.(engine.SecureString)))

	_, err = e.Set(ctx, engine.SetRequest{Name: "db-password", Value: "again", Vault: "Memory", NoClobber: true})
	fmt.Println(err)
	fmt.Println(errors.Is(err, engine.ErrNoClobber))
	// Output:
	// db-password securestring Memory ops
	// ****
	// hunter2
	// A secret with name db-password already exists in vault Memory.
	// true
}
