//go:build wasip1

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/etcdgw"
)

// A secret is one etcd key under prefix + "s/": the base64url of
// HMAC-SHA256 of its name under the names key of the team key's
// generation. Its value is that generation (8 bytes, big-endian) and the
// box of the secret (abi.AppendSecret: name, type, metadata, value) sealed
// under the generation's records key, bound to the etcd key and the
// generation, so that a box moved to another key or generation does not
// open.
const recordsDir = "s/"

func recordsPrefix() []byte { return []byte(conf.prefix + recordsDir) }

// record is one secret as read from etcd.
type record struct {
	info   abi.Info
	value  abi.Value
	key    []byte // its etcd key
	modRev int64
	gen    int64
	raw    []byte // its etcd value
}

// errRemove is what a write's change returns to delete the secret.
var errRemove = errors.New("remove")

// etcdKey is the etcd key of the secret called name under k.
func (k *genKeys) etcdKey(name string) ([]byte, error) {
	sum, err := k.names.HMAC([]byte(name))
	if err != nil {
		return nil, err
	}
	return base64.RawURLEncoding.AppendEncode(recordsPrefix(), sum[:]), nil
}

func recordAD(key []byte, gen int64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte("sesame etcd record\x00"), key...), uint64(gen))
}

// seal makes the etcd value of the secret (info, v) at key.
func (k *genKeys) seal(key []byte, info abi.Info, v abi.Value) ([]byte, error) {
	plain, err := abi.AppendSecret(nil, info, v)
	if err != nil {
		return nil, err
	}
	box, err := k.records.Seal(plain, recordAD(key, k.gen))
	clear(plain)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, uint64(k.gen)), box...), nil
}

// open reads the secret of kv with the keys of its generation.
func (t *team) open(kv *etcdgw.KeyValue) (*record, error) {
	bad := func(why string) error {
		return guest.Error(abi.Internal, "the etcd key "+strconv.Quote(string(kv.Key))+" "+why+": it was not written by a member of this team")
	}
	if len(kv.Value) < 8 {
		return nil, bad("is too short to be a record")
	}
	gen := int64(binary.BigEndian.Uint64(kv.Value))
	k := t.keysOf(gen)
	if k == nil {
		return nil, bad("is of key generation " + strconv.FormatInt(gen, 10) + ", which the team record does not hold")
	}
	plain, err := k.records.Open(kv.Value[8:], recordAD(kv.Key, gen))
	if err != nil {
		return nil, bad("does not open with the team key")
	}
	info, v, err := abi.DecodeSecret(plain)
	if err != nil {
		return nil, bad("does not decode")
	}
	v = cloneValue(v)
	clear(plain)
	return &record{info: info, value: v, key: kv.Key, modRev: int64(kv.ModRevision), gen: gen, raw: kv.Value}, nil
}

// cloneValue copies v out of the buffer it was decoded from, which is
// then cleared.
func cloneValue(v abi.Value) abi.Value {
	v.Data = bytes.Clone(v.Data)
	if v.Entries != nil {
		entries := make([]abi.Entry, len(v.Entries))
		for i, e := range v.Entries {
			entries[i] = abi.Entry{Key: e.Key, Value: cloneValue(e.Value)}
		}
		v.Entries = entries
	}
	return v
}

// keysOf returns the keys of generation gen, or nil.
func (t *team) keysOf(gen int64) *genKeys {
	switch {
	case gen == t.cur.gen:
		return &t.cur
	case t.prev != nil && gen == t.prev.gen:
		return t.prev
	}
	return nil
}

// slot is where the secret of a name lives: its etcd key under the
// current generation and, while a rotation moves the records, under the
// previous one; and what is there.
type slot struct {
	keys [][]byte // current first
	old  *record  // nil: absent
}

// lookup finds name's record, in one request that also reads the team
// record: errTeamChanged when it is no longer the one t was opened from.
func (t *team) lookup(name string) (*slot, error) {
	s := &slot{}
	for _, k := range []*genKeys{&t.cur, t.prev} {
		if k == nil {
			continue
		}
		key, err := k.etcdKey(name)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, key)
	}
	ops := []etcdgw.Op{{Kind: etcdgw.OpGet, Key: teamKey()}}
	for _, k := range s.keys {
		ops = append(ops, etcdgw.Op{Kind: etcdgw.OpGet, Key: k})
	}
	ctx, cancel := call()
	defer cancel()
	r, err := client.Txn(ctx, nil, ops, nil)
	if err != nil {
		return nil, etcdFailed(err)
	}
	if len(r.Gets) != len(ops) {
		return nil, guest.Error(abi.Internal, "etcd answered a transaction of "+strconv.Itoa(len(ops))+" reads with "+strconv.Itoa(len(r.Gets)))
	}
	if r.Gets[0] == nil || int64(r.Gets[0].ModRevision) != t.modRev {
		return nil, errTeamChanged
	}
	gets := r.Gets[1:]
	for _, kv := range gets {
		if kv != nil {
			r, err := t.open(kv)
			if err != nil {
				return nil, err
			}
			if r.info.Name != name {
				return nil, guest.Error(abi.Internal, "the etcd key "+strconv.Quote(string(kv.Key))+" holds another name than its own: it was not written by a member of this team")
			}
			s.old = r
			break
		}
	}
	return s, nil
}

