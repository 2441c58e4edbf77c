//go:build unix

// Package etcdtest starts a real etcd cluster for tests: three members (or
// one, StartOne) of Debian's etcd-server on loopback ports, each in its own folder under the
// test's TempDir, with a cluster token of their own, so that tests running
// at once never join each other's clusters. Start returns when the cluster
// has a leader; the test's Cleanup kills every member it started.
//
// A machine without the etcd binary fails the test and names the package
// to install (apt-get install etcd-server etcd-client; `make deps` does
// it): a test of the team vault that skipped would pass where nothing was
// checked.
//
// A cluster costs about 0.4 s of CPU to start, and some 30 ms a second
// while it runs idle: the tests of a package share one where they can (a
// test function whose subtests each work under a key prefix of their own,
// those that stop members last), rather than start one each. And each
// member does every write again: three members spend about twice the CPU
// of one on the same requests (the engine's conformance suite: 3.9 s of
// etcd's CPU on three, ~1.8 on one). The tests whose point is not a
// quorum, a leader or a member's failure run on one member (StartOne).
//
// Members are reached through the v3 JSON gateway that each serves on its
// client URL (see internal/etcdgw), over net/http (HTTPTransport).
//
// The members are tuned for tests, not for a machine that may crash:
//
//   - Their data (WAL and backend) is on a memory file system (/dev/shm,
//     where there is one), where fsync costs nothing: each raft write
//     would otherwise wait for the disk three times, which is most of a
//     write's latency and of the tests' wall time. etcd 3.4 has no
//     --unsafe-no-fsync; this is its effect. It is sound for what the
//     tests check: a member killed with SIGKILL (the crash they make)
//     leaves what it wrote in the kernel's page cache, which its restart
//     reads as a disk would; only a crash of the machine loses unsynced
//     writes, and no test makes one.
//   - etcd's own heartbeat interval (100 ms) and election timeout (1 s),
//     and one thread of Go code per member (GOMAXPROCS=1): an idle
//     cluster spends 31 ms of CPU a second so; 41 with every core, and 68
//     with the heartbeats every 50 ms and elections after 500 ms it had
//     before. The tests that kill a leader wait for the next one with
//     WaitLeader: a shorter election only ended that wait sooner.
//   - bcrypt cost 4 (the least etcd takes, 10 by default) for the
//     passwords of EnableAuth: the tests check that authentication is
//     asked and refused, not the hash's strength.
package etcdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/etcdgw"
)

// Size is the number of members of a cluster that Start starts.
const Size = 3

// StartTimeout bounds how long Start and Restart wait for a leader: etcd
// elects one in about a second; a loaded machine takes longer.
const StartTimeout = 60 * time.Second

// Cluster is the etcd members started for one test.
type Cluster struct {
	t       testing.TB
	members []*member
	binary  string
}

type member struct {
	name    string
	dir     string
	client  string // http://127.0.0.1:PORT
	peer    string
	args    []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	log     *os.File
	id      uint64 // etcd's member ID, learned from its status
	running bool
}

// Binary returns the path of the etcd server, or fails t naming the Debian
// package that has it.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd is not installed: these tests run a real etcd cluster; install the Debian package etcd-server (apt-get install etcd-server etcd-client, or make deps): %v", err)
	}
	return p
}

// Start starts a three-member cluster and waits until it has a leader.
// The ports are the kernel's picks of a moment before; when another
// process took one in between (a member exits saying so), the cluster is
// started again on other ports, up to three times.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return start(t, Size)
}

// StartOne starts a cluster of one member, as Start does: for the tests
// that need etcd, not a quorum (see the package comment).
func StartOne(t testing.TB) *Cluster {
	t.Helper()
	return start(t, 1)
}

func start(t testing.TB, size int) *Cluster {
	t.Helper()
	binary := Binary(t)
	for attempt := 1; ; attempt++ {
		c := &Cluster{t: t, binary: binary, members: make([]*member, size)}
		c.configure(t.TempDir(), memDir(t))
		t.Cleanup(c.killAll)
		for i := range c.members {
			c.launch(i)
		}
		_, err := c.waitLeader()
		if err == nil {
			return c
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatalf("etcdtest: %v; logs:\n%s", err, c.logs())
		}
		c.killAll()
	}
}

