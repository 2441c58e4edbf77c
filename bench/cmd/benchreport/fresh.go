package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A tool of the fresh-process benchmark: one command that prints the
// secret, run as a new process each time.
type freshTool struct {
	Name    string // the table's row
	Command string // the command as the table shows it (never a secret)
	Note    string
	reads   int
	env     []string
	args    []string
	before  func() error  // untimed preparation before each read
	took    time.Duration // of the last run
}

type freshRow struct {
	Name, Command, Note string
	Reads               int
	P50, P95, Min, Max  time.Duration
	CPU                 time.Duration // mean user+system time of the process and its children
	MaxRSS              int64         // peak RSS of one more read, under /usr/bin/time, bytes
	Skipped             string        // why the tool was not measured
	times               []time.Duration
}

type freshResult struct {
	Rows     []freshRow
	Versions []string
	Setup    []string // how each tool was set up, as commands
}

func runFresh(ctx context.Context, c *config) (*freshResult, error) {
	reads, coldReads := 100, 20
	if c.quick {
		reads, coldReads = 10, 3
	}
	dir := filepath.Join(c.work, "fresh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	value := []byte(hex.EncodeToString(secret)) // 32 bytes

	res := &freshResult{}
	var tools []*freshTool
	var cleanups []func()
	defer func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}()
	add := func(ts []*freshTool, cleanup func(), err error) {
		if cleanup != nil {
			cleanups = append(cleanups, cleanup)
		}
		if err != nil {
			logf("  %v", err)
			for _, t := range ts {
				res.Rows = append(res.Rows, freshRow{Name: t.Name, Command: t.Command, Skipped: err.Error()})
			}
			return
		}
		tools = append(tools, ts...)
	}

	ts, cleanup, err := sesameTools(ctx, c, filepath.Join(dir, "sesame"), value, reads, coldReads, res)
	add(ts, cleanup, err)

	ts, cleanup, err = teamTools(ctx, c, filepath.Join(dir, "team"), value, reads, res)
	add(ts, cleanup, err)

	if err := ensurePackages(ctx, map[string]string{"gpg": "gnupg", "pass": "pass", "age": "age", "keepassxc-cli": "keepassxc", "time": "time"}); err != nil {
		return nil, err
	}
	ts, cleanup, err = passTool(ctx, filepath.Join(dir, "pass"), value, reads, res)
	add(ts, cleanup, err)
	ts, cleanup, err = ageTool(ctx, filepath.Join(dir, "age"), value, reads, res)
	add(ts, cleanup, err)
	ts, cleanup, err = keepassTool(ctx, filepath.Join(dir, "keepassxc"), value, reads, res)
	add(ts, cleanup, err)
	res.Versions = toolVersions(ctx)

	// Two untimed reads each (the agent starts, gpg-agent starts, files are in
	// the page cache), then the reads round-robin, so that whatever else the
	// machine does falls on every tool alike.
	rows := make([]freshRow, len(tools))
	for i, t := range tools {
		rows[i] = freshRow{Name: t.Name, Command: t.Command, Note: t.Note, Reads: t.reads}
		for range 2 {
			if _, _, err := t.read(ctx, value); err != nil {
				return nil, fmt.Errorf("%s: %w", t.Name, err)
			}
		}
	}
	for i := range reads {
		for j, t := range tools {
			if i >= t.reads {
				continue
			}
			d, cpu, err := t.read(ctx, value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.Name, err)
			}
			r := &rows[j]
			r.times = append(r.times, d)
			r.CPU += cpu // summed here, a mean below
		}
	}
	// Peak memory from one more read each, under GNU time: the ru_maxrss of
	// a child of this process would start at this process's own size (Go
	// starts children with vfork), while GNU time's children are small forks.
	for i, t := range tools {
		if rows[i].MaxRSS, err = t.peakRSS(ctx, value, filepath.Join(dir, "time.out")); err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	for i := range rows {
		r := &rows[i]
		slices.Sort(r.times)
		r.P50, r.P95 = percentile(r.times, 50), percentile(r.times, 95)
		r.Min, r.Max = r.times[0], r.times[len(r.times)-1]
		r.CPU /= time.Duration(len(r.times))
		logf("  %-40s p50 %7.1f ms  p95 %7.1f ms", r.Name, ms(r.P50), ms(r.P95))
	}
	res.Rows = append(rows, res.Rows...)
	return res, nil
}

