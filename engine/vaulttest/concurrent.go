package vaulttest

import (
	"fmt"
	"sync"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// rounds is how many rounds each goroutine of the Concurrent test runs.
const rounds = 30

// testConcurrent runs Options.Concurrency goroutines at once. Each sets,
// reads and removes a secret of its own, and in turn overwrites and reads a
// shared secret whose every version is self-consistent, so that a torn read
// (part of one version, part of another) shows. Run it with -race.
func testConcurrent(t T, s *suite) {
	const shared = "conc_shared"
	s.need(t, shared, "conc_0")

	// Writers use the scalar types in turn, so that a type torn from its
	// data shows too.
	var kinds []abi.Type
	for _, typ := range s.types {
		if typ != abi.TypeHashtable {
			kinds = append(kinds, typ)
		}
	}
	if kinds == nil {
		kinds = s.types
	}
	s.set(t, shared, sharedValue(kinds[0], 0, 0), nil)

	var stat engine.Statter
	if s.supports(abi.OpStat) {
		stat = s.v.(engine.Statter)
	}
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Go(func() {
			own := fmt.Sprintf("conc_%d", w)
			fail := func(format string, args ...any) {
				t.Errorf("goroutine %d: "+format, append([]any{w}, args...)...)
			}
			for r := range rounds {
				// A secret of its own.
				v := sample(kinds[(w+r)%len(kinds)], fmt.Sprintf("w%d r%d", w, r), s.scalars())
				if err := s.v.Set(s.ctx, own, v, nil); err != nil {
					fail("Set(%q): %v", own, err)
					return
				}
				if in, got, err := s.v.Get(s.ctx, own); err != nil || in.Name != own || !equalValue(got, v) {
					fail("Get(%q) = %q %s, %v; want %s", own, in.Name, describe(got), err, describe(v))
					return
				}
				if stat != nil {
					if in, err := stat.Stat(s.ctx, own); err != nil || in.Type != v.Type {
						fail("Stat(%q) = %v, %v; want type %v", own, in.Type, err, v.Type)
						return
					}
				}
				if err := s.v.Remove(s.ctx, own); err != nil {
					fail("Remove(%q): %v", own, err)
					return
				}
				if _, _, err := s.v.Get(s.ctx, own); !isNotFound(err) {
					fail("Get(%q) after Remove: error %v, want one wrapping abi.NotFound", own, err)
					return
				}

				// The shared secret: write on even rounds, read on odd.
				if (w+r)%2 == 0 {
					if err := s.v.Set(s.ctx, shared, sharedValue(kinds[(w+r)%len(kinds)], w, r), nil); err != nil {
						fail("Set(%q): %v", shared, err)
						return
					}
				} else {
					in, got, err := s.v.Get(s.ctx, shared)
					if err != nil {
						fail("Get(%q): %v", shared, err)
						return
					}
					if msg := checkShared(got); msg != "" {
						fail("Get(%q) = %s: %s", shared, describe(got), msg)
						return
					}
					if in.Type != got.Type {
						fail("Get(%q): Info.Type %v but the value is a %v", shared, in.Type, got.Type)
						return
					}
				}

				// And a list now and then.
				if r%5 == 0 {
					list, err := s.v.List(s.ctx, "conc_*")
					if err != nil {
						fail("List: %v", err)
						return
					}
					n := 0
					for _, in := range list {
						if in.Name == shared {
							n++
						}
					}
					if n != 1 {
						fail("List(%q) returned %q %d times, want once", "conc_*", shared, n)
						return
					}
				}
			}
		})
	}
	wg.Wait()

	// Only the shared secret remains, whole.
	s.checkList(t, "conc_*", map[string]abi.Type{shared: s.sharedType(t, shared)})
}

// sharedType reads the shared secret, checks it and returns its type.
func (s *suite) sharedType(t T, name string) abi.Type {
	t.Helper()
	_, v := s.get(t, name)
	if msg := checkShared(v); msg != "" {
		t.Errorf("Get(%q) after the goroutines ended = %s: %s", name, describe(v), msg)
	}
	return v.Type
}