// find returns the secret called name, or NOT_FOUND.
func (t *team) find(name string) (*record, error) {
	s, err := t.lookup(name)
	switch {
	case err != nil:
		return nil, err
	case s.old == nil:
		return nil, guest.Error(abi.NotFound, "")
	}
	return s.old, nil
}

// records reads every secret.
func (t *team) records() ([]*record, error) {
	ctx, cancel := call()
	defer cancel()
	kvs, _, err := client.Prefix(ctx, recordsPrefix())
	if err != nil {
		return nil, etcdFailed(err)
	}
	out := make([]*record, 0, len(kvs))
	for i := range kvs {
		r, err := t.open(&kvs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// lookupHint is what the last Stat found of a name: the etcd keys, the
// record without its value (its info, mod_revision and sealed bytes), and
// the team it was read under.
type lookupHint struct {
	name string
	team *team
	slot *slot
}

// hint is the last Stat's lookup, kept for the set of the same name that
// the engine makes next (it stats before it sets, to report a replace):
// that set's first attempt uses it instead of reading again, one etcd
// request fewer. It is sound because the write's transaction compares the
// mod_revisions the hint holds: a hint gone stale (another writer since)
// loses that attempt, which reads afresh, as any lost race does. Only set
// and create use it, which read no value of the old record; every write
// takes it, so it serves one call at most.
var hint *lookupHint

// takeHint returns the hint when it is of name and of the current cached
// team, and forgets it in any case.
func takeHint(name string) *lookupHint {
	h := hint
	hint = nil
	if h == nil || h.name != name || name == "" || h.team != cached {
		return nil
	}
	return h
}

// writeAttempts bounds the attempts of a write that other writers keep
// beating (each attempt reads the state again and loses to a change made
// after that read).
const writeAttempts = 8

// write changes the secret called name in one etcd transaction: change
// gets what is there (nil: nothing) and returns what to store, or
// errRemove. The transaction holds only if neither the team record nor
// the secret changed since they were read (mod_revision; create_revision 0
// for a secret that was absent), so that no concurrent write is lost:
// when another member wrote at the same moment, the write reads again and
// applies change to what that member wrote (a set that keeps metadata
// keeps theirs, a set-info keeps their value), up to writeAttempts times,
// then fails with CONFLICT, having written nothing. A create that finds
// the secret made meanwhile fails at once. The secret goes to its key of
// the current generation; a record still at its previous generation's key
// moves in the same transaction. An attempt whose answer was lost (the
// member died) and that etcd applied is found by the next attempt's read.
// h, when not nil, is the first attempt's read (see hint).
func write(name string, h *lookupHint, change func(old *record) (abi.Info, abi.Value, error)) error {
	var (
		written []byte // the value of the last attempt: unique (a random nonce)
		removed bool   // the last attempt removed the secret
	)
	for attempt := range writeAttempts {
		t, err := currentTeam()
		if err != nil {
			return err
		}
		var s *slot
		if attempt == 0 && h != nil && h.team == t {
			s = h.slot // its transaction's compares check it
		} else {
			s, err = t.lookup(name)
		}
		var he *guest.HostError
		if errors.Is(err, errTeamChanged) || errors.As(err, &he) && errors.Is(he, abi.NotFound) {
			dropCache() // open the team afresh
			continue
		}
		if err != nil {
			return err
		}
		if written != nil && s.old != nil && bytes.Equal(s.old.raw, written) || removed && s.old == nil {
			return nil // the last attempt was applied, but its answer lost
		}
		info, v, err := change(s.old)
		remove := errors.Is(err, errRemove)
		if err != nil && !remove {
			return err
		}
		removed = remove
		cmp := []etcdgw.Compare{{Key: teamKey(), Target: etcdgw.ModRevision, Revision: t.modRev}}
		var then []etcdgw.Op
		if s.old != nil {
			cmp = append(cmp, etcdgw.Compare{Key: s.old.key, Target: etcdgw.ModRevision, Revision: s.old.modRev})
			if remove || !bytes.Equal(s.old.key, s.keys[0]) {
				then = append(then, etcdgw.Op{Kind: etcdgw.OpDelete, Key: s.old.key})
			}
		} else {
			for _, k := range s.keys {
				cmp = append(cmp, etcdgw.Compare{Key: k, Target: etcdgw.CreateRevision, Revision: 0})
			}
		}
		if !remove {
			sealed, err := t.cur.seal(s.keys[0], info, v)
			if err != nil {
				return err
			}
			then = append(then, etcdgw.Op{Kind: etcdgw.OpPut, Key: s.keys[0], Value: sealed})
			written = sealed
		}
		ctx, cancel := call()
		r, err := client.Txn(ctx, cmp, then, nil)
		cancel()
		switch {
		case err != nil:
			return etcdFailed(err)
		case r.Succeeded:
			return nil
		}
		dropCache() // the team may have changed too
		backOff(attempt)
	}
	return guest.Error(abi.Conflict, "other members kept changing it at the same moment ("+strconv.Itoa(writeAttempts)+" attempts); nothing was written: retry")
}

// backOff waits a random moment, longer after each lost attempt, so that
// writers that collided do not collide again.
func backOff(attempt int) {
	time.Sleep(time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond)
}
