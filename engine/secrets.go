package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/inotify"
)

// Set stores r.Value under r.Name in r.Vault: the ObjectParameterSet and
// SecureStringParameterSet of Set-Secret. The value is a []byte, string,
// SecureString, Credential or Hashtable. Everything is checked before the
// vault is asked to write, and a failure never loses the secret that was
// there before.
func (e *Engine) Set(ctx context.Context, r SetRequest) (Action, error) {
	const op = OpSet
	if err := checkName(op, r.Vault, r.Name); err != nil {
		return Action{}, err
	}
	v, err := encodeValue(r.Value)
	if err != nil {
		return Action{}, &Error{Op: op, Vault: r.Vault, Secret: r.Name, Err: err}
	}
	md, err := encodeMetadata(r.Metadata)
	if err != nil {
		return Action{}, &Error{Op: op, Vault: r.Vault, Secret: r.Name, Err: err}
	}
	vt, vault, err := e.target(ctx, op, r.Name, r.Vault)
	if err != nil {
		return Action{}, err
	}
	return e.write(ctx, vt, vault, r.Name, v, md, r.NoClobber, r.Change)
}

// Copy copies the secret that r.From describes into r.Vault, with its
// metadata: the SecretInfoParameterSet of Set-Secret.
func (e *Engine) Copy(ctx context.Context, r CopyRequest) (Action, error) {
	const op = OpCopy
	from := r.From
	if r.Vault == "" {
		return Action{}, wrapf(op, "", from.Name, ErrInvalidArgument, "copy needs a target vault")
	}
	src, err := e.Get(ctx, GetRequest{Name: from.Name, Vault: from.Vault})
	if err != nil {
		return Action{}, err
	}
	v, err := encodeValue(src.Value)
	if err != nil {
		return Action{}, &Error{Op: op, Vault: src.Vault, Secret: src.Name, Err: err}
	}
	md, err := encodeMetadata(src.Metadata)
	if err != nil {
		return Action{}, &Error{Op: op, Vault: src.Vault, Secret: src.Name, Err: err}
	}
	vt, vault, err := e.target(ctx, OpSet, src.Name, r.Vault)
	if err != nil {
		return Action{}, err
	}
	return e.write(ctx, vt, vault, src.Name, v, md, r.NoClobber, r.Change)
}

// write is the common end of Set and Copy.
func (e *Engine) write(ctx context.Context, vt Vault, vault, name string, v abi.Value, md abi.Metadata, noClobber bool, c Change) (Action, error) {
	const op = OpSet
	if len(md) > 0 && !vt.Manifest().Metadata {
		return Action{}, &Error{Op: op, Vault: vault, Secret: name, Err: ErrMetadataUnsupported}
	}
	if !vt.Manifest().Metadata {
		md = nil
	}
	md = metadataFor(vt, md)
	if !supports(vt, abi.OpSet) {
		return Action{}, wrapf(op, vault, name, ErrUnsupported, "the vault is read-only")
	}
	if err := fits(v); err != nil {
		return Action{}, &Error{Op: op, Vault: vault, Secret: name, Err: err}
	}
	cr, creates := vt.(Creator)
	creates = creates && noClobber && supports(vt, abi.OpCreate)
	act := Action{Op: op, Vault: vault, Secret: name}
	// A vault whose set reports what it did (SPEC.md §4, set_reports) is
	// not asked first whether the secret exists, when nothing is shown
	// before the write and a secret there may be replaced: its set says
	// so, in the call that writes (a stat was a second call, whose reads
	// of a large store find the pages the last commit moved cold).
	sr, reports := vt.(setReporter)
	if reports && vt.Manifest().SetReports && !noClobber && !c.WhatIf && c.Confirm == nil {
		did, err := sr.setReported(ctx, name, v, md)
		act.Replace = did != abi.SetCreated
		return act, vaultError(op, vault, name, err)
	}
	if !creates || c.WhatIf || c.Confirm != nil {
		// The check: a no-clobber create needs none (create refuses an
		// existing secret itself), unless the action is shown first.
		exists, err := e.exists(ctx, op, vt, vault, name)
		if err != nil {
			return Action{}, err
		}
		if exists && noClobber {
			return Action{}, &Error{Op: op, Vault: vault, Secret: name, Err: ErrNoClobber}
		}
		act.Replace = exists
	}
	if err := confirm(c, act); err != nil || c.WhatIf {
		return act, err
	}
	if creates {
		err := cr.Create(ctx, name, v, md)
		if errors.Is(err, abi.Conflict) {
			// It exists: made before, or by another writer since the check.
			return Action{}, &Error{Op: op, Vault: vault, Secret: name, Err: ErrNoClobber}
		}
		return act, vaultError(op, vault, name, err)
	}
	return act, vaultError(op, vault, name, vt.Set(ctx, name, v, md))
}

