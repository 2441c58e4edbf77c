package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Spec says what to load and what it is granted.
type Spec struct {
	Vault     string            // the vault's registered name, for messages and logs
	Wasm      []byte            // the module's bytes
	SHA256    string            // optional pin, lowercase hex
	Params    map[string]string // handed to sesame_init
	Memory    uint64            // bytes of linear memory per instance; 0 = abi.DefaultMemory
	Timeout   time.Duration     // deadline per call; 0 = abi.DefaultTimeoutSec
	Instances int               // pool size; 0 = abi.DefaultInstances
	Storage   Storage           // nil: storage not granted
	Dir       string            // host folder mounted at /data; "" = none
	ReadOnly  bool              // mount Dir read-only
	Env       map[string]string // environment visible to the guest; nil = env not granted, empty = granted but none set
	HTTP      *HTTPGrant        // nil: http not granted

	// Identity is the user's age identity, used by the host for the
	// guest's age_wrap and age_unwrap (SPEC.md §5.10); nil: identity not
	// granted. The guest never sees it.
	Identity *age.X25519Identity

	// Interpret runs the module in wazero's interpreter instead of
	// compiling it to machine code: loading it then costs a few
	// milliseconds of CPU and no compile cache (none is read or written),
	// but its calls run several times slower. For a small module whose
	// code is known, in a process that makes one small call and exits (the
	// engine's Options.Interpret). The instrumentation, deadlines, fuel
	// and the guest's memory are the same under either engine, but not the
	// depth of calls: the interpreter traps past 2000 nested calls
	// ("stack overflow"), where the compiled module nests until its stack
	// budget (stackBudget) runs out.
	Interpret bool
}

// Module is a loaded extension: a compiled module, its manifest and a pool
// of instances. It is safe for concurrent use.
type Module struct {
	spec     Spec
	host     *Host
	compiled wazero.CompiledModule // shared with the vaults loading the same (shared.go)
	key      compiledKey
	rtKey    runtimeKey // the runtime it is compiled in, and its instances run in
	config   wazero.ModuleConfig
	manifest abi.Manifest
	ops      map[abi.Op]bool
	hasInit  bool
	hasBatch bool // it exports sesame_batch
	pool     *pool
	dir      *rootFS     // the directory mount, nil when not granted
	http     *httpClient // the vault's HTTP client, nil when not granted
	timeout  time.Duration
	params   []byte
	recycle  uint32 // memory size in bytes past which an instance is recycled
	keyring  keyring
	keys     keyTable      // the vault's keys behind handles (keys.go)
	calls    atomic.Uint64 // calls made, to number them
	kdfTurn  chan struct{} // one key derivation of this module at a time (crypto.go)
	closed   atomic.Bool   // set first by Close: calls from then on are refused
}

// exportTypes are the signatures of the exports of SPEC.md §4.
var exportTypes = map[string]struct{ params, results int }{
	abi.Marker:            {0, 0},
	abi.ExportManifest:    {0, 1},
	abi.ExportInit:        {2, 1},
	abi.ExportGet:         {1, 1},
	abi.ExportStat:        {1, 1},
	abi.ExportSet:         {3, 1},
	abi.ExportRemove:      {1, 1},
	abi.ExportList:        {1, 1},
	abi.ExportSetMetadata: {2, 1},
	abi.ExportUnlock:      {1, 1},
	abi.ExportLock:        {0, 1},
	abi.ExportSetPassword: {2, 1},
	abi.ExportTest:        {0, 1},
	abi.ExportUnregister:  {1, 1},
	abi.ExportCreate:      {3, 1},
	abi.ExportMembers:     {2, 1},
	abi.ExportBatch:       {1, 1},
}

// validExtensionName reports whether name is a manifest's extension name:
// lower-case letters, digits and hyphens, not starting with a hyphen (the
// regular expression ^[a-z0-9][a-z0-9-]*$, written out so that it is not
// compiled at every command's start).
func validExtensionName(name string) bool {
	for i, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && i > 0) {
			return false
		}
	}
	return name != ""
}

// interpretAll, set by InterpretAll, makes every Load interpret its module.
var interpretAll atomic.Bool

// InterpretAll makes every module loaded from now on in this process run in
// wazero's interpreter (Spec.Interpret), so that a package's tests — the
// hostile guests', the deadlines', the fuel's, the guests' memory — check
// that engine too: the sandbox's and the engine's TestMain call it under
// their test flag -interpret. Tests only: nothing else calls it.
func InterpretAll() { interpretAll.Store(true) }

