//go:build wasip1

package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// Reading, locking and rewriting the file.
//
// Readers take no lock: a writer replaces the file by renaming a complete
// temporary file over it, so a reader sees the old file or the new one,
// never a mix. Writers (set, remove) serialise their read-modify-write on a
// lock file created with O_EXCL, so that two instances (or two sesame
// processes) writing at once lose no update.

const (
	dataDir     = "/data" // where the host mounts the granted folder
	defaultFile = ".env"

	// maxFileBytes bounds the file the vault reads: a value is at most
	// 1 MiB, and escapes may double it.
	maxFileBytes = 8 << 20

	// A lock older than staleAfter was left by an instance that died while
	// writing (the host killed it at its deadline, 5 s by default): it is
	// broken. A writer waits at most lockWait for the lock, within the
	// call's deadline, then gives up with UNAVAILABLE.
	staleAfter = 10 * time.Second
	lockWait   = 4 * time.Second
	maxBackoff = 50 * time.Millisecond
)

// The vault's own files sit beside the file, hidden: for .env they are
// .env.lock, .env.tmp-<hex> and .env.lock.stale-<hex>; for prod.env,
// .prod.env.lock and so on.
func filePath() string    { return dataDir + "/" + fileName }
func lockName() string    { return hidden() + ".lock" }
func lockPath() string    { return dataDir + "/" + lockName() }
func tmpPrefix() string   { return hidden() + ".tmp-" }
func stalePrefix() string { return hidden() + ".lock.stale-" }

func hidden() string {
	if strings.HasPrefix(fileName, ".") {
		return fileName
	}
	return "." + fileName
}

// randHex returns 64 random bits in hex. math/rand/v2's global source is
// seeded from the host's random_get.
func randHex() string { return strconv.FormatUint(rand.Uint64(), 16) }

// osError turns a file system error into a status. Messages name files and
// system errors only.
func osError(what string, err error) error {
	switch {
	case readOnly(err):
		return guest.Error(abi.PermissionDenied, "cannot "+what+": the folder is granted read-only")
	case errors.Is(err, fs.ErrPermission):
		return guest.Error(abi.PermissionDenied, "cannot "+what+": "+err.Error())
	}
	return guest.Error(abi.Unavailable, "cannot "+what+": "+err.Error())
}

// readOnly reports whether err is what a read-only mount answers: EROFS,
// or ENOSYS, which wazero returns for opening a file for writing there.
func readOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSYS)
}

// load reads and parses the file. A missing file is an empty vault. The
// caller clears the returned bytes.
func load() ([]byte, []entry, error) {
	src, err := readFile()
	if err != nil {
		return nil, nil, err
	}
	entries, err := parse(src)
	if err != nil {
		clear(src)
		return nil, nil, guest.Error(abi.Internal, fileName+": "+err.Error())
	}
	return src, entries, nil
}

func readFile() ([]byte, error) {
	st, err := os.Lstat(filePath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, osError("read "+fileName, err)
	case st.Mode()&fs.ModeSymlink != 0:
		// A rewrite would replace the link with a file, and reading through
		// it reaches outside the granted folder.
		return nil, guest.Error(abi.PermissionDenied, fileName+" is a symbolic link; dotenv works on a regular file only: grant the folder of the link's target")
	case !st.Mode().IsRegular():
		return nil, guest.Error(abi.Unavailable, fileName+" is not a regular file")
	case st.Size() > maxFileBytes:
		return nil, guest.Error(abi.TooLarge, fileName+" is larger than "+strconv.Itoa(maxFileBytes>>20)+" MiB")
	}
	f, err := os.Open(filePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // removed since the Lstat
	}
	if err != nil {
		return nil, osError("read "+fileName, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		clear(b)
		return nil, osError("read "+fileName, err)
	}
	if len(b) > maxFileBytes {
		clear(b)
		return nil, guest.Error(abi.TooLarge, fileName+" is larger than "+strconv.Itoa(maxFileBytes>>20)+" MiB")
	}
	return b, nil
}

// update runs one read-modify-write of the file under the lock. edit
// returns the new contents, or an error to write nothing.
func update(edit func(src []byte, entries []entry) ([]byte, error)) error {
	l, err := acquire()
	if err != nil {
		return err
	}
	defer l.release()
	src, entries, err := load()
	defer clear(src)
	if err != nil {
		return err
	}
	out, err := edit(src, entries)
	if err != nil {
		return err
	}
	defer clear(out)
	if len(out) > maxFileBytes {
		// Written, it could not be read back.
		return guest.Error(abi.TooLarge, "the change would make "+fileName+" larger than "+strconv.Itoa(maxFileBytes>>20)+" MiB")
	}
	if err := l.commit(out); err != nil {
		return err
	}
	cleanLeftovers()
	return nil
}

// lock is a held lock file; token is what it contains.
type lock struct{ token string }

// acquire takes the lock file, waiting with a bounded backoff and breaking
// a stale lock.
func acquire() (*lock, error) {
	token := randHex() + randHex() + "\n"
	deadline := time.Now().Add(lockWait)
	delay := time.Millisecond
	for {
		f, err := os.OpenFile(lockPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(token)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(lockPath())
				return nil, osError("write the lock file", werr)
			}
			return &lock{token: token}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, osError("create the lock file "+lockName(), err)
		}
		if breakStale() {
			continue
		}
		if time.Now().After(deadline) {
			return nil, guest.Error(abi.Unavailable, "another writer has held "+lockName()+" for "+lockWait.String()+
				"; try again (a lock left by a crashed writer is broken after "+staleAfter.String()+")")
		}
		// Full jitter keeps waiting instances from retrying in step.
		time.Sleep(time.Duration(rand.Int64N(int64(delay))) + delay/2)
		delay = min(2*delay, maxBackoff)
	}
}

