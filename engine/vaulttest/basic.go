package vaulttest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// testManifest checks that the manifest is stable and agrees with the
// vault's methods.
func testManifest(t T, s *suite) {
	if m := s.v.Manifest(); !reflect.DeepEqual(m, s.m) {
		t.Errorf("Manifest() changed between calls: %+v, then %+v", s.m, m)
	}
	for _, op := range coreOps {
		if !s.supports(op) {
			t.Errorf("the vault does not support %s (Operations %q); every vault must support get, set, remove and list", op, s.m.Operations)
		}
	}
	seen := make(map[abi.Op]bool)
	for _, op := range s.m.Operations {
		switch {
		case !slices.Contains(abi.Ops(), op):
			t.Errorf("Operations lists %q, which is not an operation of ABI version %d", op, abi.Version)
		case seen[op]:
			t.Errorf("Operations lists %q twice", op)
		case !implements(s.v, op):
			t.Errorf("Operations lists %q but %T does not implement its interface", op, s.v)
		}
		seen[op] = true
	}
	if s.supports(abi.OpSetMetadata) && !s.m.Metadata {
		t.Errorf("Operations lists set_metadata but Metadata is false")
	}
}

// testRoundTrip stores a value of each accepted type and reads it back.
func testRoundTrip(t T, s *suite) {
	for _, typ := range s.types {
		t.Run(typ.String(), func(t T) {
			for _, c := range roundTripCases(typ, s.scalars()) {
				t.Run(c.name, func(t T) {
					name := "rt_" + typ.String() + "_" + c.name
					s.need(t, name)
					want := cloneValue(c.v)
					in := cloneValue(c.v)
					s.set(t, name, in, nil)
					scribble(in) // the vault must have copied it
					if !s.checkGet(t, name, name, want) {
						return
					}
					_, got := s.get(t, name)
					scribble(got) // and must hand out copies
					s.checkGet(t, name, name, want)
				})
			}
		})
	}
}

// scribble overwrites the bytes of v in place.
func scribble(v abi.Value) {
	for i := range v.Data {
		v.Data[i] ^= 0x5a
	}
	for _, e := range v.Entries {
		scribble(e.Value)
	}
}

func cloneValue(v abi.Value) abi.Value {
	v.Data = slices.Clone(v.Data)
	if v.Entries != nil {
		entries := make([]abi.Entry, len(v.Entries))
		for i, e := range v.Entries {
			entries[i] = abi.Entry{Key: e.Key, Value: cloneValue(e.Value)}
		}
		v.Entries = entries
	}
	return v
}

// testRefusedTypes checks that types outside Options.Types are refused and
// leave nothing behind.
func testRefusedTypes(t T, s *suite) {
	if len(s.types) == len(allTypes) {
		t.Skip("the vault accepts all five types")
	}
	kept := sample(s.types[0], "kept", s.scalars())
	for _, typ := range allTypes {
		if s.accepts(typ) {
			continue
		}
		t.Run(typ.String(), func(t T) {
			fresh, existing := "refused_"+typ.String(), "refused_over_"+typ.String()
			s.need(t, fresh, existing)
			s.set(t, existing, kept, nil)
			for _, name := range []string{fresh, existing} {
				err := s.v.Set(s.ctx, name, sample(typ, canary, allTypes[:4]), nil)
				switch {
				case err == nil:
					t.Errorf("Set(%q) of a %v value succeeded; want an error wrapping abi.InvalidArgument", name, typ)
				case !isStatus(err, abi.InvalidArgument, engine.ErrInvalidArgument):
					t.Errorf("Set(%q) of a %v value: %v; want an error wrapping abi.InvalidArgument", name, typ, err)
				case strings.Contains(err.Error(), canary):
					t.Errorf("Set(%q) of a %v value: the error quotes the secret value: %v", name, typ, err)
				}
			}
			s.checkMissing(t, fresh)
			s.checkGet(t, existing, existing, kept)
			s.checkList(t, "refused_*"+typ.String(), map[string]abi.Type{existing: kept.Type})
		})
	}
}