// Load checks, compiles and starts an extension, and reads its manifest.
func (h *Host) Load(ctx context.Context, spec Spec) (*Module, error) {
	spec.Interpret = spec.Interpret || interpretAll.Load()
	sum := sha256.Sum256(spec.Wasm)
	if spec.SHA256 != "" {
		if got := hex.EncodeToString(sum[:]); got != strings.ToLower(spec.SHA256) {
			return nil, errorf(abi.PermissionDenied, "", "module sha256 "+got+" does not match the pin "+spec.SHA256)
		}
	}
	if spec.Memory == 0 {
		spec.Memory = abi.DefaultMemory
	}
	if spec.Timeout <= 0 {
		spec.Timeout = abi.DefaultTimeoutSec * time.Second
	}
	if spec.Instances <= 0 {
		spec.Instances = abi.DefaultInstances
	}
	rtKey := runtimeKeyOf(spec.Wasm, uint32(min(spec.Memory/65536, 65536)), spec.Interpret)
	r, err := h.runtimeFor(ctx, rtKey)
	if err != nil {
		return nil, err
	}
	key := compiledKey{sum: sum, memory: spec.Memory, interpret: spec.Interpret}
	compiled, err := h.compiledFor(ctx, r, key, func() ([]byte, error) {
		// wazero's CompileModule ignores ctx: the shape's limits are its budget.
		shape, err := parseShape(spec.Wasm)
		if err != nil {
			return nil, errorf(abi.InvalidArgument, "", "module refused before compiling: "+err.Error())
		}
		wasm, err := instrument(spec.Wasm, shape, spec.Memory)
		if err != nil {
			return nil, errorf(abi.InvalidArgument, "", "module refused before compiling: "+err.Error())
		}
		return wasm, nil
	})
	if err != nil {
		return nil, err
	}
	m := &Module{spec: spec, host: h, compiled: compiled, key: key, rtKey: rtKey, timeout: spec.Timeout, ops: map[abi.Op]bool{}, kdfTurn: make(chan struct{}, 1)}
	if err := m.validate(r); err != nil {
		h.releaseCompiled(ctx, key)
		return nil, err
	}
	if m.params, err = abi.AppendParams(nil, spec.Params); err != nil {
		h.releaseCompiled(ctx, key)
		return nil, errorf(abi.InvalidArgument, "", "vault parameters: "+err.Error())
	}
	m.recycle = uint32(min(spec.Memory/2, 32<<20))
	if spec.Dir != "" {
		if m.dir, err = openDir(spec.Dir); err != nil {
			h.releaseCompiled(ctx, key)
			return nil, errorf(abi.Unavailable, "", "granted directory: "+err.Error())
		}
	}
	if spec.HTTP != nil {
		if m.http, err = newHTTPClient(spec.HTTP); err != nil {
			m.closeDir()
			compiled.Close(ctx)
			return nil, err
		}
	}
	m.config = m.moduleConfig()
	m.pool = newPool(spec.Instances)
	m.keys.vault, m.keys.logger = spec.Vault, h.logger
	m.keyring.keys = &m.keys
	m.keyring.forgot = func() { m.pool.drain(context.Background()) }
	if err := m.readManifest(ctx); err != nil {
		m.Close(ctx)
		return nil, err
	}
	h.track(m)
	return m, nil
}

// validate checks the compiled module against SPEC.md §2 and §4 and names
// everything that is wrong.
func (m *Module) validate(r *runtime) error {
	var problems []string
	exports := m.compiled.ExportedFunctions()
	for _, name := range []string{abi.Marker, abi.ExportManifest} {
		if _, ok := exports[name]; !ok {
			problems = append(problems, "missing export "+name)
		}
	}
	if _, ok := m.compiled.ExportedMemories()["memory"]; !ok {
		problems = append(problems, `missing memory export "memory"`)
	}
	for name, want := range exportTypes {
		def, ok := exports[name]
		if !ok {
			continue
		}
		p, res := def.ParamTypes(), def.ResultTypes()
		if len(p) != want.params || len(res) != want.results || !allI32(p) || !allI32(res) {
			problems = append(problems, "export "+name+" has the wrong signature")
		}
	}
	problems = append(problems, r.importProblems(m.compiled, m.spec.Wasm)...)
	if len(problems) > 0 {
		sort.Strings(problems)
		return errorf(abi.InvalidArgument, "", "module does not follow sesame ABI v1: "+strings.Join(problems, "; "))
	}
	for _, op := range abi.Ops() {
		if _, ok := exports[op.Export()]; ok {
			m.ops[op] = true
		}
	}
	_, m.hasInit = exports[abi.ExportInit]
	_, m.hasBatch = exports[abi.ExportBatch]
	return nil
}

