//go:build unix

package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/etcdgw"
)

// The decoders of builtin:etcd (the C module, through the engine and the
// sandbox) fed any bytes where etcd's gateway answers, and compared with
// what the Go guest decoded them with: internal/etcdgw for the gateway's
// JSON, encoding/json for the team record, abi.DecodeSecret for a sealed
// record. A fake gateway on loopback serves a team of the engine's user
// (its key known to the test), and at the fuzzed place the fuzzed bytes.

const fuzzPrefix = "fuzz/"

// etcdFuzz is one engine with Team on a fake gateway.
type etcdFuzz struct {
	e         *engine.Engine
	url       string // the fake gateway's
	key       []byte // the team key
	team      []byte // the team record's etcd value
	teamRange atomic.Pointer[gatewayAnswer]
	txn       atomic.Pointer[gatewayAnswer]
}

// gatewayAnswer is what the fake gateway answers a request of one path.
type gatewayAnswer struct {
	status int
	body   []byte
}

// teamRev is the mod_revision of the team record the fake gateway serves.
const teamRev = 7

func openEtcdFuzz(tb testing.TB) *etcdFuzz {
	f := &etcdFuzz{e: newEngine(tb), key: make([]byte, 32)}
	rand.Read(f.key)
	self := identity(tb, f.e)
	f.team = forgeRecordOf(tb, f.key, 1, []string{self}, nil)
	f.teamRange.Store(&gatewayAnswer{200, rangeAnswer(kvJSON([]byte(fuzzPrefix+"team"), f.team, teamRev))})
	f.txn.Store(&gatewayAnswer{200, f.txnAnswer(nil)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := f.txn.Load()
		if r.URL.Path == "/v3/kv/range" {
			a = f.teamRange.Load()
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	}))
	tb.Cleanup(srv.Close)
	f.url = srv.URL
	reg := engine.Registration{Name: "Team", Extension: "builtin:etcd", Parameters: map[string]any{"prefix": fuzzPrefix, "retry": "1ms"},
		Grants: engine.Grants{Storage: true, Identity: true, HTTP: []string{srv.URL}}}
	if err := f.e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		tb.Fatal(err)
	}
	m, err := f.e.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersList})
	if err == nil {
		_, err = f.e.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersAccept, Digest: m.Digest})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// kvJSON is etcd's JSON of a KeyValue.
func kvJSON(key, value []byte, rev int64) map[string]any {
	r := etcdgw.Number(rev)
	return map[string]any{"key": key, "value": value, "create_revision": r, "mod_revision": r, "version": etcdgw.Number(1)}
}

func rangeAnswer(kvs ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"header": map[string]any{"revision": "9"}, "kvs": kvs, "count": len(kvs)})
	return b
}

// txnAnswer is the answer to a get's transaction: the team record, and
// record (nil: none) as the secret's.
func (f *etcdFuzz) txnAnswer(record map[string]any) []byte {
	team := map[string]any{"response_range": map[string]any{"kvs": []any{kvJSON([]byte(fuzzPrefix+"team"), f.team, teamRev)}}}
	secret := map[string]any{"response_range": map[string]any{}}
	if record != nil {
		secret["response_range"] = map[string]any{"kvs": []any{record}}
	}
	b, _ := json.Marshal(map[string]any{"header": map[string]any{"revision": "9"}, "succeeded": true, "responses": []any{team, secret}})
	return b
}

// get gets x from Team; a trap, a crash or a malformed output of the
// module is a failure of the test, whatever the input.
func (f *etcdFuzz) get(t *testing.T) (engine.Secret, error) {
	s, err := f.e.Get(ctx, engine.GetRequest{Name: "x", Vault: "Team"})
	if crashed(err) {
		t.Fatalf("get: %v", err)
	}
	return s, err
}

// crashed reports an error of the sandbox rather than of the vault: a trap,
// an exit, a call that ran past its deadline.
func crashed(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "extension trapped") || strings.Contains(err.Error(), "extension exited") ||
		strings.Contains(err.Error(), "did not finish before its deadline"))
}

