//go:build wasip1

// Command keepass is the vault builtin:keepass: a KeePass database (KDBX
// 3.1 or 4.x) in the granted folder, read and written so that KeePassXC
// sees exactly the change and nothing else. docs/keepass.md gives the
// registration, the mapping of secrets to entries, and what happens when
// KeePassXC has the file open; internal/kdbx is the format.
//
// The keys stay in the host (SPEC.md §5.8, §5.11): the password's hash is
// the last key byte this module holds.
package main

import (
	"bytes"
	"errors"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/kdbx"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "keepass",
		Version:       "1.0.0",
		Description:   "a KeePass database (KDBX 3.1 or 4) in the granted folder",
		Metadata:      true,
		CaseSensitive: true,
		Grants:        []string{abi.GrantDirectory},
	}, vault{})
}

// main is never run: the host calls the exports that package guest defines.
func main() {}

// A database with a 1 MiB attachment takes several copies of it at once
// (file, decrypted, inflated, XML, tree); the collector is told the
// instance's 64 MiB so that it works harder before running out.
func init() { debug.SetMemoryLimit(40 << 20) }

// The vault's parameters in vaults.toml:
//
//	file            the database's file name in the granted folder
//	                (default Passwords.kdbx)
//	keyfile         a key file's name in the granted folder, when the
//	                database has one
//	authentication  "password" (default): unlock with the database's
//	                password; "none": the key file alone opens it
//
// Any other parameter is refused.
type settings struct {
	file, keyfile string
	noPassword    bool
	ttl           time.Duration
}

var conf = settings{file: "Passwords.kdbx", ttl: 900 * time.Second}

