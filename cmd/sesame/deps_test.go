package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unusedAtStart are packages whose init runs in every sesame command, one
// served by the agent included, for something sesame never does
// (RATIONALE.md, "A thin client"): urfave/cli's man-page generator
// (blackfriday and md2man: 214 KB at init), gob (its type registry; the
// agent's wire is codec.go), and cgo's runtime (glibc's loader before main,
// for the net package alone).
var unusedAtStart = []string{
	"github.com/russross/blackfriday/v2",
	"github.com/cpuguy83/go-md2man/v2/md2man",
	"encoding/gob",
	"runtime/cgo",
}

// TestBuildLinksNothingUnused lists the packages that `make build` links
// into sesame, with the environment and flags the Makefile gives it, and
// fails on any of unusedAtStart: a new import, or a Makefile that lost the
// flag that leaves one out, brings its init back into every command.
func TestBuildLinksNothingUnused(t *testing.T) {
	env, tags := makeBuild(t)
	cmd := exec.Command("go", "list", "-deps", "-tags", tags, ".")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, p := range unusedAtStart {
		if slices.Contains(deps, p) {
			t.Errorf("make build links %s into sesame (go list -deps -tags %q with %v): its init runs in every command", p, tags, env)
		}
	}
}

// makeBuild returns the environment (BUILDENV) and the build tags (of
// BUILDFLAGS) with which the repository's Makefile builds sesame.
func makeBuild(t *testing.T) (env []string, tags string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string][]string{}
	for s := bufio.NewScanner(f); s.Scan(); {
		name, value, ok := strings.Cut(s.Text(), ":=")
		if name = strings.TrimSpace(name); ok && (name == "BUILDENV" || name == "BUILDFLAGS") {
			vars[name] = strings.Fields(value)
		}
	}
	if vars["BUILDENV"] == nil || vars["BUILDFLAGS"] == nil {
		t.Fatal("the Makefile sets no BUILDENV or no BUILDFLAGS: how does make build sesame?")
	}
	flags := vars["BUILDFLAGS"]
	for i, fl := range flags {
		if v, ok := strings.CutPrefix(fl, "-tags="); ok {
			tags = v
		} else if fl == "-tags" && i+1 < len(flags) {
			tags = flags[i+1]
		}
	}
	return vars["BUILDENV"], tags
}
