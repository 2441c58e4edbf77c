// Package mk holds the make include files and scripts of the repository;
// its test runs mk/deps.sh, the `make deps` step of `make test`, against
// stand-in tools.
package mk

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDeps runs deps.sh with a PATH of stand-ins: tools that are there or
// not, apt-get and sudo that record their calls, and id that says who runs.
func TestDeps(t *testing.T) {
	all := []string{"clang", "wasm-ld", "wat2wasm", "node", "npm", "keepassxc-cli", "etcd", "etcdctl"}
	tests := []struct {
		name    string
		tools   []string // present
		uid     string
		noLibs  bool // clang lacks wasi-libc and the wasm32 builtins
		sudo    bool
		fails   string // in stderr, when it must fail
		wantLog string // the calls of apt-get and sudo, one a line
	}{
		{name: "everything there: nothing runs", tools: all, uid: "1000"},
		{name: "clang without its wasm32 libraries", tools: all, uid: "0", noLibs: true,
			wantLog: "apt-get update -qq\napt-get install -y -qq wasi-libc libclang-rt-dev-wasm32\n"},
		{name: "as root", tools: []string{"clang", "wasm-ld", "node", "npm", "keepassxc-cli", "etcd", "etcdctl"}, uid: "0",
			wantLog: "apt-get update -qq\napt-get install -y -qq wabt\n"},
		{name: "no C toolchain, no node", tools: []string{"wat2wasm", "keepassxc-cli", "etcd", "etcdctl"}, uid: "0",
			wantLog: "apt-get update -qq\napt-get install -y -qq clang lld wasi-libc libclang-rt-dev-wasm32 nodejs npm\n"},
		{name: "through sudo", tools: []string{"clang", "wasm-ld", "wat2wasm", "keepassxc-cli", "etcd", "etcdctl"}, uid: "1000", sudo: true,
			wantLog: "sudo -n true\nsudo apt-get update -qq\napt-get update -qq\nsudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm\napt-get install -y -qq nodejs npm\n"},
		{name: "no etcd", tools: []string{"clang", "wasm-ld", "wat2wasm", "node", "npm", "keepassxc-cli"}, uid: "0",
			wantLog: "apt-get update -qq\napt-get install -y -qq etcd-server etcd-client\n"},
		{name: "no KeePassXC", tools: []string{"clang", "wasm-ld", "wat2wasm", "node", "npm", "etcd", "etcdctl"}, uid: "0",
			wantLog: "apt-get update -qq\napt-get install -y -qq keepassxc\n"},
		{name: "neither root nor sudo", tools: []string{"clang", "wasm-ld", "node", "npm", "keepassxc-cli", "etcd", "etcdctl"}, uid: "1000",
			fails: "deps: the tests need these Debian packages: wabt; run: sudo apt-get install wabt"},
	}
	script, err := filepath.Abs("deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "log")
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, tool := range tt.tools {
				stub(tool, "")
			}
			// clang names a file that exists for each library it is asked about.
			stub("clang", `echo "$0"`)
			if tt.noLibs {
				stub("clang", "echo "+filepath.Join(dir, "missing"))
			}
			if !slices.Contains(tt.tools, "clang") {
				os.Remove(filepath.Join(dir, "clang"))
			}
			stub("id", "echo "+tt.uid)
			stub("apt-get", `echo "apt-get $*" >>`+log)
			if tt.sudo {
				stub("sudo", `echo "sudo $*" >>`+log+`; [ "$1" = -n ] && shift; exec "$@"`)
			}
			for _, base := range []string{"env", "sh", "true"} {
				p, err := exec.LookPath(base)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(p, filepath.Join(dir, base)); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(filepath.Join(dir, "sh"), script)
			cmd.Env = []string{"PATH=" + dir}
			out, err := cmd.CombinedOutput()
			switch {
			case tt.fails != "" && (err == nil || !strings.Contains(string(out), tt.fails)):
				t.Fatalf("got %v, %s; want a failure saying %q", err, out, tt.fails)
			case tt.fails == "" && err != nil:
				t.Fatalf("%v: %s", err, out)
			}
			got, _ := os.ReadFile(log)
			if string(got) != tt.wantLog {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tt.wantLog)
			}
		})
	}
}
