//go:build wasip1

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"syscall"
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
// lock, and the host puts the new file in place only if the database still
// holds them (replace); if it changed in between, nothing is written and
// the operation fails (errChanged).
const (
	mount     = "/data/"
	lockWait  = 30 * time.Second // the call's deadline ends a wait before, if shorter
	lockStale = 90 * time.Second // longer than any write takes, within a granted timeout
	// lockPoll is the longest pause between two tries for the lock. A write
	// holds it for tens of ms; with pauses growing to 50 ms a waiter lost
	// most tries to writers that had just begun to wait (the conformance
	// suite's four writers: single writes waited up to 5 s). A blocking
	// lock would need a host call: WASI has no flock.
	lockPoll = 4 * time.Millisecond
	maxFile  = 64 << 20
)

func dbPath() string   { return mount + conf.file }
func lockPath() string { return mount + "." + conf.file + ".lock" }

// fileID is what a stat says of the database file: a write by anyone
// changes at least one of these (a replace makes a new inode, a write in
// place moves ctime, which no program can set back the way it can mtime).
type fileID struct {
	dev, ino, size uint64
	mtime, ctime   uint64 // ns since 1970
}

// settleTime is how old a file's ctime must be before its stat alone is
// trusted to stand for its bytes. A write in the same tick of the file
// system's clock as the read before it can leave every field of fileID as
// it was (Linux stamps files with a clock of a few ms; FAT and some network
// file systems with one of 1 or 2 s); a file whose last change is older
// than that tick cannot be changed again without a newer ctime. This is
// git's "racily clean" rule, with 2 s for FAT.
const settleTime = 2 * time.Second

// settled reports whether id's file was last changed long enough before
// now that a later change must show in its stat.
func (id fileID) settled(now time.Time) bool {
	return now.UnixNano()-int64(id.ctime) > int64(settleTime)
}

// statFile returns the database file's identity, after the checks of
// readFile.
func statFile() (fileID, error) {
	fi, err := os.Lstat(dbPath())
	if err != nil {
		return fileID{}, readError(err)
	}
	if err := checkFile(fi); err != nil {
		return fileID{}, err
	}
	return identity(fi), nil
}

// identity is fi's fileID.
func identity(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{} // no identity: never equal to a stat that has one
	}
	return fileID{dev: st.Dev, ino: st.Ino, size: uint64(st.Size), mtime: st.Mtime, ctime: st.Ctime}
}

func readError(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return guest.Error(abi.Unavailable, "database "+strconv.Quote(conf.file)+" is not in the granted folder: create it with KeePassXC first")
	}
	return guest.Error(abi.Unavailable, "database "+strconv.Quote(conf.file)+": "+err.Error())
}

func checkFile(fi fs.FileInfo) error {
	switch {
	case !fi.Mode().IsRegular():
		return guest.Error(abi.PermissionDenied, "database "+strconv.Quote(conf.file)+" is not a regular file (a link or a folder)")
	case fi.Size() > maxFile:
		return errTooLarge()
	}
	return nil
}

func errTooLarge() error {
	return guest.Error(abi.TooLarge, "database "+strconv.Quote(conf.file)+" is larger than 64 MiB")
}

// readFile reads the database file, with the identity of the file it read
// (the open file's stat, so that the two belong together even when the
// file is replaced meanwhile).
func readFile() ([]byte, fileID, error) {
	if _, err := statFile(); err != nil { // a link is refused before it is opened
		return nil, fileID{}, err
	}
	f, err := os.Open(dbPath())
	if err != nil {
		return nil, fileID{}, readError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileID{}, readError(err)
	}
	if err := checkFile(fi); err != nil {
		return nil, fileID{}, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, maxFile+1)); err != nil {
		return nil, fileID{}, readError(err)
	}
	if buf.Len() > maxFile {
		return nil, fileID{}, errTooLarge()
	}
	return buf.Bytes(), identity(fi), nil
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
		wait = min(2*wait, lockPoll)
	}
}

// replace writes data over the database, which must still hold exactly
// read: the new bytes go to a temporary file, synced, which the host then
// exchanges with the database atomically if the database still holds read
// (guest.ReplaceFile), so that a save by KeePassXC at any instant before
// is never overwritten. Where the host cannot exchange names, the file is
// read again and compared, then renamed over it: a save in the instant
// between the two is lost (docs/keepass.md).
func replace(read, data []byte) error {
	tmp, err := writeTemp(data)
	if err != nil {
		return err
	}
	err = guest.ReplaceFile(tmp, conf.file, sha256.Sum256(read))
	switch {
	case errors.Is(err, abi.Unsupported):
		err = compareThenRename(read, tmp)
	case errors.Is(err, abi.Conflict):
		if _, serr := os.Lstat(mount + tmp); serr == nil { // see guest.ReplaceFile
			return guest.Error(abi.Conflict, "another program (KeePassXC?) saved the database twice while this change was being written: one of its saves is in "+strconv.Quote(tmp)+", beside it; compare the two before removing it")
		}
		return errChanged
	}
	if err != nil {
		os.Remove(mount + tmp)
		return guest.Error(abi.Unavailable, "writing "+strconv.Quote(conf.file)+": "+err.Error())
	}
	return nil
}

// writeTemp writes data to a new file beside the database, synced, and
// returns its name in the granted folder.
func writeTemp(data []byte) (string, error) {
	suffix := make([]byte, 8)
	rand.Read(suffix)
	tmp := "." + conf.file + ".tmp-" + hex.EncodeToString(suffix)
	f, err := os.OpenFile(mount+tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", guest.Error(abi.Unavailable, "temporary file for "+strconv.Quote(conf.file)+": "+err.Error())
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(mount + tmp)
		return "", guest.Error(abi.Unavailable, "writing "+strconv.Quote(conf.file)+": "+err.Error())
	}
	return tmp, nil
}

// compareThenRename is replace without the host's exchange: the database
// is read again and, if it still holds read, tmp is renamed over it.
func compareThenRename(read []byte, tmp string) error {
	now, _, err := readFile()
	if err != nil || !bytes.Equal(now, read) {
		os.Remove(mount + tmp)
		return errChanged
	}
	return os.Rename(mount+tmp, dbPath())
}
