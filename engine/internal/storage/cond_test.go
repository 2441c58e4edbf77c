package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// TestConditionalWrites: SetIf, AddIf and DeleteIf write only while every
// key of their Seen holds what it says, telling an absent key from an
// empty value; otherwise they fail with ErrChanged and change nothing.
func TestConditionalWrites(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	mustSet(t, s, "cfg", "v1")
	mustSet(t, s, "empty", "")

	tests := []struct {
		name string
		seen Seen
		want error
	}{
		{"nil seen", nil, nil},
		{"as read", Seen{"cfg": []byte("v1")}, nil},
		{"absent as read", Seen{"gone": nil}, nil},
		{"empty as read", Seen{"empty": {}}, nil},
		{"changed value", Seen{"cfg": []byte("v0")}, ErrChanged},
		{"read absent, now present", Seen{"cfg": nil}, ErrChanged},
		{"read present, now absent", Seen{"gone": {}}, ErrChanged},
		{"read absent, now empty", Seen{"empty": nil}, ErrChanged},
		{"one of two changed", Seen{"cfg": []byte("v1"), "empty": []byte("x")}, ErrChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := map[string]func() error{
				"SetIf":    func() error { return s.SetIf(ctx, []byte("out"), []byte("new"), tt.seen) },
				"AddIf":    func() error { return s.AddIf(ctx, []byte("out"), []byte("new"), tt.seen) },
				"DeleteIf": func() error { return s.DeleteIf(ctx, []byte("out"), tt.seen) },
			}
			for _, op := range []string{"SetIf", "DeleteIf", "AddIf", "DeleteIf"} {
				before := state(t, s, "out")
				err := ops[op]()
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("%s = %v, want %v", op, err, tt.want)
				}
				if after := state(t, s, "out"); tt.want != nil && after != before {
					t.Errorf("%s refused, but out went from %s to %s", op, before, after)
				}
			}
		})
	}
}

// state is the value of key, quoted, or "absent".
func state(t *testing.T, s *Store, key string) string {
	t.Helper()
	v, err := s.Get(context.Background(), []byte(key))
	switch {
	case errors.Is(err, ErrNotFound):
		return "absent"
	case err != nil:
		t.Fatal(err)
	}
	return strconv.Quote(string(v))
}

// TestConditionalRace: many writers read the same record, then each writes
// its own new value conditioned on what it read, as a password change
// does: exactly one commits each round, the others get ErrChanged, and the
// record holds the winner's value.
func TestConditionalRace(t *testing.T) {
	ctx := context.Background()
	path := openTest(t, Options{}).Path()
	mustSet(t, openStore(t, path), "cfg", "round-0")
	const writers, rounds = 4, 10
	value := func(round, writer int) []byte { return fmt.Appendf(nil, "round-%d-writer-%d", round, writer) }
	stores := make([]*Store, writers)
	for i := range stores {
		stores[i] = openStore(t, path)
	}
	for r := range rounds {
		// Every writer reads before any writes.
		var read, wrote sync.WaitGroup
		errs := make([]error, writers)
		start := make(chan struct{})
		for i, s := range stores {
			read.Add(1)
			wrote.Go(func() {
				v, err := s.Get(ctx, []byte("cfg"))
				read.Done()
				<-start
				if err == nil {
					err = s.SetIf(ctx, []byte("cfg"), value(r, i), Seen{"cfg": v})
				}
				errs[i] = err
			})
		}
		read.Wait()
		close(start)
		wrote.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: writers %d and %d both committed", r, won, i)
			case err == nil:
				won = i
			case !errors.Is(err, ErrChanged):
				t.Fatalf("round %d: writer %d: %v, want ErrChanged", r, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer committed", r)
		}
		if v, err := stores[0].Get(ctx, []byte("cfg")); err != nil || string(v) != string(value(r, won)) {
			t.Fatalf("round %d: cfg = %q, %v; want the winner's (writer %d)", r, v, err, won)
		}
	}
}

// openStore opens another Store on path and closes it at the end of t.
func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
