// Command embed is the shortest path for a Go program that keeps its
// secrets with sesame: open an engine on a registry file of its own, and
// read a secret, with typed errors.
//
//	go run ./examples/embed -config examples/embed/vaults.toml -secret api-token
//
// The registry beside this file has one vault, the built-in secretstore
// without a password, keeping its data in examples/embed/.sesame. On first
// run the program stores a token, so there is something to read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sesamehq/sesame/engine"
)

func main() {
	config := flag.String("config", "examples/embed/vaults.toml", "the registry file")
	name := flag.String("secret", "api-token", "the secret to read")
	flag.Parse()
	if err := run(context.Background(), *config, *name); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, config, name string) error {
	// Data beside the registry, as the sesame CLI does for any registry
	// that is not the user's own.
	data := filepath.Join(filepath.Dir(config), ".sesame")
	e, err := engine.Open(ctx, config, &engine.Options{DataDir: data})
	if err != nil {
		return err
	}
	defer e.Close()

	s, err := e.Get(ctx, engine.GetRequest{Name: name})
	if errors.Is(err, engine.ErrSecretNotFound) {
		// First run: store one, refusing to overwrite a secret that another
		// process stored meanwhile.
		_, err = e.Set(ctx, engine.SetRequest{Name: name, Value: engine.SecureString("example-token-0001"), NoClobber: true})
		if err != nil && !errors.Is(err, engine.ErrNoClobber) {
			return err
		}
		s, err = e.Get(ctx, engine.GetRequest{Name: name})
	}
	if err != nil {
		return err
	}
	token, ok := s.Value.(engine.SecureString)
	if !ok {
		return fmt.Errorf("secret %q in vault %s is a %s, not a secure string", s.Name, s.Vault, s.Type)
	}
	// A real program would use the token; this one shows only its length.
	fmt.Printf("read %s from vault %s: a %s of %d characters\n", s.Name, s.Vault, s.Type, len(token))
	return nil
}
