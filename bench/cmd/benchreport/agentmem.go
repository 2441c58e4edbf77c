package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// agentRow is the memory of one running `sesame agent` after it served
// Vaults vaults of one kind: each set and read one secret through it.
type agentRow struct {
	CLI     string // "this checkout", or the baseline revision
	Kind    string // "" for the idle agent
	Vaults  int
	RSS     int64 // the agent's VmRSS after the last read
	PeakRSS int64 // its VmHWM
}

// agentKinds are the vaults the agent rows warm, with how each is
// registered (the folder dir is the home's, i the vault's number).
var agentKinds = []struct {
	Kind, What string
	args       func(c *config, dir string, i int) []string
}{
	{"secretstore", "builtin:secretstore, no password (the default LocalStore)", func(_ *config, _ string, _ int) []string {
		return []string{"--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=none"}
	}},
	{"dotenv", "builtin:dotenv, a .env file in a granted folder", func(_ *config, dir string, i int) []string {
		return []string{"--extension", "builtin:dotenv", "--grant", "directory=" + filepath.Join(dir, fmt.Sprintf("env%02d", i))}
	}},
	{"c-vault", "examples/c-vault, the C example vault over host storage", func(c *config, _ string, _ int) []string {
		return []string{"--extension", c.path("c-vault.wasm"), "--grant", "storage=true"}
	}},
	{"etcd", "builtin:etcd, a team of one on the run's local etcd member, each vault under its own key prefix; the user's age identity is in LocalStore (builtin:secretstore), which the agent loads too", func(c *config, dir string, i int) []string {
		return teamArgs(c.etcd.endpoint, fmt.Sprintf("%s-%02d/", filepath.Base(dir), i))
	}},
}

// runAgentMemory measures the agent idle and with one and ten vaults of
// each kind warmed, for this checkout's CLI and the baseline's, one row
// after the other for each count and kind, so that both see the machine
// alike. Each row is a fresh home and a fresh agent.
func runAgentMemory(ctx context.Context, c *config) ([]agentRow, error) {
	clis := []struct{ name, bin string }{{"this checkout", c.path("sesame")}}
	if c.baseline != "" {
		clis = append(clis, struct{ name, bin string }{c.baseline, c.path("baseline/sesame")})
	}
	var rows []agentRow
	for _, n := range []int{0, 1, 10} {
		for _, k := range agentKinds {
			if n == 0 && k.Kind != agentKinds[0].Kind {
				continue // one idle row: no vault is loaded
			}
			if k.Kind == "etcd" && c.etcd == nil {
				logf("  no etcd member: no rows of %d etcd vaults", n)
				continue
			}
			var group []agentRow // one row of each CLI
			for _, cli := range clis {
				dir := filepath.Join(c.work, fmt.Sprintf("agent-%s-%d", k.Kind, n))
				row := agentRow{CLI: cli.name, Vaults: n}
				if n > 0 {
					row.Kind = k.Kind
				}
				var err error
				row.RSS, row.PeakRSS, err = agentMemory(ctx, c, cli.bin, dir, n, func(i int) []string { return k.args(c, dir, i) })
				os.RemoveAll(dir)
				if err != nil && k.Kind == "etcd" {
					// A baseline from before this way of making a team (or
					// before team vaults): no etcd rows for any CLI, since
					// each line of the table has a column for each.
					logf("  %s cannot make the team vaults: no rows of %d etcd vaults: %v", cli.name, n, err)
					group = nil
					break
				}
				if err != nil {
					return nil, fmt.Errorf("%s, %d %s vaults: %w", cli.name, n, k.Kind, err)
				}
				logf("  agent of %-14s %2d %-12s RSS %s, peak %s", cli.name, n, row.Kind, humanBytes(row.RSS), humanBytes(row.PeakRSS))
				group = append(group, row)
			}
			rows = append(rows, group...)
		}
	}
	return rows, nil
}

// agentMemory registers n vaults in a fresh home (registering loads each,
// so the compile cache is warm), starts the agent, sets and reads one
// secret in each vault through it, and returns the agent's resident set
// and peak.
func agentMemory(ctx context.Context, c *config, bin, dir string, n int, register func(i int) []string) (rss, peak int64, err error) {
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		return 0, 0, err
	}
	env := baseEnv("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"))
	sesame := func(stdin []byte, off bool, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		if off {
			cmd.Env = append(cmd.Env, "SESAME_AGENT=off")
		}
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("sesame %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return out, err
	}
	for i := range n {
		if err := os.MkdirAll(filepath.Join(dir, fmt.Sprintf("env%02d", i)), 0o700); err != nil {
			return 0, 0, err
		}
		name, args := fmt.Sprintf("V%02d", i), register(i)
		if slices.Contains(args, "builtin:etcd") {
			err = makeTeam(ctx, slices.Concat(env, []string{"SESAME_AGENT=off"}), bin, name, args)
		} else {
			_, err = sesame(nil, true, append([]string{"vault", "register", name}, args...)...)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	out, err := sesame(nil, false, "agent", "start")
	if err != nil {
		return 0, 0, err
	}
	_, after, _ := strings.Cut(string(out), "pid ")
	pid, err := strconv.Atoi(strings.TrimRight(strings.Fields(after + " ")[0], ","))
	if err != nil {
		return 0, 0, fmt.Errorf("sesame agent start said %q: no pid", out)
	}
	defer stopAgent(bin, env)
	for i := range n {
		vault := fmt.Sprintf("V%02d", i)
		if _, err := sesame(boundaryValue, false, "set", "bench_secret", "--vault", vault, "--stdin"); err != nil {
			return 0, 0, err
		}
		if got, err := sesame(nil, false, "get", "bench_secret", "--vault", vault, "--as-plain-text"); err != nil || !bytes.Equal(bytes.TrimSpace(got), boundaryValue) {
			return 0, 0, fmt.Errorf("get from %s: %v", vault, err)
		}
	}
	st := procStatus(pid)
	if st == nil {
		return 0, 0, fmt.Errorf("agent pid %d: no /proc status", pid)
	}
	return st["VmRSS"], st["VmHWM"], nil
}