// importProblems checks each import against the host modules: a known
// name, the kind (host functions only; a module's memory is its own) and
// the host function's signature. Names the host does not know are the
// guest's text, made printable. wazero would find a mismatch only as the
// first instance starts, reported as a trap in _initialize; named here, the
// author sees which import is wrong and what it should be.
func (r *runtime) importProblems(compiled wazero.CompiledModule, wasm []byte) []string {
	var problems []string
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if !r.allowedImport(mod, name) {
			problems = append(problems, "imports unknown function "+printable([]byte(mod+"."+name)))
			continue
		}
		want := r.imports[mod][name]
		if !slices.Equal(def.ParamTypes(), want.ParamTypes()) || !slices.Equal(def.ResultTypes(), want.ResultTypes()) {
			problems = append(problems, "imports "+mod+"."+name+" as "+signature(def)+", want "+signature(want))
		}
	}
	if len(compiled.ImportedMemories()) > 0 {
		problems = append(problems, "imports a memory")
	}
	for _, im := range wasmImports(wasm) {
		if im.kind == importFunc || im.kind == importMemory {
			continue
		}
		if r.allowedImport(im.module, im.name) {
			problems = append(problems, "imports "+im.module+"."+im.name+" as "+kindName(im.kind)+", want "+signature(r.imports[im.module][im.name]))
		} else {
			problems = append(problems, "imports "+kindName(im.kind)+" "+printable([]byte(im.module+"."+im.name))+"; only host functions can be imported")
		}
	}
	return problems
}

// signature writes a function type as a WAT import declares it:
// (func (param i32 i32) (result i32)).
func signature(def api.FunctionDefinition) string {
	s := "(func"
	for _, part := range []struct {
		word  string
		types []api.ValueType
	}{{"param", def.ParamTypes()}, {"result", def.ResultTypes()}} {
		if len(part.types) == 0 {
			continue
		}
		s += " (" + part.word
		for _, t := range part.types {
			s += " " + api.ValueTypeName(t)
		}
		s += ")"
	}
	return s + ")"
}

func allI32(ts []api.ValueType) bool {
	for _, t := range ts {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}

// maxSleep caps one guest sleep so that a deadline can interrupt it.
const maxSleep = 10 * time.Millisecond

func (m *Module) moduleConfig() wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // the host calls _initialize itself (instance.go)
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithNanosleep(func(ns int64) { time.Sleep(min(time.Duration(ns), maxSleep)) }).
		WithStdout(io.Discard).
		WithStdin(bytes.NewReader(nil))
	if testonly.Faked() {
		// Tests only (internal/testonly): the guest's clocks follow the
		// fake clock, and its sleeps move it instead of waiting.
		cfg = cfg.WithWalltime(func() (int64, int32) { t := testonly.Now(); return t.Unix(), int32(t.Nanosecond()) }, 1).
			WithNanotime(func() int64 { return testonly.Now().UnixNano() }, 1).
			WithNanosleep(func(ns int64) { testonly.Sleep(time.Duration(ns)) })
	}
	keys := make([]string, 0, len(m.spec.Env))
	for k := range m.spec.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cfg = cfg.WithEnv(k, m.spec.Env[k])
	}
	if m.dir != nil {
		var dir experimentalsys.FS = m.dir
		if m.spec.ReadOnly {
			dir = readOnlyFS{&sysfs.ReadFS{FS: dir}}
		}
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(dir, "/data"))
	}
	return cfg
}

// readManifest calls sesame_manifest once and checks the result.
func (m *Module) readManifest(ctx context.Context) error {
	out, err := m.call(ctx, abi.ExportManifest, nil)
	if err != nil {
		return err
	}
	mf, err := parseManifest(out, m.granted)
	if err != nil {
		return err
	}
	// The instance that answered starts now, so that a vault whose
	// parameters its init refuses is refused at load.
	in, err := m.instance(ctx, m.limit(abi.ExportInit), abi.ExportInit)
	if err != nil {
		return err
	}
	err = m.initialize(ctx, in)
	m.pool.put(ctx, in, err == nil)
	if err != nil {
		return err
	}
	if mf.Operations != nil {
		listed := map[abi.Op]bool{}
		for _, op := range mf.Operations {
			listed[op] = true
		}
		for op := range m.ops {
			m.ops[op] = listed[op]
		}
	}
	mf.Description, mf.Version = printable([]byte(mf.Description)), printable([]byte(mf.Version))
	m.manifest = mf
	return nil
}

