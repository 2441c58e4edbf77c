package sandbox

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"filippo.io/age"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Storage is the host storage area of one vault (grant "storage"). Errors
// wrap an abi.Status (NotFound, TooLarge, …); any other error is reported to
// the guest as Unavailable, and its message, which names the storage
// ("storage file PATH: …"), follows the guest's in the call's error.
type Storage interface {
	// Get returns the value of key. The sandbox only reads the value,
	// copying it into the guest's memory before the call goes on, so it
	// may be the implementation's own. key is guest memory: Get must not
	// keep it past its return.
	Get(ctx context.Context, key []byte) ([]byte, error)
	Set(ctx context.Context, key, value []byte) error
	// Add is Set only when key is absent; it returns abi.Conflict when
	// the key is present.
	Add(ctx context.Context, key, value []byte) error
	Delete(ctx context.Context, key []byte) error
	List(ctx context.Context, prefix, after []byte, limit int) ([][]byte, error)
	// Scan is List with the values, read in one transaction: at most
	// limit entries whose keys and values add up to at most maxBytes, but
	// always the first entry there is.
	Scan(ctx context.Context, prefix, after []byte, limit, maxBytes int) ([]abi.KV, error)
}

// call is the state of one export call, reached by host functions through the
// context that wazero hands them.
type call struct {
	vault   string
	args    [][]byte
	output  []byte
	message string
	storage Storage
	keyring *keyring
	keys    *keyTable // the vault's keys behind handles (keys.go)
	// identity is the user's age identity (grant identity, agehost.go);
	// nil when not granted.
	identity *age.X25519Identity
	id       uint64        // the call's number in its module, from 1: whose keys are whose
	kdfTurn  chan struct{} // the module's turn at kdf_argon2id and key_argon2id
	// dir is the granted folder when the vault may write it (dir_replace,
	// dirreplace.go); nil without the grant or read-only.
	dir *rootFS
	// grant is the vault's memory grant in bytes (per instance): what the
	// host may allocate for one call of the guest (kdf_argon2id's memory).
	grant    uint64
	logger   *slog.Logger
	logs     int         // lines logged in this call
	dropped  int         // lines dropped past the limit
	http     *httpClient // nil: http not granted
	httpResp []byte      // the last response of http_request, for http_response
	// httpErr is why the last http_request failed, added to the error of
	// a call that then fails. It names the origin, never the path.
	httpErr string
	// storageErr is the last failure of host storage in this call (a
	// damaged file, say), added to the error of a call that then fails.
	// Storage errors name the file, never a key or a value.
	storageErr string
}

