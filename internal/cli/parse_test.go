package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
)

func TestReorder(t *testing.T) {
	app := (&session{}).newApp()
	tests := []struct{ in, want string }{
		{"sesame", "sesame"},
		{"sesame set NAME --value V", "sesame set --value V NAME"},
		{"sesame set --value V NAME", "sesame set --value V NAME"},
		{"sesame set NAME --stdin --vault X", "sesame set --stdin --vault X NAME"},
		{"sesame set NAME --value=V", "sesame set --value=V NAME"},
		{"sesame set NAME --config F", "sesame --config F set NAME"},
		{"sesame --config F get NAME --json", "sesame --config F get --json NAME"},
		{"sesame set -- -n --value V", "sesame set -- -n --value V"},
		{"sesame set NAME --value", "sesame set --value"},
		{"sesame vault register V --extension E --grant storage=true", "sesame vault register --extension E --grant storage=true V"},
		{"sesame vault unlock V --password-stdin", "sesame vault unlock --password-stdin V"},
		{"sesame exec --env A=b -- cmd -x", "sesame exec --env A=b -- cmd -x"},
		{"sesame exec --env A=b cmd -x --env C", "sesame exec --env A=b -- cmd -x --env C"},
		{"sesame bogus --x", "sesame bogus --x"},
		{"sesame info PATTERN --vault V", "sesame info --vault V PATTERN"},
	}
	for _, tt := range tests {
		got := strings.Join(reorder(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("reorder(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	md, err := parseMetadata([]string{"a=b", "n:int=-4", "d:datetime=2022-05-01", "t:datetime=2024-01-02T03:04:05Z", "url=http://x:1", "k:v:string=w", "url:x=1", "x:float=1"})
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Metadata{
		"a": "b", "n": int64(-4), "d": time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC),
		"t": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "url": "http://x:1", "k:v": "w",
		"url:x": "1", "x:float": "1", // a ':' in a key
	}
	if !reflect.DeepEqual(md, want) {
		t.Errorf("got %v\nwant %v", md, want)
	}
	if md, err := parseMetadata(nil); md != nil || err != nil {
		t.Errorf("no flags: %v, %v", md, err)
	}
	for _, bad := range []string{"a", "=x", ":int=1", "n:int=1.5", "d:datetime=yesterday", "n:itn=1"} {
		if _, err := parseMetadata([]string{bad}); err == nil {
			t.Errorf("parseMetadata(%q): no error", bad)
		}
	}
}

func TestParseGrants(t *testing.T) {
	g, err := parseGrants([]string{"storage=true", "directory=/d", "read_only=1", "env=A, B,,C", "memory=64MiB", "timeout=1m30s", "instances=3"})
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Grants{Storage: true, Directory: "/d", ReadOnly: true, Env: []string{"A", "B", "C"}, Memory: 64 << 20, Timeout: 90 * time.Second, Instances: 3}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got %+v\nwant %+v", g, want)
	}
	for _, bad := range []string{"storage", "storage=yes please", "memory=64MB", "memory=0", "timeout=-1s", "instances=x", "net=true", "directory="} {
		if _, err := parseGrants([]string{bad}); err == nil {
			t.Errorf("parseGrants(%q): no error", bad)
		}
	}
	if _, err := parseGrants([]string{"storage=true", "storage=false"}); err == nil {
		t.Error("a grant given twice: no error")
	}
}

func TestParseHashtable(t *testing.T) {
	got, err := parseHashtable([]byte(`{"s":"x","ss":{"type":"securestring","value":"y"},"b":{"type":"bytes","base64":"AAE="},"c":{"type":"credential","username":"u","password":"p"},"t":{"type":"string","value":"z"}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Hashtable{
		"s": "x", "ss": engine.SecureString("y"), "b": []byte{0, 1},
		"c": engine.Credential{UserName: "u", Password: "p"}, "t": "z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	// What get --json --as-plain-text prints is what set reads.
	back, err := parseHashtable(mustJSON(t, valueJSON(want, true)))
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("round trip: %#v, %v", back, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"a":1}`, `{"a":null}`, `{"a":{"type":"bytes"}}`, `{"a":{"type":"bytes","base64":"!"}}`,
		`{"a":{"type":"x","value":"v"}}`, `{"a":{"type":"string","value":"v","more":1}}`, `{"a":{"type":"hashtable"}}`, `{} {}`, `{"a":"SECRET"`} {
		_, err := parseHashtable([]byte(bad))
		if err == nil {
			t.Errorf("parseHashtable(%q): no error", bad)
		} else if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), `"v"`) {
			t.Errorf("parseHashtable(%q): the error quotes the value: %v", bad, err)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	var b strings.Builder
	s := &session{stdout: &b}
	if err := s.printJSON(v); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func TestTrimNewline(t *testing.T) {
	for in, want := range map[string]string{"a\n": "a", "a\r\n": "a", "a\n\n": "a\n", "a": "a", "": "", "\n": ""} {
		if got := string(trimNewline([]byte(in))); got != want {
			t.Errorf("trimNewline(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppStatsNoProgram: the app carries a build time, so that urfave/cli
// does not stat os.Args[0] for one at every start (a command served by the
// agent does nothing it does not need).
func TestAppStatsNoProgram(t *testing.T) {
	if (&session{}).newApp().Compiled.IsZero() {
		t.Error("the app has no Compiled time: urfave/cli stats the program at every start")
	}
}