// fits refuses a value over the ABI's limits before any vault is asked, in
// the user's words rather than the codec's.
func fits(v abi.Value) error {
	if _, err := abi.AppendValue(nil, v); errors.Is(err, abi.TooLarge) {
		return fmt.Errorf("%w: a value takes at most 1 MiB (%d bytes), its user name and hashtable keys included", ErrTooLarge, abi.MaxValueBytes)
	}
	return nil
}

// exists asks the vault whether name is stored, with stat when it has it,
// for the operation op.
func (e *Engine) exists(ctx context.Context, op Op, vt Vault, vault, name string) (bool, error) {
	var err error
	if s, ok := vt.(Statter); ok && supports(vt, abi.OpStat) {
		_, err = s.Stat(ctx, name)
	} else {
		_, _, err = vt.Get(ctx, name)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, abi.NotFound), errors.Is(err, ErrSecretNotFound):
		return false, nil
	}
	return false, vaultError(op, vault, name, err)
}

func confirm(c Change, act Action) error {
	if c.WhatIf || c.Confirm == nil || c.Confirm(act) {
		return nil
	}
	return &Error{Op: act.Op, Vault: act.Vault, Secret: act.Secret, Err: ErrDeclined}
}

// refreshNowLocked is refreshLocked for the registry's writers: they look at
// the file whatever the recheck window says, so that a check made before
// the write (a name taken, a vault whose hook to run) never rests on a
// registry that another process changed a moment ago. Writes are rare; the
// window is for the operations on secrets. Callers hold e.mu.
func (e *Engine) refreshNowLocked() error {
	e.fresh.expire()
	return e.refreshLocked()
}

// refreshLocked reloads a changed registry; callers hold e.mu.
func (e *Engine) refreshLocked() error {
	if e.closed {
		return &Error{Op: OpOpen, Err: fmt.Errorf("%w: the engine is closed", ErrUnavailable)}
	}
	return e.refresh()
}

// Get returns the secret r.Name from r.Vault or, when r.Vault is empty, from
// the default vault and then the others in name order, leaving out those
// registered with NoSearch: the first found wins. The Secret's Vault names
// the vault that answered. When a search finds nothing and the only vaults
// that failed were locked, the error is theirs (ErrLocked), without
// ErrSecretNotFound.
func (e *Engine) Get(ctx context.Context, r GetRequest) (Secret, error) {
	const op = OpGet
	name, vault := r.Name, r.Vault
	if err := checkName(op, vault, name); err != nil {
		return Secret{}, err
	}
	ctx = inotify.Begin(ctx) // the freshness check's poll serves the storage's idle hold
	e.mu.Lock()
	if err := e.refreshLocked(); err != nil {
		e.mu.Unlock()
		return Secret{}, err
	}
	var order []string
	if vault != "" {
		canon, err := e.resolve(op, name, vault)
		if err != nil {
			e.mu.Unlock()
			return Secret{}, err
		}
		order = []string{canon}
	} else {
		order = e.vaultOrder()
	}
	e.mu.Unlock()
	if len(order) == 0 {
		return Secret{}, wrapf(op, "", name, ErrVaultNotFound, "no vault is registered")
	}
	var errs []error
	for _, vn := range order {
		s, err := e.getFrom(ctx, vn, name)
		if err == nil {
			return s, nil
		}
		if vault != "" {
			return Secret{}, err
		}
		if !errors.Is(err, ErrSecretNotFound) {
			errs = append(errs, err)
		}
	}
	if allLocked(errs) {
		// Not "not found": the secret may well be in a locked vault, and
		// unlocking it is what the user has to do.
		if len(errs) == 1 {
			return Secret{}, errs[0]
		}
		return Secret{}, errors.Join(errs...)
	}
	return Secret{}, &Error{Op: op, Secret: name, Err: errors.Join(append([]error{ErrSecretNotFound}, errs...)...)}
}