func (vault) Init(_ string, params map[string]string) error {
	s := settings{file: "Passwords.kdbx", ttl: 900 * time.Second}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := strings.TrimSpace(params[k])
		switch k {
		case "file", "keyfile":
			if v == "" || v == "." || v == ".." || strings.ContainsAny(v, `/\`) {
				return guest.Error(abi.InvalidArgument, "parameter "+k+" is "+strconv.Quote(v)+": want a file name in the granted folder, without a path")
			}
			if k == "file" {
				s.file = v
			} else {
				s.keyfile = v
			}
		case "authentication":
			switch strings.ToLower(v) {
			case "password":
			case "none":
				s.noPassword = true
			default:
				return guest.Error(abi.InvalidArgument, "parameter authentication is "+strconv.Quote(v)+": want \"password\" or \"none\"")
			}
		default:
			return guest.Error(abi.InvalidArgument, "unknown parameter "+strconv.Quote(k)+" (keepass knows file, keyfile and authentication)")
		}
	}
	if s.noPassword && s.keyfile == "" {
		return guest.Error(abi.InvalidArgument, "authentication = none needs a keyfile: a KeePass database opens with a password, a key file or both")
	}
	conf = s
	return nil
}

// vault implements guest.Vault, Statter, MetadataSetter, Locker and
// Tester. It has no fields: the database is read from its file at each
// operation and the keys live in the host's keyring.
type vault struct{}

// unlock derives the composite key of password (nil: none) and the key
// file, opens the database with it to check it, and keeps the keys.
func unlock(password []byte) (*unlocked, error) {
	kf, err := readKeyFile()
	if err != nil {
		return nil, err
	}
	var parts [][]byte
	if password != nil {
		parts = append(parts, kdbx.PasswordKey(password))
	}
	if kf != nil {
		k, err := kdbx.KeyFileKey(kf)
		clear(kf)
		if err != nil {
			return nil, guest.Error(abi.InvalidArgument, "key file "+strconv.Quote(conf.keyfile)+": "+strings.TrimPrefix(err.Error(), "kdbx: key file: "))
		}
		parts = append(parts, k)
	}
	c := &hostCrypto{u: &unlocked{}}
	comp, err := c.Composite(parts...)
	for _, p := range parts {
		clear(p)
	}
	if err != nil {
		return nil, err
	}
	c.u.composite = comp.(guest.Key)
	data, id, err := readFile()
	if err != nil {
		comp.(guest.Key).Release()
		return nil, err
	}
	db, err := decode(data, c)
	if err != nil {
		guest.KeyringClear()
		return nil, err
	}
	if err := c.u.remember(); err != nil {
		db.Close()
		return nil, err
	}
	keep(data, id, c.u, db)
	return c.u, nil
}

func (vault) Unlock(password []byte) error {
	if conf.noPassword {
		return guest.Error(abi.Unsupported, "authentication = none: the database opens with its key file, without a password")
	}
	_, err := unlock(password)
	return err
}

func (vault) Lock() error { return guest.KeyringClear() }

// decode opens data with the keys of c, naming the file in its errors.
func decode(data []byte, c *hostCrypto) (*kdbx.Database, error) {
	db, err := kdbx.Decode(data, c, c.u.composite)
	var fe *kdbx.FormatError
	switch {
	case errors.Is(err, kdbx.ErrKey):
		return nil, guest.Error(abi.Locked, "the password or key file does not open "+strconv.Quote(conf.file))
	case errors.As(err, &fe):
		return nil, guest.Error(abi.Internal, "database "+strconv.Quote(conf.file)+": "+strings.TrimPrefix(fe.Error(), "kdbx: "))
	case err != nil:
		return nil, err
	}
	return db, nil
}

// session is the database as read by one operation.
type session struct {
	db   *kdbx.Database
	read []byte // the file's bytes, to see a change by someone else
}

// last is the database this instance decoded or wrote last, with the
// file's bytes, their file's identity and the keys it was opened with:
// while the file holds those bytes, the next operation uses the tree
// instead of decrypting and parsing the file again (a change rewrites the
// whole file, so a vault of hundreds of entries would otherwise pay that
// twice per operation). While the file's stat is the one recorded and was
// settled when recorded, the file is not even read: its bytes cannot have
// changed (fileID). Dropped whenever an operation fails after it began to
// change the tree.
var last struct {
	data    []byte
	id      fileID
	settled bool // id was settled when seen: a stat equal to it stands for data
	u       unlocked
	db      *kdbx.Database
}

// keep makes db, decoded from data (the file id) with u's keys, the
// instance's last database.
func keep(data []byte, id fileID, u *unlocked, db *kdbx.Database) {
	last.data, last.id, last.u, last.db = data, id, *u, db
	last.settled = id != fileID{} && id.settled(time.Now())
}

// open reads and decodes the database with the unlocked keys, unless the
// instance's last database is still the file's (see last). A key that no
// longer opens it (the password was changed in KeePassXC) locks the vault.
func open() (*session, error) {
	u, err := loadUnlocked()
	if err != nil {
		return nil, err
	}
	fresh := last.db != nil && last.u == *u
	if fresh && last.settled {
		id, err := statFile()
		if err != nil {
			return nil, err
		}
		if id == last.id {
			return &session{db: last.db, read: last.data}, nil
		}
	}
	data, id, err := readFile()
	if err != nil {
		return nil, err
	}
	if fresh && bytes.Equal(data, last.data) {
		keep(last.data, id, u, last.db)
		return &session{db: last.db, read: last.data}, nil
	}
	last.db, last.data = nil, nil
	db, err := decode(data, &hostCrypto{u: u})
	if errors.Is(err, abi.Locked) {
		guest.KeyringClear()
	}
	if err != nil {
		return nil, err
	}
	keep(data, id, u, db)
	return &session{db: db, read: data}, nil
}

// change runs fn on the database under the writers' lock and writes the
// result over the file, unless fn fails (then nothing is written) or the
// file changed meanwhile.
func change(fn func(db *kdbx.Database, now time.Time) error) error {
	unlockFile, err := lock()
	if err != nil {
		return err
	}
	defer unlockFile()
	s, err := open()
	if err != nil {
		return err
	}
	u := last.u
	last.db = nil // until the change is written
	if err := fn(s.db, time.Now()); err != nil {
		return err
	}
	out, err := s.db.Encode()
	if err != nil {
		return err
	}
	if err := replace(s.read, out); err != nil {
		return err
	}
	// The renamed file's stat is not known (anyone may have replaced it
	// since): the next operation reads it and compares.
	keep(out, fileID{}, &u, s.db)
	return nil
}

// view runs fn on the database as read.
func view(fn func(db *kdbx.Database) error) error {
	s, err := open()
	if err != nil {
		return err
	}
	return fn(s.db)
}

func (vault) Get(name string) (in abi.Info, v abi.Value, err error) {
	err = view(func(db *kdbx.Database) error {
		e, ok := find(db, name)
		if !ok {
			return abi.NotFound
		}
		in, v, err = readEntry(db, e.entry, name, true)
		return err
	})
	return in, v, err
}

func (vault) Stat(name string) (in abi.Info, err error) {
	err = view(func(db *kdbx.Database) error {
		e, ok := find(db, name)
		if !ok {
			return abi.NotFound
		}
		in, _, err = readEntry(db, e.entry, name, false)
		return err
	})
	return in, err
}

func (vault) List(pattern string) (out []abi.Info, err error) {
	err = view(func(db *kdbx.Database) error {
		for _, f := range entries(db) {
			if !abi.Match(pattern, f.name, true) {
				continue
			}
			in, _, err := readEntry(db, f.entry, f.name, false)
			if err != nil {
				return err
			}
			out = append(out, in)
		}
		return nil
	})
	return out, err
}

func (vault) Set(name string, v abi.Value, md abi.Metadata) error {
	if err := checkSet(name, v, md); err != nil {
		return err
	}
	return change(func(db *kdbx.Database, now time.Time) error {
		e, ok := find(db, name)
		if ok {
			db.AddHistory(e.entry)
		} else {
			e.entry = db.NewEntry(ensureGroups(db, name, now), now)
			kdbx.SetField(e.entry, "Title", title(name), false)
		}
		writeEntry(db, e.entry, v, md)
		db.Touch(e.entry, now)
		return nil
	})
}

func (vault) SetMetadata(name string, md abi.Metadata) error {
	if err := checkMetadata(md); err != nil {
		return err
	}
	return change(func(db *kdbx.Database, now time.Time) error {
		e, ok := find(db, name)
		if !ok {
			return abi.NotFound
		}
		db.AddHistory(e.entry)
		writeMetadata(e.entry, md)
		db.Touch(e.entry, now)
		return nil
	})
}

func (vault) Remove(name string) error {
	return change(func(db *kdbx.Database, now time.Time) error {
		e, ok := find(db, name)
		if !ok {
			return abi.NotFound
		}
		db.Delete(e.group, e.entry, now)
		return nil
	})
}

// Test checks the parameters, that the database and the key file can be
// read, and that the file is a KeePass database.
func (vault) Test() error {
	data, _, err := readFile()
	if err != nil {
		return err
	}
	if len(data) < 8 || string(data[:4]) != "\x03\xd9\xa2\x9a" {
		return guest.Error(abi.Internal, "database "+strconv.Quote(conf.file)+" is not a KeePass database")
	}
	_, err = readKeyFile()
	return err
}
