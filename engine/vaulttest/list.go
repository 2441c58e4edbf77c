package vaulttest

import (
	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// testList checks List with wildcards, prefixes, exact names and patterns
// that match nothing.
func testList(t T, s *suite) {
	// An empty vault lists nothing.
	s.checkList(t, "*", nil)

	stored := make(map[string]abi.Type)
	names := []string{"alpha", "alpine", "beta", "gamma", "a", "alpha_2", "密码", "пароль"}
	for i, name := range names {
		if !s.valid(name) {
			t.Logf("skipping %q: Options.ValidName rejects it", name)
			continue
		}
		v := sample(s.types[i%len(s.types)], name, s.scalars())
		s.set(t, name, v, nil)
		stored[name] = v.Type
	}
	if len(stored) == 0 {
		t.Skip("Options.ValidName rejects every name of the test")
	}
	for _, pattern := range []string{
		"*", "**", "a*", "al*", "*a", "*ph*", "?????", "be?a", "al*e", "?", "*_?",
		"alpha", "a", "密?", "?码", "пар*", "*ль",
		"bet", "betaa", "zeta*", "?????????", "*x*",
	} {
		t.Run(quote(pattern), func(t T) {
			s.checkList(t, pattern, s.matching(pattern, stored))
		})
	}
}

// testCaseRules checks that names are compared as Manifest().CaseSensitive
// says.
func testCaseRules(t T, s *suite) {
	sc := s.scalars()
	v1, v2 := sample(s.types[0], "first", sc), sample(s.types[0], "second", sc)
	const mixed, lower, upper = "Token_Mixed", "token_mixed", "TOKEN_MIXED"
	s.need(t, mixed, lower, upper)

	if s.cs {
		s.set(t, mixed, v1, nil)
		s.set(t, lower, v2, nil)
		s.checkGet(t, mixed, mixed, v1)
		s.checkGet(t, lower, lower, v2)
		s.checkMissing(t, upper)
		s.checkList(t, "*", map[string]abi.Type{mixed: v1.Type, lower: v2.Type})
		s.checkList(t, "token_*", map[string]abi.Type{lower: v2.Type})
		s.checkList(t, "T*", map[string]abi.Type{mixed: v1.Type})
		if err := s.v.Remove(s.ctx, upper); !isNotFound(err) {
			t.Errorf("Remove(%q) with two secrets differing from it in case: error %v, want one wrapping abi.NotFound", upper, err)
		}
		s.remove(t, lower)
		s.checkMissing(t, lower)
		s.checkGet(t, mixed, mixed, v1)
		if s.valid("Пароль") && s.valid("пароль") {
			s.set(t, "Пароль", v1, nil)
			s.checkMissing(t, "пароль")
		}
		return
	}

	// Case-insensitive: one secret, reachable by any spelling, keeping the
	// stored spelling (or, after an overwrite, the new one).
	s.set(t, mixed, v1, nil)
	for _, name := range []string{lower, upper, "tOKEN_mIXED"} {
		s.checkGet(t, name, mixed, v1)
		if s.supports(abi.OpStat) {
			in, err := s.v.(engine.Statter).Stat(s.ctx, name)
			if err != nil || in.Name != mixed {
				t.Errorf("Stat(%q) = %q, %v; want %q", name, in.Name, err, mixed)
			}
		}
	}
	for _, pattern := range []string{"token_*", "TOKEN_MIXED", "*MIX*", "t?KEN_mixed"} {
		s.checkList(t, pattern, map[string]abi.Type{mixed: v1.Type})
	}

	s.set(t, upper, v2, nil)
	var stored string
	switch all := s.list(t, "*"); {
	case len(all) != 1:
		t.Errorf("after setting %q and %q: List(\"*\") returned %d secrets, want 1 (%v)", mixed, upper, len(all), infoNames(all))
	case all[0].Name != mixed && all[0].Name != upper:
		t.Errorf("after setting %q and %q: List(\"*\") returned %q, want one of them", mixed, upper, all[0].Name)
	default:
		stored = all[0].Name
	}
	if stored != "" {
		for _, name := range []string{mixed, lower, upper} {
			s.checkGet(t, name, stored, v2)
		}
	}
	if err := s.v.Remove(s.ctx, "tOKEN_mIXED"); err != nil {
		t.Errorf("Remove(%q): %v", "tOKEN_mIXED", err)
	}
	for _, name := range []string{mixed, lower, upper} {
		s.checkMissing(t, name)
	}
	s.checkList(t, "*", nil)

	// Letters beyond ASCII fold too, as strings.EqualFold folds them.
	for _, pair := range [][2]string{{"Пароль", "пАРОЛЬ"}, {"Émile_Ωmega", "éMILE_ωMEGA"}} {
		if !s.valid(pair[0]) || !s.valid(pair[1]) {
			continue
		}
		s.set(t, pair[0], v1, nil)
		s.checkGet(t, pair[1], pair[0], v1)
		s.checkList(t, pair[1], map[string]abi.Type{pair[0]: v1.Type})
		if err := s.v.Remove(s.ctx, pair[1]); err != nil {
			t.Errorf("Remove(%q) of %q: %v", pair[1], pair[0], err)
		}
		s.checkMissing(t, pair[0])
	}
}

func infoNames(list []abi.Info) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.Name
	}
	return out
}