// allLocked reports whether errs holds errors and each is ErrLocked.
func allLocked(errs []error) bool {
	for _, err := range errs {
		if !errors.Is(err, ErrLocked) {
			return false
		}
	}
	return len(errs) > 0
}

func (e *Engine) getFrom(ctx context.Context, vault, name string) (Secret, error) {
	vt, err := e.open(ctx, OpGet, vault)
	if err != nil {
		return Secret{}, err
	}
	in, v, err := vt.Get(ctx, name)
	if err != nil {
		return Secret{}, vaultError(OpGet, vault, name, err)
	}
	if !sameName(in.Name, name, vt.Manifest().CaseSensitive) {
		// The name as stored is reported only when it is the name asked
		// for: a vault cannot make get report another secret, or a name
		// with terminal escapes in it.
		in.Name = name
	}
	return Secret{
		Info:  Info{Name: in.Name, Type: v.Type, Vault: vault, Metadata: decodeMetadata(in.Metadata)},
		Value: decodeValue(v),
	}, nil
}

// Info lists the secrets whose names match r.Pattern ('*' any run, '?' one
// character; "" means all) in r.Vault, or when r.Vault is empty in every
// vault that Get searches, in its order. Within a vault, results are sorted by
// name. When some vaults fail, Info returns what the others found together
// with an error naming each failure.
func (e *Engine) Info(ctx context.Context, r InfoRequest) ([]Info, error) {
	const op = OpInfo
	pattern, vault := r.Pattern, r.Vault
	if pattern == "" {
		pattern = "*"
	}
	ctx = inotify.Begin(ctx) // the freshness check's poll serves the storage's idle hold
	e.mu.Lock()
	if err := e.refreshLocked(); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	var order []string
	if vault != "" {
		canon, err := e.resolve(op, "", vault)
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		order = []string{canon}
	} else {
		order = e.vaultOrder()
	}
	e.mu.Unlock()
	var out []Info
	var errs []error
	for _, vn := range order {
		list, err := e.infoFrom(ctx, vn, pattern)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, list...)
	}
	return out, errors.Join(errs...)
}

func (e *Engine) infoFrom(ctx context.Context, vault, pattern string) ([]Info, error) {
	vt, err := e.open(ctx, OpInfo, vault)
	if err != nil {
		return nil, err
	}
	if !supports(vt, abi.OpList) {
		return nil, wrapf(OpInfo, vault, "", ErrUnsupported, "the vault cannot list its secrets")
	}
	list, err := vt.List(ctx, pattern)
	if err != nil {
		return nil, vaultError(OpInfo, vault, "", err)
	}
	cs := vt.Manifest().CaseSensitive
	out := make([]Info, 0, len(list))
	for _, in := range list {
		if !listable(in.Name) {
			// Not a name the engine would have let anyone store: empty,
			// too long, or with control characters (terminal escapes).
			// Left out, so that it never reaches a terminal.
			e.opts.Logger.WarnContext(ctx, "a vault listed a secret whose name is invalid; left out", "vault", vault)
			continue
		}
		if abi.Match(pattern, in.Name, cs) {
			out = append(out, Info{Name: in.Name, Type: in.Type, Vault: vault, Metadata: decodeMetadata(in.Metadata)})
		}
	}
	return sortInfos(out), nil
}

