package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/testonly"
)

// The compile cache on disk holds native machine code that wazero maps
// executable without any check of its own (the CRC in an entry is no
// defence: whoever rewrites the code rewrites the CRC). Whoever can write
// an entry runs code in every sesame that loads the module, pin or no pin.
// wazero offers no hook on its file cache, so sesame works around it:
//
//   - A per-user key of 32 random bytes, created 0600 in the config folder
//     (never in the cache: CI systems save and restore ~/.cache between
//     jobs and branches, so a cache can arrive from elsewhere; see
//     RATIONALE.md).
//   - After each compile, every new entry gets a seal, a sidecar
//     "<entry>.seal" holding an HMAC-SHA256 of its content under the key.
//   - Before each compile, every entry of the folder is checked against its
//     seal. One whose seal does not match is reported through the logger,
//     removed and so compiled again; one without a seal (a restored cache,
//     or another process between wazero's write and its seal) is removed
//     silently. wazero then never reads an entry that was not checked.
//   - The cache lives in a subfolder named after the key, so that two keys
//     (two config folders sharing one cache) never take each other's
//     entries for tampered ones.
//   - The folders must pass the checks of package fileperm; if they do not,
//     or anything here fails, the host compiles in memory and says why once.
//
// Between the check and wazero's read, only the user (or root) can change
// the folder, and they can change sesame itself just as well: the seal is
// against entries that come from outside (restored, copied, or written
// while the folder was open to others), not against the user.
//
// Hashing a 12 MB entry on every load costs 24-27 ms (BenchmarkCacheCheck:
// 15-16 µs by its stat, the seal read through one descriptor), so a seal also records the entry's device, inode, size,
// mtime and ctime, under a second HMAC: when Lstat still gives the same
// values, the content is the one that was hashed. Every write to a file
// sets its mtime and ctime to the current time; a user may set the mtime
// back (utimes), but only the kernel sets ctime, from the clock, which no
// one but root can turn back; a file put in place by rename is another
// inode, whose ctime is that of its own creation. So a changed entry never
// shows the stat recorded by its seal, and is hashed in full again.
//
// Every compiled module goes through the disk cache, however small: it pays
// from the smallest module measured. (A module interpreted, Spec.Interpret,
// has no machine code and reads and writes no entry.) BenchmarkCompileCache (a new Host, one compile,
// closed, as in a one-shot command; 2 busy cores, one run, 5 of each) gives,
// in memory against a warm sealed cache: 234 B of WAT 2.3 against 1.7 ms,
// 2 KB of WAT 3.4 against 1.4 ms, the 19 KB C example 22 against 3.6 ms,
// the 47 KB C dotenv 33 against 3.8 ms, the 2.6 MB Go example 1.2 against
// 0.16 s, the 3.2 MB Go secretstore 1.75 against 0.18 s. wazero's optimizing
// compiler costs about 1 ms per module before the first instruction, more
// than the check and load of an entry. In CPU time (its cpu-ns/op, 6 runs
// each, interleaved, at a load of 12 on the 2 cores): the 19 KB C example
// 23 ms compiled against 2.3 ms from the cache, the 47 KB dotenv 38 against
// 4.5, the 69 KB C secretstore 43 against 5.6; and through an empty cache
// (the compile, then the entry written and sealed: a first run) 25, 39 and
// 45 ms, within the noise of the compile alone. So writing an entry costs
// a first run no CPU worth saving, and saves every later run most of its
// load. It costs wall time: wazero syncs each entry to disk (fsync) before
// it renames it into place, 1.5-11 ms for the secretstore's 345 KB here
// (strace -T, 3 first runs), and its file cache has no hook to skip it.
type sealedCache struct {
	dir    string // where wazero writes entries: <root>/<key id>/wazero-<version>-<arch>-<os>
	key    []byte
	logger *slog.Logger
	limit  int        // how many entries prune keeps: maxEntries, more in tests
	mu     sync.Mutex // one check or sealing pass at a time in this process
}

const (
	keySize    = 32
	sealSuffix = ".seal"
	sealMagic  = "sesame-seal-v1"
	maxSeal    = 512 // bytes; a seal line is about 250
)

