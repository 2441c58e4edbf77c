//go:build wasip1

// Command mount is a vault that does to its /data mount what it is told,
// for the tests of the directory grant. Get(name) runs the command in name,
// words separated by spaces, paths relative to /data:
//
//	read P       the content of P
//	write P      creates or truncates P and writes "written by the guest"
//	create P     opens P read-only with O_CREATE|O_TRUNC
//	rename A B   os.Rename
//	link A B     os.Link
//	symlink A B  os.Symlink
//	mkdir P      os.Mkdir
//	remove P     os.Remove
//	touch P      os.Chtimes to the start of 2001
//	readlink P   the link's text
//	ls P         the names in folder P, one per line
//
// The value is "ok", followed by what was read, or "error: " and the errno's
// text, so that a test sees each refusal as the guest does.
package main

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:        "mount",
		Version:     "0.0.1",
		Description: "runs file commands on its directory mount",
		Grants:      []string{abi.GrantDirectory},
	}, mount{})
}

func main() {}

type mount struct{}

func (mount) Get(name string) (abi.Info, abi.Value, error) {
	out, err := run(strings.Fields(name))
	s := "ok" + out
	if err != nil {
		s = "error: " + errnoText(err)
	}
	return abi.Info{Name: name, Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte(s)}, nil
}

func data(p string) string { return "/data/" + p }

func run(args []string) (string, error) {
	if len(args) < 2 {
		return "", errors.New("usage: OP PATH [PATH]")
	}
	op, a, b := args[0], data(args[1]), ""
	if len(args) > 2 {
		b = data(args[2])
	}
	switch op {
	case "read":
		content, err := os.ReadFile(a)
		return " " + string(content), err
	case "write":
		return "", os.WriteFile(a, []byte("written by the guest"), 0o644)
	case "create":
		f, err := os.OpenFile(a, os.O_RDONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err == nil {
			err = f.Close()
		}
		return "", err
	case "rename":
		return "", os.Rename(a, b)
	case "link":
		return "", os.Link(a, b)
	case "symlink":
		return "", os.Symlink(args[1], b)
	case "mkdir":
		return "", os.Mkdir(a, 0o755)
	case "remove":
		return "", os.Remove(a)
	case "touch":
		t := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		return "", os.Chtimes(a, t, t)
	case "readlink":
		target, err := os.Readlink(a)
		return " " + target, err
	case "ls":
		des, err := os.ReadDir(a)
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return " " + strings.Join(names, "\n"), err
	}
	return "", errors.New("unknown command " + op)
}

// errnoText is the text of the system error in err, without the path that
// os adds.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func (mount) Set(string, abi.Value, abi.Metadata) error { return abi.Unsupported }
func (mount) Remove(string) error                       { return abi.Unsupported }
func (mount) List(string) ([]abi.Info, error)           { return nil, nil }
