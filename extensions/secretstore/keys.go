//go:build wasip1

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/secretstore/format"
)

// Where the master key comes from:
//
//   - authentication = "none": the c/key record, read on every call.
//   - authentication = "password": the host keyring, which Unlock fills with
//     the store id and the subkeys (format.Keys.Marshal) for
//     password_timeout. Every call also reads c/config, and refuses a
//     keyring entry of another store id (a store replaced since the unlock).
//
// The store is created by the first write (none) or the first unlock
// (password), with kv_add: of several processes creating it at the same
// moment exactly one writes its record, and the others read and use the
// winner's.

// Errors with the messages users see. Locked states say what to do; the
// engine puts its own "vault is locked" before them.
var (
	errEmpty = errors.New("no store yet") // internal: reads find nothing

	errLocked       = guest.Error(abi.Locked, "unlock it with its password")
	errReplaced     = guest.Error(abi.Locked, "its store was replaced since the unlock; unlock it again")
	errNewPassword  = guest.Error(abi.Locked, "it has no password yet; unlock it with the password it should have")
	errMigrate      = guest.Error(abi.Locked, "it was created with authentication = none and has no password yet; unlock it with the password it should have (its secrets are kept)")
	errHasPassword  = guest.Error(abi.Locked, "its store has a password but its parameter authentication is \"none\"; unlock it with the password once to remove the password, or set authentication = \"password\"")
	errWrong        = guest.Error(abi.Locked, "wrong password")
	errNoPassword   = guest.Error(abi.InvalidArgument, "vault does not use a password (authentication = none)")
	errEmptyPass    = guest.Error(abi.InvalidArgument, "the password cannot be empty")
	errLongPass     = guest.Error(abi.InvalidArgument, "the password is longer than 1024 bytes")
	errOldRequired  = guest.Error(abi.Locked, "the current password is required to change it")
	errNoOldNeeded  = guest.Error(abi.InvalidArgument, "vault has no password yet: give an empty old password to set one")
	errStoreVanish  = guest.Error(abi.Unavailable, "the store's key record disappeared while it was being created; retry")
	errConcurrentPw = guest.Error(abi.Locked, "wrong password: another process set the vault's password at the same moment")
)

func corrupt(key string) error {
	return guest.Error(abi.Internal, "the store's "+key+" record is corrupt")
}