// testOverwrite checks replacing, reading a missing secret and removing.
func testOverwrite(t T, s *suite) {
	const a, b, c = "over_a", "over_b", "over_c"
	s.need(t, a, b, c, "over_missing")
	sc := s.scalars()

	t.Run("value", func(t T) {
		first, second := sample(s.types[0], "first", sc), sample(s.types[0], "second value", sc)
		s.set(t, a, first, nil)
		s.set(t, a, second, nil)
		s.checkGet(t, a, a, second)
		s.checkList(t, a, map[string]abi.Type{a: second.Type})
	})
	t.Run("type", func(t T) {
		if len(s.types) < 2 {
			t.Skip("the vault accepts a single type")
		}
		// Every accepted type in turn, then back to the first: no field of
		// the previous value (user name, entries) may survive.
		order := append(slices.Clone(s.types), s.types[0])
		for i, typ := range order {
			v := sample(typ, fmt.Sprintf("v%d", i), sc)
			s.set(t, a, v, nil)
			s.checkGet(t, a, a, v)
			if s.supports(abi.OpStat) {
				if in, err := s.v.(engine.Statter).Stat(s.ctx, a); err != nil || in.Type != typ {
					t.Errorf("after setting a %v value: Stat(%q) = %v, %v; want type %v", typ, a, in.Type, err, typ)
				}
			}
			s.checkList(t, a, map[string]abi.Type{a: typ})
		}
	})
	t.Run("missing", func(t T) {
		s.checkMissing(t, "over_missing")
		s.checkList(t, "over_missing", nil)
	})
	t.Run("remove", func(t T) {
		vb, vc := sample(s.types[0], "b", sc), sample(s.types[0], "c", sc)
		s.set(t, b, vb, nil)
		s.set(t, c, vc, nil)
		s.remove(t, b)
		s.checkMissing(t, b)
		s.checkList(t, b, nil)
		s.checkGet(t, c, c, vc)
		if err := s.v.Remove(s.ctx, b); !isNotFound(err) {
			t.Errorf("second Remove(%q): error %v, want one wrapping abi.NotFound", b, err)
		}
		if err := s.v.Remove(s.ctx, "over_missing"); !isNotFound(err) {
			t.Errorf("Remove(%q) of a secret never set: error %v, want one wrapping abi.NotFound", "over_missing", err)
		}
		s.checkMissing(t, "over_missing")
		// A removed name can be used again.
		vb2 := sample(s.types[len(s.types)-1], "b again", sc)
		s.set(t, b, vb2, nil)
		s.checkGet(t, b, b, vb2)
		s.checkList(t, b, map[string]abi.Type{b: vb2.Type})
	})
}

// testSizes checks empty and maximal values and names of every size.
func testSizes(t T, s *suite) {
	t.Run("EmptyValue", func(t T) {
		for _, typ := range s.types {
			name := "empty_" + typ.String()
			if !s.valid(name) {
				continue
			}
			s.set(t, name, empty(typ), nil)
			s.checkGet(t, name, name, empty(typ))
		}
	})
	t.Run("MaxValue", func(t T) {
		const name = "max_value"
		s.need(t, name)
		typ := s.types[0] // bytes when accepted, which has the least overhead
		v := maxValue(typ, s.maxValue)
		s.set(t, name, v, nil)
		s.checkGet(t, name, name, v)
		s.remove(t, name)
	})
	t.Run("NameLengths", func(t T) {
		long := "n" + strings.Repeat("_abcdefghi", abi.MaxNameBytes/10+1)[:abi.MaxNameBytes-1]
		for _, name := range []string{"x", "xy", long[:abi.MaxNameBytes-1], long} {
			s.checkName(t, name)
		}
	})
	t.Run("UnicodeNames", func(t T) {
		for _, name := range []string{
			"пароль", "密码", "emoji-🔑", "naïve_café",
			strings.Repeat("密", abi.MaxNameBytes/3), // 255 bytes, 85 characters
			"with space", "dots.and-dashes", "slash/and\\backslash", "colon:at@hash#percent%",
		} {
			s.checkName(t, name)
		}
	})
}

