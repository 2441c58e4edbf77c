package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// profileMain is `benchreport profile`: it runs one scenario of the report
// for a while under the CPU profiler, so that a slow row can be explained
// with `go tool pprof`:
//
//	go run ./cmd/benchreport profile -scenario store-set -o /tmp/set.pprof
//	go tool pprof -top /tmp/set.pprof
//
// Scenarios: store-get and store-set (the builtin secretstore on disk, as in
// the scale section), guest-get and guest-set (the boundary's Go guest,
// engine.Vault), wat-get (the boundary's WAT guest), engine-get (the engine
// API over a native vault), open-get (a new engine per get, as `sesame get`
// in a new process pays it, the compile cache warm), store-import (batches
// of 2000 new secrets through Engine.Import, as sesame import sends them),
// store-info (Engine.Info over 100 000 secrets, imported first),
// store-set-100000 (store-set on random secrets of 100 000, imported first).
func profileMain(args []string) int {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	scenario := fs.String("scenario", "", "what to run")
	out := fs.String("o", "cpu.pprof", "the CPU profile to write")
	d := fs.Duration("d", 10*time.Second, "how long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := profile(context.Background(), *scenario, *out, *d); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport profile:", err)
		return 1
	}
	return 0
}

func profile(ctx context.Context, scenario, out string, d time.Duration) error {
	work, err := os.MkdirTemp("", "sesame-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	c := &config{root: "..", bench: ".", work: work, bin: filepath.Join(work, "bin")}
	if c.root, err = filepath.Abs(".."); err != nil {
		return err
	}
	c.bench = filepath.Join(c.root, "bench")
	if err := build(ctx, c); err != nil {
		return err
	}
	opts := &engine.Options{DataDir: filepath.Join(work, "data"), CacheDir: filepath.Join(work, "cache")}
	registry := filepath.Join(work, "vaults.toml")
	e, err := engine.Open(ctx, registry, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	var o op
	switch scenario {
	case "store-get", "store-set", "open-get":
		err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: scaleVault, Extension: "builtin:secretstore",
			Parameters: map[string]any{"authentication": "none"}, Grants: engine.Grants{Storage: true}}})
		if err != nil {
			return err
		}
		for i := range 100 {
			if _, err := e.Set(ctx, engine.SetRequest{Name: scaleName(i), Value: scaleValue(i), Vault: scaleVault}); err != nil {
				return err
			}
		}
		i := 0
		switch scenario {
		case "store-get":
			o = func(ctx context.Context) error {
				i++
				_, err := e.Get(ctx, engine.GetRequest{Name: scaleName(i % 100), Vault: scaleVault})
				return err
			}
		case "store-set":
			o = func(ctx context.Context) error {
				i++ // a new value each time: a set of the stored value writes nothing (SPEC.md §4, set reports)
				_, err := e.Set(ctx, engine.SetRequest{Name: scaleName(i % 100), Value: scaleValue(100 + i), Vault: scaleVault})
				return err
			}
		case "open-get":
			o = func(ctx context.Context) error {
				e2, err := engine.Open(ctx, registry, opts)
				if err != nil {
					return err
				}
				defer e2.Close()
				_, err = e2.Get(ctx, engine.GetRequest{Name: scaleName(1)})
				return err
			}
		}
	case "store-import", "store-info", "store-set-100000":
		err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: scaleVault, Extension: "builtin:secretstore",
			Parameters: map[string]any{"authentication": "none"}, Grants: engine.Grants{Storage: true, Timeout: 10 * time.Minute}}})
		if err != nil {
			return err
		}
		next := 0
		importBatch := func(ctx context.Context) error {
			batch := make([]engine.ImportSecret, 2000)
			for j := range batch {
				batch[j] = engine.ImportSecret{Name: scaleName(next), Value: scaleValue(next)}
				next++
			}
			_, err := e.Import(ctx, engine.ImportRequest{Vault: scaleVault, Secrets: batch})
			return err
		}
		o = importBatch
		if scenario == "store-info" || scenario == "store-set-100000" {
			for next < 100_000 {
				if err := importBatch(ctx); err != nil {
					return err
				}
			}
			o = func(ctx context.Context) error {
				_, err := e.Info(ctx, engine.InfoRequest{Vault: scaleVault})
				return err
			}
		}
		if scenario == "store-set-100000" {
			rng := rand.New(rand.NewPCG(1, 2))
			o = func(ctx context.Context) error {
				next++ // a new value each time, as in store-set
				_, err := e.Set(ctx, engine.SetRequest{Name: scaleName(rng.IntN(100_000)), Value: scaleValue(next), Vault: scaleVault})
				return err
			}
		}
	case "guest-get", "guest-set", "wat-get":
		file, name := "sesame-go.wasm", "Guest"
		if scenario == "wat-get" {
			file = "sesame-wat.wasm"
		}
		if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: name, Extension: c.path(file)}}); err != nil {
			return err
		}
		v, err := e.Vault(ctx, name)
		if err != nil {
			return err
		}
		p := vaultPath("", "", "", v)
		if err := p.set(ctx); err != nil {
			return err
		}
		o = p.get
		if scenario == "guest-set" {
			o = p.set
		}
	case "engine-get":
		if err := e.Mount("Native", memvault.New(memvault.Options{})); err != nil {
			return err
		}
		p := enginePath("", "", "", e, "Native")
		if err := p.set(ctx); err != nil {
			return err
		}
		o = p.get
	default:
		return errors.New("unknown scenario " + scenario)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if err := o(ctx); err != nil {
			pprof.StopCPUProfile()
			return err
		}
		n++
	}
	pprof.StopCPUProfile()
	logf("%s: %d operations, %v each; profile in %s", scenario, n, time.Since(start)/time.Duration(n), out)
	return nil
}
