package engine

import (
	"bytes"
	"context"
	"errors"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/inotify"
	"github.com/sesamehq/sesame/engine/internal/storage"
)

// Import stores r.Secrets in r.Vault (or the default vault) as one batch:
// every secret is written, or, on any error, none. It is Set for many
// secrets at once, with Set's checks, and these differences:
//
//   - A secret already stored with the same type and value, and the same
//     metadata when r gives some, is left as it is and counted as
//     Unchanged, even with NoClobber: running an import again after it was
//     interrupted skips what it wrote and goes on. An import that finds
//     every secret so writes nothing: the vault's storage file stays as
//     it was, for a job that imports the same file at each run.
//   - A name given twice in one batch is written in order, the later
//     replacing the earlier; with NoClobber the later one is refused.
//   - Confirm is asked once for the batch, with an OpImport Action that
//     counts the secrets to write, before anything is written; WhatIf
//     returns the Actions and writes nothing.
//
// Every secret is checked (name, value, metadata, limits) before the vault
// is asked anything; then each is looked up with get, then written with
// set, between the batch's begin and end when the vault asks to know them
// (sesame_batch, SPEC.md §5.3). A vault whose set reports what it did
// (set_reports, SPEC.md §4) is not asked the get: its set says whether the
// secret was new, replaced or already so (and then writes nothing), which
// is what the get was for; it is asked that way only when nothing need be
// shown before the writes (no WhatIf, no Confirm) and nothing it writes
// outlives a failure (storage only, below), since a NoClobber import learns
// of a secret it must not replace only once the set has replaced it. When
// the vault keeps its secrets in the host's storage area, the
// writes of all those calls commit together in one storage transaction
// (SPEC.md §5.3), so a failure at any step leaves the vault as it was. If
// another process changed what the batch read (the same secret, the
// store's keys) before the commit, nothing is written and the error wraps
// ErrConflict: running the batch again is safe. A vault without a storage
// area (a dotenv file, a remote service) is written secret by secret: a
// failure of the vault then leaves the secrets before it written, and
// Failed names the one that failed.
func (e *Engine) Import(ctx context.Context, r ImportRequest) (ImportResult, error) {
	const op = OpImport
	res := ImportResult{Vault: r.Vault}
	items := make([]importItem, len(r.Secrets))
	for i, s := range r.Secrets {
		it, err := checkImport(r.Vault, s)
		if err != nil {
			res.Failed = i + 1
			return res, err
		}
		items[i] = it
	}
	vt, vault, err := e.target(ctx, op, "", r.Vault)
	if err != nil {
		return res, err
	}
	res.Vault = vault
	if !supports(vt, abi.OpSet) {
		return res, wrapf(op, vault, "", ErrUnsupported, "the vault is read-only")
	}
	bctx, batch := withBatch(ctx)
	defer batch.discard()
	if sr, ok := vt.(setReporter); ok && vt.Manifest().SetReports && !r.WhatIf && r.Confirm == nil && e.storageOnly(vault) {
		// One operation, with no confirmation in it: once a read of the
		// batch has polled the storage's watch, the others need not
		// (inotify.Begin), as the reads of one get. A poll a secret was
		// 4 % of an import's CPU.
		return res, e.importReported(inotify.Begin(bctx), batch, sr, vt, vault, items, r.NoClobber, &res)
	}
	plan, err := e.planImport(bctx, vt, vault, items, r.NoClobber, &res)
	if err != nil && batch.changed() {
		return res, commitError(vault, storage.ErrChanged)
	}
	if err != nil || r.WhatIf || len(plan) == 0 {
		return res, err
	}
	ask := Action{Op: op, Vault: vault, Count: len(plan)}
	for _, a := range res.Actions {
		if a.Replace {
			ask.Replaced++
		}
	}
	if err := confirm(r.Change, ask); err != nil {
		return res, err
	}
	if err := batchPhase(bctx, vt, abi.BatchBegin); err != nil {
		return res, vaultError(op, vault, "", err)
	}
	for _, i := range plan {
		it := items[i]
		if err := vt.Set(bctx, it.name, it.value, it.md); err != nil {
			if batch.changed() { // nothing of the batch is written
				return res, commitError(vault, storage.ErrChanged)
			}
			res.Failed, res.Partial = i+1, !e.storageOnly(vault)
			return res, vaultError(op, vault, it.name, err)
		}
	}
	return res, e.endImport(bctx, batch, vt, vault, &res)
}

