package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// openTest opens a store in a fresh folder and closes it at the end of t.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "vaults", "test.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func mustSet(t testing.TB, s *Store, key, value string) {
	t.Helper()
	if err := s.Set(context.Background(), []byte(key), []byte(value)); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})

	// Each step runs against the state left by the previous ones.
	steps := []struct {
		name    string
		op      string // get, set, delete
		key     string
		value   string // set: the value; get: the expected value
		wantErr error
	}{
		{"get before any write", "get", "a", "", ErrNotFound},
		{"delete before any write", "delete", "a", "", ErrNotFound},
		{"set", "set", "a", "one", nil},
		{"get", "get", "a", "one", nil},
		{"overwrite", "set", "a", "two", nil},
		{"get overwritten", "get", "a", "two", nil},
		{"binary key and value", "set", "\x00\xff\n", "\x00\x01\x02", nil},
		{"get binary", "get", "\x00\xff\n", "\x00\x01\x02", nil},
		{"empty value", "set", "empty", "", nil},
		{"get empty value", "get", "empty", "", nil},
		{"other key absent", "get", "b", "", ErrNotFound},
		{"delete", "delete", "a", "", nil},
		{"get deleted", "get", "a", "", ErrNotFound},
		{"delete again", "delete", "a", "", ErrNotFound},
		{"set after delete", "set", "a", "three", nil},
		{"get after delete", "get", "a", "three", nil},
	}
	for _, st := range steps {
		var err error
		switch st.op {
		case "get":
			var got []byte
			got, err = s.Get(ctx, []byte(st.key))
			if err == nil && (got == nil || !bytes.Equal(got, []byte(st.value))) {
				t.Errorf("%s: Get = %q (nil %t), want %q", st.name, got, got == nil, st.value)
			}
		case "set":
			err = s.Set(ctx, []byte(st.key), []byte(st.value))
		case "delete":
			err = s.Delete(ctx, []byte(st.key))
		}
		if !errors.Is(err, st.wantErr) || (err == nil) != (st.wantErr == nil) {
			t.Errorf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
	}
}

// TestCallGets: the gets of one call share a cursor, which each moves
// anywhere: back, forward, between keys, past the last, onto an empty
// value, across pages of a store of many keys.
func TestCallGets(t *testing.T) {
	s := openTest(t, Options{})
	want := map[string]string{}
	fillStore(t, s.Path(), func(put func(k, v string)) {
		for i := range 3000 {
			k, v := fmt.Sprintf("k%05d", 2*i), fmt.Sprintf("v%d", i)
			put(k, v)
			want[k] = v
		}
		put("empty", "")
		want["empty"] = ""
	})
	call, done := WithCall(context.Background())
	defer done()
	for _, k := range []string{"k02000", "k00000", "k05998", "k00001", "k02000", "zzz", "empty", "a", "k00002", "k03001", "k04000"} {
		got, err := s.Get(call, []byte(k))
		v, ok := want[k]
		switch {
		case !ok && !errors.Is(err, ErrNotFound):
			t.Errorf("Get %q = %q, %v; want ErrNotFound", k, got, err)
		case ok && (err != nil || got == nil || string(got) != v):
			t.Errorf("Get %q = %q (nil %t), %v; want %q", k, got, got == nil, err, v)
		}
	}
}

func TestGetReturnsCopy(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	val := []byte("value")
	if err := s.Set(ctx, []byte("k"), val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have kept its own copy
	got, err := s.Get(ctx, []byte("k"))
	if err != nil || string(got) != "value" {
		t.Fatalf("Get = %q, %v; want \"value\"", got, err)
	}
	got[0] = 'Y'
	if again, _ := s.Get(ctx, []byte("k")); string(again) != "value" {
		t.Fatalf("Get after mutating a result = %q", again)
	}
}

func TestLimitsAndInvalid(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxKeyBytes: 8, MaxValueBytes: 16})
	key8, key9 := []byte("12345678"), []byte("123456789")
	val16, val17 := bytes.Repeat([]byte("v"), 16), bytes.Repeat([]byte("v"), 17)

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"set key at limit", func() error { return s.Set(ctx, key8, val16) }, nil},
		{"set key over limit", func() error { return s.Set(ctx, key9, []byte("v")) }, ErrTooLarge},
		{"set value over limit", func() error { return s.Set(ctx, key8, val17) }, ErrTooLarge},
		{"get key over limit", func() error { _, err := s.Get(ctx, key9); return err }, ErrTooLarge},
		{"delete key over limit", func() error { return s.Delete(ctx, key9) }, ErrTooLarge},
		{"list prefix over limit", func() error { _, err := s.List(ctx, key9, nil, 1); return err }, ErrTooLarge},
		{"list after over limit", func() error { _, err := s.List(ctx, nil, key9, 1); return err }, ErrTooLarge},
		{"set nil key", func() error { return s.Set(ctx, nil, []byte("v")) }, ErrInvalid},
		{"set empty key", func() error { return s.Set(ctx, []byte{}, []byte("v")) }, ErrInvalid},
		{"get empty key", func() error { _, err := s.Get(ctx, nil); return err }, ErrInvalid},
		{"delete empty key", func() error { return s.Delete(ctx, nil) }, ErrInvalid},
		{"list limit 0", func() error { _, err := s.List(ctx, nil, nil, 0); return err }, ErrInvalid},
		{"list limit -1", func() error { _, err := s.List(ctx, nil, nil, -1); return err }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Path != s.Path() || e.Op == "") {
				t.Fatalf("err = %#v, want an *Error naming the op and %s", err, s.Path())
			}
		})
	}
	// A rejected Set leaves the stored value alone.
	if got, err := s.Get(ctx, key8); err != nil || !bytes.Equal(got, val16) {
		t.Fatalf("after rejected Sets, Get = %q, %v", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	fileAsDir := filepath.Join(dir, "file")
	if err := os.WriteFile(fileAsDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		path string
		opts Options
		want error
	}{
		{"empty path", "", Options{}, ErrInvalid},
		{"negative key limit", filepath.Join(dir, "a.db"), Options{MaxKeyBytes: -1}, ErrInvalid},
		{"negative quota", filepath.Join(dir, "a.db"), Options{MaxBytes: -1}, ErrInvalid},
		{"key limit above bbolt's", filepath.Join(dir, "a.db"), Options{MaxKeyBytes: bolt.MaxKeySize + 1}, ErrInvalid},
		{"path is a folder", dir, Options{}, ErrUnavailable},
		{"parent is a file", filepath.Join(fileAsDir, "x.db"), Options{}, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, tt.opts)
			if err == nil {
				s.Close()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "storage file ") {
				t.Fatalf("Open: err = %q, want it to start with \"storage file \"", err)
			}
		})
	}

	// A file that is not a database opens (Open does not read it), and
	// then every operation names it and fails with ErrUnavailable.
	s, err := Open(notDB, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Get(context.Background(), []byte("k"))
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), notDB) {
		t.Fatalf("Get on a garbage file: err = %v, want ErrUnavailable naming the file", err)
	}
	if err := s.Set(context.Background(), []byte("k"), []byte("v")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set on a garbage file: err = %v, want ErrUnavailable", err)
	}
}

