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

// unusedAtStart are the packages, and the trees of packages (a trailing
// "/"), that the thin sesame must not link, since their inits would run in
// every command, one served by the agent included, for something such a
// command never does (RATIONALE.md, "A thin client"): the engine and what
// only it uses — wazero, bbolt, TOML, age, which sesame-engine links —,
// urfave/cli's man-page generator (blackfriday and md2man: 214 KB at init),
// gob (its type registry; the agent's wire is codec.go), and cgo's runtime
// (glibc's loader before main, for the net package alone).
var unusedAtStart = []string{
	"github.com/sesamehq/sesame/engine",
	"github.com/sesamehq/sesame/engine/internal/sandbox",
	"github.com/sesamehq/sesame/engine/internal/storage",
	"github.com/sesamehq/sesame/engine/internal/registry",
	"github.com/tetratelabs/wazero/",
	"go.etcd.io/bbolt/",
	"github.com/BurntSushi/toml/",
	"filippo.io/age/",
	"github.com/russross/blackfriday/v2",
	"github.com/cpuguy83/go-md2man/v2/md2man",
	"encoding/gob",
	"runtime/cgo",
}

// unused reports whether package p is one of unusedAtStart, or in one of
// its trees.
func unused(p string) bool {
	for _, u := range unusedAtStart {
		if tree, ok := strings.CutSuffix(u, "/"); ok && (p == tree || strings.HasPrefix(p, u)) || p == u {
			return true
		}
	}
	return false
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
	if !slices.Contains(deps, "github.com/sesamehq/sesame/internal/agent") {
		t.Fatalf("go list -deps lists no internal/agent: the check looks at the wrong program\n%s", out)
	}
	for _, p := range deps {
		if unused(p) {
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
