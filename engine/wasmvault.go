package engine

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/engine/internal/storage"
	"github.com/sesamehq/sesame/internal/testonly"
)

// wasmVault is a Vault run by the sandbox: it encodes arguments, calls one
// export and decodes the output.
type wasmVault struct {
	mod      *sandbox.Module
	manifest abi.Manifest
}

func newWasmVault(mod *sandbox.Module) *wasmVault {
	mf := mod.Manifest()
	mf.Operations = nil
	for _, op := range abi.Ops() {
		if mod.Supports(op) {
			mf.Operations = append(mf.Operations, op)
		}
	}
	return &wasmVault{mod: mod, manifest: mf}
}

func (w *wasmVault) Manifest() abi.Manifest { return w.manifest }

// call calls op in the guest as one storage call (storage.WithCall): its
// reads of the vault's store take the file's lock, check the file and begin
// a read transaction once, not at each kv_get (a secretstore get reads a
// record, its bucket's index and the manifest root), and see one state of
// the store; a change by another process during the call is seen by the
// next one. Unlock and set_password are not: they derive a key from
// a password between their reads (Argon2id, up to seconds), and writers of
// the store in other processes would wait that long.
//
// A vault that declares atomic_calls has each call's writes committed
// together, or none (atomic).
func (w *wasmVault) call(ctx context.Context, op abi.Op, args ...[]byte) ([]byte, error) {
	if w.manifest.AtomicCalls && !inBatch(ctx) {
		return w.atomic(ctx, op, args...)
	}
	return w.callOnce(ctx, op, args...)
}

func (w *wasmVault) callOnce(ctx context.Context, op abi.Op, args ...[]byte) ([]byte, error) {
	if op != abi.OpUnlock && op != abi.OpSetPassword {
		var done func()
		ctx, done = storage.WithCall(ctx)
		defer done()
	}
	return w.mod.Call(ctx, op, args...)
}

// batchPhase calls the guest's sesame_batch, if it exports it, as one
// storage call of the batch of ctx.
func (w *wasmVault) batchPhase(ctx context.Context, phase byte) error {
	ctx, done := storage.WithCall(ctx)
	defer done()
	return w.mod.Batch(ctx, phase)
}

// maxAttempts bounds how often an atomic call runs again after its commit
// found that another writer changed what it read.
const maxAttempts = 50

// atomic runs the call as a batch of its own (SPEC.md §5.3, "Atomic
// calls"): its writes commit together when it returns OK. A commit refused
// because another writer changed a key the call read (a vault whose every
// write updates one record, as the secretstore's manifest root) runs the
// call again, on the new state, as the guest would have on reading it; so
// does a call that failed on a read which found such a change (a call that
// does not hold one read transaction, unlock's: storage.Batch.Changed).
func (w *wasmVault) atomic(ctx context.Context, op abi.Op, args ...[]byte) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		out, again, err := w.atomicOnce(ctx, op, args)
		if !again || attempt == maxAttempts || ctx.Err() != nil {
			return out, err
		}
	}
}

// atomicOnce runs the call once as a batch of its own, and reports whether
// it failed on another writer's change (again): a read that found it, or
// the commit.
func (w *wasmVault) atomicOnce(ctx context.Context, op abi.Op, args [][]byte) (out []byte, again bool, err error) {
	bctx, batch := withBatch(ctx)
	defer batch.discard()
	if out, err = w.callOnce(bctx, op, args...); err != nil {
		return nil, batch.changed(), err
	}
	testonly.AtCommit(false)
	err = batch.commit(ctx)
	testonly.AtCommit(true)
	return out, errors.Is(err, storage.ErrChanged), storageErr(err)
}

func (w *wasmVault) Get(ctx context.Context, name string) (abi.Info, abi.Value, error) {
	out, err := w.call(ctx, abi.OpGet, []byte(name))
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	in, v, err := abi.DecodeSecret(out)
	if err != nil {
		return abi.Info{}, abi.Value{}, badOutput(err)
	}
	return in, v, nil
}

func (w *wasmVault) Stat(ctx context.Context, name string) (abi.Info, error) {
	out, err := w.call(ctx, abi.OpStat, []byte(name))
	if err != nil {
		return abi.Info{}, err
	}
	in, err := abi.DecodeInfo(out)
	if err != nil {
		return abi.Info{}, badOutput(err)
	}
	return in, nil
}

func (w *wasmVault) Set(ctx context.Context, name string, v abi.Value, md abi.Metadata) error {
	value, meta, err := setArguments(v, md)
	if err != nil {
		return err
	}
	_, err = w.call(ctx, abi.OpSet, []byte(name), value, meta)
	return err
}

