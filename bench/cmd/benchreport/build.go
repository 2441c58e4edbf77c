package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// build compiles everything the sections run: the guests, the go-plugin
// plugin and the sesame CLI, into c.bin.
func build(ctx context.Context, c *config) error {
	if err := os.MkdirAll(c.bin, 0o755); err != nil {
		return err
	}
	if err := ensurePackages(ctx, map[string]string{"wat2wasm": "wabt"}); err != nil {
		return err
	}
	steps := []struct {
		dir  string
		env  []string
		args []string
	}{
		{c.bench, []string{"GOOS=wasip1", "GOARCH=wasm"}, []string{"go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-o", c.path("sesame-go.wasm"), "./guests/sesame-go"}},
		{c.bench, nil, []string{"wat2wasm", "guests/sesame-wat/vault.wat", "-o", c.path("sesame-wat.wasm")}},
		{c.bench, nil, []string{"wat2wasm", "guests/extism-wat/plugin.wat", "-o", c.path("extism-wat.wasm")}},
		{c.bench, nil, []string{"go", "build", "-trimpath", "-o", c.path("kvplugin"), "./cmd/kvplugin"}},
		// The CLI as `make build` makes it (static, no man-page generator):
		// what a user runs. The C example vault, as `make examples` does.
		{c.root, nil, []string{"make", "--no-print-directory", "build", "BIN=" + c.bin + "/"}},
		{c.root, nil, []string{"make", "--no-print-directory", "-f", "mk/examples.mk", "EXAMPLES_OUT=" + c.bin, c.path("c-vault.wasm")}},
	}
	for _, s := range steps {
		if _, err := command(ctx, s.dir, s.env, nil, s.args...); err != nil {
			return err
		}
	}
	if c.baseline != "" {
		return buildBaseline(ctx, c)
	}
	return nil
}

// buildBaseline builds the CLI of the git revision c.baseline, as `make
// build` of that revision does, into c.path("baseline/sesame"): the
// sections that take it measure it beside this checkout's, in the same run.
func buildBaseline(ctx context.Context, c *config) error {
	src := filepath.Join(c.work, "baseline-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	tar, err := command(ctx, c.root, nil, nil, "git", "archive", "--format=tar", c.baseline)
	if err != nil {
		return err
	}
	if _, err := command(ctx, src, nil, tar, "tar", "-x"); err != nil {
		return err
	}
	_, err = command(ctx, src, nil, nil, "make", "--no-print-directory", "build", "BIN="+c.path("baseline")+"/")
	return err
}

// path returns the path of a built file.
func (c *config) path(name string) string { return filepath.Join(c.bin, name) }

// command runs args in dir with env added to this process's environment and
// stdin (nil: none) on standard input, and returns its standard output. A
// failure's error carries the end of its standard error.
func command(ctx context.Context, dir string, env []string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return output(cmd, stdin)
}

// runEnv is command with env as the whole environment (baseEnv's, without
// the user's own keys and stores), not added to this process's.
func runEnv(ctx context.Context, env []string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = env
	return output(cmd, stdin)
}

// output runs cmd with stdin (nil: none) and returns its standard output,
// or an error with the command line and the end of its standard error.
func output(cmd *exec.Cmd, stdin []byte) ([]byte, error) {
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// tail is the end of a program's standard error, for an error message.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

var aptUpdate sync.Once

// ensurePackages installs, with apt-get, the Debian package of each command
// that is not on $PATH.
func ensurePackages(ctx context.Context, cmdToPackage map[string]string) error {
	var missing []string
	for cmd, pkg := range cmdToPackage {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("missing %s and no apt-get to install them", strings.Join(missing, ", "))
	}
	logf("installing %s with apt-get", strings.Join(missing, " "))
	sudo := []string{}
	if os.Geteuid() != 0 {
		sudo = []string{"sudo"}
	}
	env := []string{"DEBIAN_FRONTEND=noninteractive"}
	var err error
	aptUpdate.Do(func() {
		_, err = command(ctx, "", env, nil, append(sudo, "apt-get", "update", "-qq")...)
	})
	if err != nil {
		return err
	}
	_, err = command(ctx, "", env, nil, append(sudo, append([]string{"apt-get", "install", "-y", "-qq", "--no-install-recommends"}, missing...)...)...)
	return err
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