// kvGet reads key, reporting absence as ok == false rather than an error.
func kvGet(key string) (value []byte, ok bool, err error) {
	v, err := guest.KVGet([]byte(key))
	switch {
	case errors.Is(err, abi.NotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	return v, true, nil
}

// loadConfig reads c/config: nil without an error when there is none. raw
// is the record's bytes.
func loadConfig() (c *format.Config, raw []byte, err error) {
	raw, ok, err := kvGet(format.KeyConfig)
	if err != nil || !ok {
		return nil, nil, err
	}
	if c, err = format.ParseConfig(raw); err != nil {
		return nil, nil, corrupt(format.KeyConfig)
	}
	return c, raw, nil
}

// loadKeyRecord reads c/key: nil without an error when there is none.
func loadKeyRecord() (*format.Master, int64, error) {
	raw, ok, err := kvGet(format.KeyMaster)
	if err != nil || !ok {
		return nil, 0, err
	}
	m, created, err := format.ParseKeyRecord(raw)
	clear(raw)
	if err != nil {
		return nil, 0, corrupt(format.KeyMaster)
	}
	return m, created, nil
}

// keyRecord is loadKeyRecord without the creation time.
func keyRecord() (*format.Master, error) {
	m, _, err := loadKeyRecord()
	return m, err
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// storeKeys returns the store's subkeys for one call. With a password they
// come from the keyring, and the caller clears them. Without one they are
// derived from c/key and kept for the instance's next calls (the master key
// is on disk in the clear anyway, and HKDF costs ~0.2 ms in the sandbox).
func storeKeys(create bool) (*format.Keys, error) {
	if conf.auth == authPassword {
		return unlockedKeys()
	}
	m, err := noneMaster(create)
	if err != nil {
		return nil, err
	}
	defer m.Clear()
	if noneCache.keys == nil || !noneCache.master.Equal(m) {
		noneCache.keys.Clear()
		noneCache.master.Clear()
		noneCache.master = &format.Master{ID: m.ID, Key: m.Key}
		noneCache.keys = m.Keys()
	}
	return noneCache.keys, nil
}

// noneCache holds the subkeys of a store without a password, and the master
// they come from.
var noneCache struct {
	master *format.Master
	keys   *format.Keys
}

func noneMaster(create bool) (*format.Master, error) {
	m, err := keyRecord()
	if m != nil || err != nil {
		return m, err
	}
	switch c, _, err := loadConfig(); {
	case err != nil:
		return nil, err
	case c != nil:
		return nil, errHasPassword
	case !create:
		return nil, errEmpty
	}
	m = format.NewMaster()
	rec := m.MarshalKeyRecord(nowMillis())
	m.Clear()
	err = guest.KVAdd([]byte(format.KeyMaster), rec)
	clear(rec)
	if err != nil && !errors.Is(err, abi.Conflict) {
		return nil, err
	}
	// Ours, or (CONFLICT) the record of a creator that was first.
	if m, err = keyRecord(); m == nil && err == nil {
		err = errStoreVanish
	}
	return m, err
}

func unlockedKeys() (*format.Keys, error) {
	c, _, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if c == nil {
		if _, ok, err := kvGet(format.KeyMaster); err != nil {
			return nil, err
		} else if ok {
			return nil, errMigrate
		}
		return nil, errNewPassword
	}
	blob, err := guest.KeyringGet()
	switch {
	case errors.Is(err, abi.NotFound):
		return nil, errLocked
	case err != nil:
		return nil, err
	}
	k, err := format.ParseKeys(blob)
	clear(blob)
	if err != nil || k.ID() != c.ID {
		k.Clear()
		guest.KeyringClear()
		return nil, errReplaced
	}
	return k, nil
}

// remember puts the subkeys of m in the keyring for the password timeout.
func remember(m *format.Master) error {
	k := m.Keys()
	defer k.Clear()
	blob := k.Marshal()
	defer clear(blob)
	return guest.KeyringSet(blob, conf.ttl)
}

// kek derives the key-encryption key of password with c's parameters.
func kek(password, salt []byte, p format.KDFParams) ([]byte, error) {
	k, err := guest.KDFArgon2id(password, salt, p.Time, p.MemoryKiB, uint32(p.Threads), 32)
	if errors.Is(err, abi.InvalidArgument) {
		// The parameters come from c/config (or are ours): the host refuses
		// them only if the record was tampered with.
		return nil, corrupt(format.KeyConfig)
	}
	return k, err
}

// unwrap returns the master c keeps under password, or errWrong.
func unwrap(c *format.Config, password []byte) (*format.Master, error) {
	k, err := kek(password, c.Salt, c.KDF)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	m, err := c.Unwrap(k)
	if err != nil {
		return nil, errWrong
	}
	return m, nil
}

// wrap returns the c/config record that keeps m under password, with a new
// salt and the default parameters. created 0 stands for now, taken after the
// key derivation.
func wrap(m *format.Master, password []byte, created int64) ([]byte, error) {
	salt := format.NewSalt()
	k, err := kek(password, salt, format.DefaultKDF())
	if err != nil {
		return nil, err
	}
	defer clear(k)
	if created == 0 {
		created = nowMillis()
	}
	c, err := format.WrapMaster(m, k, format.DefaultKDF(), salt, created)
	if err != nil {
		return nil, err
	}
	return c.Marshal(), nil
}

func checkPassword(p []byte) error {
	switch {
	case len(p) == 0:
		return errEmptyPass
	case len(p) > guest.KDFMaxPassword:
		return errLongPass
	}
	return nil
}

// Unlock checks the password and keeps the master key in the keyring for
// the password timeout. The first unlock of a store without c/config sets
// the password: it creates the store, or wraps the master key of a store
// created with authentication = none and deletes c/key. A wrong password
// writes nothing.
func (vault) Unlock(password []byte) error {
	if conf.auth == authNone {
		return removePassword(password)
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	c, _, err := loadConfig()
	if err != nil {
		return err
	}
	var m *format.Master
	if c == nil {
		m, err = setFirstPassword(password)
	} else {
		m, err = unwrap(c, password)
	}
	if err != nil {
		return err
	}
	defer m.Clear()
	if err := remember(m); err != nil {
		return err
	}
	return dropKeyRecord(m)
}

// setFirstPassword creates c/config: around a new master key, or around the
// one in c/key (a store created without a password), which the caller then
// deletes. Of two processes doing so at once, the one that adds the record
// first wins; the other then unlocks the winner's record with its own
// password.
func setFirstPassword(password []byte) (*format.Master, error) {
	m, err := keyRecord()
	if err != nil {
		return nil, err
	}
	migrate := m != nil
	if !migrate {
		m = format.NewMaster()
	}
	defer m.Clear()
	rec, err := wrap(m, password, 0)
	if err != nil {
		return nil, err
	}
	// Created only if no other unlock created it meanwhile; on CONFLICT
	// the other one's record is read below.
	if err := guest.KVAdd([]byte(format.KeyConfig), rec); err != nil && !errors.Is(err, abi.Conflict) {
		return nil, err
	}
	c, raw, err := loadConfig()
	switch {
	case err != nil:
		return nil, err
	case c == nil:
		return nil, errStoreVanish
	case bytes.Equal(raw, rec):
		if migrate {
			guest.Log(guest.LogInfo, "secretstore: the store now has a password; its unprotected key record is deleted")
		}
		return &format.Master{ID: m.ID, Key: m.Key}, nil
	}
	// Another unlock created the store at the same moment and was first:
	// its password and key win.
	won, err := unwrap(c, password)
	if errors.Is(err, errWrong) {
		return nil, errConcurrentPw
	}
	return won, err
}

// dropKeyRecord deletes a c/key left beside c/config by an interrupted
// migration, once the password has unlocked the same master key.
func dropKeyRecord(m *format.Master) error {
	old, _, err := loadKeyRecord()
	if old == nil || err != nil {
		return err
	}
	defer old.Clear()
	if !old.Equal(m) {
		guest.Log(guest.LogWarn, "secretstore: c/key holds another key than the password unlocks; left in place")
		return nil
	}
	if err := guest.KVDelete([]byte(format.KeyMaster)); err != nil && !errors.Is(err, abi.NotFound) {
		return err
	}
	return nil
}

// removePassword is Unlock with authentication = "none". A store that has a
// password (c/config and no c/key) loses it: the password unlocks the master
// key, which goes to c/key, and c/config is deleted. Otherwise there is no
// password to give.
func removePassword(password []byte) error {
	c, _, err := loadConfig()
	if err != nil {
		return err
	}
	if c == nil {
		return errNoPassword
	}
	if m, _, err := loadKeyRecord(); err != nil || m != nil {
		m.Clear()
		if err != nil {
			return err
		}
		return errNoPassword // c/key in use; c/config is a harmless leftover
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	m, err := unwrap(c, password)
	if err != nil {
		return err
	}
	defer m.Clear()
	rec := m.MarshalKeyRecord(nowMillis())
	err = guest.KVSet([]byte(format.KeyMaster), rec)
	clear(rec)
	if err != nil {
		return err
	}
	if err := guest.KVDelete([]byte(format.KeyConfig)); err != nil && !errors.Is(err, abi.NotFound) {
		return err
	}
	guest.KeyringClear()
	guest.Log(guest.LogInfo, "secretstore: the store's password was removed (authentication = none)")
	return nil
}

// Lock empties the keyring: every instance is locked at once.
func (vault) Lock() error {
	if conf.auth == authNone {
		return errNoPassword
	}
	return guest.KeyringClear()
}

// SetPassword rewraps the master key under new with a new salt: every secret
// stays readable. A store with a password needs the current one in old (an
// unlocked vault is not enough: whoever sits at an unlocked session must not
// be able to lock the owner out). A store without one takes new as its first
// password, as Unlock would. The vault is unlocked afterwards.
func (vault) SetPassword(old, new []byte) error {
	if conf.auth == authNone {
		return errNoPassword
	}
	if err := checkPassword(new); err != nil {
		return err
	}
	c, _, err := loadConfig()
	if err != nil {
		return err
	}
	var m *format.Master
	switch {
	case c == nil && len(old) > 0:
		return errNoOldNeeded
	case c == nil:
		if m, err = setFirstPassword(new); err != nil {
			return err
		}
	case len(old) == 0:
		return errOldRequired
	default:
		if m, err = unwrap(c, old); err != nil {
			return err
		}
		rec, err := wrap(m, new, c.Created)
		if err != nil {
			m.Clear()
			return err
		}
		if err := guest.KVSet([]byte(format.KeyConfig), rec); err != nil {
			m.Clear()
			return err
		}
	}
	defer m.Clear()
	if err := remember(m); err != nil {
		return err
	}
	return dropKeyRecord(m)
}

func randRead(b []byte) { rand.Read(b) }

func hexString(b []byte) string { return hex.EncodeToString(b) }