// setReported is Set for a vault whose manifest declares set_reports: it
// returns what the set did, abi.SetCreated, abi.SetReplaced or
// abi.SetUnchanged.
func (w *wasmVault) setReported(ctx context.Context, name string, v abi.Value, md abi.Metadata) (byte, error) {
	value, meta, err := setArguments(v, md)
	if err != nil {
		return 0, err
	}
	out, err := w.call(ctx, abi.OpSet, []byte(name), value, meta)
	if err != nil {
		return 0, err
	}
	switch {
	case len(out) != 1:
		return 0, badOutput(fmt.Errorf("set_reports: the set's report is %d bytes, want 1", len(out)))
	case out[0] > abi.SetUnchanged:
		return 0, badOutput(fmt.Errorf("set_reports: the set reported %d, want 0, 1 or 2", out[0]))
	}
	return out[0], nil
}

func (w *wasmVault) Create(ctx context.Context, name string, v abi.Value, md abi.Metadata) error {
	value, meta, err := setArguments(v, md)
	if err != nil {
		return err
	}
	_, err = w.call(ctx, abi.OpCreate, []byte(name), value, meta)
	return err
}

// setArguments encodes the value and the metadata (nil: none given) of a
// set or a create.
func setArguments(v abi.Value, md abi.Metadata) (value, meta []byte, err error) {
	if value, err = abi.AppendValue(nil, v); err != nil {
		return nil, nil, err
	}
	if md != nil {
		if meta, err = abi.AppendMetadata(nil, md); err != nil {
			return nil, nil, err
		}
	}
	return value, meta, nil
}

func (w *wasmVault) Members(ctx context.Context, action, arg string) (abi.Members, error) {
	out, err := w.call(ctx, abi.OpMembers, []byte(action), []byte(arg))
	if err != nil {
		return abi.Members{}, err
	}
	m, err := abi.DecodeMembers(out)
	if err != nil {
		return abi.Members{}, badOutput(err)
	}
	return m, nil
}

func (w *wasmVault) Remove(ctx context.Context, name string) error {
	_, err := w.call(ctx, abi.OpRemove, []byte(name))
	return err
}

// listNameCost bounds what the engine spends on one listed name beside its
// bytes: the decoded info and its (empty, non-nil) metadata map, the
// engine's Info and its map, sorting — about 235 bytes, measured by
// TestListAnswerWithinGrant. A list answer may hold one name per
// listNameCost bytes of the vault's memory grant, so that what a list makes
// the host allocate counts against the grant (a 16 MiB answer of 1.6
// million one-letter names cost 800 MB; a 64 MiB grant now lists at most
// 174,762 names).
const listNameCost = 384

func (w *wasmVault) List(ctx context.Context, pattern string) ([]abi.Info, error) {
	out, err := w.call(ctx, abi.OpList, []byte(pattern))
	if err != nil {
		return nil, err
	}
	grant := w.mod.MemoryGrant()
	most := int(min(grant/listNameCost, math.MaxInt32))
	list, err := abi.DecodeInfoListMax(out, most)
	if errors.Is(err, abi.TooLarge) {
		return nil, &sandbox.Error{Export: abi.OpList.Export(), Status: abi.TooLarge, Message: fmt.Sprintf(
			"the list answer holds more than %d names, the most a vault granted %d MiB of memory may list (one per %d bytes)",
			most, grant>>20, listNameCost)}
	}
	if err != nil {
		return nil, badOutput(err)
	}
	return list, nil
}

func (w *wasmVault) SetMetadata(ctx context.Context, name string, md abi.Metadata) error {
	meta, err := abi.AppendMetadata(nil, md)
	if err != nil {
		return err
	}
	_, err = w.call(ctx, abi.OpSetMetadata, []byte(name), meta)
	return err
}

func (w *wasmVault) Unlock(ctx context.Context, password []byte) error {
	_, err := w.call(ctx, abi.OpUnlock, password)
	return err
}

func (w *wasmVault) Lock(ctx context.Context) error {
	_, err := w.call(ctx, abi.OpLock)
	return err
}

func (w *wasmVault) SetPassword(ctx context.Context, old, new []byte) error {
	_, err := w.call(ctx, abi.OpSetPassword, old, new)
	return err
}

func (w *wasmVault) Test(ctx context.Context) error {
	_, err := w.call(ctx, abi.OpTest)
	return err
}

func (w *wasmVault) Unregister(ctx context.Context, removeStorage bool) error {
	arg := abi.UnregisterKeepStorage
	if removeStorage {
		arg = abi.UnregisterRemoveStorage
	}
	_, err := w.call(ctx, abi.OpUnregister, []byte{arg})
	return err
}

func (w *wasmVault) Close(ctx context.Context) error { return w.mod.Close(ctx) }

// badOutput reports output an extension produced that does not decode.
func badOutput(err error) error {
	return &sandbox.Error{Status: abi.Internal, Message: "extension output does not follow the ABI: " + abiError{err}.Error()}
}
