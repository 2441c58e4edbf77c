//go:build wasip1

package main

import (
	"bytes"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "dotenv",
		Version:       "0.1.0",
		Description:   "a vault over a .env file in a granted folder",
		Metadata:      false,
		CaseSensitive: true,
		Operations:    []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpTest},
		Grants:        []string{abi.GrantDirectory},
	}, vault{})
}

// vault implements guest.Vault, guest.Statter, guest.Tester and
// guest.Initializer. The file is the only state; fileName, set by Init on
// every instance, says which file.
type vault struct{}

// fileName is the name of the .env file in /data (parameter "file").
var fileName = defaultFile

// Init reads the parameters: "file" names the file in the granted folder.
func (vault) Init(_ string, params map[string]string) error {
	fileName = defaultFile
	for k, v := range params {
		switch k {
		case "file":
			if msg := checkFileName(v); msg != "" {
				return guest.Error(abi.InvalidArgument, "parameter file: "+msg)
			}
			fileName = v
		default:
			return guest.Error(abi.InvalidArgument, "unknown parameter "+strconv.Quote(k)+" (dotenv takes only \"file\")")
		}
	}
	return nil
}

// checkFileName returns what is wrong with a "file" parameter, or "".
func checkFileName(s string) string {
	switch {
	case s == "":
		return "empty"
	case s == "." || s == "..":
		return strconv.Quote(s) + " is not a file name"
	case len(s) > 200:
		return "longer than 200 bytes"
	case !utf8.ValidString(s):
		return "not UTF-8"
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '/' || c == '\\':
			return strconv.Quote(s) + " holds a path separator: name a file in the granted folder"
		case c < 0x20 || c == 0x7f:
			return strconv.Quote(s) + " holds a control character"
		}
	}
	return ""
}

// badName is the answer to a name that cannot be a shell variable: a set
// refuses it, and no secret by that name can exist for the others. A get or
// a remove answers NOT_FOUND (with the rule as the message) rather than
// INVALID_ARGUMENT, so that a search of every vault for "my-secret" does not
// report this vault as failing.
func badName(name string, s abi.Status) error {
	return guest.Error(s, "invalid name "+strconv.Quote(name)+": "+nameRule)
}

func (vault) Get(name string) (abi.Info, abi.Value, error) {
	if !validName(name) {
		return abi.Info{}, abi.Value{}, badName(name, abi.NotFound)
	}
	src, entries, err := load()
	defer clear(src)
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	i := lookup(entries, name)
	if i < 0 {
		return abi.Info{}, abi.Value{}, abi.NotFound
	}
	if !utf8.ValidString(entries[i].value) {
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, fileName+": line "+strconv.Itoa(entries[i].line)+": the value of "+name+" is not UTF-8")
	}
	return abi.Info{Name: name, Type: abi.TypeString}, abi.Value{Type: abi.TypeString, Data: []byte(entries[i].value)}, nil
}

func (vault) Stat(name string) (abi.Info, error) {
	if !validName(name) {
		return abi.Info{}, badName(name, abi.NotFound)
	}
	src, entries, err := load()
	defer clear(src)
	if err != nil {
		return abi.Info{}, err
	}
	if lookup(entries, name) < 0 {
		return abi.Info{}, abi.NotFound
	}
	return abi.Info{Name: name, Type: abi.TypeString}, nil
}

// List returns each name once, in file order; every secret is a string.
func (vault) List(pattern string) ([]abi.Info, error) {
	src, entries, err := load()
	defer clear(src)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(entries))
	var list []abi.Info
	for _, e := range entries {
		if !seen[e.key] && abi.Match(pattern, e.key, true) {
			list = append(list, abi.Info{Name: e.key, Type: abi.TypeString})
		}
		seen[e.key] = true
	}
	return list, nil
}

// Set writes a string or secure string (stored as a string) into the file.
func (vault) Set(name string, v abi.Value, md abi.Metadata) error {
	switch {
	case md != nil:
		// The manifest says Metadata false, so the engine never sends any.
		return guest.Error(abi.Unsupported, "dotenv keeps no metadata")
	case !validName(name):
		return badName(name, abi.InvalidArgument)
	case v.Type != abi.TypeString && v.Type != abi.TypeSecureString:
		return guest.Error(abi.InvalidArgument, "dotenv stores strings only, not "+v.Type.String())
	case bytes.IndexByte(v.Data, 0) >= 0:
		return guest.Error(abi.InvalidArgument, "a dotenv value cannot hold a NUL character")
	}
	value := string(v.Data)
	return update(func(src []byte, entries []entry) ([]byte, error) {
		return withValue(src, entries, name, value), nil
	})
}

// Remove deletes every line that assigns name.
func (vault) Remove(name string) error {
	if !validName(name) {
		return badName(name, abi.NotFound)
	}
	return update(func(src []byte, entries []entry) ([]byte, error) {
		out, found := without(src, entries, name)
		if !found {
			return nil, abi.NotFound
		}
		return out, nil
	})
}

// Test checks that the folder is there, that the file (if any) parses, and
// that the folder is writable. A read-only grant passes, with a log line:
// such a vault can still be read.
func (vault) Test() error {
	if st, err := os.Stat(dataDir); err != nil || !st.IsDir() {
		return guest.Error(abi.Unavailable, "no folder at "+dataDir+": grant the vault a directory in vaults.toml")
	}
	src, _, err := load()
	clear(src)
	if err != nil {
		return err
	}
	probe := dataDir + "/" + tmpPrefix() + "probe-" + randHex()
	f, err := os.OpenFile(probe, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if readOnly(err) {
		guest.Log(guest.LogInfo, "dotenv: the folder is granted read-only: get, stat and list work, set and remove do not")
		return nil
	}
	if err != nil {
		return osError("write in the granted folder", err)
	}
	f.Close()
	if err := os.Remove(probe); err != nil {
		return osError("remove a probe file", err)
	}
	return nil
}