// endImport tells vt that the batch of bctx ends, and commits it.
func (e *Engine) endImport(bctx context.Context, batch *batchSet, vt Vault, vault string, res *ImportResult) error {
	if err := batchPhase(bctx, vt, abi.BatchEnd); err != nil {
		if batch.changed() {
			return commitError(vault, storage.ErrChanged)
		}
		res.Partial = !e.storageOnly(vault)
		return vaultError(OpImport, vault, "", err)
	}
	if err := batch.commit(bctx); err != nil {
		return commitError(vault, err)
	}
	return nil
}

// A setReporter is a vault whose set can say what it did (SPEC.md §4,
// set_reports): abi.SetCreated, abi.SetReplaced, or abi.SetUnchanged when
// the secret already had that value (and that metadata, when given) and
// nothing was written. Only a vault whose manifest declares set_reports
// is asked.
type setReporter interface {
	setReported(ctx context.Context, name string, v abi.Value, md abi.Metadata) (byte, error)
}

// importReported writes items to vt, a vault that reports its sets and
// writes only to its storage area, under bctx's batch: one set per secret,
// whose report counts it as Unchanged or gives its Action. Every failure,
// a NoClobber import's replaced secret among them, returns before the
// batch commits, so nothing of it is written.
func (e *Engine) importReported(bctx context.Context, batch *batchSet, sr setReporter, vt Vault, vault string, items []importItem, noClobber bool, res *ImportResult) error {
	const op = OpImport
	mf := vt.Manifest()
	if err := batchPhase(bctx, vt, abi.BatchBegin); err != nil {
		return vaultError(op, vault, "", err)
	}
	for i := range items {
		it := &items[i]
		if !readyItem(vt, mf, it) {
			res.Failed = i + 1
			return &Error{Op: op, Vault: vault, Secret: it.name, Err: ErrMetadataUnsupported}
		}
		did, err := sr.setReported(bctx, it.name, it.value, it.md)
		switch {
		case err != nil && batch.changed():
			return commitError(vault, storage.ErrChanged)
		case err != nil:
			if ve := vaultError(op, vault, it.name, err); !errors.Is(ve, ErrLocked) {
				res.Failed = i + 1
				return ve
			}
			return vaultError(op, vault, "", err) // the vault's state, not this secret's
		case did == abi.SetUnchanged:
			res.Unchanged++
		case did == abi.SetReplaced && noClobber:
			res.Failed = i + 1
			return &Error{Op: op, Vault: vault, Secret: it.name, Err: ErrNoClobber}
		default:
			res.Actions = append(res.Actions, Action{Op: OpSet, Vault: vault, Secret: it.name, Replace: did == abi.SetReplaced})
		}
	}
	return e.endImport(bctx, batch, vt, vault, res)
}

// storageOnly reports whether the registered vault can write only to its
// host storage area: the storage grant, no directory.
func (e *Engine) storageOnly(vault string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg, ok := e.reg.Lookup(vault)
	return ok && cfg.Grants.Storage && cfg.Grants.Directory == ""
}

// importItem is a secret of an import, encoded and checked.
type importItem struct {
	name  string
	value abi.Value
	md    abi.Metadata
}

// checkImport checks and encodes s as Set does, before any vault is asked.
func checkImport(vault string, s ImportSecret) (importItem, error) {
	const op = OpImport
	if err := checkName(op, vault, s.Name); err != nil {
		return importItem{}, err
	}
	v, err := encodeValue(s.Value)
	if err == nil {
		err = fits(v)
	}
	if err != nil {
		return importItem{}, &Error{Op: op, Vault: vault, Secret: s.Name, Err: err}
	}
	md, err := encodeMetadata(s.Metadata)
	if err != nil {
		return importItem{}, &Error{Op: op, Vault: vault, Secret: s.Name, Err: err}
	}
	return importItem{name: s.Name, value: v, md: md}, nil
}