// openSealedCache returns wazero's file cache over root, sealed with the
// key in the file keyFile (created if missing), or an error saying why the
// disk cache cannot be used.
func openSealedCache(root, keyFile string, logger *slog.Logger) (fileCache, *sealedCache, error) {
	if keyFile == "" {
		return fileCache{}, nil, errors.New("no key file to seal it with (Config.CacheKey)")
	}
	key, err := loadKey(keyFile)
	if err != nil {
		return fileCache{}, nil, fmt.Errorf("cache key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("sesame cache folder"))
	sub := filepath.Join(root, hex.EncodeToString(mac.Sum(nil)[:8]))
	if err := fileperm.MkdirAll(sub); err != nil {
		return fileCache{}, nil, err
	}
	cache, err := openFileCache(sub)
	if err != nil {
		return fileCache{}, nil, err
	}
	// wazero's folder for this version, as its cache.go names it.
	dir := filepath.Join(sub, "wazero-"+wazeroVersion()+"-"+goruntime.GOARCH+"-"+goruntime.GOOS)
	if err := fileperm.CheckDir(dir); err != nil {
		return fileCache{}, nil, err
	}
	return cache, &sealedCache{dir: dir, key: key, logger: logger, limit: testonly.CacheEntries(maxEntries)}, nil
}

// A fileCache is wazero's cache over a folder: the Host's own, or, in a
// test process that shares its compiled modules (ShareCompiledModules),
// the process's, with its kept modules.
type fileCache struct {
	cache wazero.CompilationCache
	kept  keptModules
}

// keptModules are the modules a test process keeps compiled in its cache
// (processcache.go); the zero value, for a Host's own cache, keeps none.
// A Host whose cache keeps modules leaves it open when it closes.
type keptModules struct {
	// turn waits for the turn of the caller to compile key (no other
	// Host compiles it then), and returns its end.
	turn func(key compiledKey) (end func())
	// get returns the checked and instrumented bytes of a kept module,
	// whose compile is a memory hit that reads and writes no cache entry,
	// or nil.
	get func(key compiledKey) []byte
	// keep keeps a module the Host has just compiled from wasm.
	keep func(ctx context.Context, key compiledKey, wasm []byte)
}

// openFileCache returns wazero's cache over dir: the process's when a test
// shares the compiled modules of dir's folder, a new one otherwise.
func openFileCache(dir string) (fileCache, error) {
	if share := shareHook.Load(); share != nil {
		if c, ok := (*share)(dir); ok {
			return c, nil
		}
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	return fileCache{cache: cache}, err
}

// wazeroVersion is the version wazero names its cache folder after
// (internal/version.GetWazeroVersion, which is not exported).
func wazeroVersion() string {
	v := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.Contains(dep.Path, "github.com/tetratelabs/wazero") {
				v = dep.Version
			}
		}
		if v == "" || v == "(devel)" {
			v = info.Main.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "dev"
	}
	return v
}

// loadKey reads the key in path, creating it if missing: written to a
// temporary file and linked into place, so that of two processes creating
// it at once both end up with the one that won.
func loadKey(path string) ([]byte, error) {
	if err := fileperm.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, err
	}
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, keySize)
	rand.Read(key)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cache.key.*.tmp") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readKey(path)
}

// readKey reads a key file: a regular file of the user that no one else
// can read or write, of keySize bytes.
func readKey(path string) ([]byte, error) {
	f, err := fileperm.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 && goruntime.GOOS != "windows" {
		return nil, &fileperm.Error{Path: path, Problem: fmt.Sprintf("can be read by other users (mode %04o)", fi.Mode().Perm()), Fix: "rm " + path + "; sesame makes a new one"}
	}
	key := make([]byte, keySize+1)
	n, err := io.ReadFull(f, key)
	if n != keySize || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, &fileperm.Error{Path: path, Problem: fmt.Sprintf("is not a key of %d bytes", keySize), Fix: "rm " + path + "; sesame makes a new one"}
	}
	return key[:keySize], nil
}

// check checks every entry of the folder against its seal, removing those
// that do not pass. An error means the folder could not be checked: the
// caller must not compile with the disk cache.
func (c *sealedCache) check(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	names, err := c.entries()
	if err != nil {
		return err
	}
	var kept []string
	for _, name := range names {
		problem, err := c.checkEntry(name)
		if err == nil && problem == "" {
			kept = append(kept, name)
			continue
		}
		if err == nil && problem != "unsealed" {
			c.logger.WarnContext(ctx, "compile cache: removed an entry that does not match its seal; the module is compiled again", "entry", filepath.Join(c.dir, name), "problem", problem)
		}
		if rerr := c.remove(name); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return c.prune(kept)
}

// maxEntries bounds the entries a cache folder keeps. Each build of an
// extension, and each memory grant it is loaded under, is an entry of its
// own, and wazero never removes one: without a bound, the folder grew with
// every upgrade, and every compile checks every entry. The folder that the
// tests of several packages share holds more (testonly.ManyCacheEntries).
const maxEntries = 64

// prune removes the oldest of the entries names (by the time they were
// written) past c.limit. An entry removed that a vault still loads is
// compiled again, and written anew, by its next load.
func (c *sealedCache) prune(names []string) error {
	if len(names) <= c.limit {
		return nil
	}
	written := make(map[string]time.Time, len(names))
	for _, name := range names {
		if fi, err := os.Lstat(filepath.Join(c.dir, name)); err == nil {
			written[name] = fi.ModTime()
		}
	}
	slices.SortFunc(names, func(a, b string) int { return written[b].Compare(written[a]) }) // newest first
	var errs []error
	for _, name := range names[c.limit:] {
		errs = append(errs, c.remove(name))
	}
	return errors.Join(errs...)
}

// seal seals the entries that have no seal yet: those wazero has just
// written. (Unsealed entries found by check are removed before wazero
// reads the folder, so none other can be here but ones written since, by
// the user's own processes.)
func (c *sealedCache) seal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	names, err := c.entries()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if _, err := os.Lstat(c.sealPath(name)); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := c.sealEntry(name); !errors.Is(err, errChanging) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errChanging is an entry written while it is hashed: another process's
// compile, which seals it itself (else the next check removes it unread).
// Nothing to warn about.
var errChanging = errors.New("changed while it was hashed")

// entries lists the names wazero reads entries from: 64 hex digits.
func (c *sealedCache) entries() ([]string, error) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		if n := de.Name(); len(n) == 2*sha256.Size && isHex(n) {
			names = append(names, n)
		}
	}
	return names, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func (c *sealedCache) sealPath(name string) string { return filepath.Join(c.dir, name+sealSuffix) }

