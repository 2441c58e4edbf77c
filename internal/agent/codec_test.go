package agent

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/api"
)

// codecSamples are messages of every shape the wire carries: each
// operation's request with its fields set, results, errors, questions.
func codecSamples() []any {
	when := time.Date(2026, 12, 6, 21, 0, 0, 5, time.FixedZone("X", 3600))
	meta := engine.Metadata{"s": "v", "i": int64(-7), "t": when}
	samples := []any{
		&response{Version: Version, Build: "sesame 1 2"},
		&response{Confirm: &engine.Action{Op: engine.OpSet, Vault: "V", Secret: "s", Replace: true}},
		&response{Env: []string{"A", "B"}},
		&response{Result: engine.Secret{Info: engine.Info{Name: "s", Type: engine.TypeHashtable, Vault: "V", Metadata: meta}, Value: engine.Hashtable{"b": []byte{0, 1}, "f": 1.5, "n": nil}}},
		&response{Result: []engine.Info{{Name: "a"}, {Name: "b", Metadata: engine.Metadata{}}}, Err: encodeError(&engine.Error{Op: engine.OpInfo, Vault: "V", Err: errors.Join(engine.ErrLocked, errors.New("detail"))})},
		&response{Result: abi.Manifest{ABI: 1, Name: "n", Operations: []abi.Op{abi.OpGet}}},
		&response{Reports: []engine.StorageReport{{Op: engine.OpRegister, Vault: "V", Outcome: engine.StorageKept, Path: "/p"}}},
		&response{Status: Status{PID: 7, Started: when, Idle: time.Minute, Registries: []string{"/r"}, Unlocked: []Unlocked{{Registry: "/r", Unlocked: engine.Unlocked{Vault: "V", Expires: when}}}}},
		&request{Op: opEnv, Env: [][]byte{[]byte("A=1"), {}}},
		&request{Op: opConfirm, Yes: true},
		&request{Call: engine.SetRequest{Name: "s", Vault: "V", Value: engine.Credential{UserName: "u", Password: engine.SecureString("p")}, Metadata: meta, NoClobber: true}, Target: target{Path: "/r", DataDir: "/d"}, Confirm: true},
		&request{Call: engine.RegisterRequest{Registration: engine.Registration{Name: "V", Extension: "builtin:secretstore", Parameters: map[string]any{"a": "b", "n": int64(3), "f": 2.5, "t": true}, Grants: engine.Grants{Env: []string{"X"}, Timeout: time.Second, Memory: 1 << 20}}, Default: true}},
		&request{Call: engine.UnlockRequest{Vault: "V", Password: []byte("pw")}},
	}
	for _, op := range engine.Operations() {
		samples = append(samples, &request{Call: op.Request}, &response{Result: op.Result})
	}
	return samples
}

// TestCodecRoundTrip: every sample decodes to what was encoded, nil and
// empty slices and maps kept apart.
func TestCodecRoundTrip(t *testing.T) {
	for _, v := range codecSamples() {
		b, err := marshal(nil, v)
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		got := reflect.New(reflect.TypeOf(v).Elem())
		if err := unmarshal(b, got.Interface()); err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		if !reflect.DeepEqual(got.Interface(), v) && !sameEncoding(got.Interface(), v) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got.Interface(), v)
		}
	}
}

// sameEncoding compares messages by their encodings, which are unique:
// times read back differ from the sent ones in representation (another
// *time.Location), not in value.
func sameEncoding(a, b any) bool {
	ab, _ := marshal(nil, a)
	bb, _ := marshal(nil, b)
	return string(ab) == string(bb)
}

// TestCodecRefuses: a value of a type that is not a wire type is refused
// when sent, and a type name that is not one, or a length past the end, is
// refused when read.
func TestCodecRefuses(t *testing.T) {
	type private struct{ A int }
	if _, err := marshal(nil, &response{Result: private{1}}); !errors.Is(err, errProtocol) {
		t.Errorf("an unknown type sent: %v", err)
	}
	for name, msg := range map[string][]byte{
		"unknown type": append([]byte{0, 0, 0, 0, 9}, "main.Evil"...),
		"long string":  {0, 0xff, 0x01},
		"trailing":     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		var r request
		if err := unmarshal(msg, &r); !errors.Is(err, errProtocol) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzCodec: any message either fails as a protocol error or decodes to a
// value that encodes and decodes again to itself.
func FuzzCodec(f *testing.F) {
	n := 0
	for _, v := range codecSamples() {
		if _, ok := v.(*request); !ok {
			continue
		}
		b, err := marshal(nil, v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var r request
		if err := unmarshal(msg, &r); err != nil {
			if !errors.Is(err, errProtocol) {
				t.Fatalf("not a protocol error: %v", err)
			}
			return
		}
		b, err := marshal(nil, &r)
		if err != nil {
			t.Fatalf("a decoded request does not encode: %v", err)
		}
		var again request
		if err := unmarshal(b, &again); err != nil {
			t.Fatalf("a re-encoded request does not decode: %v", err)
		}
		if !sameEncoding(&r, &again) {
			t.Fatalf("re-encoding changed the request")
		}
	})
}

// TestWireNamesUnchanged: the types of package engine/api keep on the wire
// the names they had when package engine declared them (engine.GetRequest,
// []engine.Info), so that moving them changed nothing of protocol version 2.
func TestWireNamesUnchanged(t *testing.T) {
	seen := 0
	for name, typ := range wireTypes() {
		if old := strings.ReplaceAll(typ.String(), "api.", "engine."); name != old {
			t.Errorf("%v crosses as %q; protocol version 2 names it %q", typ, name, old)
		}
		if strings.Contains(name, "engine.") {
			seen++
		}
	}
	if seen < len(api.Operations()) {
		t.Errorf("%d wire types of package engine; want at least the %d requests", seen, len(api.Operations()))
	}
}