// sortInfos sorts a listing case-insensitively first, then exactly, so
// that names differing only in case both appear, in a stable order. Each
// name is lowered once, not at each comparison: lowering in the comparison
// took a fifth of a listing of 100 000 secrets.
func sortInfos(out []Info) []Info {
	lower := make([]string, len(out))
	order := make([]int, len(out))
	for i := range out {
		lower[i], order[i] = strings.ToLower(out[i].Name), i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := strings.Compare(lower[a], lower[b]); c != 0 {
			return c
		}
		return strings.Compare(out[a].Name, out[b].Name)
	})
	sorted := make([]Info, len(out))
	for i, j := range order {
		sorted[i] = out[j]
	}
	return sorted
}

// listable reports whether a name a vault listed is one the engine shows.
func listable(name string) bool {
	return name != "" && len(name) <= abi.MaxNameBytes && strings.IndexFunc(name, unicode.IsControl) < 0
}

// sameName reports whether the name a vault reports for a secret is the
// name asked for, under the vault's case rule.
func sameName(reported, asked string, caseSensitive bool) bool {
	if caseSensitive || reported == asked { // the usual answer: no folding (two allocations)
		return reported == asked
	}
	return abi.Fold(reported) == abi.Fold(asked)
}

// SetInfo replaces the metadata of secret r.Name in r.Vault (or the default
// vault) with r.Metadata: Set-SecretInfo. A nil or empty Metadata clears it.
func (e *Engine) SetInfo(ctx context.Context, r SetInfoRequest) (Action, error) {
	const op = OpSetInfo
	name, vault, md, c := r.Name, r.Vault, r.Metadata, r.Change
	if err := checkName(op, vault, name); err != nil {
		return Action{}, err
	}
	if md == nil {
		md = Metadata{}
	}
	amd, err := encodeMetadata(md)
	if err != nil {
		return Action{}, &Error{Op: op, Vault: vault, Secret: name, Err: err}
	}
	vt, canon, err := e.target(ctx, op, name, vault)
	if err != nil {
		return Action{}, err
	}
	ms, ok := vt.(MetadataSetter)
	if !vt.Manifest().Metadata || !ok || !supports(vt, abi.OpSetMetadata) {
		return Action{}, &Error{Op: op, Vault: canon, Secret: name, Err: ErrMetadataUnsupported}
	}
	act := Action{Op: op, Vault: canon, Secret: name}
	if err := confirm(c, act); err != nil || c.WhatIf {
		return act, err
	}
	return act, vaultError(op, canon, name, ms.SetMetadata(ctx, name, metadataFor(vt, amd)))
}

// Remove deletes secret r.Name from r.Vault: Remove-Secret. The vault is
// required; there is no fallback to the default vault.
func (e *Engine) Remove(ctx context.Context, r RemoveRequest) (Action, error) {
	const op = OpRemove
	name, vault, c := r.Name, r.Vault, r.Change
	if vault == "" {
		return Action{}, wrapf(op, "", name, ErrInvalidArgument, "remove needs a vault")
	}
	if err := checkName(op, vault, name); err != nil {
		return Action{}, err
	}
	vt, canon, err := e.target(ctx, op, name, vault)
	if err != nil {
		return Action{}, err
	}
	if !supports(vt, abi.OpRemove) {
		return Action{}, wrapf(op, canon, name, ErrUnsupported, "the vault is read-only")
	}
	act := Action{Op: op, Vault: canon, Secret: name}
	if c.WhatIf {
		// Report a missing secret now rather than pretend it would go.
		if ok, err := e.exists(ctx, op, vt, canon, name); err != nil || !ok {
			if err == nil {
				err = &Error{Op: op, Vault: canon, Secret: name, Err: ErrSecretNotFound}
			}
			return Action{}, err
		}
	}
	if err := confirm(c, act); err != nil || c.WhatIf {
		return act, err
	}
	return act, vaultError(op, canon, name, vt.Remove(ctx, name))
}

// target resolves and opens the vault of a single-secret operation.
func (e *Engine) target(ctx context.Context, op Op, name, vault string) (Vault, string, error) {
	e.mu.Lock()
	err := e.refreshLocked()
	canon := ""
	if err == nil {
		canon, err = e.resolve(op, name, vault)
	}
	e.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	vt, err := e.open(ctx, op, canon)
	return vt, canon, err
}
