package vaulttest

import (
	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// testMetadata checks the metadata rules of Set and SetMetadata.
func testMetadata(t T, s *suite) {
	sc := s.scalars()
	v1 := sample(s.types[0], "one", sc)
	v2 := sample(s.types[len(s.types)-1], "two", sc)
	if !s.m.Metadata {
		const name = "meta_none"
		s.need(t, name)
		s.set(t, name, v1, nil)
		s.checkInfoMetadata(t, name, nil)
		t.Skip("the vault declares no metadata (Manifest().Metadata is false)")
	}
	other := abi.Metadata{"other": {Kind: abi.MetaString, Str: "only this"}}

	t.Run("set", func(t T) {
		const name = "meta_set"
		s.need(t, name)
		s.set(t, name, v1, s.fullMetadata())
		s.checkInfoMetadata(t, name, s.fullMetadata())
	})
	t.Run("nil_keeps", func(t T) {
		const name = "meta_keep"
		s.need(t, name)
		s.set(t, name, v1, s.fullMetadata())
		s.set(t, name, v2, nil)
		s.checkGet(t, name, name, v2)
		s.checkInfoMetadata(t, name, s.fullMetadata())
	})
	t.Run("empty_clears", func(t T) {
		const name = "meta_clear"
		s.need(t, name)
		s.set(t, name, v1, s.fullMetadata())
		s.set(t, name, v2, abi.Metadata{})
		s.checkGet(t, name, name, v2)
		s.checkInfoMetadata(t, name, nil)
	})
	t.Run("replaces", func(t T) {
		const name = "meta_replace"
		s.need(t, name)
		s.set(t, name, v1, s.fullMetadata())
		s.set(t, name, v1, other)
		s.checkInfoMetadata(t, name, other)
	})
	t.Run("new_without", func(t T) {
		const name, gone = "meta_new", "meta_gone"
		s.need(t, name, gone)
		s.set(t, name, v1, nil)
		s.checkInfoMetadata(t, name, nil)
		// Removing a secret removes its metadata.
		s.set(t, gone, v1, s.fullMetadata())
		s.remove(t, gone)
		s.set(t, gone, v1, nil)
		s.checkInfoMetadata(t, gone, nil)
	})
	t.Run("copies", func(t T) {
		const name = "meta_copies"
		s.need(t, name)
		md := s.fullMetadata()
		s.set(t, name, v1, md)
		md["purpose"] = abi.MetaValue{Kind: abi.MetaString, Str: "changed by the caller"}
		delete(md, "count")
		in, _ := s.get(t, name)
		for k := range in.Metadata {
			delete(in.Metadata, k)
		}
		s.checkInfoMetadata(t, name, s.fullMetadata())
	})
	t.Run("SetMetadata", func(t T) {
		if !s.supports(abi.OpSetMetadata) {
			t.Skip("the vault does not support set_metadata")
		}
		const name, missing = "meta_setmd", "meta_missing"
		s.need(t, name, missing)
		ms := s.v.(engine.MetadataSetter)
		s.set(t, name, v1, s.fullMetadata())
		if err := ms.SetMetadata(s.ctx, name, other); err != nil {
			t.Fatalf("SetMetadata(%q): %v", name, err)
		}
		s.checkInfoMetadata(t, name, other)
		s.checkGet(t, name, name, v1)
		if err := ms.SetMetadata(s.ctx, name, s.fullMetadata()); err != nil {
			t.Fatalf("SetMetadata(%q): %v", name, err)
		}
		s.checkInfoMetadata(t, name, s.fullMetadata())
		if err := ms.SetMetadata(s.ctx, name, abi.Metadata{}); err != nil {
			t.Fatalf("SetMetadata(%q, {}): %v", name, err)
		}
		s.checkInfoMetadata(t, name, nil)
		s.checkGet(t, name, name, v1)
		if err := ms.SetMetadata(s.ctx, missing, other); !isNotFound(err) {
			t.Errorf("SetMetadata(%q) of a missing secret: error %v, want one wrapping abi.NotFound", missing, err)
		}
		s.checkMissing(t, missing)
	})
}

// checkInfoMetadata checks the metadata that Get, Stat and List report for
// name.
func (s *suite) checkInfoMetadata(t T, name string, want abi.Metadata) {
	t.Helper()
	in, _ := s.get(t, name)
	checkMetadata(t, "Get("+quote(name)+")", in.Metadata, want)
	if s.supports(abi.OpStat) {
		in, err := s.v.(engine.Statter).Stat(s.ctx, name)
		if err != nil {
			t.Errorf("Stat(%q): %v", name, err)
		} else {
			checkMetadata(t, "Stat("+quote(name)+")", in.Metadata, want)
		}
	}
	n := 0
	for _, in := range s.list(t, name) {
		if in.Name == name {
			n++
			checkMetadata(t, "List("+quote(name)+")", in.Metadata, want)
		}
	}
	if n != 1 {
		t.Errorf("List(%q) returned %q %d times, want once", name, name, n)
	}
}

// testStat checks that Stat agrees with Get.
func testStat(t T, s *suite) {
	if !s.supports(abi.OpStat) {
		t.Skip("the vault does not support stat")
	}
	st := s.v.(engine.Statter)
	const a, b, missing = "stat_a", "stat_b", "stat_missing"
	s.need(t, a, b, missing)
	var md abi.Metadata
	if s.m.Metadata {
		md = s.fullMetadata()
	}
	s.set(t, a, sample(s.types[0], "a", s.scalars()), md)
	s.set(t, b, sample(s.types[len(s.types)-1], "b", s.scalars()), nil)
	for _, name := range []string{a, b} {
		want, _ := s.get(t, name)
		got, err := st.Stat(s.ctx, name)
		if err != nil {
			t.Errorf("Stat(%q): %v", name, err)
			continue
		}
		if got.Name != want.Name || got.Type != want.Type {
			t.Errorf("Stat(%q) = %q %v, but Get says %q %v", name, got.Name, got.Type, want.Name, want.Type)
		}
		checkMetadata(t, "Stat("+quote(name)+") against Get", got.Metadata, want.Metadata)
	}
	s.checkMissing(t, missing)
	s.remove(t, b)
	if _, err := st.Stat(s.ctx, b); !isNotFound(err) {
		t.Errorf("Stat(%q) after Remove: error %v, want one wrapping abi.NotFound", b, err)
	}
}
