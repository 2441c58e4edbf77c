package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// etcdMember is one etcd member on loopback ports, with its data in a
// folder of the run's: the cluster of the team vault's rows. Its own
// settings are etcd's defaults, as a team would run it.
type etcdMember struct {
	endpoint string // http://127.0.0.1:PORT, its client URL
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	stderr   bytes.Buffer
}

// startEtcd starts an etcd member (installing etcd-server and etcd-client
// when missing) and waits until it reports itself healthy.
func startEtcd(ctx context.Context, dir string) (*etcdMember, error) {
	if err := ensurePackages(ctx, map[string]string{"etcd": "etcd-server", "etcdctl": "etcd-client"}); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	m := &etcdMember{endpoint: client, exited: make(chan struct{})}
	m.cmd = exec.Command("etcd", "--name", "bench", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "bench="+peer, "--log-level", "error")
	m.cmd.Env = baseEnv("HOME=" + dir)
	m.cmd.Stderr = &m.stderr
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		m.cmd.Wait()
		close(m.exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m.healthy(ctx) {
			return m, nil
		}
		select {
		case <-m.exited:
			return nil, fmt.Errorf("etcd exited before it was healthy: %s", tail(m.stderr.String()))
		case <-ctx.Done():
			m.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("etcd at %s not healthy after 20s: %s", client, tail(m.stderr.String()))
		}
	}
}

// healthy reports whether the member answers its /health with health true.
func (m *etcdMember) healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`"health":"true"`))
}

// stop ends the member: SIGTERM, then SIGKILL after five seconds.
func (m *etcdMember) stop() {
	if m == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago: all n listeners are open at once, so no two are the same port.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// teamArgs are the `sesame vault register` arguments of a team vault on
// the member at endpoint, under the key prefix prefix, as docs/team.md
// registers one: the members are the origins granted.
func teamArgs(endpoint, prefix string) []string {
	return []string{"--extension", "builtin:etcd", "--param", "prefix=" + prefix,
		"--grant", "storage=true", "--grant", "identity=true", "--grant", "http=" + endpoint}
}

// makeTeam registers the team vault name in the home of env with args
// (teamArgs) and creates its team with the user as its only member, as
// docs/team.md's first member does: `sesame identity` (which makes the
// user's age identity, kept in the default vault), then `sesame vault
// members add NAME RECIPIENT`.
func makeTeam(ctx context.Context, env []string, bin, name string, args []string) error {
	recipient, err := runEnv(ctx, env, nil, bin, "identity")
	if err != nil {
		return err
	}
	if _, err := runEnv(ctx, env, nil, append([]string{bin, "vault", "register", name}, args...)...); err != nil {
		return err
	}
	_, err = runEnv(ctx, env, nil, bin, "vault", "members", "add", name, strings.TrimSpace(string(recipient)))
	return err
}

// teamTools sets up the team vault's rows of the fresh-process table: a
// team of one on the run's etcd member, read through the agent and alone
// (compile cache warm), and etcdctl reading a copy of the secret stored in
// clear on the same member, the floor under the team vault (a network
// round trip to etcd, no sandbox, no decryption).
func teamTools(ctx context.Context, c *config, dir string, value []byte, reads int, res *freshResult) ([]*freshTool, func(), error) {
	shown := "sesame get bench-secret --vault Team --as-plain-text"
	agent := &freshTool{Name: "sesame get, team vault (agent)", Command: shown, Note: "builtin:etcd, a team of one on a local etcd member, through the running `sesame agent`", reads: reads}
	alone := &freshTool{Name: "sesame get, team vault", Command: "SESAME_AGENT=off " + shown, Note: "the same, compile cache warm", reads: reads}
	etcdctl := &freshTool{Name: "etcdctl get", Command: "etcdctl --endpoints URL get bench-secret --print-value-only", Note: "the same member, the secret stored in clear: the floor under the team vault", reads: reads}
	tools := []*freshTool{agent, alone, etcdctl}
	if c.etcd == nil {
		return tools, nil, fmt.Errorf("no etcd member: %w", c.etcdErr)
	}
	bin := c.path("sesame")
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	for _, t := range []struct {
		tool     *freshTool
		home     string
		useAgent bool
	}{{agent, "team-agent", true}, {alone, "team", false}} {
		home := filepath.Join(dir, t.home)
		env, err := sesameHome(ctx, bin, home, t.useAgent, value)
		if err != nil {
			stop()
			return tools, nil, err
		}
		if t.useAgent {
			stops = append(stops, func() { stopAgent(bin, env) })
		}
		if err := makeTeam(ctx, env, bin, "Team", teamArgs(c.etcd.endpoint, t.home+"/")); err != nil {
			stop()
			return tools, nil, err
		}
		if _, err := runEnv(ctx, env, value, bin, "set", "bench-secret", "--vault", "Team", "--stdin"); err != nil {
			stop()
			return tools, nil, err
		}
		if !t.useAgent {
			if err := warmCache(ctx, bin, env); err != nil {
				stop()
				return tools, nil, err
			}
		}
		t.tool.env, t.tool.args = env, []string{bin, "get", "bench-secret", "--vault", "Team", "--as-plain-text"}
	}
	env := baseEnv("HOME=" + dir)
	if _, err := runEnv(ctx, env, value, "etcdctl", "--endpoints", c.etcd.endpoint, "put", "bench-secret"); err != nil {
		stop()
		return tools, nil, err
	}
	etcdctl.env, etcdctl.args = env, []string{"etcdctl", "--endpoints", c.etcd.endpoint, "get", "bench-secret", "--print-value-only"}
	res.Setup = append(res.Setup, "team vault: one etcd member (Debian's etcd-server, its default settings) on loopback ports; in a fresh home with LocalStore, `sesame identity` (the user's age identity, kept in LocalStore), `sesame vault register Team --extension builtin:etcd --param prefix=P/ --grant storage=true --grant identity=true --grant http=URL`, `sesame vault members add Team RECIPIENT` (a team of one), `sesame set bench-secret --vault Team --stdin`; for the row without the agent, `sesame info` then; `etcdctl put bench-secret` (the secret on standard input) for etcdctl's row")
	return tools, stop, nil
}
