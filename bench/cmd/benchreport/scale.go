package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/sesamehq/sesame/engine"
)

type scaleOptions struct {
	N                 int
	Dir, Cache        string
	Gets, Sets, Infos int
}

// scaleStats is what one child reports about one store size.
type scaleStats struct {
	N               int
	Info            time.Duration // Engine.Info of the whole vault, the mean of Infos
	Infos           int
	GetMean, GetP50 time.Duration
	GetP95          time.Duration
	SetMean, SetP50 time.Duration
	SetP95          time.Duration
	Gets, Sets      int
	FileBytes       int64 // the storage file's size
	DiskBytes       int64 // its blocks on disk
	RSSAfter        int64 // resident set after the reads and writes, after a GC
	HeapAfter       int64
	PeakRSS         int64 // the peak resident set (VmHWM), the fill included
	RSSAnon         int64 // of RSSAfter: anonymous memory (the Go heap, guest memory)
	RSSFile         int64 // of RSSAfter: mapped files (the binary, bbolt, compiled code)
	HeapUnreturned  int64 // Go heap spans free but not yet given back to the OS
}

type scaleRow struct {
	scaleStats
	Import     time.Duration // `sesame import` of the N secrets into the empty store
	ImportCPU  time.Duration // its CPU time (user and system): what waits for a core leaves out
	FreshInfo  time.Duration // `sesame info` in a new process, the median of FreshInfos
	FreshInfos int
	FreshP50   time.Duration // `sesame get` in a new process, this store
	FreshP95   time.Duration
	FreshReads int
	Skipped    string
}

type scaleResult struct {
	Rows []scaleRow
}

func scaleName(i int) string  { return fmt.Sprintf("bench-secret-%06d", i) }
func scaleValue(i int) string { return fmt.Sprintf("%032d", i) } // 32 bytes

const scaleVault = "LocalStore"

func runScale(ctx context.Context, c *config) (*scaleResult, error) {
	sizes, gets, sets, fresh, infos := []int{100, 10_000, 100_000}, 2000, 200, 20, 3
	if c.quick {
		sizes, gets, sets, fresh, infos = []int{100, 10_000}, 300, 50, 5, 2
	}
	res := &scaleResult{}
	// The engine's CacheDir, laid out as the CLI's $XDG_CACHE_HOME/sesame,
	// so that the children and the CLI share one warm compile cache.
	cache := filepath.Join(c.work, "scale-cache", "sesame")
	for _, n := range sizes {
		dir := filepath.Join(c.work, "scale-"+strconv.Itoa(n))
		row := scaleRow{scaleStats: scaleStats{N: n}}
		if err := scaleImport(ctx, c, dir, cache, &row); err != nil {
			return nil, err
		}
		err := runChild(ctx, &row.scaleStats, "scale", "-n", strconv.Itoa(n), "-dir", dir, "-cache", cache,
			"-gets", strconv.Itoa(gets), "-sets", strconv.Itoa(sets), "-infos", strconv.Itoa(infos))
		if err != nil {
			return nil, err
		}
		if err := scaleFresh(ctx, c, dir, cache, fresh, infos, &row); err != nil {
			return nil, err
		}
		logf("  %7d secrets: import %v (%.0f/s, %.0f a CPU-second), get %v, set %v, Engine.Info %v, sesame info %v, file %s, peak RSS %s, fresh get p50 %v",
			n, row.Import.Round(time.Millisecond), importRate(row.scaleStats.N, row.Import), importRate(row.scaleStats.N, row.ImportCPU), row.GetMean.Round(time.Microsecond), row.SetMean.Round(time.Microsecond),
			row.Info.Round(time.Millisecond), row.FreshInfo.Round(time.Millisecond),
			humanBytes(row.FileBytes), humanBytes(row.PeakRSS), row.FreshP50.Round(time.Millisecond))
		res.Rows = append(res.Rows, row)
		os.RemoveAll(dir)
	}
	return res, nil
}

// scaleDirs are the registry and data folders of a store folder, laid out
// as the CLI's XDG folders so that `sesame get` can read the same store.
func scaleDirs(dir string) (registry, data string) {
	return filepath.Join(dir, "config", "sesame", "vaults.toml"), filepath.Join(dir, "data", "sesame")
}

// scaleTimeout is the call deadline the scale section grants its vault: a
// listing of 100 000 secrets by the Go secretstore takes about the default
// 5 s, and fails on it half the time.
const scaleTimeout = "60s"

// importRate is secrets per second.
func importRate(n int, d time.Duration) float64 { return float64(n) / max(d.Seconds(), 1e-9) }

// importRates is the report's cell of row's import: secrets a second, and
// a second of CPU time where it was measured (not in results of earlier
// releases).
func importRates(row scaleRow) string {
	s := fmt.Sprintf("%.0f", importRate(row.N, row.Import))
	if row.ImportCPU > 0 {
		s += fmt.Sprintf(" (%.0f)", importRate(row.N, row.ImportCPU))
	}
	return s
}

// scaleImport registers the vault of the store folder dir with the CLI and
// fills it with `sesame import` of row.N secrets, timed: JSON records, one
// a line (the names have hyphens, which dotenv names cannot).
func scaleImport(ctx context.Context, c *config, dir, cache string, row *scaleRow) error {
	env := scaleEnv(dir, cache)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if _, err := command(ctx, dir, env, nil, c.path("sesame"), "vault", "register", scaleVault, "--extension", "builtin:secretstore",
		"--param", "authentication=none", "--grant", "storage=true", "--grant", "timeout="+scaleTimeout, "--default"); err != nil {
		return err
	}
	var file bytes.Buffer
	for i := range row.N {
		fmt.Fprintf(&file, "{\"name\":%q,\"value\":%q}\n", scaleName(i), scaleValue(i))
	}
	t, cpu := time.Now(), childrenCPUTime()
	if _, err := command(ctx, dir, env, file.Bytes(), c.path("sesame"), "import", "-", "--format", "json"); err != nil {
		return err
	}
	row.Import, row.ImportCPU = time.Since(t), childrenCPUTime()-cpu
	return nil
}