type callKey struct{}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// sesameImports are the host functions of the sesame_v1 module (SPEC.md
// §5), by name.
var sesameImports = map[string]hostFunc{
	abi.ImportInput:        {hostInput, vt(i32, i32, i32), vt(i32)},
	abi.ImportOutput:       {hostOutput, vt(i32, i32), vt(i32)},
	abi.ImportError:        {hostError, vt(i32, i32), vt(i32)},
	abi.ImportLog:          {hostLog, vt(i32, i32, i32), vt(i32)},
	abi.ImportKVGet:        {hostKVGet, vt(i32, i32, i32, i32), vt(i64)},
	abi.ImportKVSet:        {hostKVSet, vt(i32, i32, i32, i32), vt(i32)},
	abi.ImportKVAdd:        {hostKVAdd, vt(i32, i32, i32, i32), vt(i32)},
	abi.ImportKVDelete:     {hostKVDelete, vt(i32, i32), vt(i32)},
	abi.ImportKVList:       {hostKVList, vt(i32, i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportKVScan:       {hostKVScan, vt(i32, i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportKDF:          {hostKDF, vt(i32, i32, i32, i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyringSet:   {hostKeyringSet, vt(i32, i32, i32), vt(i32)},
	abi.ImportKeyringGet:   {hostKeyringGet, vt(i32, i32), vt(i64)},
	abi.ImportKeyringClear: {hostKeyringClear, nil, vt(i32)},
	abi.ImportKeyGenerate:  {hostKeyGenerate, vt(i32), vt(i32)},
	abi.ImportKeyImport:    {hostKeyImport, vt(i32, i32), vt(i32)},
	abi.ImportKeyArgon2id:  {hostKeyArgon2id, vt(i32, i32, i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyHKDF:      {hostKeyHKDF, vt(i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyWrap:      {hostKeyWrap, vt(i32, i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportKeyUnwrap:    {hostKeyUnwrap, vt(i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeySeal:      {hostKeySeal, vt(i32, i32, i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportKeyOpen:      {hostKeyOpen, vt(i32, i32, i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportKeyHMAC:      {hostKeyHMAC, vt(i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyKeep:      {hostKeyKeep, vt(i32), vt(i32)},
	abi.ImportKeyRelease:   {hostKeyRelease, vt(i32), vt(i32)},
	abi.ImportHTTPRequest:  {hostHTTPRequest, vt(i32, i32, i32, i32), vt(i64)},
	abi.ImportHTTPResponse: {hostHTTPResponse, vt(i32, i32), vt(i64)},
	abi.ImportHTTPOrigins:  {hostHTTPOrigins, vt(i32, i32), vt(i64)},
	abi.ImportAgeRecipient: {hostAgeRecipient, vt(i32, i32), vt(i64)},
	abi.ImportAgeWrap:      {hostAgeWrap, vt(i32, i32, i32, i32, i32), vt(i64)},
	abi.ImportAgeUnwrap:    {hostAgeUnwrap, vt(i32, i32), vt(i32)},
	abi.ImportKeyHash:      {hostKeyHash, vt(i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyAESKDF:    {hostKeyAESKDF, vt(i32, i32, i32, i64), vt(i32)},
	abi.ImportKeyArgon2:    {hostKeyArgon2, vt(i32, i32, i32, i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyAESCBC:    {hostKeyAESCBC, vt(i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportKeyChaCha20:  {hostKeyChaCha20, vt(i32, i32, i32, i32, i32, i32), vt(i32)},
	abi.ImportDirReplace:   {hostDirReplace, vt(i32, i32, i32, i32, i32), vt(i32)},
}

// vt is a list of value types, for the tables of host functions.
func vt(types ...api.ValueType) []api.ValueType { return types }

// hostFunc is a host function: its code and its WebAssembly type.
type hostFunc struct {
	fn      api.GoModuleFunc
	params  []api.ValueType
	results []api.ValueType
}

// instantiateHostModule instantiates in rt the host module name with the
// functions of funcs named by want; with none, it instantiates nothing.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime, name string, funcs map[string]hostFunc, want []string) error {
	if len(want) == 0 {
		return nil
	}
	b := rt.NewHostModuleBuilder(name)
	for _, fn := range want {
		f := funcs[fn]
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).Export(fn)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func status(s abi.Status) uint64 { return uint64(s) }

// neg32 and neg64 encode -(status) as the i32 / i64 results of SPEC.md §5.
func neg32(s abi.Status) uint64 { return api.EncodeI32(-int32(s)) }
func neg64(s abi.Status) uint64 { return api.EncodeI64(-int64(s)) }

// read copies [ptr, ptr+n) out of guest memory, or reports false when the
// range is outside memory or longer than max.
func read(mod api.Module, ptr, n uint32, max int) ([]byte, abi.Status) {
	if uint64(n) > uint64(max) {
		return nil, abi.TooLarge
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, abi.InvalidArgument
	}
	return append([]byte(nil), view...), abi.OK
}

// fits reports whether [ptr, ptr+n) lies inside guest memory.
func fits(mod api.Module, ptr, n uint32) bool {
	return uint64(ptr)+uint64(n) <= uint64(mod.Memory().Size())
}

// storageStatus maps a storage error to the status a guest sees, and keeps
// the cause of a failure (not of NOT_FOUND and the like) in c.
func (c *call) storageStatus(err error) abi.Status {
	if err == nil {
		return abi.OK
	}
	s := abi.Unavailable
	if errors.As(err, &s) && s != abi.OK {
		s = s.Normalize()
	}
	if s == abi.Unavailable || s == abi.Internal {
		c.storageErr = strings.TrimPrefix(err.Error(), s.String()+": ")
	}
	return s
}

func hostInput(ctx context.Context, mod api.Module, stack []uint64) {
	idx, dst, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	c := callFrom(ctx)
	if c == nil || uint64(idx) >= uint64(len(c.args)) {
		stack[0] = neg32(abi.NotFound)
		return
	}
	if !fits(mod, dst, capacity) {
		stack[0] = neg32(abi.InvalidArgument)
		return
	}
	arg := c.args[idx]
	if len(arg) <= int(capacity) && len(arg) > 0 {
		mod.Memory().Write(dst, arg)
	}
	stack[0] = api.EncodeI32(int32(len(arg)))
}

func hostOutput(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if c == nil {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	b, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxCallBytes)
	if s == abi.OK {
		c.output = b
	}
	stack[0] = status(s)
}

func hostError(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if c == nil || !fits(mod, ptr, n) {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	b, _ := read(mod, ptr, min(n, abi.MaxMessageBytes), abi.MaxMessageBytes)
	c.message = printable(b)
	stack[0] = status(abi.OK)
}

var logLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	level, ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), api.DecodeU32(stack[2])
	if c == nil || !fits(mod, ptr, n) || level >= uint32(len(logLevels)) {
		stack[0] = status(abi.InvalidArgument)
		return
	}
	if c.logs >= abi.MaxLogLines {
		c.dropped++
		stack[0] = status(abi.OK)
		return
	}
	c.logs++
	b, _ := read(mod, ptr, min(n, abi.MaxLogLineBytes), abi.MaxLogLineBytes)
	c.logger.Log(ctx, logLevels[level], printable(b), "vault", c.vault)
	stack[0] = status(abi.OK)
}

// granted returns c when has says it holds the grant, and the status to
// answer otherwise: INVALID_ARGUMENT outside a call, PERMISSION_DENIED
// without the grant.
func granted(c *call, has func(*call) bool) (*call, abi.Status) {
	switch {
	case c == nil:
		return nil, abi.InvalidArgument
	case !has(c):
		return nil, abi.PermissionDenied
	}
	return c, abi.OK
}

// storageCall returns the call and its storage, or the status to answer.
func storageCall(ctx context.Context) (*call, abi.Status) {
	return granted(callFrom(ctx), func(c *call) bool { return c.storage != nil })
}

func hostKVGet(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := storageCall(ctx)
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	key, s := view(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxStorageKey) // Get keeps no key
	dst, capacity := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	if s == abi.OK && !fits(mod, dst, capacity) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	v, err := c.storage.Get(ctx, key)
	if err != nil {
		stack[0] = neg64(c.storageStatus(err))
		return
	}
	if len(v) <= int(capacity) && len(v) > 0 {
		mod.Memory().Write(dst, v)
	}
	stack[0] = api.EncodeI64(int64(len(v)))
}

func hostKVSet(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = status(kvWrite(ctx, mod, stack, false))
}

func hostKVAdd(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = status(kvWrite(ctx, mod, stack, true))
}

// kvWrite is kv_set, or kv_add when add is set.
func kvWrite(ctx context.Context, mod api.Module, stack []uint64, add bool) abi.Status {
	c, s := storageCall(ctx)
	if s != abi.OK {
		return s
	}
	key, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxStorageKey)
	if s != abi.OK {
		return s
	}
	value, s := read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), abi.MaxStorageValue)
	if s != abi.OK {
		return s
	}
	if add {
		return c.storageStatus(c.storage.Add(ctx, key, value))
	}
	return c.storageStatus(c.storage.Set(ctx, key, value))
}

func hostKVDelete(ctx context.Context, mod api.Module, stack []uint64) {
	stack[0] = status(kvDelete(ctx, mod, stack))
}

func kvDelete(ctx context.Context, mod api.Module, stack []uint64) abi.Status {
	c, s := storageCall(ctx)
	if s != abi.OK {
		return s
	}
	key, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxStorageKey)
	if s != abi.OK {
		return s
	}
	return c.storageStatus(c.storage.Delete(ctx, key))
}

// pageArgs reads the arguments of kv_list and kv_scan: the prefix, the key
// the page starts after (nil: from the start), and the destination.
func pageArgs(ctx context.Context, mod api.Module, stack []uint64) (c *call, prefix, after []byte, dst, capacity uint32, s abi.Status) {
	c, s = storageCall(ctx)
	if s == abi.OK {
		prefix, s = read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxStorageKey)
	}
	if s == abi.OK {
		after, s = read(mod, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]), abi.MaxStorageKey)
	}
	dst, capacity = api.DecodeU32(stack[4]), api.DecodeU32(stack[5])
	if s == abi.OK && !fits(mod, dst, capacity) {
		s = abi.InvalidArgument
	}
	if len(after) == 0 {
		after = nil
	}
	return c, prefix, after, dst, capacity, s
}

func hostKVList(ctx context.Context, mod api.Module, stack []uint64) {
	c, prefix, after, dst, capacity, s := pageArgs(ctx, mod, stack)
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	testonly.BeforeList(prefix)
	keys, err := c.storage.List(ctx, prefix, after, abi.StorageListPage)
	if err != nil {
		stack[0] = neg64(c.storageStatus(err))
		return
	}
	out := abi.AppendKeyList(nil, keys)
	if len(out) <= int(capacity) {
		mod.Memory().Write(dst, out)
	}
	stack[0] = api.EncodeI64(int64(len(out)))
}

// hostKVScan is kv_scan: a page of entries as many as fit in the guest's
// buffer (and in abi.StorageScanBytes), read in one transaction, so that a
// listing costs a host call per page instead of a kv_get per key. A page
// always holds the first entry there is: when even that does not fit, the
// guest learns the length it needs, as with kv_get.
func hostKVScan(ctx context.Context, mod api.Module, stack []uint64) {
	c, prefix, after, dst, capacity, s := pageArgs(ctx, mod, stack)
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	limit := min(int(capacity), abi.StorageScanBytes)
	page, err := c.storage.Scan(ctx, prefix, after, abi.StorageListPage, max(limit, 1))
	if err != nil {
		stack[0] = neg64(c.storageStatus(err))
		return
	}
	n := 4
	for i, kv := range page {
		if i > 0 && n+abi.KVSize(kv) > limit {
			page = page[:i]
			break
		}
		n += abi.KVSize(kv)
	}
	out := abi.AppendEntryList(make([]byte, 0, n), page)
	if len(out) <= int(capacity) {
		mod.Memory().Write(dst, out)
	}
	stack[0] = api.EncodeI64(int64(len(out)))
}