// read runs the tool once and checks that it printed the secret.
func (t *freshTool) read(ctx context.Context, value []byte) (d, cpu time.Duration, err error) {
	cmd, err := t.run(ctx, value, t.args)
	if err != nil {
		return 0, 0, err
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return t.took, cpu, nil
}

// run runs args as the tool (after its preparation), checks that it printed
// the secret, and sets t.took to the time from start to exit.
func (t *freshTool) run(ctx context.Context, value []byte, args []string) (*exec.Cmd, error) {
	if t.before != nil {
		if err := t.before(); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = t.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.took = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", t.Command, err, stderr.String())
	}
	if !bytes.Equal(bytes.TrimRight(stdout.Bytes(), "\n"), value) {
		return nil, fmt.Errorf("%s printed something else than the secret", t.Command)
	}
	return cmd, nil
}

// peakRSS runs the tool once under GNU time and returns the peak RSS it
// reports (of the process or of any child it waited for), in bytes.
func (t *freshTool) peakRSS(ctx context.Context, value []byte, out string) (int64, error) {
	if _, err := t.run(ctx, value, append([]string{"time", "-f", "%M", "-o", out}, t.args...)); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return kb * 1024, err
}

// percentile returns the nearest-rank percentile p of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// baseEnv is this process's environment without the variables that would
// point a tool at the user's own keys or stores (or, for etcd and etcdctl,
// at another cluster or its settings).
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "HOME", name == "GNUPGHOME", name == "PASSWORD_STORE_DIR", name == "SESAME_CONFIG",
			name == "SESAME_AGENT", strings.HasPrefix(name, "XDG_"), strings.HasPrefix(name, "PASSWORD_STORE_"),
			strings.HasPrefix(name, "ETCD_"), strings.HasPrefix(name, "ETCDCTL_"): // etcd's settings, etcdctl's cluster
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// sesameTools sets up the rows of the CLI: one home whose compile cache
// stays warm, one whose cache is emptied before every read (a first run
// after an install, or with the cache cleared; after an upgrade the cache
// holds the previous build's entries, and sesame compiles), and, with a
// `sesame agent` command in the
// CLI, one that reads through the agent. With a baseline revision, its CLI
// gets the same rows, each beside this checkout's, so that a before and
// after of every path come from one run.
func sesameTools(ctx context.Context, c *config, dir string, value []byte, reads, coldReads int, res *freshResult) ([]*freshTool, func(), error) {
	res.Setup = append(res.Setup, "sesame: a fresh $HOME and XDG folders; `sesame set bench-secret --stdin` (creates LocalStore, builtin secretstore, no password); for the warm cache, then `sesame info`, which compiles the vault into the cache")
	clis := []struct{ bin, suffix, home string }{{c.path("sesame"), "", ""}}
	if c.baseline != "" {
		res.Setup = append(res.Setup, "baseline: the CLI of revision "+c.baseline+", built the same way, in homes of its own")
		clis = append(clis, struct{ bin, suffix, home string }{c.path("baseline/sesame"), ", " + c.baseline, "-baseline"})
	}
	var tools []*freshTool
	var stops []func()
	stop := func() {
		for _, stop := range stops {
			stop()
		}
	}
	// One row of each path for each CLI, the CLIs side by side.
	for _, path := range []func(bin, suffix, home string) error{
		func(bin, suffix, home string) error {
			env, err := sesameHome(ctx, bin, filepath.Join(dir, "warm"+home), false, value)
			if err == nil {
				err = warmCache(ctx, bin, env)
			}
			if err == nil {
				tools = append(tools, &freshTool{Name: "sesame get" + suffix, Command: "SESAME_AGENT=off " + shownGet, Note: "compile cache warm", reads: reads, env: env, args: getArgs(bin)})
			}
			return err
		},
		func(bin, suffix, home string) error {
			env, err := sesameHome(ctx, bin, filepath.Join(dir, "cold"+home), false, value)
			coldCache := filepath.Join(dir, "cold"+home, "cache", "sesame")
			if err == nil {
				tools = append(tools, &freshTool{Name: "sesame get, first run" + suffix, Command: "SESAME_AGENT=off " + shownGet, Note: "compile cache emptied before each read", reads: coldReads, env: env, args: getArgs(bin),
					before: func() error { return os.RemoveAll(coldCache) }})
			}
			return err
		},
		func(bin, suffix, home string) error {
			if !hasAgent(ctx, bin) {
				logf("  %s has no agent command: no agent row", bin)
				return nil
			}
			env, err := sesameHome(ctx, bin, filepath.Join(dir, "agent"+home), true, value)
			if err == nil {
				tools = append(tools, &freshTool{Name: "sesame get (agent)" + suffix, Command: shownGet, Note: "through the running `sesame agent`", reads: reads, env: env, args: getArgs(bin)})
				stops = append(stops, func() { stopAgent(bin, env) })
			}
			return err
		},
	} {
		for _, cli := range clis {
			if err := path(cli.bin, cli.suffix, cli.home); err != nil {
				stop()
				return nil, nil, err
			}
		}
	}
	return tools, stop, nil
}

// shownGet is the sesame command of the fresh rows, as the table shows it.
const shownGet = "sesame get bench-secret --as-plain-text"

// getArgs is the command line of shownGet for the CLI bin.
func getArgs(bin string) []string { return []string{bin, "get", "bench-secret", "--as-plain-text"} }

// stopAgent stops the agent of the home whose environment is env.
func stopAgent(bin string, env []string) {
	cmd := exec.Command(bin, "agent", "stop")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		logf("sesame agent stop: %v: %s", err, out)
	}
}