// planImport decides what to do with each item, in order, and returns the
// indexes of those to write; their Actions go to res, the others count as
// Unchanged.
func (e *Engine) planImport(ctx context.Context, vt Vault, vault string, items []importItem, noClobber bool, res *ImportResult) ([]int, error) {
	const op = OpImport
	mf := vt.Manifest()
	earlier := map[string]int{} // the index of the last item of each name, folded as the vault compares names
	var plan []int
	for i := range items {
		it := &items[i]
		if !readyItem(vt, mf, it) {
			res.Failed = i + 1
			return nil, &Error{Op: op, Vault: vault, Secret: it.name, Err: ErrMetadataUnsupported}
		}
		key := it.name
		if !mf.CaseSensitive {
			key = abi.Fold(key)
		}
		var stored *importItem
		if j, ok := earlier[key]; ok {
			stored = &items[j]
		} else {
			s, err := e.storedItem(ctx, vt, vault, it.name)
			var ee *Error
			switch {
			case errors.Is(err, ErrLocked) && errors.As(err, &ee):
				// The vault's state, not this secret's: the import
				// cannot start.
				ee.Secret = ""
				return nil, ee
			case err != nil:
				res.Failed = i + 1
				return nil, err
			}
			stored = s
		}
		earlier[key] = i
		switch {
		case stored != nil && sameItem(*stored, *it):
			res.Unchanged++
			continue
		case stored != nil && noClobber:
			res.Failed = i + 1
			return nil, &Error{Op: op, Vault: vault, Secret: it.name, Err: ErrNoClobber}
		}
		res.Actions = append(res.Actions, Action{Op: OpSet, Vault: vault, Secret: it.name, Replace: stored != nil})
		plan = append(plan, i)
	}
	return plan, nil
}

// readyItem makes its metadata what vt takes (none for a vault that keeps
// none; datetimes as it keeps them), and reports false when it gives
// metadata that vt cannot keep.
func readyItem(vt Vault, mf abi.Manifest, it *importItem) bool {
	if len(it.md) > 0 && !mf.Metadata {
		return false
	}
	if !mf.Metadata {
		it.md = nil
	}
	it.md = metadataFor(vt, it.md)
	return true
}

// storedItem returns the secret name as vt stores it, or nil when there is
// none.
func (e *Engine) storedItem(ctx context.Context, vt Vault, vault, name string) (*importItem, error) {
	in, v, err := vt.Get(ctx, name)
	switch {
	case errors.Is(err, abi.NotFound), errors.Is(err, ErrSecretNotFound):
		return nil, nil
	case err != nil:
		return nil, vaultError(OpImport, vault, name, err)
	}
	return &importItem{name: in.Name, value: v, md: in.Metadata}, nil
}

// sameItem reports whether writing it would leave stored as it is: the
// same type and value, and the same metadata unless it gives none (a set
// without metadata keeps the stored metadata).
func sameItem(stored, it importItem) bool {
	a, err1 := abi.AppendValue(nil, stored.value)
	b, err2 := abi.AppendValue(nil, it.value)
	defer clear(a)
	defer clear(b)
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		return false
	}
	if it.md == nil {
		return true
	}
	ma, err1 := abi.AppendMetadata(nil, stored.md)
	mb, err2 := abi.AppendMetadata(nil, it.md)
	return err1 == nil && err2 == nil && bytes.Equal(ma, mb)
}

// commitError words the failure of a batch's commit: a conflict with
// another writer, or the storage's own failure. Nothing was written.
func commitError(vault string, err error) error {
	const op = OpImport
	if err = storageErr(err); errors.Is(err, abi.Conflict) {
		return wrapf(op, vault, "", ErrConflict, "another process changed the vault while the batch was prepared, so none of it was written; run the import again (it skips what is already stored)")
	}
	return vaultError(op, vault, "", err)
}
