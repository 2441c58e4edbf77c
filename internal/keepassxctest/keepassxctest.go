// Package keepassxctest runs keepassxc-cli, the command line of the real
// KeePassXC, for the tests that check the keepass codec and vault against
// it: one command a process (Run), or many commands on one database in a
// process of keepassxc-cli's interactive mode (Open).
//
// A keepassxc-cli process costs about 0.15 s of CPU whatever it does,
// most of it Qt's libraries loading, and each one that opens a database
// derives its key again: a test that reads or changes one database several
// times does it in one Shell.
//
// A Shell writes a line to keepassxc-cli only once keepassxc-cli has asked
// for it, by its prompt or a password prompt in its output: it reads its
// commands and the passwords they ask for through two buffered readers of
// one standard input, so that a password written together with its command
// is swallowed by the command's reader and never reaches the password's
// (an `add -p` then waits for a password forever).
//
// Tests that need keepassxc-cli fail, not skip, when it is missing: make
// deps installs it.
package keepassxctest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Path returns the path of keepassxc-cli, or fails t naming the Debian
// package that has it.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("keepassxc-cli")
	if err != nil {
		t.Fatal("keepassxc-cli is needed: install Debian's keepassxc package (make deps does)")
	}
	return p
}

// Run runs keepassxc-cli in dir with args and stdin, and returns its
// standard output; a failure fails t with its standard error.
func Run(t testing.TB, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Path(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("keepassxc-cli %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// Shell is keepassxc-cli's interactive mode on one database.
type Shell struct {
	t        testing.TB
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *os.File // keepassxc-cli's standard output and error, in the order written
	prompt   string   // the shell's prompt: the database's name, or its file's, and "> "
	open     []string // the arguments of open that unlock the database
	password string
	done     bool
}

// Reply is the line a Shell writes when keepassxc-cli asks for one with
// Prompt, such as add -p's "Enter password for new entry: ".
type Reply struct{ Prompt, Line string }

// EntryPassword answers add -p's question for the new entry's password.
func EntryPassword(pw string) Reply {
	return Reply{Prompt: "Enter password for new entry: ", Line: pw}
}

// Open starts keepassxc-cli open in dir on db, unlocked with password ("":
// none) and opts (-k KEYFILE), and waits for its prompt. The test's
// Cleanup ends the shell if the test did not Close it.
func Open(t testing.TB, dir, db, password string, opts ...string) *Shell {
	t.Helper()
	if password == "" {
		opts = append(opts, "--no-password")
	}
	s := &Shell{t: t, open: append(opts, db), password: password}
	s.cmd = exec.Command(Path(t), append([]string{"open", "-q"}, s.open...)...)
	s.cmd.Dir = dir
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.out = r
	s.cmd.Stdout, s.cmd.Stderr = w, w
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("keepassxc-cli open: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		if !s.done {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
		r.Close()
	})
	if password != "" {
		s.write(password)
	}
	// With -q, the prompt is all keepassxc-cli writes before it reads a
	// command.
	s.prompt = s.readTo("> ")
	return s
}

// Do runs the shell command line cmd, writing each reply's line when
// keepassxc-cli asks for it, and returns what cmd wrote after the last
// reply, up to the next prompt.
func (s *Shell) Do(cmd string, replies ...Reply) string {
	s.t.Helper()
	s.write(cmd)
	for _, r := range replies {
		// A command that fails before it asks (add of an entry that
		// exists) says why and shows the shell's prompt instead.
		if out := s.readTo(r.Prompt, s.prompt); !strings.HasSuffix(out, r.Prompt) {
			s.t.Fatalf("keepassxc-cli open %s: %s: asked for no %q, wrote:\n%s", strings.Join(s.open, " "), cmd, r.Prompt, out)
		}
		s.write(r.Line)
	}
	out := strings.TrimSuffix(s.readTo(s.prompt), s.prompt)
	if len(replies) == 0 {
		// keepassxc-cli echoes a command it reads from a pipe.
		out = strings.TrimPrefix(out, cmd+"\n")
	}
	return out
}

// Change runs cmd as Do does, and fails the test unless keepassxc-cli
// says it succeeded (mkdir, add, edit, attachment-import and -export say
// "Successfully ..."; a failure says why, and the shell goes on).
func (s *Shell) Change(cmd string, replies ...Reply) {
	s.t.Helper()
	out := s.Do(cmd, replies...)
	if !strings.HasPrefix(strings.TrimPrefix(out, "\n"), "Successfully ") {
		s.t.Fatalf("keepassxc-cli open %s: %s: %s", strings.Join(s.open, " "), cmd, out)
	}
}

// Reopen closes the database and opens it again: what keepassxc-cli then
// reads is the file as it is now, changed by others since it was opened.
func (s *Shell) Reopen() {
	s.t.Helper()
	s.write("close")
	s.readTo("\n> ")
	s.write("open " + strings.Join(s.open, " ")) // test folders' paths: nothing to quote
	if s.password != "" {
		s.readTo(": ") // "Enter password to unlock DB: "
		s.write(s.password)
	}
	out := s.readTo("> ")
	s.prompt = out[strings.LastIndex(out, "\n")+1:]
}

// Close ends the shell and waits for keepassxc-cli to exit.
func (s *Shell) Close() {
	s.t.Helper()
	s.write("exit")
	s.in.Close()
	rest, _ := io.ReadAll(s.out)
	err := s.cmd.Wait()
	s.done = true
	if err != nil {
		s.t.Fatalf("keepassxc-cli open %s: %v\n%s", strings.Join(s.open, " "), err, rest)
	}
}

func (s *Shell) write(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("keepassxc-cli open %s: %v", strings.Join(s.open, " "), err)
	}
}

// readTo reads keepassxc-cli's output until it ends with one of
// suffixes, and returns it; keepassxc-cli exiting first fails the test
// with what it wrote.
func (s *Shell) readTo(suffixes ...string) string {
	s.t.Helper()
	var b []byte
	buf := make([]byte, 64<<10)
	ends := func() bool {
		for _, x := range suffixes {
			if bytes.HasSuffix(b, []byte(x)) {
				return true
			}
		}
		return false
	}
	for !ends() {
		n, err := s.out.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.cmd.Wait()
				s.done = true
			}
			s.t.Fatalf("keepassxc-cli open %s, waiting for %q: %v; it wrote:\n%s", strings.Join(s.open, " "), suffixes, err, b)
		}
	}
	return string(b)
}
