package sandbox

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/secretstore/format"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestSecretStoreKeysNotInGuestMemory is TestNoKeyBytesInGuestMemory for
// the built-in secretstore: after its first unlock (which sets the
// password: Argon2id, a new master key, its wrap, two subkeys), a set and
// a get, the instance's memory holds the c/config it read but none of the
// store's keys, found natively from the password and c/config with package
// format, as an attacker with the password would. Both derive the password
// key cheaply (testonly.Argon2id): the derivation's cost is not the point.
func TestSecretStoreKeysNotInGuestMemory(t *testing.T) {
	testonly.UseCheapKDFFor(t)
	wasm, err := os.ReadFile(testwasm.Build(t, "extensions/secretstore"))
	if err != nil {
		t.Fatal(err)
	}
	st := &mapStore{m: map[string][]byte{}}
	m, err := keyHost(t, nil).Load(context.Background(), Spec{Vault: "Store", Wasm: wasm, Instances: 1, Storage: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	pw := []byte("a password")
	mustCall(t, m, abi.OpUnlock, pw)
	set(t, m, "a", "value of a, in clear in the guest")
	if v, s := get(t, m, "a"); s != abi.OK {
		t.Fatalf("get: %q %v", v, s)
	}

	c, err := format.ParseConfig(st.m[format.KeyConfig])
	if err != nil {
		t.Fatal(err)
	}
	kek := testonly.Argon2id(pw, c.Salt, c.KDF.Time, c.KDF.MemoryKiB, c.KDF.Threads, 32)
	master, err := c.Unwrap(kek)
	if err != nil {
		t.Fatal(err)
	}
	subkeys := master.Keys().Marshal()[format.StoreIDSize:]
	held := 0
	for i, k := range m.keys.slots {
		if k.handle != 0 && bytes.Contains(subkeys, m.keys.key(i)) {
			held++
		}
	}
	if held != 2 {
		t.Fatalf("the host holds %d of the two subkeys the test derived: the scan would prove nothing", held)
	}

	in := <-m.pool.idle
	mem, _ := in.mod.Memory().Read(0, in.mod.Memory().Size())
	m.pool.idle <- in
	// The vault wipes values after each call, but keeps the last c/config
	// it read, which is not secret.
	if !bytes.Contains(mem, st.m[format.KeyConfig]) {
		t.Fatal("the guest's memory does not hold the c/config it read: the scan would prove nothing")
	}
	for _, k := range []struct {
		what string
		key  []byte
	}{{"password key", kek}, {"master key", master.Key[:]}, {"record key", subkeys[:32]}, {"name key", subkeys[32:]}} {
		if bytes.Contains(mem, k.key[:16]) {
			t.Errorf("the %s is in the guest's memory", k.what)
		}
	}
}