func TestErrorMessage(t *testing.T) {
	s := openTest(t, Options{})
	_, err := s.Get(context.Background(), []byte("nope"))
	want := "storage file " + s.Path() + ": not found"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// TestErrorsHideSecrets drives every error path with distinctive keys and
// values and checks that no message quotes them.
func TestErrorsHideSecrets(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{MaxKeyBytes: 64, MaxValueBytes: 64, MaxKeys: 1, MaxBytes: 1000})
	const (
		secretKey   = "SECRETKEY-7f3a9c"
		secretValue = "SECRETVALUE-d41d8c"
	)
	longKey := strings.Repeat(secretKey, 8)
	longValue := strings.Repeat(secretValue, 8)
	mustSet(t, s, secretKey, secretValue)

	closed := openTest(t, Options{})
	closed.Close()

	errs := []error{
		s.Set(ctx, []byte(longKey), []byte(secretValue)),           // key too large
		s.Set(ctx, []byte(secretKey), []byte(longValue)),           // value too large
		s.Set(ctx, []byte(secretKey+"2"), []byte(secretValue)),     // key quota
		s.Delete(ctx, []byte(secretKey+"3")),                       // not found
		closed.Set(ctx, []byte(secretKey), []byte(secretValue)),    // closed
		s.Set(ctx, []byte(strings.Repeat("\x00", 65)), []byte("")), // too large, binary
	}
	_, err := s.Get(ctx, []byte(secretKey+"4"))
	errs = append(errs, err)
	_, err = s.Get(ctx, []byte(longKey))
	errs = append(errs, err)
	_, err = s.List(ctx, []byte(longKey), nil, 1)
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		msg := err.Error()
		for _, secret := range []string{"SECRETKEY", "SECRETVALUE", "7f3a9c", "d41d8c", "\x00"} {
			if strings.Contains(msg, secret) {
				t.Errorf("case %d: error %q contains %q", i, msg, secret)
			}
		}
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "vault.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSet(t, s, "k", "v")
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(dir, "a"), 0o700 | os.ModeDir},
		{filepath.Join(dir, "a", "b"), 0o700 | os.ModeDir},
		{path, 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.want)
		}
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

// TestEmptyStore covers a vault never written: no file (deleted behind
// the store's back), a zero-byte file (its creator died before bbolt wrote
// a page), and a valid database without buckets.
func TestEmptyStore(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"new file", func(t *testing.T, path string) {}},
		{"no file", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"zero-byte file", func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"database without buckets", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, Options{})
			tt.setup(t, s.Path())
			if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get: err = %v, want ErrNotFound", err)
			}
			keys, err := s.List(ctx, nil, nil, 10)
			if err != nil || len(keys) != 0 {
				t.Fatalf("List = %q, %v; want nothing", keys, err)
			}
			if err := s.Delete(ctx, []byte("k")); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Delete: err = %v, want ErrNotFound", err)
			}
			mustSet(t, s, "k", "v")
			if got, err := s.Get(ctx, []byte("k")); err != nil || string(got) != "v" {
				t.Fatalf("Get after Set = %q, %v", got, err)
			}
			if fi, err := os.Stat(s.Path()); err != nil || fi.Mode() != 0o600 {
				t.Fatalf("file after Set: %v, %v; want mode 0600", fi, err)
			}
		})
	}
}

func TestOpenZeroByteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("Open left the zero-byte file uninitialised: %v, %v", fi, err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get after Close: err = %v, want ErrUnavailable", err)
	}
	if err := s.Set(ctx, []byte("k"), nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Set after Close: err = %v, want ErrUnavailable", err)
	}
	// The data outlives the Store.
	s2, err := Open(s.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.Get(ctx, []byte("k")); err != nil || string(got) != "v" {
		t.Fatalf("Get after reopen = %q, %v", got, err)
	}
}

func TestContextDone(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, []byte("k"), []byte("v")); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with a cancelled context: err = %v, want ErrUnavailable and context.Canceled", err)
	}
	if _, err := s.Get(context.Background(), []byte("k")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the cancelled Set wrote: %v", err)
	}
}
