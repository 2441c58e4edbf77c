// Command benchreport runs sesame's benchmarks against the alternatives a
// user would pick instead, in one run on one machine, and writes
// BENCHMARKS.md with the tables, the commands that reproduce them and SVG
// charts of the ratios. `make bench` runs it from the repository root:
//
//	cd bench && go run ./cmd/benchreport -out ../BENCHMARKS.md
//
// The four sections:
//
//  1. boundary: a get and a set of a 32-byte secret through a native Go
//     vault, sesame's sandbox (Go and WAT guests), Extism and a
//     hashicorp/go-plugin gRPC plugin, in this process (testing.Benchmark).
//  2. fresh: one secret read by a new process, as a shell user pays for it:
//     sesame get against pass, age and keepassxc-cli (installed with apt-get
//     when missing, set up with throw-away keys in a temporary folder), and
//     a team vault on a local etcd member against etcdctl on the same one.
//  3. scale: the built-in secretstore with 100, 10 000 and 100 000 secrets,
//     filled by sesame import, then each size in a child process of its own
//     (its peak RSS is the child's): gets, sets, Engine.Info.
//  4. memory: an engine with no, one and ten vaults loaded, in child
//     processes.
//
// BENCHQUICK=1 (or -quick) makes every section shorter, for trying things
// out: fewer reads, shorter benchmarks, no 100 000-secret store.
//
// No secret value is ever on a command line: every tool gets it on standard
// input. Everything, keys included, lives under one temporary folder that is
// removed at the end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// config is what every section needs.
type config struct {
	root  string // the repository root
	bench string // root/bench
	work  string // the temporary folder of this run
	bin   string // work/bin: the built modules and programs
	quick bool
	only  map[string]bool // sections to run; empty = all
	// baseline is a git revision whose CLI the fresh and memory sections
	// also measure, beside this checkout's, for a before and after from one
	// run; empty: none.
	baseline string
	// etcd is the member the team vault's rows use; nil when it could not
	// start, and etcdErr says why (those rows say it).
	etcd    *etcdMember
	etcdErr error
}

func (c *config) runs(section string) bool { return len(c.only) == 0 || c.only[section] }

func main() {
	testing.Init()
	if len(os.Args) > 1 && os.Args[1] == "child" {
		os.Exit(child(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "profile" {
		os.Exit(profileMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "setratio" {
		os.Exit(setRatioMain(os.Args[2:]))
	}
	out := flag.String("out", "../BENCHMARKS.md", "the report to write")
	root := flag.String("root", "..", "the repository root")
	quick := flag.Bool("quick", os.Getenv("BENCHQUICK") != "", "shorter runs (also BENCHQUICK=1)")
	only := flag.String("only", "", "run only these sections (comma-separated: boundary,fresh,scale,memory; agent is the memory section's agent rows alone); the report then has only them")
	charts := flag.String("charts", "", "the folder of the SVG charts (default: bench/charts for a report at the repository root, else beside the report)")
	render := flag.String("render", "", "write the report from a results.json of an earlier run, without measuring")
	keep := flag.Bool("keep", false, "keep the temporary folder (it holds throw-away keys: remove it yourself)")
	baseline := flag.String("baseline", "", "also measure the CLI of this git `revision` in the fresh and memory sections (a before and after in one run)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *render != "" {
		if err := rerender(*render, *out, *charts, *root); err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, *out, *charts, *root, *quick, *only, *keep, *baseline); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, charts, root string, quick bool, only string, keep bool, baseline string) error {
	start := time.Now()
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "sesame-bench-")
	if err != nil {
		return err
	}
	if keep {
		logf("keeping %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	c := &config{root: abs, bench: filepath.Join(abs, "bench"), work: work, bin: filepath.Join(work, "bin"), quick: quick, only: map[string]bool{}, baseline: baseline}
	for _, s := range splitList(only) {
		c.only[s] = true
	}
	r := &report{Quick: quick, Machine: describeMachine()}

	logf("building the guests, the plugin and sesame into %s", c.bin)
	if err := build(ctx, c); err != nil {
		return err
	}
	if c.runs("fresh") || c.runs("memory") || c.runs("agent") {
		logf("starting an etcd member for the team vault's rows")
		if c.etcd, c.etcdErr = startEtcd(ctx, filepath.Join(work, "etcd")); c.etcdErr != nil {
			logf("  no etcd: %v", c.etcdErr)
		}
		defer c.etcd.stop()
	}
	if c.runs("boundary") {
		logf("1. plugin boundary")
		if r.Boundary, err = runBoundary(ctx, c); err != nil {
			return fmt.Errorf("boundary: %w", err)
		}
	}
	if c.runs("fresh") {
		logf("2. a secret from a fresh process")
		if r.Fresh, err = runFresh(ctx, c); err != nil {
			return fmt.Errorf("fresh: %w", err)
		}
	}
	if c.runs("scale") {
		logf("3. scale")
		if r.Scale, err = runScale(ctx, c); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	if c.runs("memory") || c.runs("agent") {
		logf("4. memory")
		if r.Memory, err = runMemory(ctx, c); err != nil {
			return fmt.Errorf("memory: %w", err)
		}
	}
	r.Took = time.Since(start)
	r.Machine.LoadEnd = loadAverage()
	if err := r.write(out, chartDir(charts, out, abs), filepath.Join(c.bench, "NOTES.md")); err != nil {
		return err
	}
	logf("wrote %s in %v", out, r.Took.Round(time.Second))
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchreport: "+format+"\n", args...)
}

// chartDir is where the charts go: flagged, or bench/charts for a report at
// the repository root, or a charts folder beside the report.
func chartDir(flagged, out, root string) string {
	if flagged != "" {
		return flagged
	}
	if d, err := filepath.Abs(filepath.Dir(out)); err == nil && d == root {
		return filepath.Join(root, "bench", "charts")
	}
	return filepath.Join(filepath.Dir(out), "charts")
}

// rerender writes the report again from saved results.
func rerender(results, out, charts, root string) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(results)
	if err != nil {
		return err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", results, err)
	}
	return r.write(out, chartDir(charts, out, abs), filepath.Join(abs, "bench", "NOTES.md"))
}
