//go:build wasip1

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// The database lives in the granted folder, mounted at /data (SPEC.md
// §5.4). A change rewrites the whole file: the new bytes go to a temporary
// file beside it, which is synced and renamed over the database, so that
// KeePassXC and other readers see the old file or the new one.
//
// Writers of this vault (its instances, other sesame processes) take turns
// on a lock file, .FILE.lock, made with O_EXCL; one older than lockStale
// is left by a writer that died (the host ends a call at its deadline) and
// is removed. Writers outside sesame
// (KeePassXC) do not know it: a change is made to the bytes read under the
// lock, and before the rename the file is read again; if it changed in
// between, nothing is written and the operation fails (errChanged).
const (
	mount     = "/data/"
	lockWait  = 30 * time.Second // the call's deadline ends a wait before, if shorter
	lockStale = 90 * time.Second // longer than any write takes, within a granted timeout
	maxFile   = 64 << 20
)

func dbPath() string   { return mount + conf.file }
func lockPath() string { return mount + "." + conf.file + ".lock" }

// readFile reads the database file.
func readFile() ([]byte, error) {
	fi, err := os.Lstat(dbPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, guest.Error(abi.Unavailable, "database "+strconv.Quote(conf.file)+" is not in the granted folder: create it with KeePassXC first")
	case err != nil:
		return nil, guest.Error(abi.Unavailable, "database "+strconv.Quote(conf.file)+": "+err.Error())
	case !fi.Mode().IsRegular():
		return nil, guest.Error(abi.PermissionDenied, "database "+strconv.Quote(conf.file)+" is not a regular file (a link or a folder)")
	case fi.Size() > maxFile:
		return nil, guest.Error(abi.TooLarge, "database "+strconv.Quote(conf.file)+" is larger than 64 MiB")
	}
	b, err := os.ReadFile(dbPath())
	if err != nil {
		return nil, guest.Error(abi.Unavailable, "database "+strconv.Quote(conf.file)+": "+err.Error())
	}
	return b, nil
}

// readKeyFile reads the key file named by the parameter keyfile, or
// returns nil when there is none.
func readKeyFile() ([]byte, error) {
	if conf.keyfile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(mount + conf.keyfile)
	if err != nil {
		return nil, guest.Error(abi.Unavailable, "key file "+strconv.Quote(conf.keyfile)+" cannot be read from the granted folder: "+err.Error())
	}
	return b, nil
}

// errChanged is the answer to a database changed by someone else between
// this operation's read and its write.
var errChanged = guest.Error(abi.Conflict, "the database "+"was changed by another program (KeePassXC?) while this change was being made: nothing was written; try again")

// lock takes the writers' lock and returns its release.
func lock() (func(), error) {
	token := make([]byte, 16)
	rand.Read(token)
	deadline := time.Now().Add(lockWait)
	wait := time.Millisecond
	for {
		f, err := os.OpenFile(lockPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.Write(token)
			f.Close()
			if err != nil {
				os.Remove(lockPath())
				return nil, guest.Error(abi.Unavailable, "lock file of "+strconv.Quote(conf.file)+": "+err.Error())
			}
			return func() {
				if b, err := os.ReadFile(lockPath()); err == nil && bytes.Equal(b, token) {
					os.Remove(lockPath())
				}
			}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, guest.Error(abi.Unavailable, "lock file of "+strconv.Quote(conf.file)+": "+err.Error())
		}
		if fi, err := os.Stat(lockPath()); err == nil && time.Since(fi.ModTime()) > lockStale {
			os.Remove(lockPath()) // its writer died
			continue
		}
		if time.Now().After(deadline) {
			return nil, guest.Error(abi.Unavailable, "another writer holds the lock of "+strconv.Quote(conf.file)+" (."+conf.file+".lock)")
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// replace writes data over the database, which must still hold exactly
// read: the new bytes go to a temporary file, synced, then renamed over it.
func replace(read, data []byte) error {
	now, err := os.ReadFile(dbPath())
	if err != nil || !bytes.Equal(now, read) {
		return errChanged
	}
	suffix := make([]byte, 8)
	rand.Read(suffix)
	tmp := mount + "." + conf.file + ".tmp-" + hex.EncodeToString(suffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return guest.Error(abi.Unavailable, "temporary file for "+strconv.Quote(conf.file)+": "+err.Error())
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dbPath())
	}
	if err != nil {
		os.Remove(tmp)
		return guest.Error(abi.Unavailable, "writing "+strconv.Quote(conf.file)+": "+err.Error())
	}
	return nil
}
