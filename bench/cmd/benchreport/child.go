package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// child runs one measurement in this process, started by the report with
// `benchreport child KIND FLAGS`, and prints its result as JSON on standard
// output. Its peak memory is then this process's alone.
func child(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport child: scale or memory")
		return 2
	}
	fs := flag.NewFlagSet("child "+args[0], flag.ContinueOnError)
	var (
		result any
		err    error
	)
	ctx := context.Background()
	switch args[0] {
	case "scale":
		var o scaleOptions
		fs.IntVar(&o.N, "n", 100, "secrets")
		fs.StringVar(&o.Dir, "dir", "", "the store's folder")
		fs.StringVar(&o.Cache, "cache", "", "the compile cache's folder")
		fs.IntVar(&o.Gets, "gets", 1000, "timed gets")
		fs.IntVar(&o.Sets, "sets", 100, "timed sets")
		fs.IntVar(&o.Infos, "infos", 1, "timed listings")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		result, err = scaleChild(ctx, o)
	case "memory":
		var o memoryOptions
		fs.StringVar(&o.Kind, "kind", "", "what to load")
		fs.IntVar(&o.Vaults, "vaults", 1, "how many")
		fs.StringVar(&o.Dir, "dir", "", "a folder for registry and storage")
		fs.StringVar(&o.Cache, "cache", "", "the compile cache's folder")
		fs.StringVar(&o.Bin, "bin", "", "the folder of the built guests and plugin")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		result, err = memoryChild(ctx, o)
	default:
		fmt.Fprintln(os.Stderr, "benchreport child: unknown kind", args[0])
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport child:", err)
		return 1
	}
	return 0
}

// runChild runs `benchreport child ARGS` and decodes its JSON into result.
//
// A child reports its own peak RSS (VmHWM), not the ru_maxrss that wait4
// would give: Go starts children with vfork, so a child's ru_maxrss starts
// at the resident set of this process when it was started.
func runChild(ctx context.Context, result any, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{"child"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("child %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), result); err != nil {
		return fmt.Errorf("child %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// procStatus returns fields of /proc/PID/status in bytes (VmRSS, VmHWM, …).
func procStatus(pid int) map[string]int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 2 && fields[1] == "kB" {
			if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
				out[name] = n * 1024
			}
		}
	}
	return out
}

// settle collects garbage and returns this process's resident set, its
// peak resident set, and the Go heap in use, in bytes.
func settle() (rss, peak, heap int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st := procStatus(os.Getpid())
	return st["VmRSS"], st["VmHWM"], int64(m.HeapAlloc)
}
