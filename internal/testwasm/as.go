package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// asDir is the AssemblyScript example, whose package-lock.json pins the
// compiler (asc) and whose assembly/sesame.ts is the SDK that test vaults
// import.
const asDir = "examples/as-vault"

// AssemblyScript compiles the AssemblyScript file at path (relative to the
// module root) with the asc that examples/as-vault pins (running npm ci
// there first when its node_modules is missing), with the stub runtime,
// and returns the module.
//
// asc takes seconds of CPU, so the module is kept in the cache folder
// under a hash of everything it is built from: the .ts files of path's
// folder and of the SDK's, the pinned compiler's lock file, asc's
// arguments and node's version. A test run whose sources did not change
// compiles nothing; a change to any of them compiles anew.
func AssemblyScript(tb testing.TB, path string) []byte {
	tb.Helper()
	root := ModuleRoot(tb)
	dir := filepath.Join(root, asDir)
	if _, err := exec.LookPath("npx"); err != nil {
		tb.Fatal("Node.js 20 or later with npm is needed to build AssemblyScript test vaults")
	}
	flags := []string{"--runtime", "stub"}
	key, err := asKey(root, path, flags)
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	out, err := cacheDir()
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	final := filepath.Join(out, "as-"+strings.TrimSuffix(filepath.Base(path), ".ts")+"-"+key+".wasm")
	if b, err := os.ReadFile(final); err == nil {
		return b
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/.package-lock.json")); err != nil {
		run("npm", "ci", "--no-audit", "--no-fund")
	}
	work, err := os.MkdirTemp(out, "build-")
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	defer os.RemoveAll(work)
	built := filepath.Join(work, "vault.wasm")
	run("npx", append(append([]string{"--no", "asc", filepath.Join(root, path)}, flags...), "-o", built)...)
	b, err := os.ReadFile(built)
	if err != nil {
		tb.Fatal(err)
	}
	// Renamed whole over the shared name: a test process running at the
	// same time reads either no file or this one.
	if err := os.Rename(built, final); err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	return b
}

// asKey hashes what AssemblyScript builds path from (see AssemblyScript).
func asKey(root, path string, flags []string) (string, error) {
	node, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %v", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00%s\x00", filepath.ToSlash(path), flags, node)
	files := []string{filepath.Join(asDir, "package-lock.json")}
	for _, d := range []string{filepath.Dir(path), filepath.Join(asDir, "assembly")} {
		ts, err := filepath.Glob(filepath.Join(root, d, "*.ts"))
		if err != nil {
			return "", err
		}
		for _, f := range ts { // Glob sorts
			rel, _ := filepath.Rel(root, f)
			files = append(files, rel)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}
