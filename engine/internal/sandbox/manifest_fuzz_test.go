package sandbox

import (
	"errors"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// FuzzManifest checks the decoding of the JSON a guest's sesame_manifest
// returns: it never panics, fails only with an *Error of status
// INVALID_ARGUMENT or TOO_LARGE, and what it accepts follows the manifest's
// rules. Seeds: the f.Add calls and testdata/fuzz/FuzzManifest.
func FuzzManifest(f *testing.F) {
	for _, s := range []string{
		`{"abi":1,"name":"secretstore","version":"1.0.0","metadata":true,"case_sensitive":false,"grants":["storage"]}`,
		`{"abi":1,"name":"v","version":"0","operations":["get","set","bogus"]}`,
		`{"abi":2,"name":"Bad Name","version":""}`,
		`{"abi":1,"name":"x","version":"1","grants":["directory","env","network"]}`,
		`{"abi":1e400}`,
		`[]`,
		`{"abi":1,"abi":1,"name":"a\u0000","version":"\ud800"}`,
		``,
	} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte(`{"abi":1,"name":"v","version":"1","grants":["storage"]}`), false)
	f.Fuzz(func(t *testing.T, out []byte, grant bool) {
		mf, err := parseManifest(out, func(g string) bool { return grant && g == abi.GrantStorage })
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != abi.InvalidArgument && e.Status != abi.TooLarge) || e.Export != abi.ExportManifest {
				t.Fatalf("parseManifest error %#v", err)
			}
			return
		}
		if len(out) > abi.MaxManifestBytes || mf.ABI != abi.Version || !validExtensionName(mf.Name) || mf.Version == "" {
			t.Fatalf("parseManifest accepted %q as %+v", out, mf)
		}
		for _, g := range mf.Grants {
			if g != abi.GrantStorage || !grant {
				t.Fatalf("parseManifest accepted grant %q, which is not given", g)
			}
		}
		if strings.ContainsAny(mf.Name, " \x00") {
			t.Fatalf("name %q", mf.Name)
		}
	})
}