// sesameHome makes a fresh home for the CLI bin in h, with its XDG folders,
// and returns its environment (with SESAME_AGENT=off unless agent). The
// first command creates the LocalStore vault (no password: no terminal) and
// stores the secret, read from standard input.
func sesameHome(ctx context.Context, bin, h string, agent bool, value []byte) ([]string, error) {
	run := filepath.Join(h, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	env := baseEnv("HOME="+h, "XDG_CONFIG_HOME="+filepath.Join(h, "config"), "XDG_DATA_HOME="+filepath.Join(h, "data"),
		"XDG_CACHE_HOME="+filepath.Join(h, "cache"), "XDG_RUNTIME_DIR="+run)
	if !agent {
		env = append(env, "SESAME_AGENT=off")
	}
	cmd := exec.CommandContext(ctx, bin, "set", "bench-secret", "--stdin")
	cmd.Env, cmd.Stdin = env, bytes.NewReader(value)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sesame set: %w: %s", err, out)
	}
	return env, nil
}

// warmCache fills the compile cache of the home of env by running `sesame
// info` in it, which compiles the vault: a one-shot get or set interprets
// the builtin vaults while the cache is empty, and compiles only the fifth
// time (internal/cli's interpretNow), so the reads of the warm row would
// otherwise begin with interpreted ones and a compile.
func warmCache(ctx context.Context, bin string, env []string) error {
	cmd := exec.CommandContext(ctx, bin, "info")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sesame info: %w: %s", err, out)
	}
	return nil
}

// hasAgent reports whether the CLI has the `agent` command.
func hasAgent(ctx context.Context, bin string) bool {
	cmd := exec.CommandContext(ctx, bin, "agent", "--help")
	cmd.Env = baseEnv("SESAME_AGENT=off")
	out, err := cmd.CombinedOutput()
	return err == nil && bytes.Contains(out, []byte("agent"))
}

// passTool makes a GnuPG key without a passphrase in a throw-away GNUPGHOME,
// a password store for it, and inserts the secret through standard input.
func passTool(ctx context.Context, dir string, value []byte, reads int, res *freshResult) ([]*freshTool, func(), error) {
	gnupg, store := filepath.Join(dir, "gnupg"), filepath.Join(dir, "store")
	tool := &freshTool{Name: "pass show", Command: "pass show bench-secret", Note: "gpg, default key (RSA 3072), no passphrase", reads: reads}
	if err := os.MkdirAll(gnupg, 0o700); err != nil {
		return []*freshTool{tool}, nil, err
	}
	env := baseEnv("HOME="+dir, "GNUPGHOME="+gnupg, "PASSWORD_STORE_DIR="+store)
	cleanup := func() {
		if _, err := command(context.Background(), dir, env, nil, "gpgconf", "--kill", "all"); err != nil {
			logf("gpgconf --kill all: %v", err)
		}
	}
	if _, err := command(ctx, dir, env, nil, "gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", "sesame bench <bench@sesame.invalid>", "default", "default", "never"); err != nil {
		return []*freshTool{tool}, cleanup, err
	}
	out, err := command(ctx, dir, env, nil, "gpg", "--list-keys", "--with-colons")
	if err != nil {
		return []*freshTool{tool}, cleanup, err
	}
	var fpr string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		return []*freshTool{tool}, cleanup, errors.New("gpg made no key")
	}
	if _, err := command(ctx, dir, env, nil, "pass", "init", fpr); err != nil {
		return []*freshTool{tool}, cleanup, err
	}
	if _, err := command(ctx, dir, env, append(slices.Clone(value), '\n'), "pass", "insert", "--echo", "bench-secret"); err != nil {
		return []*freshTool{tool}, cleanup, err
	}
	res.Setup = append(res.Setup, "pass: `gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key 'sesame bench <bench@sesame.invalid>' default default never` in a throw-away GNUPGHOME, `pass init FINGERPRINT`, `pass insert --echo bench-secret` (the secret on standard input)")
	tool.env, tool.args = env, []string{"pass", "show", "bench-secret"}
	return []*freshTool{tool}, cleanup, nil
}

