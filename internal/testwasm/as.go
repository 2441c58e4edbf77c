package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
// compiles nothing; a change to any of them compiles anew. Most of asc's
// CPU goes to its start in node, so the other .ts files of path's folder
// that are not built yet, the test vaults that other tests will ask for,
// are compiled in the same process (ascBatch): the sandbox's two, 14 s of
// CPU through npx one after the other, take 7 s, and the same bytes. One
// that does not compile is left for the test that asks for it to report.
func AssemblyScript(tb testing.TB, path string) []byte {
	tb.Helper()
	root := ModuleRoot(tb)
	dir := filepath.Join(root, asDir)
	if _, err := exec.LookPath("node"); err != nil {
		tb.Fatal("Node.js 20 or later with npm is needed to build AssemblyScript test vaults")
	}
	flags := []string{"--runtime", "stub"}
	out, err := cacheDir()
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	siblings, err := filepath.Glob(filepath.Join(root, filepath.Dir(path), "*.ts"))
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	// The files to build: path first, then its siblings not built yet.
	var todo []asBuild
	self := filepath.Join(root, filepath.FromSlash(path))
	for i, f := range append([]string{self}, siblings...) {
		if i > 0 && f == self {
			continue
		}
		rel, _ := filepath.Rel(root, f)
		key, err := asKey(root, rel, flags)
		if err != nil {
			tb.Fatalf("testwasm: %v", err)
		}
		final := filepath.Join(out, "as-"+strings.TrimSuffix(filepath.Base(rel), ".ts")+"-"+key+".wasm")
		if _, err := os.Stat(final); err == nil {
			if len(todo) == 0 { // path itself is built
				b, err := os.ReadFile(final)
				if err != nil {
					tb.Fatal(err)
				}
				return b
			}
			continue
		}
		todo = append(todo, asBuild{src: f, final: final})
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules/.package-lock.json")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if msg, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("npm ci in %s: %v\n%s", asDir, err, msg)
		}
	}
	work, err := os.MkdirTemp(out, "build-")
	if err != nil {
		tb.Fatalf("testwasm: %v", err)
	}
	defer os.RemoveAll(work)
	msg, runErr := ascBatch(dir, work, flags, todo)
	for i, t := range todo {
		// Renamed whole over the shared name: a test process running at
		// the same time reads either no file or this one.
		if err := os.Rename(t.built, t.final); err != nil && i == 0 {
			tb.Fatalf("asc %s %s: %v\n%s", path, strings.Join(flags, " "), runErr, msg)
		}
	}
	b, err := os.ReadFile(todo[0].final)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// asBuild is a .ts file to compile (src, absolute), the module asc writes
// (built) and its name in the cache folder (final).
type asBuild struct{ src, built, final string }

// ascScript compiles the files of its arguments (asc's flags as JSON, then
// pairs of a source and the module to write) with the API of the asc in
// node_modules, one after the other, and fails if any did not compile,
// after all have been tried.
const ascScript = `
import { main } from "assemblyscript/asc";
const [flags, ...files] = process.argv.slice(1);
for (let i = 0; i < files.length; i += 2) {
  const { error, stderr } = await main([files[i], ...JSON.parse(flags), "-o", files[i + 1]]);
  if (error) {
    process.stderr.write(files[i] + ": " + stderr.toString() + "\n");
    process.exitCode = 1;
  }
}
`

// ascBatch compiles every file of todo into work in one node process run
// in dir (where node_modules holds the pinned asc), setting each one's
// built, and returns node's output and error.
func ascBatch(dir, work string, flags []string, todo []asBuild) ([]byte, error) {
	jsonFlags, err := json.Marshal(flags)
	if err != nil {
		return nil, err
	}
	// --liftoff-only: see EXAMPLES_ASC_NODEFLAGS in mk/examples.mk (the
	// same bytes, half of asc's CPU).
	args := []string{"--liftoff-only", "--input-type=module", "-e", ascScript, string(jsonFlags)}
	for i := range todo {
		todo[i].built = filepath.Join(work, fmt.Sprintf("%d.wasm", i))
		args = append(args, todo[i].src, todo[i].built)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// nodeVersion returns what node --version prints, asked once per process:
// each AssemblyScript call keys every .ts file of its folder (the
// sandbox's tests ten of them in a run, about 30 ms of CPU each).
var nodeVersion = sync.OnceValues(func() ([]byte, error) {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %v", err)
	}
	return out, nil
})

// asKey hashes what AssemblyScript builds path from (see AssemblyScript).
func asKey(root, path string, flags []string) (string, error) {
	node, err := nodeVersion()
	if err != nil {
		return "", err
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
