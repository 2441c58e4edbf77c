package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/sesamehq/sesame/engine/api"
)

// terminal is standard input when it is a terminal: where sesame asks for
// values, passwords and confirmations. Prompts go to standard error. Without
// a terminal sesame never asks: it fails and says what to pass instead.
type terminal struct {
	in  *os.File
	out io.Writer
}

// isTerminal reports whether x is a file open on a terminal.
func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminal returns standard input if it is a terminal.
func (s *session) terminal() (terminal, bool) {
	if !isTerminal(s.stdin) {
		return terminal{}, false
	}
	return terminal{in: s.stdin.(*os.File), out: s.stderr}, true
}

// errMismatch is the error of two entries of a new secret that differ.
var errMismatch = errors.New("the two entries differ; nothing was changed")

// hidden reads one line without echo. If the user interrupts it, the
// terminal's echo is restored before the process ends.
func (t terminal) hidden(prompt string) ([]byte, error) {
	fmt.Fprint(t.out, prompt)
	fd := int(t.in.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			term.Restore(fd, state)
			fmt.Fprintln(t.out)
			os.Exit(130)
		case <-done:
		}
	}()
	b, err := term.ReadPassword(fd)
	close(done)
	signal.Stop(sig)
	fmt.Fprintln(t.out)
	if err != nil {
		return nil, fmt.Errorf("reading from the terminal: %w", err)
	}
	return b, nil
}

// tries is how many times sesame asks on the terminal for an entry that
// turns out wrong (two entries that differ, a wrong password) before it
// gives up, as PowerShell does.
const tries = 3

// secret asks for a secret value, twice: a typo, unseen without echo, would
// otherwise be stored (and replace the real value). An empty entry is
// refused. Two entries that differ are asked again, up to tries times.
func (t terminal) secret(prompt string) ([]byte, error) {
	return t.twice(prompt, false)
}

// newPassword asks for a new password twice, up to tries times; empty means
// none and is not asked again.
func (t terminal) newPassword(prompt string) ([]byte, error) {
	return t.twice(prompt, true)
}

// twice asks for an entry and then for it again, until both match, up to
// tries times. An empty first entry is the answer when emptyOK, else
// refused.
func (t terminal) twice(prompt string, emptyOK bool) ([]byte, error) {
	for try := 1; ; try++ {
		b, err := t.hidden(prompt)
		switch {
		case err != nil:
			return nil, err
		case len(b) == 0 && emptyOK:
			return nil, nil
		case len(b) == 0:
			return nil, errors.New("no value entered; nothing was changed")
		}
		b, err = t.again(b)
		if !errors.Is(err, errMismatch) || try == tries {
			return b, err
		}
		fmt.Fprintln(t.out, "sesame: the two entries differ; try again")
	}
}

// again asks for b a second time, and returns b when both entries match
// (zeroing what it read either way).
func (t terminal) again(b []byte) ([]byte, error) {
	again, err := t.hidden("Enter it again: ")
	if err != nil {
		clear(b)
		return nil, err
	}
	same := bytes.Equal(b, again)
	clear(again)
	if !same {
		clear(b)
		return nil, errMismatch
	}
	return b, nil
}

// confirm asks a yes/no question; only "y" or "yes" is yes.
func (t terminal) confirm(question string) bool {
	fmt.Fprintf(t.out, "Confirm: %s? [y/N] ", question)
	line, err := readLine(t.in)
	if err != nil {
		fmt.Fprintln(t.out)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return true
	}
	return false
}

// readLine reads up to and without the next newline (and a carriage return
// before it), one byte at a time so that nothing after the line is consumed.
// It returns io.EOF when r ends before any byte.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return bytes.TrimSuffix(line, []byte("\r")), nil
			}
			line = append(line, b[0])
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(line) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimSuffix(line, []byte("\r")), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// unlocked runs op. When op fails because a vault is locked and standard
// input is a terminal, it asks for that vault's password, unlocks the vault
// and runs op again, for each locked vault in turn. (An unlock lasts only as
// long as the process: the engine keeps keys in memory.)
func unlocked[T any](s *session, e backend, op func() (T, error)) (T, error) {
	asked := map[string]bool{}
	for {
		v, err := op()
		if err == nil || !errors.Is(err, api.ErrLocked) {
			return v, err
		}
		t, ok := s.terminal()
		vault := vaultOf(err, api.ErrLocked)
		if !ok || vault == "" || asked[vault] {
			return v, err
		}
		asked[vault] = true
		if err := t.unlock(s, e, vault, fmt.Sprintf("Vault %s is locked. Password of vault %s: ", vault, vault)); err != nil {
			return v, err
		}
	}
}

// unlock asks for the password of vault and unlocks it, asking again after a
// wrong password, up to tries times.
func (t terminal) unlock(s *session, e backend, vault, prompt string) error {
	for try := 1; ; try++ {
		pw, err := t.hidden(prompt)
		if err != nil {
			return err
		}
		if len(pw) == 0 {
			return fmt.Errorf("empty password for vault %s; nothing was changed", vault)
		}
		err = api.Run(s.ctx, e, api.UnlockRequest{Vault: vault, Password: pw})
		clear(pw)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, api.ErrLocked) || try == tries:
			return withHint(err) // no hint to unlock: that is what failed
		}
		fmt.Fprintf(t.out, "sesame: wrong password for vault %s; try again\n", vault)
	}
}
