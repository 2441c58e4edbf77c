package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/engine/internal/registry"
)

// A vault's storage area belongs to its identity: its name, compared
// case-insensitively, and its extension as registered ("builtin:NAME", or
// the .wasm path as written in vaults.toml). Another extension registered
// under the name gets another file, so it never reads what the first one
// stored (a secretstore's records and, without a password, its key); a new
// build of the same extension (a sesame upgrade, a rebuilt .wasm at the
// same path) finds its file again. The manifest's name is not part of the
// identity: a module declares it, and a hostile one could copy another's.
// See RATIONALE.md, "Storage belongs to a vault's identity".

// StorageFile returns the file holding the storage area of vault when the
// extension named by extension (as registered: "builtin:NAME" or the path
// as written in vaults.toml) runs it, in the data folder dataDir:
// dataDir/storage/<lower-case vault>@<32 hex digits>.db, the digits the
// first 16 bytes of the SHA-256 of the extension reference. Vault names
// are ASCII and compared case-insensitively, so the lower-case name is the
// same file on case-sensitive and case-insensitive file systems; '@' is not
// allowed in vault names, so no name spells another's file.
func StorageFile(dataDir, vault, extension string) string {
	sum := sha256.Sum256([]byte("sesame storage area\x00" + extension))
	return filepath.Join(dataDir, "storage", strings.ToLower(vault)+"@"+hex.EncodeToString(sum[:16])+".db")
}

// legacyFile is where releases before the storage identity kept the area
// of vault, whatever its extension: storage/<lower-case vault>.db.
func legacyFile(dataDir, vault string) string {
	return filepath.Join(dataDir, "storage", strings.ToLower(vault)+".db")
}

// exists reports whether a storage file is at path; anything there that is
// not a file of the user's (a planted link, another user's file) is an
// error that says so.
func exists(path string) (bool, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, fileperm.CheckFile(path, fi)
}

// claimLegacy moves the file an earlier release kept for the vault of cfg
// (storage/<name>.db, which records no extension) to cfg's own file, when
// there is one and cfg's file does not exist yet. It runs when a
// registration with the storage grant loads, and before Register or
// Unregister replaces it: the registration found then is the one the
// earlier release gave that file to, since Register refuses to write
// another while such a file is left (registerStorage).
func claimLegacy(dataDir string, cfg registry.Vault) error {
	legacy := legacyFile(dataDir, cfg.Name)
	to := StorageFile(dataDir, cfg.Name, cfg.Extension)
	if ok, err := exists(legacy); !ok {
		return err
	}
	if ok, err := exists(to); ok || err != nil {
		return err
	}
	if err := os.Rename(legacy, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage of an earlier release, %s: %w", legacy, err) // ErrNotExist: another process moved it first
	}
	return nil
}

// settleLegacy runs under the registry lock before Register or Unregister
// changes the registration old (nil if the name has none): the file an
// earlier release kept for its name goes to old if old has the storage
// grant. Otherwise it stays where it is, owned by no one.
func (e *Engine) settleLegacy(op Op, old *registry.Vault) error {
	if old == nil || !old.Grants.Storage {
		return nil
	}
	if err := claimLegacy(e.opts.DataDir, *old); err != nil {
		return wrapf(op, old.Name, "", ErrUnavailable, "%v", err)
	}
	return nil
}