// seal is the content of a seal file.
type seal struct {
	stat    fileID
	content []byte // HMAC of the entry's name and content
	tag     []byte // HMAC of the name, stat and content HMAC
}

// checkEntry returns "" when the entry matches its seal, "unsealed" when
// it has none, or what is wrong with it.
func (c *sealedCache) checkEntry(name string) (problem string, err error) {
	path := filepath.Join(c.dir, name)
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file", nil
	}
	data, problem, err := readSeal(c.sealPath(name))
	if problem != "" || err != nil {
		return problem, err
	}
	s, ok := parseSeal(data)
	if !ok {
		return "unreadable seal", nil
	}
	if id, ok := idOf(fi); ok && id == s.stat && hmac.Equal(s.tag, c.tag(name, s.stat, s.content)) {
		return "", nil // unchanged since it was hashed: see sealedCache
	}
	got, id, err := c.hashEntry(name)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(got, s.content) {
		return "content does not match the seal", nil
	}
	// The same content, moved or touched (a backup restored by the user):
	// record its new stat, so the next check is quick again.
	return "", c.writeSeal(name, seal{stat: id, content: got})
}

// sealEntry hashes an entry and writes its seal.
func (c *sealedCache) sealEntry(name string) error {
	sum, id, err := c.hashEntry(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile by another process's check
	}
	if err != nil {
		return err
	}
	return c.writeSeal(name, seal{stat: id, content: sum})
}

// hashEntry returns the content HMAC of an entry and the stat of the file
// hashed, taken before and after through the open descriptor (a change
// meanwhile is an error: the caller tries again next time).
func (c *sealedCache) hashEntry(name string) ([]byte, fileID, error) {
	f, err := fileperm.OpenFile(filepath.Join(c.dir, name), os.O_RDONLY, 0)
	if err != nil {
		return nil, fileID{}, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, fileID{}, err
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte("sesame cache entry\x00" + name + "\x00"))
	if _, err := io.Copy(mac, f); err != nil {
		return nil, fileID{}, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, fileID{}, err
	}
	id, ok := idOf(before)
	if id2, ok2 := idOf(after); !ok || !ok2 || id != id2 {
		return nil, fileID{}, fmt.Errorf("compile cache entry %s %w", f.Name(), errChanging)
	}
	return mac.Sum(nil), id, nil
}

// tag is the HMAC that binds a seal's stat to its content HMAC.
func (c *sealedCache) tag(name string, id fileID, content []byte) []byte {
	mac := hmac.New(sha256.New, c.key)
	fmt.Fprintf(mac, "sesame cache stat\x00%s\x00%s\x00", name, id)
	mac.Write(content)
	return mac.Sum(nil)
}

// writeSeal writes the seal of an entry: a temporary file renamed over
// the seal, so that a reader sees the old seal or the new one.
func (c *sealedCache) writeSeal(name string, s seal) error {
	s.tag = c.tag(name, s.stat, s.content)
	line := fmt.Sprintf("%s %s %x %x\n", sealMagic, s.stat, s.content, s.tag)
	tmp, err := os.CreateTemp(c.dir, "."+name+".seal.*.tmp") // mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(line)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.sealPath(name))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func parseSeal(data []byte) (seal, bool) {
	f := strings.Fields(string(data))
	if len(f) != 8 || f[0] != sealMagic || !bytes.HasSuffix(data, []byte("\n")) {
		return seal{}, false
	}
	id, ok := parseFileID(f[1:6])
	content, err1 := hex.DecodeString(f[6])
	tag, err2 := hex.DecodeString(f[7])
	if !ok || err1 != nil || err2 != nil {
		return seal{}, false
	}
	return seal{stat: id, content: content, tag: tag}, true
}

// remove removes an entry and its seal.
func (c *sealedCache) remove(name string) error {
	err := os.Remove(filepath.Join(c.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if serr := os.Remove(c.sealPath(name)); serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		err = errors.Join(err, serr)
	}
	return err
}
