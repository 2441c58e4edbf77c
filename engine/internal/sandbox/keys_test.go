package sandbox

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// mapStore is a Storage in a map, for the keyvault guest.
type mapStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *mapStore) Get(_ context.Context, key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if !ok {
		return nil, abi.NotFound
	}
	return bytes.Clone(v), nil
}

func (s *mapStore) Set(_ context.Context, key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *mapStore) Add(ctx context.Context, key, value []byte) error { return s.Set(ctx, key, value) }

func (s *mapStore) Delete(_ context.Context, key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(key))
	return nil
}

func (s *mapStore) List(context.Context, []byte, []byte, int) ([][]byte, error) { return nil, nil }

// Scan returns the entries under prefix after after, in key order, as
// Storage asks (TestOptionalFromAssemblyScript pages through them).
func (s *mapStore) Scan(_ context.Context, prefix, after []byte, limit, maxBytes int) ([]abi.KV, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, string(prefix)) && k > string(after) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page []abi.KV
	n := 0
	for _, k := range keys {
		if n += len(k) + len(s.m[k]); len(page) == limit || len(page) > 0 && n > maxBytes {
			break
		}
		page = append(page, abi.KV{Key: []byte(k), Value: bytes.Clone(s.m[k])})
	}
	return page, nil
}