// checkName checks the whole life of a secret called name, unless the vault
// rejects the name.
func (s *suite) checkName(t T, name string) {
	t.Helper()
	if !s.valid(name) {
		t.Logf("skipping %q: Options.ValidName rejects it", name)
		return
	}
	v := sample(s.types[0], fmt.Sprintf("value of %q", name), s.scalars())
	if err := s.v.Set(s.ctx, name, v, nil); err != nil {
		t.Errorf("Set(%q) (%d bytes): %v", name, len(name), err)
		return
	}
	s.checkGet(t, name, name, v)
	s.checkList(t, name, map[string]abi.Type{name: v.Type})
	if !s.found(t, "*", name) {
		t.Errorf("List(%q) does not return %q", "*", name)
	}
	if err := s.v.Remove(s.ctx, name); err != nil {
		t.Errorf("Remove(%q): %v", name, err)
	}
	s.checkMissing(t, name)
}

// found reports whether List(pattern) returns name, exactly spelled.
func (s *suite) found(t T, pattern, name string) bool {
	t.Helper()
	return slices.ContainsFunc(s.list(t, pattern), func(in abi.Info) bool { return in.Name == name })
}

// testMany stores 200 secrets and lists and reads them all.
func testMany(t T, s *suite) {
	const n = 200
	s.need(t, "many_000")
	sc := s.scalars()
	stored := make(map[string]abi.Type, n)
	values := make(map[string]abi.Value, n)
	for i := range n {
		name := fmt.Sprintf("many_%03d", i)
		v := sample(s.types[i%len(s.types)], fmt.Sprintf("value %d", i), sc)
		s.set(t, name, v, nil)
		stored[name], values[name] = v.Type, v
	}
	for _, pattern := range []string{"*", "many_*", "many_1*", "many_??7", "*9", "many_000"} {
		s.checkList(t, pattern, s.matching(pattern, stored))
	}
	for name, v := range values {
		s.checkGet(t, name, name, v)
	}
	// Remove a tenth of them; the others stay whole.
	for i := 7; i < n; i += 10 {
		name := fmt.Sprintf("many_%03d", i)
		s.remove(t, name)
		delete(stored, name)
		delete(values, name)
	}
	s.checkList(t, "*", stored)
	for name, v := range values {
		s.checkGet(t, name, name, v)
	}
}

// testTest checks that Test reports a working vault.
func testTest(t T, s *suite) {
	if !s.supports(abi.OpTest) {
		t.Skip("the vault does not support test")
	}
	if err := s.v.(engine.Tester).Test(s.ctx); err != nil {
		t.Errorf("Test: %v", err)
	}
}

// testCreate checks Create (engine.Creator): it stores a secret that is
// absent, and refuses one that exists with an error wrapping abi.Conflict,
// leaving it as it was.
func testCreate(t T, s *suite) {
	if !s.supports(abi.OpCreate) {
		t.Skip("the vault does not support create")
	}
	const name = "create_a"
	s.need(t, name)
	c := s.v.(engine.Creator)
	first, second := sample(s.types[0], "first", s.scalars()), sample(s.types[0], "second", s.scalars())
	if err := c.Create(s.ctx, name, first, nil); err != nil {
		t.Fatalf("Create(%q) of an absent secret: %v", name, err)
	}
	s.checkGet(t, name, name, first)
	if err := c.Create(s.ctx, name, second, nil); !errors.Is(err, abi.Conflict) {
		t.Errorf("Create(%q) of an existing secret: %v; want an error wrapping abi.Conflict", name, err)
	}
	s.checkGet(t, name, name, first)
}