// parseManifest decodes and checks the bytes a guest's sesame_manifest
// returned; granted reports whether vaults.toml gives a grant.
func parseManifest(out []byte, granted func(string) bool) (abi.Manifest, error) {
	if len(out) > abi.MaxManifestBytes {
		return abi.Manifest{}, errorf(abi.TooLarge, abi.ExportManifest, "manifest larger than 16 KiB")
	}
	var mf abi.Manifest
	if err := json.Unmarshal(out, &mf); err != nil {
		return abi.Manifest{}, errorf(abi.InvalidArgument, abi.ExportManifest, "manifest is not valid JSON: "+err.Error())
	}
	var problems []string
	if mf.ABI != abi.Version {
		problems = append(problems, fmt.Sprintf("abi is %d, want %d", mf.ABI, abi.Version))
	}
	if !validExtensionName(mf.Name) {
		problems = append(problems, "name "+quote(mf.Name)+" is not of the form [a-z0-9][a-z0-9-]*")
	}
	if mf.Version == "" {
		problems = append(problems, "version is empty")
	}
	var missing []string
	for _, g := range mf.Grants {
		if !granted(g) {
			problems = append(problems, "needs grant "+quote(g)+", which vaults.toml does not give")
			missing = append(missing, g)
		}
	}
	if len(problems) > 0 {
		err := errorf(abi.InvalidArgument, abi.ExportManifest, "manifest: "+strings.Join(problems, "; "))
		err.Grants = missing
		return abi.Manifest{}, err
	}
	return mf, nil
}

func (m *Module) granted(g string) bool {
	switch g {
	case abi.GrantStorage:
		return m.spec.Storage != nil
	case abi.GrantDirectory:
		return m.spec.Dir != ""
	case abi.GrantEnv:
		return m.spec.Env != nil
	case abi.GrantHTTP:
		return m.spec.HTTP != nil

	case abi.GrantIdentity:
		return m.spec.Identity != nil
	}
	return false
}

// writableDir is the granted folder if the vault may change it, else nil.
func (m *Module) writableDir() *rootFS {
	if m.spec.ReadOnly {
		return nil
	}
	return m.dir
}

func (m *Module) closeDir() {
	if m.dir != nil {
		m.dir.root.Close()
	}
}

// MemoryGrant returns the bytes of linear memory each instance is granted:
// the measure of what the host lets the extension make it allocate.
func (m *Module) MemoryGrant() uint64 { return m.spec.Memory }

// Manifest returns what the extension declared.
func (m *Module) Manifest() abi.Manifest { return m.manifest }

// Supports reports whether the extension implements op.
func (m *Module) Supports(op abi.Op) bool { return m.ops[op] }

// Call runs the export of op with args and returns its output. After a
// lock every key the vault holds behind a handle is wiped and the module's
// instances are discarded (their memory zeroed), so that what the vault
// held in its own memory is forgotten with its keyring.
func (m *Module) Call(ctx context.Context, op abi.Op, args ...[]byte) ([]byte, error) {
	if !m.ops[op] {
		return nil, errorf(abi.Unsupported, op.Export(), "the extension does not implement "+string(op))
	}
	if m.closed.Load() {
		return nil, errClosed(op.Export())
	}
	out, err := m.call(ctx, op.Export(), args)
	if op == abi.OpLock && err == nil {
		m.keys.wipe()
		m.pool.drain(ctx)
	}
	return out, err
}

// Batch tells the vault that a batch of its calls begins or ends (phase
// abi.BatchBegin or abi.BatchEnd; SPEC.md §5.3, "Batches"), when it
// exports sesame_batch; ctx is the batch's, so that what the call writes is
// part of the batch. A vault that does not export it is not called.
func (m *Module) Batch(ctx context.Context, phase byte) error {
	if !m.hasBatch {
		return nil
	}
	if m.closed.Load() {
		return errClosed(abi.ExportBatch)
	}
	_, err := m.call(ctx, abi.ExportBatch, [][]byte{{phase}})
	return err
}

// Forget wipes every key the vault holds behind a handle (§5.8) and in its
// keyring (§5.7), and discards its idle instances, as a successful
// sesame_lock does. It is the lock of a vault that exports no sesame_lock,
// and reports whether the vault held a key.
func (m *Module) Forget(ctx context.Context) bool {
	held, _ := m.keyring.held()
	wiped := m.keys.wipe() // before the keyring's clear, which wipes the kept keys too
	m.keyring.clear()
	m.pool.drain(ctx)
	return held || wiped
}

// KeyHeld reports whether the vault holds a key in its keyring slot (it is
// unlocked, for a vault that locks with the keyring), and when that key
// expires (the zero time: never). The slot lives as long as m.
func (m *Module) KeyHeld() (bool, time.Time) { return m.keyring.held() }

// Close wipes the vault's keys and discards every instance, its use of the
// compiled module (closed with its last user) and the folder it was granted.
func (m *Module) Close(ctx context.Context) error {
	if m.closed.Swap(true) {
		return nil // closed already: its use of the compiled module is given back
	}
	m.host.untrack(m)
	m.keyring.clear()
	m.keys.free()
	if m.pool != nil {
		m.pool.close(ctx)
	}
	m.closeDir()
	if m.http != nil {
		m.http.close()
	}
	return m.host.releaseCompiled(ctx, m.key)
}
