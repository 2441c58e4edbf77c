package engine_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sesamehq/sesame/engine"
)

// lockedBuffer is a bytes.Buffer for a logger that many goroutines use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsAndErrorsNeverCarrySecrets takes a secretstore vault through
// every operation and the ways they fail, with distinctive values and
// passwords, and a logger at debug level: from no password to one (the
// migration, which logs), a wrong password, a password change, a tampered
// record (which a listing logs and leaves out), back to no password (which
// logs too). No log line, and no error in any of its forms, shows a value
// or a password; the log is not empty, so that the scan scans something.
func TestLogsAndErrorsNeverCarrySecrets(t *testing.T) {
	t.Parallel()
	const (
		vString = "canary-string-Kx81"
		vSecure = "canary-secure-Qm27"
		vCredPW = "canary-credpw-Zt55"
		vBytes  = "canary-bytes-Hv03"
		vTable  = "canary-table-Lp64"
		vNew    = "canary-noclobber-Jd42"
		vBad    = "canary-refused-Tn88"
		pw1     = "canary-password-Ve36"
		pw2     = "canary-password2-Gh29"
		pwWrong = "canary-wrongpw-Bs71"
	)
	secrets := []string{vString, vSecure, vCredPW, vBytes, vTable, vNew, vBad, pw1, pw2, pwWrong}
	var log lockedBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := newSSEnv(t, ssNone)
	open := func() *engine.Engine {
		t.Helper()
		e, err := engine.Open(ctx, env.reg, &engine.Options{DataDir: env.data, CacheDir: testCache, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	var errs []error
	fail := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s succeeded", what)
			return
		}
		errs = append(errs, err)
	}
	set := func(e *engine.Engine, r engine.SetRequest) error {
		r.Vault = ssVault
		_, err := e.Set(ctx, r)
		return err
	}

	e := open()
	for name, v := range map[string]any{
		"s": vString, "ss": engine.SecureString(vSecure), "b": []byte(vBytes),
		"c": engine.Credential{UserName: "alice", Password: engine.SecureString(vCredPW)},
		"t": engine.Hashtable{"a": vTable, "n": engine.Hashtable{}},
	} {
		if err := set(e, engine.SetRequest{Name: name, Value: v, Metadata: engine.Metadata{"owner": "ops"}}); err != nil && name != "t" {
			t.Fatal(err)
		} else if name == "t" {
			fail("a nested hashtable", err)
		}
	}
	for _, name := range []string{"s", "ss", "b", "c"} {
		if _, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: ssVault}); err != nil {
			t.Fatal(err)
		}
	}
	fail("set with no-clobber", set(e, engine.SetRequest{Name: "s", Value: vNew, NoClobber: true}))
	fail("set of a wildcard name", set(e, engine.SetRequest{Name: "s*", Value: vBad}))
	fail("set of a huge value", set(e, engine.SetRequest{Name: "huge", Value: strings.Repeat(vBad, 1<<20/len(vBad)+1)}))
	fail("set of a bad type", set(e, engine.SetRequest{Name: "x", Value: []string{vBad}}))
	fail("set with bad metadata", set(e, engine.SetRequest{Name: "x", Value: vBad, Metadata: engine.Metadata{"m": []string{vBad}}}))
	if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Value: vNew, Vault: ssVault, Change: engine.Change{WhatIf: true}}); err != nil {
		t.Fatal(err)
	}

	// A password: set-password gives the store one, and a new key.
	env.setParams(t, ssPassword)
	e = open()
	_, err := e.Get(ctx, engine.GetRequest{Name: "s", Vault: ssVault})
	fail("get before the unlock", err)
	fail("unlock before a password is set", e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(pw1)}))
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, New: []byte(pw1)}); err != nil {
		t.Fatal(err)
	}
	fail("unlock with a wrong password", e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(pwWrong)}))
	fail("set-password with a wrong old one", e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: []byte(pwWrong), New: []byte(pw2)}))
	if err := e.SetPassword(ctx, engine.SetPasswordRequest{Vault: ssVault, Old: []byte(pw1), New: []byte(pw2)}); err != nil {
		t.Fatal(err)
	}
	e.Close()

	// A record tampered with (restored, or replaced: its tag changed): a
	// listing fails naming it; a get fails.
	k := ssMaster(t, env.dbPath(), []byte(pw2)).Keys()
	ssUpdate(t, env.dbPath(), func(data *bolt.Bucket) error {
		key := k.RecordKey("c")
		rec := bytes.Clone(data.Get(key))
		rec[len(rec)-1] ^= 1
		return data.Put(key, rec)
	})
	e = open()
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(pw2)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	fail("info after tampering", err)
	_, err = e.Get(ctx, engine.GetRequest{Name: "c", Vault: ssVault})
	fail("get of a tampered record", err)
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: "c", Vault: ssVault}); err != nil {
		t.Fatal(err)
	}

	// Back to no password.
	env.setParams(t, ssNone)
	e = open()
	if err := e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte(pw2)}); err != nil {
		t.Fatal(err)
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "s", Vault: ssVault}); err != nil || s.Value != vString {
		t.Fatalf("get after the password was removed: %v, %v", s.Value, err)
	}

	out := log.String()
	for _, want := range []string{"has a new master key", "password was removed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log shows %s:\n%s", s, out)
		}
		for _, err := range errs {
			var ee *engine.Error
			errors.As(err, &ee)
			if text := fmt.Sprintf("%v %+v %#v %#v", err, err, err, ee); strings.Contains(text, s) {
				t.Errorf("an error shows %s: %s", s, text)
			}
		}
	}
	t.Logf("%d errors and %d bytes of log checked", len(errs), len(out))
}
