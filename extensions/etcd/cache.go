//go:build wasip1

package main

import (
	"errors"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
)

// cached is the team as this instance last opened it, its derived keys
// kept in the host (key_keep: handles here, the keys in the host's locked
// page), so that a get or a set need not read and unwrap the team record
// before its own request: that request carries the check instead (a read
// gets the team record in the same transaction, a write compares its
// mod_revision), and a team that changed is opened again. The team key
// itself is not kept: only the members commands need it, and they open
// the team afresh. What the user accepted is read from the storage area
// at every call, so an accept by another instance counts at once.
var cached *team

// errTeamChanged is what a request that found the team record changed
// since cached was opened returns: the caller drops the cache and tries
// again.
var errTeamChanged = errors.New("the team record changed")

// currentTeam returns the cached team, or opens it and caches it.
func currentTeam() (*team, error) {
	if cached != nil {
		if err := cached.checkAccepted(); err != nil {
			return nil, err
		}
		return cached, nil
	}
	t, err := openTeam(true)
	if err != nil {
		return nil, err
	}
	if err := t.keep(); err != nil {
		return nil, err
	}
	cached = t
	return t, nil
}

// keep makes t's derived keys outlive the call.
func (t *team) keep() error {
	for _, g := range []*genKeys{&t.cur, t.prev} {
		if g == nil {
			continue
		}
		for _, k := range []guest.Key{g.names, g.records, g.check} {
			if err := k.Keep(); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropCache releases the cached team's keys and forgets it.
func dropCache() {
	if cached == nil {
		return
	}
	for _, g := range []*genKeys{&cached.cur, cached.prev} {
		if g == nil {
			continue
		}
		for _, k := range []guest.Key{g.names, g.records, g.check} {
			k.Release() // a key already gone needs no release
		}
	}
	cached = nil
}

// withTeam runs fn on the current team, and once more on the team opened
// afresh when fn finds it changed. A key of the cache that the host no
// longer holds (NOT_FOUND from a key function) also sends it to a fresh
// team, never to the caller as a missing secret.
func withTeam(fn func(t *team) error) error {
	for attempt := 0; ; attempt++ {
		t, err := currentTeam()
		if err != nil {
			return err
		}
		err = fn(t)
		var he *guest.HostError
		stale := errors.Is(err, errTeamChanged) || errors.As(err, &he) && errors.Is(he, abi.NotFound)
		if !stale || attempt > 0 {
			if errors.Is(err, errTeamChanged) {
				return guest.Error(abi.Conflict, "the team's member list changed during the operation: retry")
			}
			return err
		}
		dropCache()
	}
}
