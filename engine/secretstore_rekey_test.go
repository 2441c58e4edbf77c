package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/secretstore/format"
)

// ssFilled is a store of every value type with metadata, closed: its
// environment and values.
func ssFilled(t *testing.T, params string) (*ssEnv, map[string]any) {
	t.Helper()
	env := newSSEnv(t, params)
	e := env.open(t)
	if params == ssPassword {
		ssUnlock(t, e, ssPass)
	}
	values := ssValues("k")
	for name, v := range values {
		ssSet(t, e, name, v, engine.Metadata{"m": "x"})
	}
	e.Close()
	return env, values
}

// ssSame checks that every value and its metadata is as stored.
func ssSame(t *testing.T, e *engine.Engine, values map[string]any) {
	t.Helper()
	for name, v := range values {
		if s := ssGet(t, e, name); !reflect.DeepEqual(s.Value, v) || s.Metadata["m"] != "x" {
			t.Errorf("%s: %#v %v", name, s.Value, s.Metadata)
		}
	}
}

// TestSecretStorePlantedKey: someone with write access to the file deletes
// the key record of a store that holds secrets, or replaces it with a key
// record of a key they know. The vault never adopts such a key, nor makes
// a new one beside the records: it refuses, and writes nothing. (Before,
// the next unlock wrapped the planted key under the user's password, and
// every later secret was sealed under a key the attacker held.)
func TestSecretStorePlantedKey(t *testing.T) {
	t.Parallel()
	attacker := format.NewMaster()
	plant := func(t *testing.T, env *ssEnv) {
		ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
			if err := data.Delete([]byte(format.KeyConfig)); err != nil {
				return err
			}
			return data.Put([]byte(format.KeyMaster), attacker.MarshalKeyRecord(1))
		})
	}
	t.Run("password", func(t *testing.T) {
		env, _ := ssFilled(t, ssPassword)
		plant(t, env)
		before := ssRecords(t, env.dbPath())
		e := env.open(t)
		if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(ssPass)}); err == nil {
			t.Error("unlock adopted a planted c/key")
		}
		err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, New: bytes.Clone(ssPass)})
		if err == nil || !strings.Contains(err.Error(), "tampered") {
			t.Errorf("set-password over a planted c/key: %v, want a refusal naming tampering", err)
		}
		e.Close()
		if after := ssRecords(t, env.dbPath()); !maps.EqualFunc(before, after, bytes.Equal) {
			t.Error("the store changed")
		}
	})
	t.Run("password-deleted", func(t *testing.T) {
		env, _ := ssFilled(t, ssPassword)
		ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error { return data.Delete([]byte(format.KeyConfig)) })
		before := ssRecords(t, env.dbPath())
		e := env.open(t)
		err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: bytes.Clone(ssPass)})
		if err == nil || !strings.Contains(err.Error(), "tampered") {
			t.Errorf("unlock of a store whose c/config was deleted: %v, want a refusal naming tampering", err)
		}
		if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, New: bytes.Clone(ssPass)}); err == nil {
			t.Error("set-password gave a new key to a store whose c/config was deleted")
		}
		e.Close()
		if after := ssRecords(t, env.dbPath()); !maps.EqualFunc(before, after, bytes.Equal) {
			t.Error("the store changed")
		}
	})
	t.Run("none-deleted", func(t *testing.T) {
		env, _ := ssFilled(t, ssNone)
		ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error { return data.Delete([]byte(format.KeyMaster)) })
		before := ssRecords(t, env.dbPath())
		e := env.open(t)
		_, err := e.Set(ctx, engine.SetRequest{Name: "new", Value: "v", Vault: ssVault})
		if err == nil || !strings.Contains(err.Error(), "tampered") {
			t.Errorf("set in a store whose c/key was deleted: %v, want a refusal naming tampering", err)
		}
		e.Close()
		if after := ssRecords(t, env.dbPath()); !maps.EqualFunc(before, after, bytes.Equal) {
			t.Error("the store changed")
		}
	})
}

// TestSecretStoreRekey: a rekey gives the store a new master key and store
// id, every secret kept with its type and metadata and re-encrypted in one
// transaction, and the file compacted so that its bytes hold nothing of
// the old key; the password stays. A wrong password, or a record that does
// not open, changes nothing.
func TestSecretStoreRekey(t *testing.T) {
	t.Parallel()
	t.Run("password", func(t *testing.T) {
		env, values := ssFilled(t, ssPassword)
		old := ssMaster(t, env.dbPath(), ssPass)
		before := ssRecords(t, env.dbPath())
		e := env.open(t)
		if err := e.Rekey(ctx, engine.RekeyRequest{Vault: ssVault, Password: bytes.Clone(ssPass2)}); !errors.Is(err, engine.ErrLocked) {
			t.Fatalf("rekey with a wrong password: %v, want ErrLocked", err)
		}
		if after := ssRecords(t, env.dbPath()); !maps.EqualFunc(before, after, bytes.Equal) {
			t.Fatal("a rekey with a wrong password changed the store")
		}
		if err := e.Rekey(ctx, engine.RekeyRequest{Vault: ssVault, Password: bytes.Clone(ssPass)}); err != nil {
			t.Fatalf("rekey: %v", err)
		}
		ssSame(t, e, values) // unlocked with the new keys
		e.Close()
		ssOldKeyGone(t, env.dbPath(), old, ssPass, before)
		e = env.open(t)
		ssUnlock(t, e, ssPass)
		ssSame(t, e, values)
	})
	t.Run("none", func(t *testing.T) {
		env, values := ssFilled(t, ssNone)
		old, before := ssMaster(t, env.dbPath(), nil), ssRecords(t, env.dbPath())
		e := env.open(t)
		if err := e.Rekey(ctx, engine.RekeyRequest{Vault: ssVault}); err != nil {
			t.Fatalf("rekey: %v", err)
		}
		ssSame(t, e, values)
		e.Close()
		ssOldKeyGone(t, env.dbPath(), old, nil, before)
		ssSame(t, env.open(t), values)
	})
	// A record changed in place (its tag kept: only opening it finds it) or
	// replaced (the manifest finds it).
	for _, at := range []int{20, 1} {
		t.Run(fmt.Sprintf("tampered-%d", at), func(t *testing.T) {
			env, _ := ssFilled(t, ssNone)
			k := ssMaster(t, env.dbPath(), nil).Keys()
			ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
				key := k.RecordKey("string-k")
				rec := bytes.Clone(data.Get(key))
				rec[len(rec)-at] ^= 1
				return data.Put(key, rec)
			})
			before := ssRecords(t, env.dbPath())
			e := env.open(t)
			err := e.Rekey(ctx, engine.RekeyRequest{Vault: ssVault})
			if err == nil || !strings.Contains(err.Error(), "tampered") || !strings.Contains(err.Error(), "record ") {
				t.Fatalf("rekey with a tampered record: %v, want a refusal naming the record", err)
			}
			e.Close()
			if after := ssRecords(t, env.dbPath()); !maps.EqualFunc(before, after, bytes.Equal) {
				t.Fatal("a refused rekey changed the store")
			}
		})
	}
}