// memDir returns a new folder on the memory file system /dev/shm, removed
// when t ends, or t.TempDir() where there is no /dev/shm. Its name holds
// the test process's ID: a process killed before its Cleanup (a test
// binary past its -timeout) leaves its folders, and the next Start
// removes those whose process is gone, so that memory is not lost for
// good.
func memDir(t testing.TB) string {
	t.Helper()
	const shm = "/dev/shm"
	if fi, err := os.Stat(shm); err != nil || !fi.IsDir() {
		return t.TempDir()
	}
	removeOrphans(shm)
	dir, err := os.MkdirTemp(shm, "etcdtest-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// removeOrphans removes the folders of memDir in shm whose process no
// longer runs.
func removeOrphans(shm string) {
	dirs, _ := filepath.Glob(filepath.Join(shm, "etcdtest-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.Split(filepath.Base(d), "-")[1])
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// configure picks the members' ports and their folders under root (logs)
// and data (etcd's data), and writes their command lines: a new cluster
// with a token of its own.
func (c *Cluster) configure(root, data string) {
	token := make([]byte, 8)
	rand.Read(token)
	var initial []string
	ports := freePorts(c.t, 2*len(c.members))
	for i := range c.members {
		m := &member{name: "m" + strconv.Itoa(i), dir: filepath.Join(root, "m"+strconv.Itoa(i))}
		m.client, m.peer = "http://"+ports[2*i], "http://"+ports[2*i+1]
		initial = append(initial, m.name+"="+m.peer)
		c.members[i] = m
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name, "--data-dir", filepath.Join(data, m.name),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "etcdtest-" + hex.EncodeToString(token),
			"--initial-cluster-state", "new",
			"--logger", "zap", "--log-outputs", "stderr",
			"--heartbeat-interval", "100", "--election-timeout", "1000",
			"--bcrypt-cost", "4",
		}
	}
}

// freePorts returns n loopback addresses whose ports were free a moment
// ago: the kernel's picks for listeners held open until all n are picked,
// so that the n differ. (Each listener closed at once, the kernel could pick
// one port twice: two members of one cluster on one port, which etcd
// refuses, as a run of TestEtcdNoQuorum met.)
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("etcdtest: no free loopback port: %v", err)
		}
		defer l.Close()
		addrs[i] = l.Addr().String()
	}
	return addrs
}

// launch starts member i in its own process group; its output goes to a
// log file beside its data, shown when the cluster fails to start.
func (c *Cluster) launch(i int) {
	c.t.Helper()
	m := c.members[i]
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	log, err := os.OpenFile(filepath.Join(m.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
	cmd := exec.Command(c.binary, m.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1") // see the package comment
	cmd.SysProcAttr = processGroup()
	if err := cmd.Start(); err != nil {
		log.Close()
		c.t.Fatalf("etcdtest: starting member %s: %v", m.name, err)
	}
	m.cmd, m.log, m.running, m.done = cmd, log, true, make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		close(done)
	}(m.done)
}

// Endpoints returns the client URLs of the members, running or not, in
// member order.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.members))
	for i, m := range c.members {
		eps[i] = m.client
	}
	return eps
}

// Endpoint returns member i's client URL.
func (c *Cluster) Endpoint(i int) string { return c.members[i].client }

// Client returns a gateway client of every member over net/http.
func (c *Cluster) Client(user, password string) *etcdgw.Client {
	return etcdgw.New(HTTPTransport{}, c.Endpoints(), user, password)
}

// Running reports whether member i runs: started, and not killed or
// stopped since.
func (c *Cluster) Running(i int) bool { return c.members[i].running }

// Kill sends member i SIGKILL (a crash: no goodbye to its peers) and waits
// for it to exit.
func (c *Cluster) Kill(i int) { c.stop(i, syscall.SIGKILL) }

// Stop ends member i with SIGTERM and waits for it to exit.
func (c *Cluster) Stop(i int) { c.stop(i, syscall.SIGTERM) }

func (c *Cluster) stop(i int, sig syscall.Signal) {
	c.t.Helper()
	m := c.members[i]
	if !m.running {
		c.t.Fatalf("etcdtest: member %s is not running", m.name)
	}
	syscall.Kill(-m.cmd.Process.Pid, sig)
	<-m.done
	m.log.Close()
	m.running = false
}

// Restart starts stopped member i again, on its data, and waits until the
// cluster has a leader.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.members[i].running {
		c.t.Fatalf("etcdtest: member %s is running", c.members[i].name)
	}
	c.launch(i)
	c.WaitLeader()
}

// killAll kills every member still running, with its process group: no
// process outlives the test.
func (c *Cluster) killAll() {
	for _, m := range c.members {
		if m != nil && m.running {
			syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
			<-m.done
			m.log.Close()
			m.running = false
		}
	}
}

// Status is the part of a member's /v3/maintenance/status answer the
// harness reads.
type Status struct {
	Member uint64 // the answering member's ID
	Leader uint64 // the leader's ID as it knows it; 0: none
}

