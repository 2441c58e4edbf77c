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
	"regexp"
	"strings"
)

// compileC builds the C guest dir from sources with clang and CFlags into
// the cache folder out, under a name that holds a hash of everything the
// build reads (cKey), and returns the file's path. A build of the same
// inputs by an earlier process is taken as it is: clang -O2 takes seconds
// of CPU for the built-in secretstore, and every test package that loads
// it used to pay them on every run.
func compileC(modRoot, dir string, sources []string, out string) (string, error) {
	name := strings.TrimSuffix(filepath.Base(dir), ".c")
	final := ""
	if key, err := cKey(modRoot, sources); err == nil {
		final = filepath.Join(out, "c-"+name+"-"+key+".wasm")
		if _, err := os.Stat(final); err == nil {
			return final, nil
		}
	} else {
		// Inputs it cannot name (an include of a macro, or of a file
		// it does not find where it looks): built every time, as
		// before the cache, under a name of this checkout's guest.
		sum := sha256.Sum256([]byte(filepath.Join(modRoot, dir)))
		final = filepath.Join(out, name+"-"+hex.EncodeToString(sum[:6])+".wasm")
	}
	work, err := os.MkdirTemp(out, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	built := filepath.Join(work, "guest.wasm")
	args := append(append(CFlags(), "-o", built), sources...)
	if err := run(exec.Command("clang", args...), modRoot, dir, built, final); err != nil {
		return "", err
	}
	return final, nil
}

// cKey hashes what clang builds sources from: its version, the flags, the
// content of each source and of each header they include with quotes,
// found as the preprocessor finds them (beside the including file, then in
// abi/c), and the size and time of wasi-libc's libc.a, which the link
// reads. wasi-libc's own headers (included with <>) come in the same
// package as libc.a, and the linker and compiler-rt with the LLVM release
// that --version names.
func cKey(modRoot string, sources []string) (string, error) {
	h := sha256.New()
	for _, args := range [][]string{{"--version"}, {"--target=wasm32-wasi", "-print-file-name=libc.a"}} {
		b, err := exec.Command("clang", args...).Output()
		if err != nil {
			return "", fmt.Errorf("clang %s: %v", strings.Join(args, " "), err)
		}
		fmt.Fprintf(h, "%s\x00", b)
		if args[0] != "--version" {
			fi, err := os.Stat(strings.TrimSpace(string(b)))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%d %d\x00", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	fmt.Fprintf(h, "%q\x00", CFlags())
	seen := map[string]bool{}
	var add func(file string) error
	add = func(file string) error {
		if seen[file] {
			return nil
		}
		seen[file] = true
		b, err := os.ReadFile(filepath.Join(modRoot, file))
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(file), len(b))
		h.Write(b)
		incs, err := quotedIncludes(b)
		if err != nil {
			return fmt.Errorf("%s: %v", file, err)
		}
		for _, inc := range incs {
			found := ""
			for _, d := range []string{filepath.Dir(file), "abi/c"} {
				if p := filepath.Join(d, inc); fileExists(filepath.Join(modRoot, p)) {
					found = p
					break
				}
			}
			if found == "" {
				return fmt.Errorf("%s: include %q found neither beside it nor in abi/c", file, inc)
			}
			if err := add(found); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range sources {
		fmt.Fprintf(h, "source %s\x00", f)
		if err := add(f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

var includeLine = regexp.MustCompile(`^\s*#\s*include\b\s*(.*)$`)

// quotedIncludes returns the files that src includes with quotes, in any
// branch of a conditional (more than it may read, never less). An include
// of a macro, whose file cKey cannot know, is an error.
func quotedIncludes(src []byte) ([]string, error) {
	var incs []string
	for s := bufio.NewScanner(bytes.NewReader(src)); s.Scan(); {
		m := includeLine.FindStringSubmatch(s.Text())
		if m == nil {
			continue
		}
		switch arg := m[1]; {
		case strings.HasPrefix(arg, "<"):
		case strings.HasPrefix(arg, `"`) && strings.Count(arg, `"`) >= 2:
			incs = append(incs, strings.Split(arg, `"`)[1])
		default:
			return nil, fmt.Errorf("#include %s: not a file name", arg)
		}
	}
	return incs, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