// records returns the storage keys of the secrets, sorted.
func (s *mapStore) records() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, "s/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// keyVault loads testdata/keyvault (a password vault on the host's keys)
// with one instance and params, and its storage.
func keyVault(t testing.TB, h *Host, name string, params map[string]string) (*Module, *mapStore) {
	t.Helper()
	wasm, err := os.ReadFile(testwasm.Build(t, "engine/internal/sandbox/testdata/keyvault"))
	if err != nil {
		t.Fatal(err)
	}
	st := &mapStore{m: map[string][]byte{}}
	m, err := h.Load(context.Background(), Spec{Vault: name, Wasm: wasm, Instances: 1, Storage: st, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, st
}

// keyHost is a Host with the compile cache of the external tests
// (sandbox_test.go), so that the Go guest compiles once.
func keyHost(t testing.TB, logger *slog.Logger) *Host {
	t.Helper()
	tmp := os.TempDir()
	h, err := NewHost(Config{Logger: logger, CacheDir: filepath.Join(tmp, "sesame-test-wazero-cache", "wazero"), CacheKey: filepath.Join(tmp, "sesame-test-wazero-cache.key")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// get returns the value of name, or the status of the error.
func get(t testing.TB, m *Module, name string) (string, abi.Status) {
	t.Helper()
	out, err := m.Call(context.Background(), abi.OpGet, []byte(name))
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			t.Fatalf("get %s: %v", name, err)
		}
		return "", se.Status
	}
	_, v, err := abi.DecodeSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(v.Data), abi.OK
}

func mustCall(t testing.TB, m *Module, op abi.Op, args ...[]byte) {
	t.Helper()
	if _, err := m.Call(context.Background(), op, args...); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func set(t testing.TB, m *Module, name, value string) {
	t.Helper()
	v, _ := abi.AppendValue(nil, abi.Value{Type: abi.TypeBytes, Data: []byte(value)})
	mustCall(t, m, abi.OpSet, []byte(name), v, nil)
}

// live counts the keys a table holds.
func (t *keyTable) live() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, k := range t.slots {
		if k.handle != 0 {
			n++
		}
	}
	return n
}

// keyMemZero reports whether the table's key memory holds only zeros.
func keyMemZero(t *keyTable, mem []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !bytes.ContainsFunc(mem, func(r rune) bool { return r != 0 })
}

// TestKeySealOpen: a value sealed under a kept key opens again in a later
// call; a record with one byte changed, or moved under another name (the
// name is its additional data), fails authentication: PERMISSION_DENIED,
// and no value.
func TestKeySealOpen(t *testing.T) {
	m, st := keyVault(t, keyHost(t, nil), "Keys", nil)
	mustCall(t, m, abi.OpUnlock, []byte("pw"))
	set(t, m, "a", "value of a")
	recA := st.records()
	set(t, m, "b", "value of b")
	if v, s := get(t, m, "a"); s != abi.OK || v != "value of a" {
		t.Fatalf("get a = %q, %v", v, s)
	}
	recs := st.records()
	if len(recs) != 2 || len(recA) != 1 {
		t.Fatalf("records %q", recs)
	}
	if recs[0] != recA[0] {
		recs[0], recs[1] = recs[1], recs[0] // recs[0] is a's
	}
	a, b := st.m[recs[0]], st.m[recs[1]]
	st.m[recs[0]], st.m[recs[1]] = b, a // each under the other's name
	for _, name := range []string{"a", "b"} {
		if v, s := get(t, m, name); s != abi.PermissionDenied {
			t.Errorf("get %s of a record moved from another name = %q, %v; want PERMISSION_DENIED", name, v, s)
		}
	}
	st.m[recs[0]], st.m[recs[1]] = a, b
	for i := range a {
		for _, bit := range []byte{0x01, 0x80} {
			a[i] ^= bit
			v, s := get(t, m, "a")
			a[i] ^= bit
			if s != abi.PermissionDenied {
				t.Fatalf("byte %d of %d changed: get = %q, %v; want PERMISSION_DENIED", i, len(a), v, s)
			}
		}
	}
	if v, s := get(t, m, "a"); s != abi.OK || v != "value of a" {
		t.Errorf("get a, restored = %q, %v", v, s)
	}

	mustCall(t, m, abi.OpLock)
	_, err := m.Call(context.Background(), abi.OpUnlock, []byte("wrong"))
	var se *Error
	if !errors.As(err, &se) || se.Status != abi.Locked {
		t.Errorf("unlock with a wrong password: %v, want LOCKED (the unwrap fails)", err)
	}
}

// TestKeyHandleOfAnotherVault: a handle is a number that means something
// to its own vault only. Vault A's record key handle, used by vault B, is
// refused, and B's own works.
func TestKeyHandleOfAnotherVault(t *testing.T) {
	h := keyHost(t, nil)
	a, _ := keyVault(t, h, "A", nil)
	b, _ := keyVault(t, h, "B", nil)
	mustCall(t, a, abi.OpUnlock, []byte("pw"))
	mustCall(t, b, abi.OpUnlock, []byte("pw"))
	ha, _ := get(t, a, "cmd handle")
	hb, _ := get(t, b, "cmd handle")
	if _, err := strconv.Atoi(ha); err != nil {
		t.Fatalf("A's handle: %q", ha)
	}
	if got, _ := get(t, b, "cmd seal "+ha); !strings.Contains(got, "invalid argument") && !strings.Contains(got, "not found") {
		t.Errorf("B sealing with A's handle %s: %q, want invalid argument or not found", ha, got)
	}
	if got, _ := get(t, b, "cmd seal "+hb); got != "ok" {
		t.Errorf("B sealing with its own handle %s: %q", hb, got)
	}
	if got, _ := get(t, a, "cmd seal "+ha); got != "ok" {
		t.Errorf("A sealing with its own handle %s: %q", ha, got)
	}
}

// TestKeyHandleBounds: a vault holds at most abi.KeyHandles keys. The keys
// a call makes go when it ends; kept keys stay and count.
func TestKeyHandleBounds(t *testing.T) {
	m, _ := keyVault(t, keyHost(t, nil), "Bounds", map[string]string{"lock": "noop"})
	n := strconv.Itoa(abi.KeyHandles)
	for _, c := range []struct{ cmd, want string }{
		{"cmd many " + n, "ok"},
		{"cmd many " + n, "ok"}, // the first call's keys are gone
		{"cmd many " + strconv.Itoa(abi.KeyHandles+1), "sesame_v1.key_generate: too large"},
		{"cmd keep " + n, "ok"},
		{"cmd many 1", "sesame_v1.key_generate: too large"},
	} {
		if got, _ := get(t, m, c.cmd); got != c.want {
			t.Errorf("%s: %q, want %q", c.cmd, got, c.want)
		}
	}
	mustCall(t, m, abi.OpLock) // the guest does nothing: the host wipes them
	if got, _ := get(t, m, "cmd many 1"); got != "ok" || m.keys.live() != 0 {
		t.Errorf("after a lock: %q, %d keys live", got, m.keys.live())
	}
}

// unlocked loads a keyvault, unlocks it and sets a secret, and returns it
// with a copy of what its key memory held (not all zeros) and the memory
// itself.
func unlocked(t *testing.T, h *Host, params map[string]string) (*Module, []byte) {
	t.Helper()
	m, _ := keyVault(t, h, "Unlocked", params)
	mustCall(t, m, abi.OpUnlock, []byte("pw"))
	set(t, m, "a", "value of a")
	if m.keys.live() != 2 || keyMemZero(&m.keys, m.keys.mem) {
		t.Fatalf("%d keys kept after unlock, want 2", m.keys.live())
	}
	return m, m.keys.mem
}

// TestKeysWipedOnLock: a successful lock wipes every key, whatever the
// guest does in it, and the handles stop working.
func TestKeysWipedOnLock(t *testing.T) {
	for _, lock := range []string{"clear", "noop"} {
		t.Run(lock, func(t *testing.T) {
			m, mem := unlocked(t, keyHost(t, nil), map[string]string{"lock": lock})
			handle, _ := get(t, m, "cmd handle")
			mustCall(t, m, abi.OpLock)
			if m.keys.live() != 0 || !keyMemZero(&m.keys, mem) {
				t.Error("the keys survived the lock")
			}
			if got, _ := get(t, m, "cmd seal "+handle); got != "sesame_v1.key_seal: not found" {
				t.Errorf("sealing with a handle of before the lock: %q", got)
			}
		})
	}
}

// heapKeys makes the key memory of the tables loaded during the test Go
// memory that outlives its unmapping, so that a test can look at it after
// a close.
func heapKeys(t *testing.T) {
	t.Cleanup(func() { mapKeys = mapKeyMemory })
	mapKeys = func(n int) ([]byte, func(), string) { return make([]byte, n), func() {}, "" }
}

// TestKeysWipedOnClose: closing a vault wipes its keys and gives the
// memory back.
func TestKeysWipedOnClose(t *testing.T) {
	heapKeys(t)
	m, mem := unlocked(t, keyHost(t, nil), nil)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.keys.mem != nil || !keyMemZero(&m.keys, mem) {
		t.Error("the keys survived the close")
	}
}

// TestKeysWipedOnForget: the host's Forget wipes every key of every vault
// and makes no new one.
func TestKeysWipedOnForget(t *testing.T) {
	h := keyHost(t, nil)
	m, mem := unlocked(t, h, nil)
	h.Forget()
	if m.keys.live() != 0 || !keyMemZero(&m.keys, mem) {
		t.Error("the keys survived Forget")
	}
	if got, _ := get(t, m, "cmd many 1"); got != "sesame_v1.key_generate: unavailable" {
		t.Errorf("a key made after Forget: %q", got)
	}
}

// TestKeysWipedOnTimer: kept keys go with the keyring when its time to
// live runs out, by its timer, with no call to notice: the key memory is
// zero and the handle is stale before any further call.
func TestKeysWipedOnTimer(t *testing.T) {
	m, _ := keyVault(t, keyHost(t, nil), "Timeout", map[string]string{"ttl_ms": "1"})
	mustCall(t, m, abi.OpUnlock, []byte("pw"))
	// The expiry discards the instance, which gives its place in the pool
	// back: taking it waits for that, with no further call.
	select {
	case m.pool.slots <- struct{}{}:
		<-m.pool.slots
	case <-time.After(time.Minute):
		t.Fatal("the vault's instance outlived its 1 ms keyring by a minute")
	}
	if m.keys.live() != 0 || !keyMemZero(&m.keys, m.keys.mem) {
		t.Error("the kept keys outlived the keyring's time to live")
	}
	if _, s := get(t, m, "a"); s != abi.Locked {
		t.Errorf("get after the timeout: %v, want LOCKED", s)
	}
}

// TestKeyringSetReplacesKeptKeys: a later unlock's keyring_set wipes the
// keys kept by the earlier one, so that unlocking again and again does not
// fill the vault's handles. Each unlock derives its key cheaply: the 64
// derivations are not what the test checks.
func TestKeyringSetReplacesKeptKeys(t *testing.T) {
	testonly.UseCheapKDFFor(t)
	m, _ := keyVault(t, keyHost(t, nil), "Again", nil)
	for range abi.KeyHandles {
		mustCall(t, m, abi.OpUnlock, []byte("pw"))
	}
	if n := m.keys.live(); n != 2 {
		t.Errorf("%d keys live after %d unlocks, want the last 2", n, abi.KeyHandles)
	}
}

// TestNoKeyBytesInGuestMemory: after an unlock (Argon2id, unwrap, two
// subkeys), a set and a get, the guest's memory holds the value it handled
// but none of the four keys. The test finds them as an attacker with the
// password would: Argon2id of it, the master key unwrapped from storage,
// HKDF of that; and checks them against what the host holds.
func TestNoKeyBytesInGuestMemory(t *testing.T) {
	m, st := keyVault(t, keyHost(t, nil), "Scan", nil)
	mustCall(t, m, abi.OpUnlock, []byte("pw"))
	set(t, m, "a", "value of a, in clear in the guest")
	if v, s := get(t, m, "a"); s != abi.OK {
		t.Fatalf("get: %q %v", v, s)
	}
	salt := []byte("keyvault-salt-16")
	pk := argon2.IDKey([]byte("pw"), salt, 1, 8<<10, 1, 32)
	wrapped := st.m["c/key"]
	master := make([]byte, len(wrapped)-abi.KeyOverhead)
	if !openBox(master, pk, wrapped, []byte("keyvault master key")) {
		t.Fatal("the stored master key does not open under the password's key")
	}
	rec, name := make([]byte, 32), make([]byte, 32)
	hkdfSHA256(rec, master, salt, []byte("record key"))
	hkdfSHA256(name, master, salt, []byte("name key"))
	var held [][]byte
	for i, k := range m.keys.slots {
		if k.handle != 0 {
			held = append(held, m.keys.key(i))
		}
	}
	if !slices.ContainsFunc(held, func(k []byte) bool { return bytes.Equal(k, rec) }) ||
		!slices.ContainsFunc(held, func(k []byte) bool { return bytes.Equal(k, name) }) {
		t.Fatal("the host does not hold the subkeys the test derived: the scan would prove nothing")
	}

	in := <-m.pool.idle
	mem, _ := in.mod.Memory().Read(0, in.mod.Memory().Size())
	m.pool.idle <- in
	if !bytes.Contains(mem, []byte("value of a, in clear in the guest")) {
		t.Fatal("the guest's memory does not hold the value it handled: the scan would prove nothing")
	}
	for _, k := range []struct {
		what string
		key  []byte
	}{{"password key", pk}, {"master key", master}, {"record key", rec}, {"name key", name}} {
		if bytes.Contains(mem, k.key[:16]) {
			t.Errorf("the %s is in the guest's memory", k.what)
		}
	}
}

// TestKeyPrimitivesMatchReference checks the wipeable primitives of
// keycrypto.go against the implementations the world uses: x/crypto's
// XChaCha20-Poly1305, crypto/hmac and crypto/hkdf.
func TestKeyPrimitivesMatchReference(t *testing.T) {
	key, nonce := make([]byte, 32), make([]byte, 24)
	for n := range 300 {
		rand.Read(key)
		rand.Read(nonce)
		plain, ad := make([]byte, n), make([]byte, n%37)
		rand.Read(plain)
		rand.Read(ad)
		ref, _ := chacha20poly1305.NewX(key)
		box := sealBox(nil, key, nonce, plain, ad)
		if want := append(bytes.Clone(nonce), ref.Seal(nil, nonce, plain, ad)...); !bytes.Equal(box, want) {
			t.Fatalf("sealBox of %d bytes differs from chacha20poly1305.NewX", n)
		}
		out := make([]byte, n)
		if !openBox(out, key, box, ad) || !bytes.Equal(out, plain) {
			t.Fatalf("openBox of %d bytes", n)
		}
		box[n%len(box)] ^= 1
		if openBox(out, key, box, ad) {
			t.Fatalf("openBox accepted a changed box of %d bytes", n)
		}
	}
	for n := abi.KeyMinBytes; n <= abi.KeyMaxBytes; n++ {
		k := make([]byte, n)
		rand.Read(k)
		mac := hmac.New(sha256.New, k)
		mac.Write([]byte("name"))
		if got := hmacSHA256(nil, k, []byte("na"), []byte("me")); !bytes.Equal(got, mac.Sum(nil)) {
			t.Fatalf("hmacSHA256 with a key of %d bytes", n)
		}
		for _, salt := range [][]byte{nil, k[:16], bytes.Repeat(k, 3)} {
			want, err := hkdf.Key(sha256.New, k, salt, "info", n)
			got := make([]byte, n)
			hkdfSHA256(got, k, salt, []byte("info"))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("hkdfSHA256 of %d bytes, salt of %d: %v", n, len(salt), err)
			}
		}
	}
}

// TestKeyHandleNumbers: handles count up from a random start, and one
// released or never given is refused as such.
func TestKeyHandleNumbers(t *testing.T) {
	var tb keyTable
	tb.logger = slog.New(slog.DiscardHandler)
	t.Cleanup(tb.free)
	gen := func(dst []byte) abi.Status { rand.Read(dst); return abi.OK }
	a, s := tb.create(1, 32, gen)
	b, _ := tb.create(1, 32, gen)
	if s != abi.OK || b != a+1 || a < 1 || a > 1<<30+1 {
		t.Fatalf("handles %d, %d (%v)", a, b, s)
	}
	if s := tb.release(a); s != abi.OK {
		t.Fatal(s)
	}
	for _, c := range []struct {
		h    uint32
		want abi.Status
	}{{a, abi.NotFound}, {b, abi.OK}, {b + 1, abi.InvalidArgument}, {a - 1, abi.InvalidArgument}, {0, abi.InvalidArgument}, {1 << 31, abi.InvalidArgument}} {
		if s := tb.use(c.h, func([]byte) abi.Status { return abi.OK }); s != c.want {
			t.Errorf("handle %d: %v, want %v", c.h, s, c.want)
		}
	}
}

// buildC compiles the C vault at path (relative to the module root) with
// sesame.h and testwasm.CFlags, as `make extensions` builds the C
// extensions.
func buildC(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(testwasm.Build(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeysFromC: sesame.h declares every key function with the host's
// signature (the module loads), and a C vault gets each one's documented
// answers; of the keys it made only the one it kept outlives the call.
func TestKeysFromC(t *testing.T) {
	m, err := keyHost(t, nil).Load(context.Background(), Spec{Vault: "C", Wasm: buildC(t, "engine/internal/sandbox/testdata/keys.c")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if _, err := m.Call(context.Background(), abi.OpGet, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := m.keys.live(); n != 1 {
		t.Errorf("%d keys live after the call, want the one it kept", n)
	}
}

// TestKeysFromAssemblyScript: the bindings of examples/as-vault declare
// every key function with the host's signature, and an AssemblyScript
// vault gets each one's documented answers.
func TestKeysFromAssemblyScript(t *testing.T) {
	m, err := keyHost(t, nil).Load(context.Background(), Spec{Vault: "AS", Wasm: testwasm.AssemblyScript(t, "engine/internal/sandbox/testdata/keys.ts")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if _, err := m.Call(context.Background(), abi.OpGet, []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUnlocksKeepTheLastKeys: two unlocks at once, in two
// instances, each keep their keys and set the keyring. Whichever sets it
// last, the keys its bytes name are alive (the first set must not wipe
// the keys of a call still running), and the loser's keys go with the
// next set that follows its end.
func TestConcurrentUnlocksKeepTheLastKeys(t *testing.T) {
	for _, last := range []uint64{1, 2} {
		var kr keyring
		kr.keys = &keyTable{logger: slog.New(slog.DiscardHandler)}
		t.Cleanup(kr.keys.free)
		gen := func(dst []byte) abi.Status { rand.Read(dst); return abi.OK }
		keys := map[uint64]uint32{}
		for _, call := range []uint64{1, 2} {
			kr.keys.begin(call)
			keys[call], _ = kr.keys.create(call, 32, gen)
			kr.keys.keep(call, keys[call])
		}
		first := 3 - last
		kr.set([]byte{1}, 0, first)
		kr.keys.endCall(first)
		kr.set([]byte{2}, 0, last)
		kr.keys.endCall(last)
		alive := func(h uint32) bool { return kr.keys.use(h, func([]byte) abi.Status { return abi.OK }) == abi.OK }
		if !alive(keys[last]) || alive(keys[first]) {
			t.Errorf("call %d set the keyring last: its key alive %v (want true), call %d's alive %v (want false)",
				last, alive(keys[last]), first, alive(keys[first]))
		}
	}
}

// TestKeyDeriveKeepsExtract: key_hkdf's subkeys are HKDF-SHA256's
// (crypto/hkdf) whether their salt is the one of the derivation before,
// whose extract the parent key's room keeps, or another; a parent of 64
// bytes has no room for it and derives the same. The extract goes with its
// key: once the calls' keys are wiped and a lock wipes the kept parent,
// the key memory is zero again.
func TestKeyDeriveKeepsExtract(t *testing.T) {
	tab := &keyTable{vault: "V", logger: slog.Default()}
	defer tab.free()
	for call, n := range map[uint64]int{1: 32, 2: 64} {
		parent := make([]byte, n)
		rand.Read(parent)
		p, s := tab.create(call, n, func(dst []byte) abi.Status { copy(dst, parent); return abi.OK })
		if s != abi.OK {
			t.Fatal(s)
		}
		for _, d := range []struct{ salt, info string }{{"id-1", "record"}, {"id-1", "name"}, {"id-2", "name"}, {"", "manifest"}, {"id-1", "name"}} {
			h, s := tab.derive(call, 32, p, []byte(d.salt), []byte(d.info))
			want, err := hkdf.Key(sha256.New, parent, []byte(d.salt), d.info, 32)
			if s != abi.OK || err != nil {
				t.Fatal(s, err)
			}
			if got := keyBytes(tab, h); !bytes.Equal(got, want) {
				t.Fatalf("parent of %d bytes, salt %q, info %q: derived %x, want %x", n, d.salt, d.info, got, want)
			}
			prk, _ := hkdf.Extract(sha256.New, parent, []byte(d.salt))
			if kept := room(tab, p)[n:]; n == 32 && !bytes.Equal(kept, prk) {
				t.Fatalf("salt %q: the parent's room keeps %x after it, want the extract %x", d.salt, kept, prk)
			}
		}
		if s := tab.keep(call, p); s != abi.OK {
			t.Fatal(s)
		}
		tab.endCall(call)
		if tab.live() != 1 {
			t.Fatalf("%d keys after the call, want the kept parent", tab.live())
		}
		tab.wipeKept() // a lock
		if !keyMemZero(tab, tab.mem) {
			t.Fatalf("parent of %d bytes: key memory not zero once every key is wiped", n)
		}
	}
}

// keyBytes returns a copy of key h of tab.
func keyBytes(tab *keyTable, h uint32) []byte {
	var out []byte
	tab.use(h, func(k []byte) abi.Status { out = bytes.Clone(k); return abi.OK })
	return out
}

// room returns a copy of the whole room of key h in tab's key memory.
func room(tab *keyTable, h uint32) []byte {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	i, _ := tab.find(h)
	return bytes.Clone(tab.mem[i*keyStride : (i+1)*keyStride])
}
