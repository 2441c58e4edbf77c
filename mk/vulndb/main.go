// Command vulndb lays out a Go vulnerability database that govulncheck reads
// with -db file://DIR, from the OSV files of one version of the
// golang.org/x/vulndb module, which the Go module proxy serves. `make vuln`
// runs it: vuln.go.dev itself may be out of reach where the proxy is not
// (CI here reaches only the proxy), and a database pinned by module version
// makes a check reproducible — a new advisory shows up when the pin moves,
// not in the middle of an unrelated change.
//
// The layout is the documented v1 one (go.dev/security/vuln/database):
// index/db.json, index/modules.json, and ID/<id>.json holding each OSV
// entry as published. vulndb's own indexdb command writes the same, but it
// links the project's cloud tooling and takes minutes to build on a clean
// machine; this reads only what govulncheck needs from each entry.
//
// Usage: vulndb -module golang.org/x/vulndb@VERSION -out DIR
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// entry is the part of an OSV entry that the index needs.
type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Events []struct {
				Fixed string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

// moduleVuln is one line of a module's list in index/modules.json: Fixed is
// the highest version that fixes it, empty when none does.
type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Fixed    string    `json:"fixed,omitempty"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

func main() {
	mod := flag.String("module", "", "the golang.org/x/vulndb module at a version, module@version")
	out := flag.String("out", "", "folder to write the database to (made if missing)")
	flag.Parse()
	if *mod == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: vulndb -module golang.org/x/vulndb@VERSION -out DIR")
		os.Exit(2)
	}
	dir, err := download(*mod)
	if err == nil {
		err = build(filepath.Join(dir, "data", "osv"), *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulndb:", err)
		os.Exit(1)
	}
}

// download fetches mod (module@version) into the module cache, through the
// module proxy and checked against the checksum database like any module,
// and returns its folder there.
func download(mod string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", mod)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr == nil && m.Error != "" {
		return "", fmt.Errorf("download %s: %s", mod, m.Error)
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", mod, err)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("download %s: go mod download named no folder", mod)
	}
	return m.Dir, nil
}

// build writes the database for every *.json file in osvDir into out.
func build(osvDir, out string) error {
	files, err := filepath.Glob(filepath.Join(osvDir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no OSV files in %s", osvDir)
	}
	if err := os.MkdirAll(filepath.Join(out, "ID"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "index"), 0o755); err != nil {
		return err
	}
	modules := map[string][]moduleVuln{}
	var newest time.Time
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if e.ID == "" || filepath.Base(f) != e.ID+".json" {
			return fmt.Errorf("%s: the file's name is not its entry's id %q", f, e.ID)
		}
		if err := os.WriteFile(filepath.Join(out, "ID", e.ID+".json"), raw, 0o644); err != nil {
			return err
		}
		if e.Modified.After(newest) {
			newest = e.Modified
		}
		for path, fixed := range affected(e) {
			modules[path] = append(modules[path], moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: fixed})
		}
	}
	index := make([]module, 0, len(modules))
	for path, vulns := range modules {
		slices.SortFunc(vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		index = append(index, module{Path: path, Vulns: vulns})
	}
	slices.SortFunc(index, func(a, b module) int { return strings.Compare(a.Path, b.Path) })
	return errors.Join(
		writeJSON(filepath.Join(out, "index", "modules.json"), index),
		writeJSON(filepath.Join(out, "index", "db.json"), struct {
			Modified time.Time `json:"modified"`
		}{newest}),
	)
}

// affected maps each module an entry names to the highest version that
// fixes it there ("" when none does).
func affected(e entry) map[string]string {
	fixed := map[string]string{}
	for _, a := range e.Affected {
		path := a.Package.Name
		if _, ok := fixed[path]; !ok {
			fixed[path] = ""
		}
		for _, r := range a.Ranges {
			for _, ev := range r.Events {
				if ev.Fixed != "" && semverLess(fixed[path], ev.Fixed) {
					fixed[path] = ev.Fixed
				}
			}
		}
	}
	return fixed
}

// semverLess orders the versions that OSV ranges hold (no "v", optional
// pre-release); "" sorts first. Only the index's hint depends on it:
// govulncheck decides from each entry's own ranges.
func semverLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	an, apre, _ := strings.Cut(a, "-")
	bn, bpre, _ := strings.Cut(b, "-")
	as, bs := strings.Split(an, "."), strings.Split(bn, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if c := numCompare(as[i], bs[i]); c != 0 {
			return c < 0
		}
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	switch {
	case apre == "" || bpre == "":
		return apre != "" && bpre == ""
	default:
		return apre < bpre
	}
}

// numCompare compares two decimal numbers written without leading zeros.
func numCompare(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