// registerStorage decides, under the registry lock and before the new
// registration's extension is loaded, what the registration cfg replacing
// old (nil if none) does with the storage of its name, and does it: with
// keep, the area the name has now moves to cfg's file. undo, for when the
// registration fails after all, moves it back, or removes the new file the
// check created.
//
// The area the name has now is old's, or, before it, a file an earlier
// release left that no registration claimed (settleLegacy ran): its vault
// was unregistered before the upgrade, so which extension wrote it is
// unknown. Such a file is handed on only with keep; without it, a
// registration with the storage grant is refused, naming the file, rather
// than start an empty vault beside the secrets the user may expect back.
func (e *Engine) registerStorage(old *registry.Vault, cfg registry.Vault, keep bool) (r StorageReport, undo func(), err error) {
	const op = OpRegister
	dir := e.opts.DataDir
	r = StorageReport{Op: op, Vault: cfg.Name, Extension: cfg.Extension}
	undo = func() {}
	if cfg.Grants.Storage {
		r.Path = StorageFile(dir, cfg.Name, cfg.Extension)
	}
	var prev, prevBy string // the area the name has now, and whose it is ("" = unknown)
	switch unclaimed, err := exists(legacyFile(dir, cfg.Name)); {
	case err != nil:
		return r, undo, wrapf(op, cfg.Name, "", ErrUnavailable, "storage: %v", err)
	case unclaimed && keep:
		prev = legacyFile(dir, cfg.Name)
	case unclaimed && r.Path != "":
		return r, undo, wrapf(op, cfg.Name, "", ErrConflict, "%s holds storage an earlier sesame release kept for a vault %s, without recording its extension; hand it to %s, or move it away", legacyFile(dir, cfg.Name), cfg.Name, cfg.Extension)
	case unclaimed:
		// The new registration has no storage: the file stays unclaimed,
		// for a registration with storage to decide about.
	case old != nil:
		prev, prevBy = StorageFile(dir, old.Name, old.Extension), old.Extension
	}
	hasPrev, err := exists(prev)
	if err != nil {
		return r, undo, wrapf(op, cfg.Name, "", ErrUnavailable, "storage %s: %v", prev, err)
	}
	hasOwn, err := exists(r.Path)
	if err != nil {
		return r, undo, wrapf(op, cfg.Name, "", ErrUnavailable, "storage %s: %v", r.Path, err)
	}
	same := prev != "" && prev == r.Path
	if keep && !same {
		return handOver(r, prev, prevBy, hasPrev, hasOwn)
	}
	switch {
	case r.Path == "":
	case same && hasOwn:
		r.Outcome = StorageKept
	case hasOwn:
		r.Outcome = StorageReturned
	default:
		r.Outcome = StorageNew
		// Loading the extension to check it creates the file; a failed
		// registration leaves none behind.
		undo = func() { os.Remove(r.Path) }
	}
	if hasPrev && !same {
		r.Left, r.LeftBy = prev, prevBy
	}
	return r, undo, nil
}

// handOver moves prev, the area the vault's name has now (of the extension
// prevBy, or "" for one an earlier release left), to r.Path, the file of
// the new registration's extension: Register with KeepStorage.
func handOver(r StorageReport, prev, prevBy string, hasPrev, hasOwn bool) (StorageReport, func(), error) {
	const op = OpRegister
	none := func() {}
	switch {
	case r.Path == "":
		return r, none, wrapf(op, r.Vault, "", ErrInvalidArgument, "keeping the storage needs the storage grant")
	case prev == "":
		return r, none, wrapf(op, r.Vault, "", ErrInvalidArgument, "vault %s is not registered and no storage of an earlier release is left for it, so there is no storage to keep", r.Vault)
	case !hasPrev:
		r.Outcome = StorageNew // the replaced extension never stored anything
		if hasOwn {
			r.Outcome = StorageReturned
		}
		return r, none, nil
	case hasOwn:
		return r, none, wrapf(op, r.Vault, "", ErrConflict, "%s already has a storage area for vault %s, kept from an earlier registration (%s); move it away to hand over %s", r.Extension, r.Vault, r.Path, prev)
	}
	if err := os.Rename(prev, r.Path); err != nil {
		return r, none, wrapf(op, r.Vault, "", ErrUnavailable, "handing over the storage %s: %v", prev, err)
	}
	r.Outcome, r.From = StorageHandedOver, prevBy
	return r, func() { os.Rename(r.Path, prev) }, nil
}

// unregisterStorage decides, under the registry lock, what Unregister does
// with the storage area of old, the registration it removes: it is kept,
// or with remove moved aside, to be deleted by the returned commit once the
// registry is written (undo puts it back if it is not).
func (e *Engine) unregisterStorage(old registry.Vault, remove bool) (r StorageReport, commit, undo func() error, err error) {
	const op = OpUnregister
	none := func() error { return nil }
	r = StorageReport{Op: op, Vault: old.Name, Extension: old.Extension, Path: StorageFile(e.opts.DataDir, old.Name, old.Extension)}
	ok, err := exists(r.Path)
	switch {
	case err != nil:
		return r, none, none, wrapf(op, old.Name, "", ErrUnavailable, "storage %s: %v", r.Path, err)
	case !ok:
		return StorageReport{}, none, none, nil
	case !remove:
		r.Outcome = StorageKept
		return r, none, none, nil
	}
	trash := r.Path + ".removed"
	if err := os.Rename(r.Path, trash); err != nil {
		return r, none, none, wrapf(op, old.Name, "", ErrUnavailable, "removing the storage %s: %v", r.Path, err)
	}
	r.Outcome = StorageRemoved
	commit = func() error { return os.Remove(trash) }
	undo = func() error { return os.Rename(trash, r.Path) }
	return r, commit, undo, nil
}
