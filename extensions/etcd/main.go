//go:build wasip1

// Command etcd is the vault builtin:etcd: a team's secrets in an etcd v3
// cluster, reached through the members' JSON gateways over the host's http
// function (SPEC.md §5.9), encrypted so that etcd and whoever reads it see
// counts and sizes only. docs/team.md is the user's account.
//
// A team key encrypts everything: the etcd key of a secret is a keyed hash
// of its name, and its value holds the sealed name, type, metadata and
// value. The team key is wrapped to each member's age recipient and opened
// with the user's identity (SPEC.md §5.10); it lives behind a handle in the
// host (§5.8) and never in this module's memory. Each call reads the team
// record, opens the key, and drops it when the call ends.
package main

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/etcdgw"
)

func init() {
	guest.Register(abi.Manifest{
		Name:          "etcd",
		Version:       "1.0.0",
		Description:   "a team's secrets in an etcd cluster, encrypted to its members' age recipients",
		Metadata:      true,
		CaseSensitive: true,
		Grants:        []string{abi.GrantStorage, abi.GrantHTTP, abi.GrantIdentity},
	}, vault{})
}

// main is never run: the host calls the exports that package guest defines.
func main() {}

// The vault's parameters in vaults.toml:
//
//	prefix     the etcd keys of the team's records start with it (team/)
//	endpoints  the members' client URLs, comma-separated; each must be
//	           granted; by default every origin of the http grant, in
//	           its order (--grant http=...)
//	user       the etcd user, when the cluster has authentication on
//	password   its password: a secret reference (sesame:VAULT/NAME), so
//	           that vaults.toml does not hold it
//	retry      how long a request may go from member to member before the
//	           operation fails as unavailable (default 3s; keep it under
//	           the grant's timeout, 5s by default)
type settings struct {
	vault     string
	prefix    string
	endpoints []string
	user      string
	password  string
	retry     time.Duration
}

var conf settings

// client is this instance's etcd client: it keeps the member that answered
// last and the authentication tokens between calls.
var (
	transport = &hostTransport{}
	client    *etcdgw.Client
)

func (vault) Init(name string, params map[string]string) error {
	s := settings{vault: name, retry: 3 * time.Second}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v := strings.TrimSpace(params[k])
		switch k {
		case "prefix":
			s.prefix = v
		case "endpoints":
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					s.endpoints = append(s.endpoints, e)
				}
			}
		case "user":
			s.user = v
		case "password":
			s.password = params[k]
		case "retry":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return guest.Error(abi.InvalidArgument, "parameter retry is "+strconv.Quote(v)+": want a duration such as 3s")
			}
			s.retry = d
		default:
			return guest.Error(abi.InvalidArgument, "unknown parameter "+strconv.Quote(k)+" (etcd knows prefix, endpoints, user, password and retry)")
		}
	}
	if len(s.endpoints) == 0 {
		// The members are the servers the user granted.
		granted, err := guest.HTTPOrigins()
		if err != nil {
			return guest.Error(abi.PermissionDenied, "the vault needs the http grant: the etcd members' client URLs (--grant http=http://10.0.0.5:2379,...)")
		}
		s.endpoints = granted
	}
	switch {
	case s.prefix == "":
		return guest.Error(abi.InvalidArgument, "parameter prefix is missing: the etcd keys of the team's records start with it (--param prefix=team/)")
	case len(s.endpoints) == 0:
		return guest.Error(abi.InvalidArgument, "no etcd member to reach: grant the members' client URLs (--grant http=http://10.0.0.5:2379,...)")
	case s.password != "" && s.user == "":
		return guest.Error(abi.InvalidArgument, "parameter password is given without user")
	}
	conf = s
	client = etcdgw.New(transport, s.endpoints, s.user, s.password)
	return nil
}

// call returns the context of one etcd request sequence: its retries end
// after conf.retry, before the host's deadline ends the call, so that an
// unreachable cluster is reported as such.
func call() (context.Context, context.CancelFunc) {
	transport.refused = nil
	return context.WithTimeout(context.Background(), conf.retry)
}

