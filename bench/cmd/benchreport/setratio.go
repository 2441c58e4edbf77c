package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
)

// setRatioMain is `benchreport setratio`: the scale section's set at 100
// and at 100 000 secrets, measured side by side. The scale section times
// each size in its own process, a minute apart, so the load of other work
// in between moves the ratio of the two (1.2 to 2.4 for one build on this
// machine); here two builtin secretstore vaults, filled by Engine.Import in
// batches of 2000 as `sesame import` sends them, are set alternately by one
// new engine, so that both sizes meet the same moments:
//
//	go run ./cmd/benchreport setratio -sets 1000
//
// It prints each size's mean, p50 and p95 wall time a set and the CPU time
// a set (the process's, getrusage), and their ratios. With -compact, the
// stores' files are compacted (bbolt.Compact, as storage.Store.Compact
// does, but in transactions of 1 MiB) between the import and the sets: what the sets cost without the
// free pages that the import's last batches left (bench/NOTES.md).
func setRatioMain(args []string) int {
	fs := flag.NewFlagSet("setratio", flag.ContinueOnError)
	sets := fs.Int("sets", 1000, "sets of each size")
	big := fs.Int("n", 100_000, "secrets of the large store")
	compact := fs.Bool("compact", false, "compact the stores' files after the import")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := setRatio(context.Background(), *sets, []int{100, *big}, *compact); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport setratio:", err)
		return 1
	}
	return 0
}

// setRatioVault names the vault of a store of n secrets.
func setRatioVault(n int) string { return fmt.Sprintf("Store%d", n) }

func setRatio(ctx context.Context, sets int, sizes []int, compact bool) error {
	work, err := os.MkdirTemp("", "sesame-setratio-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	registry := filepath.Join(work, "vaults.toml")
	opts := &engine.Options{DataDir: filepath.Join(work, "data"), CacheDir: filepath.Join(work, "cache")}
	if err := setRatioFill(ctx, registry, opts, sizes); err != nil {
		return err
	}
	if compact {
		if err := setRatioCompact(filepath.Join(work, "data", "storage")); err != nil {
			return err
		}
	}
	e, err := engine.Open(ctx, registry, opts) // a new engine, as the scale section's child
	if err != nil {
		return err
	}
	defer e.Close()
	wall := make([][]time.Duration, len(sizes))
	cpu := make([]time.Duration, len(sizes))
	rng := rand.New(rand.NewPCG(1, 2))
	for j := range sets {
		for k, n := range sizes {
			name := scaleName(rng.IntN(n))
			t, c := time.Now(), cpuTime()
			// A value no secret holds: a set of the stored value writes nothing.
			_, err := e.Set(ctx, engine.SetRequest{Name: name, Value: scaleValue(n + j), Vault: setRatioVault(n)})
			wall[k] = append(wall[k], time.Since(t))
			cpu[k] += cpuTime() - c
			if err != nil {
				return err
			}
		}
	}
	var means, p50s []time.Duration
	for k, n := range sizes {
		mean, p50, p95 := summarize(wall[k])
		means, p50s = append(means, mean), append(p50s, p50)
		logf("set at %6d secrets: mean %v, p50 %v, p95 %v, CPU %v", n, mean, p50, p95, cpu[k]/time.Duration(sets))
		if k > 0 {
			logf("  ÷ set at %d: mean %.2f, p50 %.2f, CPU %.2f", sizes[0], float64(mean)/float64(means[0]),
				float64(p50)/float64(p50s[0]), float64(cpu[k])/float64(cpu[0]))
		}
	}
	return nil
}

// setRatioFill registers a builtin secretstore vault without a password for
// each size and imports its secrets.
func setRatioFill(ctx context.Context, registry string, opts *engine.Options, sizes []int) error {
	e, err := engine.Open(ctx, registry, opts)
	if err != nil {
		return err
	}
	defer e.Close()
	for _, n := range sizes {
		err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: setRatioVault(n), Extension: "builtin:secretstore",
			Parameters: map[string]any{"authentication": "none"}, Grants: engine.Grants{Storage: true, Timeout: 10 * time.Minute}}})
		if err != nil {
			return err
		}
		t := time.Now()
		for next := 0; next < n; {
			batch := make([]engine.ImportSecret, 0, 2000)
			for ; next < n && len(batch) < 2000; next++ {
				batch = append(batch, engine.ImportSecret{Name: scaleName(next), Value: scaleValue(next)})
			}
			if _, err := e.Import(ctx, engine.ImportRequest{Vault: setRatioVault(n), Secrets: batch}); err != nil {
				return err
			}
		}
		logf("imported %d secrets in %v", n, time.Since(t))
	}
	return nil
}

// setRatioCompact compacts every store file in dir and says what each
// took and how many free pages it had.
func setRatioCompact(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.db"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no store file in %s to compact (%v)", dir, err)
	}
	for _, f := range files {
		if err := compactFile(f); err != nil {
			return fmt.Errorf("compact %s: %w", f, err)
		}
	}
	return nil
}

func compactFile(path string) error {
	src, err := bolt.Open(path, 0o600, nil) // read-write: a read-only bbolt loads no free list to count
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := bolt.Open(path+".compact", 0o600, nil)
	if err != nil {
		return err
	}
	t := time.Now()
	if err := bolt.Compact(dst, src, 1<<20); err != nil { // 1 MiB a transaction: a third of the time of one (bench/NOTES.md)
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	logf("compacted %s in %v (%d free pages)", filepath.Base(path), time.Since(t), src.Stats().FreePageN)
	return os.Rename(path+".compact", path)
}
