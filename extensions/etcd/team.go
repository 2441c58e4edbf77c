//go:build wasip1

package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/etcdgw"
)

// The team record, at prefix + "team", as JSON: what etcd's readers see of
// the team is its members' recipients (public keys) and the wrapped keys.
type teamRecord struct {
	// Gen counts the team keys: a removal makes a new one.
	Gen int64 `json:"gen"`
	// Members are the recipients, sorted, that Key is wrapped to.
	Members []string `json:"members"`
	// Key is the age file of the team key of Gen, to Members.
	Key []byte `json:"key"`
	// Check is HMAC-SHA256 of Gen, Members and Prev under a key derived
	// from the team key: only a holder of the key wrote this list, and
	// this previous key.
	Check []byte `json:"check"`
	// Prev, while a removal moves the records to the new key, is the age
	// file of the key of Gen-1, to Members: no record is unreadable at any
	// moment of the move. Check covers it.
	Prev []byte `json:"prev,omitempty"`
}

func teamKey() []byte { return []byte(conf.prefix + "team") }

// genKeys are the keys derived from one generation's team key.
type genKeys struct {
	gen     int64
	names   guest.Key // the HMAC key of the secrets' etcd keys
	records guest.Key // the key that seals the records
	check   guest.Key // the HMAC key of the member list
}

// derive makes the keys of generation gen from its team key k.
func derive(k guest.Key, gen int64) (genKeys, error) {
	g := genKeys{gen: gen}
	var err error
	for _, d := range []struct {
		to   *guest.Key
		info string
	}{{&g.names, "sesame etcd names"}, {&g.records, "sesame etcd records"}, {&g.check, "sesame etcd members"}} {
		if *d.to, err = k.Derive(nil, []byte(d.info), abi.KeyAEADBytes); err != nil {
			return genKeys{}, err
		}
	}
	return g, nil
}

// checkOf is the Check of a record of generation g listing members, with
// prev, the age file of the previous key (nil: none). Prev is covered
// because it is trusted like the key: records of generation g-1 open with
// it, and a removal's move seals them again under the key of g. Without
// it in the check, anyone who writes etcd could wrap a key of their own to
// the members' public recipients as prev, and have forged records read.
// A record without prev has the check it had before prev was covered.
func (g *genKeys) checkOf(members []string, prev []byte) ([]byte, error) {
	text := strconv.FormatInt(g.gen, 10) + "\n" + strings.Join(members, "\n")
	if prev != nil {
		p := sha256.Sum256(prev)
		text += "\nprev " + hex.EncodeToString(p[:])
	}
	sum, err := g.check.HMAC([]byte(text))
	return sum[:], err
}

// team is the team as one call read it.
type team struct {
	rec    teamRecord
	modRev int64
	key    guest.Key // the team key of rec.Gen
	cur    genKeys
	prevK  guest.Key // the key of rec.Gen-1 while records move
	prev   *genKeys
}