// etcdFailed turns a failure of the etcd client into the status error the
// host maps: unavailable, refused by etcd's authentication, or refused by
// the host (the origin not granted, the deadline).
func etcdFailed(err error) error {
	var e *etcdgw.Error
	switch {
	case transport.refused != nil:
		return transport.refused
	case errors.Is(err, etcdgw.ErrUnavailable):
		return guest.Error(abi.Unavailable, "etcd is unavailable: "+strings.TrimPrefix(err.Error(), "etcd unavailable: "))
	case errors.Is(err, etcdgw.ErrAuth):
		return guest.Error(abi.PermissionDenied, "etcd refused the user "+strconv.Quote(conf.user)+": "+err.Error())
	case errors.As(err, &e):
		return guest.Error(abi.Internal, err.Error())
	}
	return err
}

// vault implements guest.Vault, Statter, MetadataSetter, Creator,
// MemberManager and Tester. Its state is etcd's and the host's: the
// module keeps nothing between calls but its client.
type vault struct{}

func (vault) Get(name string) (abi.Info, abi.Value, error) {
	var r *record
	err := withTeam(func(t *team) (err error) {
		r, err = t.find(name)
		return err
	})
	if err != nil {
		return abi.Info{}, abi.Value{}, err
	}
	return r.info, r.value, nil
}

// Stat reads the secret as Get does, and keeps what it found as the hint
// of the set that follows it (the engine stats a name before it sets it).
func (vault) Stat(name string) (abi.Info, error) {
	hint = nil
	var h *lookupHint
	err := withTeam(func(t *team) error {
		s, err := t.lookup(name)
		h = &lookupHint{name: name, team: t, slot: s}
		return err
	})
	if err != nil {
		return abi.Info{}, err
	}
	if h.slot.old == nil {
		hint = h
		return abi.Info{}, guest.Error(abi.NotFound, "")
	}
	clear(h.slot.old.value.Data)
	h.slot.old.value = abi.Value{}
	hint = h
	return h.slot.old.info, nil
}

func (vault) List(pattern string) ([]abi.Info, error) {
	dropCache() // a listing reads the team afresh: it reads every record
	t, err := currentTeam()
	if err != nil {
		return nil, err
	}
	all, err := t.records()
	if err != nil {
		return nil, err
	}
	var out []abi.Info
	for _, r := range all {
		if abi.Match(pattern, r.info.Name, true) {
			out = append(out, r.info)
		}
		clear(r.value.Data)
	}
	return out, nil
}

func (vault) Set(name string, v abi.Value, md abi.Metadata) error {
	return write(name, takeHint(name), func(old *record) (abi.Info, abi.Value, error) {
		keep := md // not md itself: an attempt after a lost race keeps what it reads then
		if keep == nil && old != nil {
			keep = old.info.Metadata
		}
		return abi.Info{Name: name, Type: v.Type, Metadata: keep}, v, nil
	})
}

func (vault) Create(name string, v abi.Value, md abi.Metadata) error {
	return write(name, takeHint(name), func(old *record) (abi.Info, abi.Value, error) {
		if old != nil {
			return abi.Info{}, abi.Value{}, guest.Error(abi.Conflict, "a secret of that name exists")
		}
		return abi.Info{Name: name, Type: v.Type, Metadata: md}, v, nil
	})
}

func (vault) SetMetadata(name string, md abi.Metadata) error {
	return write(name, takeHint(""), func(old *record) (abi.Info, abi.Value, error) {
		if old == nil {
			return abi.Info{}, abi.Value{}, guest.Error(abi.NotFound, "")
		}
		return abi.Info{Name: name, Type: old.value.Type, Metadata: md}, old.value, nil
	})
}

func (vault) Remove(name string) error {
	return write(name, takeHint(""), func(old *record) (abi.Info, abi.Value, error) {
		if old == nil {
			return abi.Info{}, abi.Value{}, guest.Error(abi.NotFound, "")
		}
		return abi.Info{}, abi.Value{}, errRemove
	})
}

// Test opens the team: the cluster answers, the user is a member, and the
// member list is the one the user accepted.
func (vault) Test() error {
	dropCache()
	_, err := currentTeam()
	return err
}

func (vault) Members(action, arg string) (abi.Members, error) {
	dropCache() // they read the team afresh, and change it
	switch action {
	case abi.MembersList:
		return listMembers()
	case abi.MembersAdd:
		return addMember(arg)
	case abi.MembersRemove:
		return removeMember(arg)
	case abi.MembersAccept:
		return acceptMembers(arg)
	}
	return abi.Members{}, guest.Error(abi.InvalidArgument, "unknown members action "+strconv.Quote(action))
}
