// Package handoff runs sesame-engine in the place of the thin sesame, which
// links no engine: by exec, with the same arguments and environment, so that
// the pid, terminal, descriptors and exit status are the command's
// (RATIONALE.md, "A thin client"). Package cli hands over what needs the
// engine in the process; package off hands over every command run with
// SESAME_AGENT=off, before the thin program's other packages start.
package handoff

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Name is the program that links the engine, installed beside sesame (make
// build, go install ./cmd/...).
const Name = "sesame-engine"

// Binary returns Name in the folder of exe, the running sesame, checked
// (Check): the thin sesame runs it for what it cannot do itself, and an
// agent started from it holds the user's keys. The path is returned with
// the error too, for a message that names it.
func Binary(exe string) (string, error) {
	path := filepath.Join(filepath.Dir(exe), Name)
	return path, Check(path)
}

// Check refuses a program at path that another user could have put or
// replaced there, as ssh refuses a key file: it must be a regular file
// (after links) owned by this user or root, and not writable by its group
// or others.
func Check(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: the engine of sesame is not installed beside it", path)
	}
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("refusing to run %s: it is not a regular file", path)
	case !ok || int(st.Uid) != os.Getuid() && st.Uid != 0:
		return fmt.Errorf("refusing to run %s: it belongs to user %d, neither you nor root", path, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("refusing to run %s: other users can write it (mode %04o; chmod go-w it)", path, fi.Mode().Perm())
	}
	return nil
}

// Exec runs the program at path in this process with the arguments of args
// after its first (args[0] becomes path) and this process's environment. It
// returns only on failure.
func Exec(path string, args []string) error {
	argv := append([]string{path}, args[1:]...)
	return fmt.Errorf("cannot run %s: %w", path, syscall.Exec(path, argv, os.Environ()))
}
