package testwasm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// cSourcesKey returns a hash of everything clang builds a C guest from:
// clang's version, CFlags, and the path and content of each .c file (paths
// relative to modRoot, as clang is given them) and of every file they
// include with quotes, found as clang finds it (beside the including file,
// then in abi/c, the -I folder), and of what those include in turn. Headers
// in angle brackets are wasi-libc's, which comes with clang. A guest whose
// key is unchanged is not built again: compiling secretstore takes
// seconds of CPU in every test process that loads it.
func cSourcesKey(modRoot string, cfiles []string) (string, error) {
	version, err := clangVersion()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%q\x00", version, CFlags())
	seen := map[string]bool{}
	todo := slices.Clone(cfiles)
	for len(todo) > 0 {
		rel := todo[0]
		todo = todo[1:]
		if seen[rel] {
			continue
		}
		seen[rel] = true
		b, err := os.ReadFile(filepath.Join(modRoot, rel))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
		for _, inc := range quotedIncludes(b) {
			for _, dir := range []string{filepath.Dir(rel), "abi/c"} {
				cand := filepath.Join(dir, inc)
				if _, err := os.Stat(filepath.Join(modRoot, cand)); err == nil {
					todo = append(todo, cand)
					break
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// ClangVersion returns what clang --version prints, asked once per
// process: a C guest's key is computed at each Build, and clang's start
// costs about 80 ms of CPU (perf stat), some 30 times in a run of the suite.
// The engine's tests key their build of the examples with it too.
func ClangVersion() ([]byte, error) { return clangVersion() }

var clangVersion = sync.OnceValues(func() ([]byte, error) {
	out, err := exec.Command("clang", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("clang --version: %w", err)
	}
	return out, nil
})

// quotedIncludes returns the file names of the #include "..." lines of a C
// source.
func quotedIncludes(src []byte) []string {
	var names []string
	s := bufio.NewScanner(bytes.NewReader(src))
	s.Buffer(nil, len(src)+1)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		rest, ok := strings.CutPrefix(line, "#")
		if !ok {
			continue
		}
		rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "include")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if name, _, ok := strings.Cut(strings.TrimPrefix(rest, `"`), `"`); ok && strings.HasPrefix(rest, `"`) {
			names = append(names, name)
		}
	}
	return names
}