// MemberStatus asks member i for its status.
func (c *Cluster) MemberStatus(ctx context.Context, i int) (Status, error) {
	var out struct {
		Header struct {
			MemberID json.Number `json:"member_id"`
		} `json:"header"`
		Leader json.Number `json:"leader"`
	}
	if err := postJSON(ctx, c.members[i].client+"/v3/maintenance/status", struct{}{}, &out); err != nil {
		return Status{}, err
	}
	// Member IDs are unsigned 64-bit numbers, written as strings.
	member, err := strconv.ParseUint(out.Header.MemberID.String(), 10, 64)
	if err != nil {
		return Status{}, fmt.Errorf("member %s: status: member_id: %w", c.members[i].name, err)
	}
	leader, _ := strconv.ParseUint(out.Leader.String(), 10, 64) // absent: no leader
	return Status{Member: member, Leader: leader}, nil
}

// Leader returns the index of the member that the running members agree
// leads, or -1 when they do not agree (an election is on, or too few run).
func (c *Cluster) Leader() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	leader, agree := uint64(0), 0
	for i, m := range c.members {
		if !m.running {
			continue
		}
		s, err := c.MemberStatus(ctx, i)
		if err != nil || s.Leader == 0 || (leader != 0 && s.Leader != leader) {
			return -1
		}
		m.id, leader = s.Member, s.Leader
		agree++
	}
	if agree <= len(c.members)/2 {
		return -1
	}
	for i, m := range c.members {
		if m.running && m.id == leader {
			return i
		}
	}
	return -1
}

// WaitLeader waits, polling, until the running members agree on a leader
// among them, and returns its index; it fails the test after StartTimeout,
// or when a member exits, with the members' logs.
func (c *Cluster) WaitLeader() int {
	c.t.Helper()
	l, err := c.waitLeader()
	if err != nil {
		c.t.Fatalf("etcdtest: %v; logs:\n%s", err, c.logs())
	}
	return l
}

// errPortTaken: a member could not listen on its port.
var errPortTaken = errors.New("a port was taken by another process")

func (c *Cluster) waitLeader() (int, error) {
	deadline := time.Now().Add(StartTimeout)
	for {
		if l := c.Leader(); l >= 0 {
			return l, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no leader after %s", StartTimeout)
		}
		for _, m := range c.members {
			select {
			case <-m.done:
				if m.running {
					log, _ := os.ReadFile(filepath.Join(m.dir, "log"))
					if bytes.Contains(log, []byte("address already in use")) {
						return -1, fmt.Errorf("member %s exited: %w", m.name, errPortTaken)
					}
					return -1, fmt.Errorf("member %s exited", m.name)
				}
			default:
			}
		}
		time.Sleep(50 * time.Millisecond) // a poll interval, not a wait for something
	}
}

// logs returns the end of each member's log.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, m := range c.members {
		data, _ := os.ReadFile(filepath.Join(m.dir, "log"))
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", m.name, data)
	}
	return b.String()
}

// EnableAuth turns etcd's authentication on: user gets password and the
// root role (all rights). etcd enables authentication only when a user
// named root exists, so root is made too, with the same password, when
// user is another.
func (c *Cluster) EnableAuth(user, password string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	ep := c.members[c.WaitLeader()].client
	type step struct {
		path string
		body any
	}
	steps := []step{{"/v3/auth/role/add", map[string]string{"name": "root"}}}
	for _, u := range uniq("root", user) {
		steps = append(steps,
			step{"/v3/auth/user/add", map[string]string{"name": u, "password": password}},
			step{"/v3/auth/user/grant", map[string]string{"user": u, "role": "root"}})
	}
	for _, s := range append(steps, step{"/v3/auth/enable", struct{}{}}) {
		if err := postJSON(ctx, ep+s.path, s.body, &struct{}{}); err != nil {
			c.t.Fatalf("etcdtest: enabling authentication: %v", err)
		}
	}
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// postJSON posts in to url and decodes a 200 answer into out.
func postJSON(ctx context.Context, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := map[string]string{"Content-Type": "application/json"}
	resp, err := HTTPTransport{}.RoundTrip(ctx, etcdgw.Request{Method: "POST", URL: url, Header: h, Body: body})
	if err != nil {
		return err
	}
	if resp.Status != 200 {
		return fmt.Errorf("%s: HTTP %d: %s", url, resp.Status, bytes.TrimSpace(resp.Body))
	}
	return json.Unmarshal(resp.Body, out)
}

// HTTPTransport is an etcdgw.Transport over net/http that follows no
// redirect, as the host's http function does not.
type HTTPTransport struct{}

var httpClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// RoundTrip sends req and reads the whole answer.
func (HTTPTransport) RoundTrip(ctx context.Context, req etcdgw.Request) (etcdgw.Response, error) {
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return etcdgw.Response{}, err
	}
	for k, v := range req.Header {
		r.Header.Set(k, v)
	}
	resp, err := httpClient.Do(r)
	if err != nil {
		return etcdgw.Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return etcdgw.Response{}, err
	}
	return etcdgw.Response{Status: resp.StatusCode, Body: body}, nil
}