// tooDeep reports whether the JSON b nests deeper than the module reads
// (clib/json.h's JSON_MAX_DEPTH): Go's decoder goes to 10 000.
func tooDeep(b []byte) bool {
	depth := 0
	for _, c := range b {
		switch c {
		case '[', '{':
			if depth++; depth > 64 {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// shape names the fields of a JSON object that a decoder reads, each with
// the shape of its value: an object's, or for an array ("[]") its
// elements'.
type shape map[string]shape

// twice reports whether the JSON raw has, in an object that a decoder of
// shape s reads, one of its names twice (as encoding/json matches names:
// bytes.EqualFold). Go decodes each in turn; the module's reader refuses
// the document (clib/json.h).
func twice(raw []byte, s shape) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	if tok == json.Delim('[') && s["[]"] != nil {
		for dec.More() {
			var el json.RawMessage
			if dec.Decode(&el) != nil {
				return false
			}
			if twice(el, s["[]"]) {
				return true
			}
		}
		return false
	}
	if tok != json.Delim('{') {
		return false
	}
	seen := map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		var v json.RawMessage
		if err != nil || dec.Decode(&v) != nil {
			return false
		}
		for name, sub := range s {
			if name != "[]" && bytes.EqualFold([]byte(k.(string)), []byte(name)) {
				if seen[name]++; seen[name] > 1 || sub != nil && twice(v, sub) {
					return true
				}
			}
		}
	}
	return false
}

var (
	kvShape    = shape{"key": nil, "value": nil, "create_revision": nil, "mod_revision": nil, "version": nil}
	rangeShape = shape{"header": {"revision": nil}, "kvs": {"[]": kvShape}, "more": nil}
	txnShape   = shape{"header": {"revision": nil}, "succeeded": nil, "responses": {"[]": {"response_range": rangeShape}},
		"error": nil, "message": nil, "code": nil}
	teamShape = shape{"gen": nil, "members": nil, "key": nil, "check": nil, "prev": nil}
)

// quoted is how the host shows the text, in at most 1000 characters: a
// message is sanitized (sandbox.Printable) and cut at 4 KiB.
func quoted(text string) string {
	r := []rune(sandbox.Printable(text))
	return string(r[:min(len(r), 1000)])
}

// FuzzEtcdGatewayAnswer: the fuzzed bytes are the gateway's answer (with a
// fuzzed status) to the transaction of a get. Where etcdgw refuses the
// answer, the module says that it does not decode (or, for an answer that
// is not a success, gives etcdgw's words for it); where etcdgw decodes it,
// the module does not say it does not decode.
func FuzzEtcdGatewayAnswer(f *testing.F) {
	fz := openEtcdFuzz(f)
	for _, s := range []string{
		string(fz.txnAnswer(nil)), `{}`, `null`, `{"succeeded":"yes"}`, `{"responses":[null,{"response_range":null}]}`,
		`{"responses":[{"response_range":{"kvs":[{"key":"!","mod_revision":"x"}]}}]}`, `{"header":{"revision":12}}`,
		`{"error":"etcdserver: no leader","code":14,"message":"etcdserver: no leader"}`, `{"code":"16"}`, `[`,
		`{"responses":[{"response_range":{"kvs":[{"key":"Zm9v","value":"YmFy","mod_revision":"+7"}]}}],"succeeded":true}`,
	} {
		f.Add(uint16(200), []byte(s))
		f.Add(uint16(503), []byte(s))
	}
	f.Add(uint16(401), []byte(`{"error":"etcdserver: invalid auth token","code":16,"message":"etcdserver: invalid auth token"}`))
	f.Add(uint16(400), []byte(`{"code":3,"message":"etcdserver: authentication failed, invalid user ID or password"}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		if status < 200 || status > 599 {
			status = 200 + status%400
		}
		if status == http.StatusNoContent || status == http.StatusNotModified {
			status = 200 // HTTP carries no body with them
		}
		fz.txn.Store(&gatewayAnswer{int(status), body})
		_, err := fz.get(t)
		// etcdgw with a deadline as short as the vault's retry
		goCtx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, goErr := etcdgw.New(fixedTransport{int(status), body}, []string{fz.url}, "", "").Txn(goCtx, nil, nil, nil)
		cancel()
		var ge *etcdgw.Error
		refused := err != nil && strings.Contains(err.Error(), "/v3/kv/txn: the answer does not decode: ")
		switch {
		case status == 200 && twice(body, txnShape):
			if !refused {
				t.Fatalf("answer %q, with a name twice: the module: %v", body, err)
			}
		case errors.As(goErr, &ge) && strings.HasPrefix(ge.Message, "the answer does not decode: "):
			if !refused && !tooDeep(body) {
				t.Fatalf("answer %d %q: etcdgw: %v; the module: %v", status, body, goErr, err)
			}
		case goErr != nil:
			// etcdgw's words, which the vault's message quotes, unless a
			// name is twice in the error answer
			want := quoted(strings.TrimPrefix(goErr.Error(), "etcd unavailable: "))
			if (err == nil || !strings.Contains(err.Error(), want)) && !twice(body, txnShape) {
				t.Fatalf("answer %d %q: etcdgw: %v; the module: %v", status, body, goErr, err)
			}
		case refused:
			t.Fatalf("answer %d %q, which etcdgw decodes: the module: %v", status, body, err)
		}
	})
}

// fixedTransport answers every request with one answer.
type fixedTransport gatewayAnswer

func (a fixedTransport) RoundTrip(context.Context, etcdgw.Request) (etcdgw.Response, error) {
	return etcdgw.Response{Status: a.status, Body: a.body}, nil
}

// goTeamRecord is the team record as the Go guest decoded it.
type goTeamRecord struct {
	Gen     int64    `json:"gen"`
	Members []string `json:"members"`
	Key     []byte   `json:"key"`
	Check   []byte   `json:"check"`
	Prev    []byte   `json:"prev,omitempty"`
}

// FuzzEtcdTeamRecord: the fuzzed bytes are the team record's etcd value.
// A record that the Go guest refused (not JSON of its fields, a
// generation below 1, no members) is refused as not one the vault wrote;
// one it took is not, and goes on to be checked (its key unwrapped, its
// check verified), which fails on anything but the team's own.
func FuzzEtcdTeamRecord(f *testing.F) {
	fz := openEtcdFuzz(f)
	for _, s := range []string{
		string(fz.team), `{}`, `null`, `{"gen":1,"members":["a"]}`, `{"gen":1.5,"members":["a"]}`, `{"GEN":2,"Members":[null],"key":"QQ=="}`,
		`{"gen":1,"members":["a"],"key":"not base64"}`, `{"gen":"1","members":["a"]}`, `{"gen":0,"members":["a"]}`,
		`{"gen":1,"members":["a"],"prev":""}`, `{"gen":9223372036854775807,"members":[""],"check":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		fz.teamRange.Store(&gatewayAnswer{200, rangeAnswer(kvJSON([]byte(fuzzPrefix+"team"), value, teamRev))})
		m, err := fz.e.Members(ctx, engine.MembersRequest{Vault: "Team", Action: abi.MembersList})
		var rec goTeamRecord
		goTakes := json.Unmarshal(value, &rec) == nil && rec.Gen >= 1 && len(rec.Members) > 0
		refused := err != nil && strings.Contains(err.Error(), "is not one this vault wrote")
		switch {
		case crashed(err):
			t.Fatalf("team record %q: %v", value, err)
		case !goTakes && !tooDeep(value) && (err != nil || m.Members != nil):
			// list shows no team when the record does not decode
			t.Fatalf("team record %q, which the Go guest refused: %+v, %v", value, m, err)
		case goTakes && twice(value, teamShape):
			if !refused && (err != nil || m.Members != nil) {
				t.Fatalf("team record %q, with a name twice: %+v, %v", value, m, err)
			}
		case goTakes && (refused || err == nil && m.Members == nil):
			t.Fatalf("team record %q, which the Go guest took: %+v, %v", value, m, err)
		}
	})
}

// FuzzEtcdSealedRecord: the fuzzed bytes are the plaintext of the record of
// x, sealed under the team's key as the vault seals it. The module returns
// the secret exactly when abi.DecodeSecret takes the bytes and the name is
// x's, and otherwise says the record does not decode, or holds another
// name.
func FuzzEtcdSealedRecord(f *testing.F) {
	fz := openEtcdFuzz(f)
	for _, in := range []struct {
		v  abi.Value
		md abi.Metadata
	}{
		{abi.Value{Type: abi.TypeString, Data: []byte("v")}, nil},
		{abi.Value{Type: abi.TypeCredential, UserName: "u", Data: []byte("p")}, abi.Metadata{"k": {Kind: abi.MetaInt, Int: 3}}},
		{abi.Value{Type: abi.TypeHashtable, Entries: []abi.Entry{{Key: "a", Value: abi.Value{Type: abi.TypeBytes, Data: []byte{0}}}}}, abi.Metadata{"s": {Kind: abi.MetaString, Str: "x"}}},
	} {
		b, err := abi.AppendSecret(nil, abi.Info{Name: "x", Type: in.v.Type, Metadata: in.md}, in.v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\x01\x00\x00\x00y\x02\x00\x00\x00\x00\x02v"))
	f.Fuzz(func(t *testing.T, plain []byte) {
		key, value := sealPlain(t, fuzzPrefix, fz.key, 1, "x", plain)
		fz.txn.Store(&gatewayAnswer{200, fz.txnAnswer(kvJSON(key, value, 8))})
		s, err := fz.get(t)
		info, v, decErr := abi.DecodeSecret(plain)
		switch {
		case decErr != nil:
			if err == nil || !strings.Contains(err.Error(), "does not decode") {
				t.Fatalf("record %q, which abi.DecodeSecret refuses (%v): %+v, %v", plain, decErr, s, err)
			}
		case info.Name != "x":
			if err == nil || !strings.Contains(err.Error(), "holds another name than its own") {
				t.Fatalf("record of %q: %+v, %v", info.Name, s, err)
			}
		case err != nil || s.Type != v.Type || len(s.Metadata) != len(info.Metadata):
			t.Fatalf("record %q: %+v, %v; want %+v", plain, s, err, info)
		}
	})
}
