package engine_test

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
)

// The environment of the helper process of TestSecretStoreUpgradeKilled.
const (
	envUpgradeHelper = "SESAME_TEST_UPGRADE_HELPER" // "before" or "after": where to stop
	envUpgradeReg    = "SESAME_TEST_UPGRADE_REG"
	envUpgradeData   = "SESAME_TEST_UPGRADE_DATA"
	envUpgradeAuth   = "SESAME_TEST_UPGRADE_AUTH"
	envUpgradeMark   = "SESAME_TEST_UPGRADE_MARK" // written once stopped
)

// TestSecretStoreUpgradeHelper is the process that TestSecretStoreUpgradeKilled
// kills: it opens a store of format v1 and upgrades it (the unlock of a
// password store, the first call of one without), stopping for good just
// before or just after the upgrade's commit, once it has written the mark
// file. It does nothing when run as a test.
func TestSecretStoreUpgradeHelper(t *testing.T) {
	stage := os.Getenv(envUpgradeHelper)
	if stage == "" {
		t.Skip("the helper process of TestSecretStoreUpgradeKilled")
	}
	testonly.UseRealKDF(t)
	testonly.OnCommit(func(committed bool) {
		if committed == (stage == "after") {
			if err := os.WriteFile(os.Getenv(envUpgradeMark), nil, 0o600); err != nil {
				panic(err)
			}
			select {} // until killed
		}
	})
	e, err := engine.Open(ctx, os.Getenv(envUpgradeReg), &engine.Options{DataDir: os.Getenv(envUpgradeData), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(envUpgradeAuth) == "password" {
		err = e.Unlock(ctx, engine.UnlockRequest{Vault: ssVault, Password: []byte("fixture password")})
	} else {
		_, err = e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: ssVault})
	}
	t.Fatalf("the upgrade did not stop at its commit: %v", err)
}

// TestSecretStoreUpgradeKilled: a process upgrading a store of format v1
// (the fixtures of the release before v2) killed with SIGKILL just before
// the upgrade's commit leaves the v1 store as it was, byte for byte; killed
// just after, the v2 store. Either way the next process opens it (and
// upgrades it if needed) and reads every secret, type and metadata.
func TestSecretStoreUpgradeKilled(t *testing.T) {
	testonly.UseRealKDF(t)
	for _, c := range []struct{ file, auth string }{{"password.db", "password"}, {"none.db", "none"}} {
		for _, stage := range []string{"before", "after"} {
			t.Run(c.auth+"-"+stage, func(t *testing.T) {
				reg, data, path := ssV1Env(t, c.file, c.auth)
				before := ssRecords(t, path)
				mark := filepath.Join(t.TempDir(), "stopped")
				cmd := exec.Command(os.Args[0], "-test.run=^TestSecretStoreUpgradeHelper$")
				cmd.Env = append(os.Environ(), envUpgradeHelper+"="+stage, envUpgradeReg+"="+reg,
					envUpgradeData+"="+data, envUpgradeAuth+"="+c.auth, envUpgradeMark+"="+mark)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				waitForFile(t, mark, exited, &out)
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				<-exited

				if stage == "before" {
					if after := ssRecords(t, path); !maps.EqualFunc(before, after, bytes.Equal) {
						t.Fatal("killed before the commit, the store changed")
					}
				} else {
					ssUpgraded(t, path, before)
				}
				e, err := engine.Open(ctx, reg, &engine.Options{DataDir: data, CacheDir: testCache})
				if err != nil {
					t.Fatal(err)
				}
				if c.auth == "password" {
					ssUnlock(t, e, []byte("fixture password"))
				}
				for name, want := range ssV1Secrets {
					if s := ssGet(t, e, name); s.Name != name || !reflect.DeepEqual(s.Value, want) {
						t.Errorf("%s reads %q = %#v", name, s.Name, s.Value)
					}
				}
				if s := ssGet(t, e, "Token"); len(s.Metadata) != len(ssV1Metadata) {
					t.Errorf("Token's metadata: %v", s.Metadata)
				}
				e.Close()
				ssUpgraded(t, path, before)
			})
		}
	}
}

// waitForFile waits until the helper process writes path, failing if it
// exits first or has not done so within a minute (a real Argon2id runs
// first).
func waitForFile(t *testing.T, path string, exited <-chan error, out *bytes.Buffer) {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			t.Fatalf("the helper exited before it stopped at the commit: %v\n%s", err, out)
		case <-deadline:
			t.Fatalf("the helper did not stop at the commit within a minute\n%s", out)
		case <-tick.C:
		}
	}
}