// digest names the team's state: its key (by a fingerprint that tells
// nothing of it) and its member list. It changes when a member is added or
// removed, and when the key is replaced, by a removal or by someone who
// wrote a team record of their own.
func (t *team) digest() (string, error) {
	fp, err := t.cur.check.HMAC([]byte("sesame etcd fingerprint"))
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(fp[:])
	h.Write([]byte("\n" + strings.Join(t.rec.Members, "\n")))
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// readTeam reads the team record: nil when there is none yet.
func readTeam() (*teamRecord, int64, error) {
	ctx, cancel := call()
	defer cancel()
	kv, _, err := client.Get(ctx, teamKey())
	if err != nil {
		return nil, 0, etcdFailed(err)
	}
	if kv == nil {
		return nil, 0, nil
	}
	var rec teamRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil || rec.Gen < 1 || len(rec.Members) == 0 {
		return nil, 0, guest.Error(abi.Internal, "the team record "+strconv.Quote(string(teamKey()))+" in etcd is not one this vault wrote")
	}
	return &rec, int64(kv.ModRevision), nil
}

// errNoTeam is the error of an operation on a prefix without a team.
func errNoTeam() error {
	return guest.Error(abi.NotFound, "there is no team under the prefix "+strconv.Quote(conf.prefix)+" yet: sesame vault members add "+conf.vault+" age1… creates it")
}

// openTeam reads the team record and opens the team key with the user's
// identity. With accepted, the team must be in the state the user
// accepted last: an operation never encrypts to, nor trusts, a member list
// that someone else changed until the user has seen it.
func openTeam(accepted bool) (*team, error) {
	rec, modRev, err := readTeam()
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errNoTeam()
	}
	t := &team{rec: *rec, modRev: modRev}
	if t.key, err = unwrap(rec.Key); err != nil {
		return nil, err
	}
	if t.cur, err = derive(t.key, rec.Gen); err != nil {
		return nil, err
	}
	check, err := t.cur.checkOf(rec.Members, rec.Prev)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, rec.Check) != 1 {
		return nil, guest.Error(abi.PermissionDenied, "the team record's member list was not written by a holder of the team key: someone with write access to etcd changed it; do not accept it")
	}
	stale, err := staleAfterSettled(rec)
	if err != nil {
		return nil, err
	}
	if rec.Prev != nil && !stale {
		if t.prevK, err = unwrap(rec.Prev); err != nil {
			return nil, err
		}
		prev, err := derive(t.prevK, rec.Gen-1)
		if err != nil {
			return nil, err
		}
		t.prev = &prev
	}
	if accepted {
		if err := t.checkAccepted(); err != nil {
			return nil, err
		}
		if err := t.settle(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// settledKey, in the vault's storage area (on this machine, not in etcd),
// holds the last generation this user accepted without a previous key (8
// bytes, big-endian): one whose records had all moved to it.
var settledKey = []byte("settled")

func loadSettled() (int64, error) {
	b, err := guest.KVGet(settledKey)
	switch {
	case err == nil && len(b) == 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	case err != nil && !errors.Is(err, abi.NotFound):
		return 0, err
	}
	return 0, nil
}

// staleAfterSettled reports whether rec holds the previous key of a
// generation this user saw settled, which must then not be opened. A
// record that held it was a member's (its check is good, its digest the
// accepted one), but put back after the move by anyone who writes etcd, it
// would make the previous key open records again: a removed member knows
// that key, and could seal secrets under it that every member would read
// as the team's, and that the next move would seal under the new key.
// Records under it are refused like any of a generation the team record
// does not hold; the rest of the team works on.
func staleAfterSettled(rec *teamRecord) (bool, error) {
	settled, err := loadSettled()
	if err != nil || rec.Prev == nil || rec.Gen > settled {
		return false, err
	}
	guest.Log(guest.LogWarn, "the team record holds the previous team key again, after every record had moved off it: someone with write access to etcd put an old team record back; the previous key is not used")
	return true, nil
}

// settle notes t's generation as settled when t, accepted, holds no
// previous key. Only an accepted team counts: a stranger's record of a far
// generation, seen and refused, would otherwise make every later removal's
// previous key look stale.
func (t *team) settle() error {
	if t.rec.Prev != nil {
		return nil
	}
	settled, err := loadSettled()
	if err != nil || t.rec.Gen <= settled {
		return err
	}
	return guest.KVSet(settledKey, binary.BigEndian.AppendUint64(nil, uint64(t.rec.Gen)))
}

// unwrap opens an age file of the team record with the user's identity.
func unwrap(file []byte) (guest.Key, error) {
	k, err := guest.AgeUnwrap(file)
	if errors.Is(err, abi.PermissionDenied) {
		self, _ := guest.AgeRecipient()
		return 0, guest.Error(abi.PermissionDenied, "you are not a member of the team: your recipient "+self+" is not one the team key is wrapped to (a member adds you with sesame vault members add "+conf.vault+" "+self+")")
	}
	return k, err
}

// accepted is what this user accepted last, kept in the vault's storage
// area (on this machine, not in etcd).
type acceptedState struct {
	Digest  string   `json:"digest"`
	Members []string `json:"members"`
}

var acceptedKey = []byte("accepted")

func loadAccepted() (acceptedState, error) {
	var a acceptedState
	b, err := guest.KVGet(acceptedKey)
	switch {
	case errors.Is(err, abi.NotFound):
		return a, nil
	case err != nil:
		return a, err
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return acceptedState{}, guest.Error(abi.Internal, "the accepted member list in the vault's storage does not decode: "+err.Error())
	}
	return a, nil
}

// accept records t's state as the one the user accepted.
func (t *team) accept() error {
	d, err := t.digest()
	if err != nil {
		return err
	}
	b, err := json.Marshal(acceptedState{Digest: d, Members: t.rec.Members})
	if err != nil {
		return err
	}
	return guest.KVSet(acceptedKey, b)
}

// checkAccepted fails when the team is not in the state the user accepted,
// and says what changed.
func (t *team) checkAccepted() error {
	a, err := loadAccepted()
	if err != nil {
		return err
	}
	d, err := t.digest()
	if err != nil || a.Digest == d {
		return err
	}
	var what string
	if a.Digest == "" {
		what = "you have not accepted this team's member list yet (" + strconv.Itoa(len(t.rec.Members)) + " members)"
	} else {
		added, removed := diff(a.Members, t.rec.Members)
		what = "the team's member list changed since you accepted it"
		if len(added) > 0 {
			what += "; added: " + strings.Join(added, ", ")
		}
		if len(removed) > 0 {
			what += "; removed: " + strings.Join(removed, ", ")
		}
		if len(added)+len(removed) == 0 {
			what += "; the team key was replaced"
		}
	}
	return guest.Error(abi.PermissionDenied, what+": review it with sesame vault members list "+conf.vault+", then sesame vault members accept "+conf.vault)
}

// diff returns what is in b and not in a, and what is in a and not in b.
func diff(a, b []string) (added, removed []string) {
	for _, r := range b {
		if !slices.Contains(a, r) {
			added = append(added, r)
		}
	}
	for _, r := range a {
		if !slices.Contains(b, r) {
			removed = append(removed, r)
		}
	}
	return added, removed
}

// newRecord makes the team record of generation gen, key k, members (and
// the previous key prevK while records move; 0: none).
func newRecord(k guest.Key, keys *genKeys, members []string, prevK guest.Key) (teamRecord, error) {
	rec := teamRecord{Gen: keys.gen, Members: members}
	var err error
	if rec.Key, err = k.AgeWrap(members); err != nil {
		return rec, recipientsRefused(err)
	}
	if prevK != 0 {
		if rec.Prev, err = prevK.AgeWrap(members); err != nil {
			return rec, recipientsRefused(err)
		}
	}
	rec.Check, err = keys.checkOf(members, rec.Prev)
	return rec, err
}

func recipientsRefused(err error) error {
	if errors.Is(err, abi.InvalidArgument) {
		return guest.Error(abi.InvalidArgument, "a member is not an age X25519 recipient (age1… in lower case, 62 characters)")
	}
	return err
}

// store writes rec as the team record if it is still at modRev (0: absent).
func store(rec teamRecord, modRev int64) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	cmp := etcdgw.Compare{Key: teamKey(), Target: etcdgw.ModRevision, Revision: modRev}
	if modRev == 0 {
		cmp.Target = etcdgw.CreateRevision
	}
	ctx, cancel := call()
	defer cancel()
	r, err := client.Txn(ctx, []etcdgw.Compare{cmp}, []etcdgw.Op{{Kind: etcdgw.OpPut, Key: teamKey(), Value: b}}, nil)
	switch {
	case err != nil:
		return etcdFailed(err)
	case !r.Succeeded:
		return guest.Error(abi.Conflict, "another member changed the team at the same moment; nothing was changed: run the command again")
	}
	return nil
}

// listing is the output of the members actions for t (nil: no team).
func listing(t *team) (abi.Members, error) {
	self, err := guest.AgeRecipient()
	if err != nil {
		return abi.Members{}, err
	}
	m := abi.Members{Self: self}
	if t == nil {
		return m, nil
	}
	a, err := loadAccepted()
	if err != nil {
		return m, err
	}
	d, err := t.digest()
	if err != nil {
		return m, err
	}
	m.Members, m.Accepted, m.Digest, m.Changed = t.rec.Members, a.Members, d, a.Digest != d
	return m, nil
}

func listMembers() (abi.Members, error) {
	rec, _, err := readTeam()
	if err != nil || rec == nil {
		return listing(nil)
	}
	t, err := openTeam(false)
	if err != nil {
		return abi.Members{}, err
	}
	return listing(t)
}

// checkRecipient refuses what cannot be an X25519 recipient before the
// host is asked, in words that name it (recipients are public).
func checkRecipient(r string) error {
	if len(r) != 62 || !strings.HasPrefix(r, "age1") || strings.ToLower(r) != r {
		return guest.Error(abi.InvalidArgument, strconv.Quote(r)+" is not an age X25519 recipient (age1… in lower case, 62 characters; sesame identity prints yours)")
	}
	return nil
}

func addMember(r string) (abi.Members, error) {
	if err := checkRecipient(r); err != nil {
		return abi.Members{}, err
	}
	rec, _, err := readTeam()
	if err != nil {
		return abi.Members{}, err
	}
	if rec == nil {
		return createTeam(r)
	}
	t, err := openTeam(true)
	if err != nil {
		return abi.Members{}, err
	}
	if err := t.finishRotation(); err != nil {
		return abi.Members{}, err
	}
	if slices.Contains(t.rec.Members, r) {
		return abi.Members{}, guest.Error(abi.InvalidArgument, r+" is a member already")
	}
	members := append(slices.Clone(t.rec.Members), r)
	slices.Sort(members)
	return t.replace(t.key, &t.cur, members, 0)
}

// replace writes the team record of key k (keys), members and prevK over
// t's, accepts it, and returns the new listing.
func (t *team) replace(k guest.Key, keys *genKeys, members []string, prevK guest.Key) (abi.Members, error) {
	rec, err := newRecord(k, keys, members, prevK)
	if err != nil {
		return abi.Members{}, err
	}
	if err := store(rec, t.modRev); err != nil {
		return abi.Members{}, err
	}
	next := &team{rec: rec, key: k, cur: *keys}
	if err := next.accept(); err != nil {
		return abi.Members{}, err
	}
	return listing(next)
}

// createTeam makes the team: a new key, wrapped to the user and r.
func createTeam(r string) (abi.Members, error) {
	self, err := guest.AgeRecipient()
	if err != nil {
		return abi.Members{}, err
	}
	members := []string{self}
	if r != self {
		members = append(members, r)
	}
	slices.Sort(members)
	k, err := guest.GenerateKey(abi.KeyAEADBytes)
	if err != nil {
		return abi.Members{}, err
	}
	keys, err := derive(k, 1)
	if err != nil {
		return abi.Members{}, err
	}
	return (&team{}).replace(k, &keys, members, 0)
}

// removeMember removes r and replaces the team key: a new key, wrapped to
// the others, and every record sealed again under it. The old key stays
// in the team record (Prev) until every record has moved, so that a crash
// or a deadline in the middle loses nothing: the next members command
// finishes the move.
func removeMember(r string) (abi.Members, error) {
	t, err := openTeam(true)
	if err != nil {
		return abi.Members{}, err
	}
	if err := t.finishRotation(); err != nil {
		return abi.Members{}, err
	}
	self, err := guest.AgeRecipient()
	if err != nil {
		return abi.Members{}, err
	}
	switch {
	case !slices.Contains(t.rec.Members, r):
		return abi.Members{}, guest.Error(abi.NotFound, r+" is not a member of the team")
	case r == self:
		return abi.Members{}, guest.Error(abi.InvalidArgument, r+" is you: another member removes you (a removal makes a new team key, which you would then not have)")
	}
	members := slices.DeleteFunc(slices.Clone(t.rec.Members), func(m string) bool { return m == r })
	k, err := guest.GenerateKey(abi.KeyAEADBytes)
	if err != nil {
		return abi.Members{}, err
	}
	keys, err := derive(k, t.rec.Gen+1)
	if err != nil {
		return abi.Members{}, err
	}
	if _, err := t.replace(k, &keys, members, t.key); err != nil {
		return abi.Members{}, err
	}
	next, err := openTeam(true)
	if err != nil {
		return abi.Members{}, err
	}
	if err := next.finishRotation(); err != nil {
		return abi.Members{}, err
	}
	return listing(next)
}

// acceptMembers accepts the team's state if its digest is digest, the one
// the user was shown.
func acceptMembers(digest string) (abi.Members, error) {
	t, err := openTeam(false)
	if err != nil {
		return abi.Members{}, err
	}
	d, err := t.digest()
	if err != nil {
		return abi.Members{}, err
	}
	if d != digest {
		return abi.Members{}, guest.Error(abi.Conflict, "the team's member list is not the one shown (it changed since, or the digest is wrong): review it again with sesame vault members list "+conf.vault)
	}
	if err := t.accept(); err != nil {
		return abi.Members{}, err
	}
	if err := t.settle(); err != nil {
		return abi.Members{}, err
	}
	if err := t.finishRotation(); err != nil {
		return abi.Members{}, err
	}
	return listing(t)
}

// rotationPasses bounds the passes over the records of a move: a pass
// that finds records moved by others, or written under the old key by a
// member who had not yet seen the new one, goes again.
const rotationPasses = 3

// finishRotation moves every record still sealed under the previous key
// to the current one, each in a transaction of its own (put at the new
// etcd key and delete at the old, if the old is unchanged), and then
// drops the previous key from the team record.
func (t *team) finishRotation() error {
	if t.prev == nil {
		return nil
	}
	for range rotationPasses {
		ctx, cancel := call()
		kvs, _, err := client.Prefix(ctx, recordsPrefix())
		cancel()
		if err != nil {
			return etcdFailed(err)
		}
		left := 0
		for i := range kvs {
			if len(kvs[i].Value) >= 8 && int64(binary.BigEndian.Uint64(kvs[i].Value)) == t.cur.gen {
				continue
			}
			left++
			if err := t.move(&kvs[i]); err != nil {
				return err
			}
		}
		if left == 0 {
			rec := t.rec
			rec.Prev = nil
			check, err := t.cur.checkOf(rec.Members, nil)
			if err != nil {
				return err
			}
			rec.Check = check
			b, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			ctx, cancel := call()
			defer cancel()
			swapped, _, err := client.Swap(ctx, teamKey(), b, t.modRev)
			if err != nil {
				return etcdFailed(err)
			}
			if swapped {
				settled := *t
				settled.rec = rec
				return settled.settle()
			}
			return nil // another member finished it
		}
	}
	return guest.Error(abi.Unavailable, "records kept being written under the old team key while they were moved to the new one: run the command again")
}

// move seals the record kv again under the current key, at its new etcd
// key, if no one changed it since it was read.
func (t *team) move(kv *etcdgw.KeyValue) error {
	r, err := t.open(kv)
	if err != nil {
		return err
	}
	key, err := t.cur.etcdKey(r.info.Name)
	if err != nil {
		return err
	}
	sealed, err := t.cur.seal(key, r.info, r.value)
	clear(r.value.Data)
	if err != nil {
		return err
	}
	ctx, cancel := call()
	defer cancel()
	unchanged := etcdgw.Compare{Key: kv.Key, Target: etcdgw.ModRevision, Revision: int64(kv.ModRevision)}
	r2, err := client.Txn(ctx,
		[]etcdgw.Compare{unchanged, {Key: key, Target: etcdgw.CreateRevision}},
		[]etcdgw.Op{{Kind: etcdgw.OpPut, Key: key, Value: sealed}, {Kind: etcdgw.OpDelete, Key: kv.Key}}, nil)
	if err == nil && !r2.Succeeded {
		// A record at the new key is newer than this one (written there
		// under the new key): this one goes, if it is still as read.
		_, err = client.Txn(ctx, []etcdgw.Compare{unchanged}, []etcdgw.Op{{Kind: etcdgw.OpDelete, Key: kv.Key}}, nil)
	}
	if err != nil {
		return etcdFailed(err)
	}
	return nil // or changed by someone else since: the next pass sees
}
