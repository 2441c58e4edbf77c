package testwasm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// goSourcesKey returns a hash of everything go build builds the Go guest
// at dir from: the go command's version, go.mod and go.sum, and for each
// package the guest imports for wasip1 (go list -deps, the standard library
// aside, which comes with the version): for a package of this module, the
// name and content of its Go and embedded files; for one of a required
// module, the module's path and version (the module cache never changes
// a version's files). go build has a cache of its own, but each build still
// runs the go command and the linker, over half a second of CPU for every
// Go guest in every test process; go list costs a fifth of that.
func goSourcesKey(modRoot, dir string) (string, error) {
	keys, err := goSourcesKeys(modRoot, []string{dir})
	return keys[dir], err
}

// goSourcesKeys returns goSourcesKey of each of dirs, from one go list:
// the go command's start and the loading of the module are most of its
// cost, whatever the number of packages.
func goSourcesKeys(modRoot string, dirs []string) (map[string]string, error) {
	version, err := goVersion(modRoot)
	if err != nil {
		return nil, err
	}
	common := sha256.New()
	common.Write(version)
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := hashFile(common, modRoot, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	// A line per package that is not the standard library's (P), and one
	// per guest, with what it imports, directly or not (R).
	const format = `{{if not .Standard}}P{{"\t"}}{{.ImportPath}}` + "\t" +
		`{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{with .Replace}}=>{{.Path}}@{{.Version}}{{end}}{{end}}{{end}}` + "\t" +
		`{{.Dir}}` + "\t" + `{{join .GoFiles "\t"}}` + "\t" + `{{join .EmbedFiles "\t"}}` + "\n{{end}}" +
		`{{if not .DepOnly}}R{{"\t"}}{{.Dir}}{{"\t"}}{{.ImportPath}}{{range .Deps}}{{"\t"}}{{.}}{{end}}` + "\n{{end}}"
	args := []string{"list", "-deps", "-f", format}
	for _, d := range dirs {
		args = append(args, "./"+d)
	}
	out, err := goCommand(modRoot, args...)
	if err != nil {
		return nil, err
	}
	pkgs := map[string][]string{}  // by import path: module, folder, files
	roots := map[string][]string{} // by folder: the packages of the guest there
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		switch {
		case f[0] == "P" && len(f) >= 4:
			pkgs[f[1]] = f[2:]
		case f[0] == "R" && len(f) >= 3:
			roots[f[1]] = f[2:]
		}
	}
	keys := map[string]string{}
	for _, d := range dirs {
		imports, ok := roots[filepath.Join(modRoot, filepath.FromSlash(d))]
		if !ok {
			return nil, fmt.Errorf("go list -deps ./%s: no package listed in %s", d, d)
		}
		h := sha256.New()
		h.Write(common.Sum(nil))
		imports = slices.Sorted(slices.Values(imports)) // the same order in any batch
		for _, path := range slices.Compact(imports) {
			p, ok := pkgs[path]
			if !ok {
				continue // the standard library's
			}
			fmt.Fprintf(h, "%s\x00%s\x00", path, p[0])
			if p[0] != "" && !strings.HasSuffix(p[0], "@") {
				continue // a required module at a version, not replaced by a folder
			}
			rel, err := filepath.Rel(modRoot, p[1])
			if err != nil {
				return nil, err
			}
			for _, name := range p[2:] {
				if name != "" {
					if err := hashFile(h, modRoot, filepath.Join(rel, name)); err != nil {
						return nil, err
					}
				}
			}
		}
		keys[d] = hex.EncodeToString(h.Sum(nil)[:8])
	}
	return keys, nil
}

// goGuestKey returns goSourcesKey of the guest at dir in the module at
// modRoot. The first call of a process lists the module's Go guests
// (goGuests) at once and keeps their keys for the rest of it, since no
// test changes the module's own sources: a test process that builds four
// Go guests (the sandbox's) ran go version and go list four times, each
// about 0.1 s of CPU. A guest not among them, or a batch that fails (one
// guest does not load), is listed alone, as before.
func goGuestKey(modRoot, dir string) (string, error) {
	guestKeys.Lock()
	defer guestKeys.Unlock()
	if guestKeys.root != modRoot {
		guestKeys.root = modRoot
		guestKeys.keys = nil
		if guests, err := goGuests(modRoot); err == nil && slices.Contains(guests, dir) {
			guestKeys.keys, _ = goSourcesKeys(modRoot, guests)
		}
	}
	if k, ok := guestKeys.keys[dir]; ok {
		return k, nil
	}
	return goSourcesKey(modRoot, dir)
}

var guestKeys struct {
	sync.Mutex
	root string
	keys map[string]string // by the guest's folder
}

// goGuests returns the folders of the module's Go guests that the tests
// build, as the Makefile's guests target finds them: examples/go-vault
// and every folder under a testdata folder with Go files in it.
func goGuests(modRoot string) ([]string, error) {
	guests := []string{"examples/go-vault"}
	err := filepath.WalkDir(modRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != modRoot && (name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(modRoot, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(path, ".go") && strings.Contains("/"+rel+"/", "/testdata/") && !slices.Contains(guests, rel) {
			guests = append(guests, rel)
		}
		return nil
	})
	return guests, err
}

// goVersion returns what go version prints in modRoot (whose go.mod may
// name the toolchain), asked once per process and folder.
func goVersion(modRoot string) ([]byte, error) {
	v, _ := goVersions.LoadOrStore(modRoot, sync.OnceValues(func() ([]byte, error) { return goCommand(modRoot, "version") }))
	return v.(func() ([]byte, error))()
}

var goVersions sync.Map // by module root: func() ([]byte, error)

// goCommand runs go with args in modRoot for wasip1 and returns its output.
func goCommand(modRoot string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = modRoot
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, ee.Stderr)
	}
	return out, err
}

// hashFile writes the name (relative to modRoot) and content of a file.
func hashFile(h interface{ Write([]byte) (int, error) }, modRoot, rel string) error {
	b, err := os.ReadFile(filepath.Join(modRoot, rel))
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
	h.Write(b)
	return nil
}