// breakStale removes the lock file if it is older than staleAfter, and
// reports whether the caller should try to take the lock again at once.
//
// Two instances may find the same stale lock. Each renames the lock aside
// (rename is atomic: only one moves a given file) and then checks that what
// it moved is the stale lock it saw. One that moved a fresh lock instead,
// taken in between, puts it back with link, which never overwrites; if yet
// another writer took the lock meanwhile, the owner of the moved lock finds
// out before it commits (lock.held) and writes nothing.
func breakStale() bool {
	st, err := os.Stat(lockPath())
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	if time.Since(st.ModTime()) < staleAfter {
		return false
	}
	seen, err := os.ReadFile(lockPath())
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	aside := dataDir + "/" + stalePrefix() + randHex()
	if err := os.Rename(lockPath(), aside); err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	moved, err := os.ReadFile(aside)
	st, serr := os.Stat(aside)
	if err == nil && serr == nil && bytes.Equal(moved, seen) && time.Since(st.ModTime()) >= staleAfter {
		os.Remove(aside)
		guest.Log(guest.LogWarn, "dotenv: broke a stale lock "+lockName()+", older than "+staleAfter.String())
		return true
	}
	os.Link(aside, lockPath())
	os.Remove(aside)
	return false
}

// held reports whether the lock file is still this lock.
func (l *lock) held() bool {
	b, err := os.ReadFile(lockPath())
	return err == nil && string(b) == l.token
}

// release removes the lock file if it is still this lock.
func (l *lock) release() {
	if l.held() {
		os.Remove(lockPath())
	}
}

// commit replaces the file with out: write a temporary file in the same
// folder, sync it, check the lock, rename it over the file. On any error the
// temporary file is removed and the file is as it was. The new file has mode
// 0600 (the host creates every file so), whatever the old one had.
func (l *lock) commit(out []byte) (err error) {
	tmp := dataDir + "/" + tmpPrefix() + randHex()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return osError("create a temporary file", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = f.Write(out)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return osError("write a temporary file", err)
	}
	if !l.held() {
		return guest.Error(abi.Unavailable, "lost the lock "+lockName()+" while writing (it was taken as stale); nothing was changed, try again")
	}
	if err = os.Rename(tmp, filePath()); err != nil {
		return osError("replace "+fileName, err)
	}
	if d, derr := os.Open(dataDir); derr == nil { // make the rename durable, where the host can
		d.Sync()
		d.Close()
	}
	return nil
}

// cleanLeftovers removes the temporary files and set-aside locks of writers
// that died (the host discards an instance at its deadline, before its
// deferred removal runs) once they are older than staleAfter. It runs under
// the lock, after a successful write.
func cleanLeftovers() {
	des, err := os.ReadDir(dataDir)
	if err != nil {
		return
	}
	for _, de := range des {
		name := de.Name()
		if !isLeftover(name) {
			continue
		}
		if info, err := de.Info(); err == nil && info.Mode().IsRegular() && time.Since(info.ModTime()) >= staleAfter {
			os.Remove(dataDir + "/" + name)
		}
	}
}

// isLeftover reports whether name is one of the vault's own temporary files:
// a prefix, then the hex of randHex (after "probe-" for Test's probes).
// Nothing else in the user's folder is ever removed.
func isLeftover(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix())
	if ok {
		rest = strings.TrimPrefix(rest, "probe-")
	} else if rest, ok = strings.CutPrefix(name, stalePrefix()); !ok {
		return false
	}
	if rest == "" || len(rest) > 16 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