// scaleEnv is the environment of the CLI on the store folder dir.
func scaleEnv(dir, cache string) []string {
	return baseEnv("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+filepath.Dir(cache), "SESAME_AGENT=off")
}

// scaleChild times random gets and sets, and listings, on the store that
// scaleImport filled.
func scaleChild(ctx context.Context, o scaleOptions) (*scaleStats, error) {
	reg, data := scaleDirs(o.Dir)
	e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: o.Cache})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	st := &scaleStats{N: o.N, Gets: o.Gets, Sets: o.Sets, Infos: o.Infos}
	if _, err := e.Get(ctx, engine.GetRequest{Name: scaleName(0), Vault: scaleVault}); err != nil {
		return nil, err // and the vault is loaded before the timings
	}
	start := time.Now()
	for range o.Infos {
		list, err := e.Info(ctx, engine.InfoRequest{Vault: scaleVault})
		if err != nil {
			return nil, err
		}
		if len(list) != o.N {
			return nil, fmt.Errorf("info listed %d secrets, want %d", len(list), o.N)
		}
	}
	st.Info = time.Since(start) / time.Duration(max(1, o.Infos))

	rng := rand.New(rand.NewPCG(1, uint64(o.N)))
	times := make([]time.Duration, 0, max(o.Gets, o.Sets))
	for range o.Gets {
		i := rng.IntN(o.N)
		t := time.Now()
		s, err := e.Get(ctx, engine.GetRequest{Name: scaleName(i), Vault: scaleVault})
		times = append(times, time.Since(t))
		if err != nil {
			return nil, err
		}
		if s.Value != scaleValue(i) {
			return nil, errors.New("get returned another value")
		}
	}
	st.GetMean, st.GetP50, st.GetP95 = summarize(times)
	times = times[:0]
	// Each set writes a value the secret does not hold (a set of the value
	// stored writes nothing: SPEC.md §4, set reports), and the secrets
	// get theirs back after the timings.
	var changed []int
	for j := range o.Sets {
		i := rng.IntN(o.N)
		changed = append(changed, i)
		t := time.Now()
		_, err := e.Set(ctx, engine.SetRequest{Name: scaleName(i), Value: scaleValue(o.N + j), Vault: scaleVault})
		times = append(times, time.Since(t))
		if err != nil {
			return nil, err
		}
	}
	st.SetMean, st.SetP50, st.SetP95 = summarize(times)
	for _, i := range changed { // as the fresh reads expect, untimed
		if _, err := e.Set(ctx, engine.SetRequest{Name: scaleName(i), Value: scaleValue(i), Vault: scaleVault}); err != nil {
			return nil, err
		}
	}
	st.RSSAfter, st.PeakRSS, st.HeapAfter = settle()
	proc := procStatus(os.Getpid())
	st.RSSAnon, st.RSSFile = proc["RssAnon"], proc["RssFile"]
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapUnreturned = int64(ms.HeapIdle - ms.HeapReleased)
	err = filepath.WalkDir(filepath.Join(data, "storage"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st.FileBytes += info.Size()
		st.DiskBytes += diskBytes(info)
		return nil
	})
	return st, err
}

// summarize returns the mean, median and 95th percentile of times.
func summarize(times []time.Duration) (mean, p50, p95 time.Duration) {
	if len(times) == 0 {
		return 0, 0, 0
	}
	var sum time.Duration
	for _, t := range times {
		sum += t
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	return sum / time.Duration(len(times)), percentile(sorted, 50), percentile(sorted, 95)
}

// scaleFresh times `sesame get` of a random secret of the filled store in a
// new process, the way the fresh-process section does, with the compile
// cache of the children, and `sesame info` of the whole store.
func scaleFresh(ctx context.Context, c *config, dir, cache string, reads, infos int, row *scaleRow) error {
	env := scaleEnv(dir, cache)
	rng := rand.New(rand.NewPCG(2, uint64(row.N)))
	var times []time.Duration
	for i := range reads + 1 {
		n := rng.IntN(row.N)
		cmd := exec.CommandContext(ctx, c.path("sesame"), "get", scaleName(n), "--as-plain-text")
		cmd.Env = env
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		t := time.Now()
		err := cmd.Run()
		d := time.Since(t)
		if err != nil {
			return fmt.Errorf("sesame get: %w: %s", err, stderr.String())
		}
		if string(bytes.TrimRight(out.Bytes(), "\n")) != scaleValue(n) {
			return errors.New("sesame get printed another value")
		}
		if i > 0 { // the first read warms the page cache
			times = append(times, d)
		}
	}
	slices.Sort(times)
	row.FreshReads, row.FreshP50, row.FreshP95 = len(times), percentile(times, 50), percentile(times, 95)
	times = times[:0]
	for range infos {
		t := time.Now()
		out, err := command(ctx, dir, env, nil, c.path("sesame"), "info", "--vault", scaleVault)
		times = append(times, time.Since(t))
		if err != nil {
			return err
		}
		if lines := bytes.Count(out, []byte("\n")); lines != row.N+1 {
			return fmt.Errorf("sesame info printed %d lines, want %d", lines, row.N+1)
		}
	}
	slices.Sort(times)
	row.FreshInfos, row.FreshInfo = len(times), percentile(times, 50)
	return nil
}