// ageTool makes an age identity and encrypts the secret, read from standard
// input, to one file.
func ageTool(ctx context.Context, dir string, value []byte, reads int, res *freshResult) ([]*freshTool, func(), error) {
	tool := &freshTool{Name: "age --decrypt", Command: "age --decrypt -i key.txt secret.age", Note: "X25519 identity file, no passphrase", reads: reads}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return []*freshTool{tool}, nil, err
	}
	env := baseEnv("HOME=" + dir)
	key := filepath.Join(dir, "key.txt")
	if _, err := command(ctx, dir, env, nil, "age-keygen", "-o", key); err != nil {
		return []*freshTool{tool}, nil, err
	}
	pub, err := command(ctx, dir, env, nil, "age-keygen", "-y", key)
	if err != nil {
		return []*freshTool{tool}, nil, err
	}
	file := filepath.Join(dir, "secret.age")
	if _, err := command(ctx, dir, env, value, "age", "-r", strings.TrimSpace(string(pub)), "-o", file); err != nil {
		return []*freshTool{tool}, nil, err
	}
	res.Setup = append(res.Setup, "age: `age-keygen -o key.txt`, `age -r RECIPIENT -o secret.age` (the secret on standard input)")
	tool.env, tool.args = env, []string{"age", "--decrypt", "-i", key, file}
	return []*freshTool{tool}, nil, nil
}

// keepassTool creates a KeePass database protected by a key file, with the
// CLI's default settings, and adds the secret as an entry's password read
// from standard input.
func keepassTool(ctx context.Context, dir string, value []byte, reads int, res *freshResult) ([]*freshTool, func(), error) {
	tool := &freshTool{Name: "keepassxc-cli show", Command: "keepassxc-cli show -q --no-password -k key.keyx -a Password db.kdbx bench-secret", reads: reads}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return []*freshTool{tool}, nil, err
	}
	env := baseEnv("HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"))
	key, db := filepath.Join(dir, "key.keyx"), filepath.Join(dir, "db.kdbx")
	if _, err := command(ctx, dir, env, nil, "keepassxc-cli", "db-create", "-q", "--set-key-file", key, db); err != nil {
		return []*freshTool{tool}, nil, err
	}
	if _, err := command(ctx, dir, env, append(slices.Clone(value), '\n'), "keepassxc-cli", "add", "-q", "--no-password", "-k", key, "-p", db, "bench-secret"); err != nil {
		return []*freshTool{tool}, nil, err
	}
	tool.Note = "key file, no password"
	if out, err := command(ctx, dir, env, nil, "keepassxc-cli", "db-info", "-q", "--no-password", "-k", key, db); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if kdf, ok := strings.CutPrefix(line, "KDF: "); ok {
				tool.Note += ", the CLI's default KDF: " + strings.TrimSpace(kdf)
			}
		}
	}
	res.Setup = append(res.Setup, "keepassxc-cli: `keepassxc-cli db-create --set-key-file key.keyx db.kdbx` (defaults otherwise), `keepassxc-cli add --no-password -k key.keyx -p db.kdbx bench-secret` (the secret on standard input)")
	tool.env, tool.args = env, []string{"keepassxc-cli", "show", "-q", "--no-password", "-k", key, "-a", "Password", db, "bench-secret"}
	return []*freshTool{tool}, nil, nil
}

// toolVersions names the versions of the peers, as Debian packages them.
func toolVersions(ctx context.Context) []string {
	var out []string
	for _, pkg := range []string{"pass", "age", "keepassxc", "gnupg", "etcd-server", "etcd-client"} {
		v, err := command(ctx, "", nil, nil, "dpkg-query", "-W", "-f", "${Version}", pkg)
		if err != nil {
			continue
		}
		out = append(out, pkg+" "+string(v))
	}
	return out
}
