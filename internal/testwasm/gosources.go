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
	"strings"
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
	h := sha256.New()
	version, err := goCommand(modRoot, "version")
	if err != nil {
		return "", err
	}
	h.Write(version)
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, modRoot, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	const format = `{{if not .Standard}}{{.ImportPath}}` + "\t" +
		`{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{with .Replace}}=>{{.Path}}@{{.Version}}{{end}}{{end}}{{end}}` + "\t" +
		`{{.Dir}}` + "\t" + `{{join .GoFiles "\t"}}` + "\t" + `{{join .EmbedFiles "\t"}}` + "\n{{end}}"
	deps, err := goCommand(modRoot, "list", "-deps", "-f", format, "./"+dir)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(deps)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) < 3 {
			continue
		}
		fmt.Fprintf(h, "%s\x00%s\x00", f[0], f[1])
		if f[1] != "" && !strings.HasSuffix(f[1], "@") {
			continue // a required module at a version, not replaced by a folder
		}
		rel, err := filepath.Rel(modRoot, f[2])
		if err != nil {
			return "", err
		}
		for _, name := range f[3:] {
			if name != "" {
				if err := hashFile(h, modRoot, filepath.Join(rel, name)); err != nil {
					return "", err
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

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
