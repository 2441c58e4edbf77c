package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The dotenv extension (extensions/dotenv), compiled to wasm from source and
// registered as LocalStore2 over a granted folder, tested through the
// engine.

// dotenvConfig is what varies in the registration of LocalStore2.
type dotenvConfig struct {
	readOnly bool   // grants.read_only
	params   string // lines of [vaults.LocalStore2.parameters]
}

// openDotenv opens an engine whose vault LocalStore2 is the dotenv extension
// over folder dir. The registry and the engine's data live in a folder of
// their own, outside dir.
func openDotenv(t testing.TB, dir string, cfg dotenvConfig) *engine.Engine {
	t.Helper()
	e, err := engine.Open(ctx, writeDotenvRegistry(t, dir, cfg), &engine.Options{DataDir: filepath.Join(t.TempDir(), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func writeDotenvRegistry(t testing.TB, dir string, cfg dotenvConfig) string {
	t.Helper()
	wasm := testwasm.Build(t, "extensions/dotenv")
	reg := fmt.Sprintf("default = \"LocalStore2\"\n\n[vaults.LocalStore2]\nextension = %q\n\n  [vaults.LocalStore2.grants]\n  directory = %q\n", wasm, dir)
	if cfg.readOnly {
		reg += "  read_only = true\n"
	}
	if cfg.params != "" {
		reg += "\n  [vaults.LocalStore2.parameters]\n  " + cfg.params + "\n"
	}
	path := filepath.Join(t.TempDir(), "vaults.toml")
	if err := os.WriteFile(path, []byte(reg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func validShellName(s string) bool { return shellName.MatchString(s) }

const vault2 = "LocalStore2"

func set2(t testing.TB, e *engine.Engine, name string, value any) {
	t.Helper()
	if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: value, Vault: vault2}); err != nil {
		t.Fatalf("Set(%q): %v", name, err)
	}
}

func get2(t testing.TB, e *engine.Engine, name string) engine.Secret {
	t.Helper()
	s, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: vault2})
	if err != nil {
		t.Fatalf("Get(%q): %v", name, err)
	}
	return s
}

func remove2(t testing.TB, e *engine.Engine, name string) {
	t.Helper()
	if _, err := e.Remove(ctx, engine.RemoveRequest{Name: name, Vault: vault2}); err != nil {
		t.Fatalf("Remove(%q): %v", name, err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// dirNames lists the names in dir.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// checkOnly checks that dir holds exactly names: no temporary file, no lock.
func checkOnly(t testing.TB, dir string, names ...string) {
	t.Helper()
	if got := dirNames(t, dir); !slices.Equal(got, names) {
		t.Errorf("folder holds %q, want %q", got, names)
	}
}

// TestDotenvConformance runs the conformance suite on the dotenv vault, a
// fresh folder per subtest. Types is string only: a secure string is
// accepted but reads back as a string (the file has no types), which the
// suite's round trip would call a failure. RefusedTypes is skipped for the
// same reason (it expects securestring to be refused once it is not in
// Types); TestDotenvRefusals covers the refused types instead.
func TestDotenvConformance(t *testing.T) {
	t.Parallel()
	vaulttest.Run(t, func(t *testing.T) engine.Vault {
		if strings.HasSuffix(t.Name(), "/RefusedTypes") {
			t.Skip("securestring is accepted and stored as a string; TestDotenvRefusals checks the refused types")
		}
		e := openDotenv(t, t.TempDir(), dotenvConfig{})
		v, err := e.Vault(ctx, vault2)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, vaulttest.Options{
		Types:     []abi.Type{abi.TypeString},
		ValidName: validShellName,
		// The largest value the ABI carries (1 MiB), though the file is
		// rewritten whole on every change: it takes well under a second.
		MaxValue:    0,
		Concurrency: 8,
	})
}

func TestDotenvManifest(t *testing.T) {
	t.Parallel()
	e := openDotenv(t, t.TempDir(), dotenvConfig{})
	m, err := e.Manifest(ctx, engine.ManifestRequest{Vault: vault2})
	if err != nil {
		t.Fatal(err)
	}
	want := []abi.Op{abi.OpGet, abi.OpStat, abi.OpSet, abi.OpRemove, abi.OpList, abi.OpTest}
	if m.Name != "dotenv" || m.Metadata || !m.CaseSensitive || !slices.Equal(m.Operations, want) || !slices.Equal(m.Grants, []string{abi.GrantDirectory}) {
		t.Errorf("manifest = %+v", m)
	}
	if err := e.Test(ctx, engine.TestRequest{Vault: vault2}); err != nil {
		t.Errorf("Test: %v", err)
	}
}

// Example 4 of the Set-Secret reference page, with LocalStore2 the dotenv
// vault: the engine refuses the metadata before the vault is called, and the
// file does not change.
func TestDotenvReferenceExample4(t *testing.T) {
	t.Parallel()
	const want = "Can't store secret PublishSecret. Vault LocalStore2 doesn't support secret metadata."
	md := engine.Metadata{"Expiration": time.Date(2022, 5, 1, 0, 0, 0, 0, time.UTC)}

	t.Run("no file", func(t *testing.T) {
		dir := t.TempDir()
		e := openDotenv(t, dir, dotenvConfig{})
		_, err := e.Set(ctx, engine.SetRequest{Name: "PublishSecret", Value: "token", Vault: vault2, Metadata: md})
		if err == nil || err.Error() != want || !errors.Is(err, engine.ErrMetadataUnsupported) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		checkOnly(t, dir)
		if _, err := e.Get(ctx, engine.GetRequest{Name: "PublishSecret", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Errorf("the refused secret was written: %v", err)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		dir := t.TempDir()
		env := filepath.Join(dir, ".env")
		const orig = "# publishing\nPublishSecret=old # keep\n"
		writeFile(t, env, orig, 0o644)
		e := openDotenv(t, dir, dotenvConfig{})
		_, err := e.Set(ctx, engine.SetRequest{Name: "PublishSecret", Value: "token", Vault: vault2, Metadata: md})
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v, want %q", err, want)
		}
		if got := readFile(t, env); got != orig {
			t.Errorf("file changed to %q", got)
		}
		if st, _ := os.Stat(env); st.Mode().Perm() != 0o644 {
			t.Errorf("mode changed to %v", st.Mode())
		}
		checkOnly(t, dir, ".env")
		if s := get2(t, e, "PublishSecret"); s.Value != "old" {
			t.Errorf("value = %v", s.Value)
		}
	})
}

const dotenvGolden = "# Database settings  \n" +
	"\n" +
	"export DB_HOST=localhost   # the host\n" +
	"  DB_PASSWORD = 'old secret'\n" +
	"\t# tabbed comment\n" +
	"API_KEY=\"abc\\n\" # rotate yearly\n" +
	"   \n" +
	"UNRELATED=keep   me  \n" +
	"export   SPACED\t=  x\n" +
	"# trailing comment"

// Comments, blank lines, export prefixes, odd spacing and unrelated keys
// survive sets and removes byte for byte: only the line of the secret
// changes.
func TestDotenvKeepsTheRestOfTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	writeFile(t, env, dotenvGolden, 0o600)
	e := openDotenv(t, dir, dotenvConfig{})

	want := dotenvGolden
	step := func(what, from, to string) {
		t.Helper()
		if !strings.Contains(want, from) {
			t.Fatalf("%s: %q is not in the expected file", what, from)
		}
		want = strings.Replace(want, from, to, 1)
		if got := readFile(t, env); got != want {
			t.Fatalf("after %s:\n got %q\nwant %q", what, got, want)
		}
		checkOnly(t, dir, ".env")
	}

	set2(t, e, "DB_HOST", "db.example.com")
	step("set DB_HOST", "DB_HOST=localhost ", "DB_HOST=db.example.com ")
	set2(t, e, "DB_PASSWORD", engine.SecureString("new secret"))
	step("set DB_PASSWORD", "'old secret'", `"new secret"`)
	set2(t, e, "SPACED", "y")
	step("set SPACED", "=  x\n", "=  y\n")
	set2(t, e, "NEW_KEY", "added $value")
	step("set NEW_KEY", "# trailing comment", "# trailing comment\nNEW_KEY=\"added \\$value\"\n")
	remove2(t, e, "API_KEY")
	step("remove API_KEY", "API_KEY=\"abc\\n\" # rotate yearly\n", "")
	set2(t, e, "NEW_KEY", "plain")
	step("set NEW_KEY again", `NEW_KEY="added \$value"`, "NEW_KEY=plain")

	for name, v := range map[string]string{"DB_HOST": "db.example.com", "DB_PASSWORD": "new secret", "UNRELATED": "keep   me", "SPACED": "y", "NEW_KEY": "plain"} {
		if s := get2(t, e, name); s.Value != v || s.Type != engine.TypeString {
			t.Errorf("%s = %v %q, want string %q", name, s.Type, s.Value, v)
		}
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "API_KEY", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("Get of the removed key: %v", err)
	}
}

// A secure string is stored as a string: Get returns type string.
func TestDotenvSecureStringReadsBackAsString(t *testing.T) {
	t.Parallel()
	e := openDotenv(t, t.TempDir(), dotenvConfig{})
	set2(t, e, "TOKEN", engine.SecureString("s3cr3t value"))
	s := get2(t, e, "TOKEN")
	if s.Type != engine.TypeString || s.Value != "s3cr3t value" {
		t.Errorf("got %v %q", s.Type, s.Value)
	}
}

// Tricky values round-trip, through the engine and through a second engine
// (another process), and are written with the quoting rules of README.md.
func TestDotenvQuoting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := openDotenv(t, dir, dotenvConfig{})
	values := map[string]string{
		"SAFE":      "abc-1.2:3@x/y%z+w,v_",
		"EMPTY":     "",
		"SPACES":    "  spaced out  ",
		"QUOTES":    `say "hi" and 'bye'`,
		"HASH":      "a # b #c",
		"DOLLAR":    "$HOME ${PATH} $$ \\$",
		"NEWLINES":  "line 1\nline 2\r\nline 3\n",
		"TABS":      "\tx\t",
		"UNICODE":   "pâss wörd — 密码 пароль 🔑\u200d",
		"BACKSLASH": `C:\path\to\n\file\`,
		"EQUALS":    "a=b==c",
		"BACKTICK":  "`id`",
		"PEM":       "-----BEGIN KEY-----\nAAAA/+==\n-----END KEY-----\n",
	}
	for name, v := range values {
		set2(t, e, name, v)
	}
	file := readFile(t, filepath.Join(dir, ".env"))
	for _, line := range []string{
		"SAFE=abc-1.2:3@x/y%z+w,v_\n",
		"EMPTY=\"\"\n",
		"SPACES=\"  spaced out  \"\n",
		`QUOTES="say \"hi\" and 'bye'"` + "\n",
		`DOLLAR="\$HOME \${PATH} \$\$ \\\$"` + "\n",
		`NEWLINES="line 1\nline 2\r\nline 3\n"` + "\n",
		`BACKSLASH="C:\\path\\to\\n\\file\\"` + "\n",
	} {
		if !strings.Contains(file, line) {
			t.Errorf("the file lacks the line %q:\n%s", line, file)
		}
	}
	other := openDotenv(t, dir, dotenvConfig{})
	for _, eng := range []*engine.Engine{e, other} {
		for name, v := range values {
			if s := get2(t, eng, name); s.Value != v {
				t.Errorf("%s = %q, want %q", name, s.Value, v)
			}
		}
	}
}

// A file written by hand, with every form of the format, reads as a docker
// compose user expects.
func TestDotenvHandWrittenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "# app\n"+
		"PLAIN=value\n"+
		"export EXPORTED=yes\n"+
		"  SPACED = a b c   # comment\n"+
		"SINGLE='literal \\n $HOME \"x\"'\n"+
		"DOUBLE=\"tab\\there\\nnew \\\"q\\\" \\\\ \\$HOME\"\n"+
		"MULTI=\"first\nsecond\"\n"+
		"EMPTY=\n"+
		"DUP=first\n"+
		"DUP=last\n"+
		"CRLF=dos\r\n"+
		"case_matters=lower\n"+
		"CASE_MATTERS=upper\n", 0o600)
	e := openDotenv(t, dir, dotenvConfig{})
	want := map[string]string{
		"PLAIN":        "value",
		"EXPORTED":     "yes",
		"SPACED":       "a b c",
		"SINGLE":       `literal \n $HOME "x"`,
		"DOUBLE":       "tab\there\nnew \"q\" \\ $HOME",
		"MULTI":        "first\nsecond",
		"EMPTY":        "",
		"DUP":          "last",
		"CRLF":         "dos",
		"case_matters": "lower",
		"CASE_MATTERS": "upper",
	}
	for name, v := range want {
		if s := get2(t, e, name); s.Value != v || s.Type != engine.TypeString {
			t.Errorf("%s = %v %q, want string %q", name, s.Type, s.Value, v)
		}
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "Case_Matters", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("names are case-sensitive, but Get(Case_Matters): %v", err)
	}
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: vault2})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range infos {
		names = append(names, in.Name)
	}
	slices.Sort(names)
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("Info lists %q, want %q (each name once)", names, wantNames)
	}
}

// Duplicate keys: the last one wins on read; a set changes the last one and
// leaves the shadowed ones as they are; a remove deletes them all, so that
// an older value does not come back.
func TestDotenvDuplicates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	writeFile(t, env, "DUP=one\nOTHER=x\nDUP=two\n", 0o600)
	e := openDotenv(t, dir, dotenvConfig{})
	if s := get2(t, e, "DUP"); s.Value != "two" {
		t.Errorf("DUP = %q, want the last one", s.Value)
	}
	set2(t, e, "DUP", "three")
	if got := readFile(t, env); got != "DUP=one\nOTHER=x\nDUP=three\n" {
		t.Errorf("after set: %q", got)
	}
	remove2(t, e, "DUP")
	if got := readFile(t, env); got != "OTHER=x\n" {
		t.Errorf("after remove: %q", got)
	}
	if _, err := e.Get(ctx, engine.GetRequest{Name: "DUP", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("Get after remove: %v", err)
	}
}

// Values of other types, names that are not shell variable names, and NUL
// are refused with INVALID_ARGUMENT, naming the type or the rule and never
// the value; nothing is written.
func TestDotenvRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := openDotenv(t, dir, dotenvConfig{})
	const canary = "c4n4ry-s3cr3t"
	for _, c := range []struct {
		typ   string
		value any
	}{
		{"bytes", []byte(canary)},
		{"credential", engine.Credential{UserName: "admin", Password: canary}},
		{"hashtable", engine.Hashtable{"k": canary}},
	} {
		_, err := e.Set(ctx, engine.SetRequest{Name: "REFUSED", Value: c.value, Vault: vault2})
		switch {
		case !errors.Is(err, engine.ErrInvalidArgument):
			t.Errorf("Set of a %s: %v, want ErrInvalidArgument", c.typ, err)
		case !strings.Contains(err.Error(), "dotenv stores strings only, not "+c.typ):
			t.Errorf("Set of a %s: the error does not name the type: %v", c.typ, err)
		case strings.Contains(err.Error(), canary):
			t.Errorf("Set of a %s: the error quotes the value: %v", c.typ, err)
		}
	}
	for _, name := range []string{"my-key", "1ABC", "../ESCAPE", "a b", "naïve", "A.B", "A=B", "/data/.env"} {
		_, err := e.Set(ctx, engine.SetRequest{Name: name, Value: canary, Vault: vault2})
		if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "[A-Za-z_][A-Za-z0-9_]*") {
			t.Errorf("Set(%q): %v, want ErrInvalidArgument naming the rule", name, err)
		}
		if _, err := e.Get(ctx, engine.GetRequest{Name: name, Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Errorf("Get(%q): %v, want ErrSecretNotFound", name, err)
		}
		if _, err := e.Remove(ctx, engine.RemoveRequest{Name: name, Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
			t.Errorf("Remove(%q): %v, want ErrSecretNotFound", name, err)
		}
	}
	_, err := e.Set(ctx, engine.SetRequest{Name: "NUL", Value: "a\x00" + canary, Vault: vault2})
	if !errors.Is(err, engine.ErrInvalidArgument) || !strings.Contains(err.Error(), "NUL") || strings.Contains(err.Error(), canary) {
		t.Errorf("Set of a value with NUL: %v", err)
	}
	checkOnly(t, dir)
	// A search of every vault for a name the vault cannot hold is a plain
	// "not found", not a failure of this vault.
	if _, err := e.Get(ctx, engine.GetRequest{Name: "my-key"}); !errors.Is(err, engine.ErrSecretNotFound) || strings.Contains(err.Error(), "invalid") {
		t.Errorf("Get(my-key) in every vault: %v", err)
	}
}

// A file the vault does not understand is neither read nor rewritten; the
// error names the line, never its contents: a value pasted alone on a
// line, which reads like a name without '=', is not quoted either.
func TestDotenvMalformedFile(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"this line holds hunter2", "hunter2", "hunter2 and more", "export hunter2"} {
		t.Run(bad, func(t *testing.T) {
			dir := t.TempDir()
			env := filepath.Join(dir, ".env")
			orig := "GOOD=1\n" + bad + "\n"
			writeFile(t, env, orig, 0o600)
			e := openDotenv(t, dir, dotenvConfig{})
			_, err := e.Get(ctx, engine.GetRequest{Name: "GOOD", Vault: vault2})
			if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Get: %v, want an error naming line 2 only", err)
			}
			if _, err := e.Set(ctx, engine.SetRequest{Name: "GOOD", Value: "2", Vault: vault2}); err == nil {
				t.Error("Set over a malformed file succeeded")
			}
			if err := e.Test(ctx, engine.TestRequest{Vault: vault2}); err == nil {
				t.Error("Test passed on a malformed file")
			}
			if got := readFile(t, env); got != orig {
				t.Errorf("file changed to %q", got)
			}
			checkOnly(t, dir, ".env")
		})
	}
}

// A file larger than 8 MiB is refused rather than read.
func TestDotenvFileTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "A=1\n"+strings.Repeat("# padding\n", 1<<20), 0o600)
	e := openDotenv(t, dir, dotenvConfig{})
	if _, err := e.Get(ctx, engine.GetRequest{Name: "A", Vault: vault2}); !errors.Is(err, engine.ErrTooLarge) {
		t.Errorf("Get: %v, want ErrTooLarge", err)
	}
}

// The file is replaced whole through a temporary file and a rename: no
// temporary file or lock stays behind, a created file is 0600, and an
// existing file becomes 0600 too (the rename puts the new file, created
// 0600 by the host, in its place: the safe direction).
func TestDotenvAtomicRewrite(t *testing.T) {
	t.Run("created 0600", func(t *testing.T) {
		dir := t.TempDir()
		e := openDotenv(t, dir, dotenvConfig{})
		set2(t, e, "A", "1")
		checkOnly(t, dir, ".env")
		st, err := os.Stat(filepath.Join(dir, ".env"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("mode of the created file: %v, %v; want 0600", st.Mode(), err)
		}
		remove2(t, e, "A")
		checkOnly(t, dir, ".env")
		if got := readFile(t, filepath.Join(dir, ".env")); got != "" {
			t.Errorf("after removing the only key: %q", got)
		}
	})
	t.Run("existing 0644 becomes 0600", func(t *testing.T) {
		dir := t.TempDir()
		env := filepath.Join(dir, ".env")
		writeFile(t, env, "A=1\n", 0o644)
		e := openDotenv(t, dir, dotenvConfig{})
		set2(t, e, "B", "2")
		st, _ := os.Stat(env)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode after a rewrite: %v, want 0600", st.Mode())
		}
		if got := readFile(t, env); got != "A=1\nB=2\n" {
			t.Errorf("file = %q", got)
		}
	})
	t.Run("failures leave nothing", func(t *testing.T) {
		dir := t.TempDir()
		env := filepath.Join(dir, ".env")
		writeFile(t, env, "A=1\n", 0o600)
		e := openDotenv(t, dir, dotenvConfig{readOnly: true})
		if s := get2(t, e, "A"); s.Value != "1" {
			t.Errorf("A = %q", s.Value)
		}
		if _, err := e.Set(ctx, engine.SetRequest{Name: "A", Value: "2", Vault: vault2}); !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("Set in a read-only folder: %v", err)
		}
		if err := e.Test(ctx, engine.TestRequest{Vault: vault2}); err != nil {
			t.Errorf("Test of a read-only vault: %v", err)
		}
		if got := readFile(t, env); got != "A=1\n" {
			t.Errorf("file = %q", got)
		}
		checkOnly(t, dir, ".env")
	})
	t.Run("leftovers of dead writers are removed", func(t *testing.T) {
		dir := t.TempDir()
		old := time.Now().Add(-time.Minute)
		for _, name := range []string{".env.tmp-deadbeef", ".env.tmp-probe-12ab", ".env.lock.stale-0f", ".env.tmp-notours", "keep.txt"} {
			writeFile(t, filepath.Join(dir, name), "x", 0o600)
			os.Chtimes(filepath.Join(dir, name), old, old)
		}
		writeFile(t, filepath.Join(dir, ".env.tmp-abc"), "a writer at work", 0o600) // fresh: kept
		e := openDotenv(t, dir, dotenvConfig{})
		set2(t, e, "A", "1")
		checkOnly(t, dir, ".env", ".env.tmp-abc", ".env.tmp-notours", "keep.txt")
	})
	t.Run("stale lock is broken", func(t *testing.T) {
		dir := t.TempDir()
		lock := filepath.Join(dir, ".env.lock")
		writeFile(t, lock, "dead writer\n", 0o600)
		old := time.Now().Add(-time.Minute)
		os.Chtimes(lock, old, old)
		e := openDotenv(t, dir, dotenvConfig{})
		set2(t, e, "A", "1")
		checkOnly(t, dir, ".env")
	})
	t.Run("held lock", func(t *testing.T) {
		// The guest waits for the lock on the fake clock of
		// internal/testonly: its sleeps move the clock instead of taking
		// the 4 s.
		clock := testonly.UseFakeClock(t)
		dir := t.TempDir()
		env := filepath.Join(dir, ".env")
		writeFile(t, env, "A=1\n", 0o600)
		writeFile(t, filepath.Join(dir, ".env.lock"), "live writer\n", 0o600)
		e := openDotenv(t, dir, dotenvConfig{})
		start := clock.Now()
		_, err := e.Set(ctx, engine.SetRequest{Name: "A", Value: "2", Vault: vault2})
		if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), ".env.lock") {
			t.Errorf("Set while another writer holds the lock: %v", err)
		}
		if d := clock.Now().Sub(start); d < 3*time.Second {
			t.Errorf("gave up after %v, want about 4 s of waiting", d)
		}
		if got := readFile(t, env); got != "A=1\n" {
			t.Errorf("file = %q", got)
		}
		if s := get2(t, e, "A"); s.Value != "1" { // readers take no lock
			t.Errorf("A = %q", s.Value)
		}
		checkOnly(t, dir, ".env", ".env.lock")
	})
}

// Several goroutines set different keys at once through one engine (a pool
// of instances) and through a second engine over the same folder (another
// process): the lock file serialises the read-modify-writes, so no update
// is lost.
func TestDotenvConcurrentWritersLoseNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := filepath.Join(dir, ".env")
	writeFile(t, env, "# shared by many writers\n", 0o600)
	engines := []*engine.Engine{openDotenv(t, dir, dotenvConfig{}), openDotenv(t, dir, dotenvConfig{})}
	const workers, keys = 6, 15
	var wg sync.WaitGroup
	for w := range workers {
		e := engines[w%len(engines)]
		wg.Go(func() {
			for k := range keys {
				name := fmt.Sprintf("W%d_K%d", w, k)
				if _, err := e.Set(ctx, engine.SetRequest{Name: name, Value: fmt.Sprintf("value %d.%d", w, k), Vault: vault2}); err != nil {
					t.Errorf("Set(%s): %v", name, err)
					return
				}
				if k%5 == 4 { // and remove one now and then
					prev := fmt.Sprintf("W%d_K%d", w, k-1)
					if _, err := e.Remove(ctx, engine.RemoveRequest{Name: prev, Vault: vault2}); err != nil {
						t.Errorf("Remove(%s): %v", prev, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	got := values2(t, engines[0])
	for w := range workers {
		for k := range keys {
			name := fmt.Sprintf("W%d_K%d", w, k)
			v, ok := got[name]
			switch {
			case k%5 == 3 && ok:
				t.Errorf("%s was removed but is there", name)
			case k%5 != 3 && v != fmt.Sprintf("value %d.%d", w, k):
				t.Errorf("%s = %q (present %v): an update was lost", name, v, ok)
			}
		}
	}
	if !strings.HasPrefix(readFile(t, env), "# shared by many writers\n") {
		t.Error("the comment was lost")
	}
	checkOnly(t, dir, ".env")
}

// values2 returns every secret of LocalStore2.
func values2(t testing.TB, e *engine.Engine) map[string]string {
	t.Helper()
	infos, err := e.Info(ctx, engine.InfoRequest{Pattern: "*", Vault: vault2})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, in := range infos {
		m[in.Name] = get2(t, e, in.Name).Value.(string)
	}
	return m
}

// The vault sees the granted folder only: not the file next to it, not the
// registry, not through the "file" parameter, not through a symbolic link.
func TestDotenvCannotEscapeTheFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	granted := filepath.Join(root, "granted")
	if err := os.Mkdir(granted, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(root, ".env")
	const outsideContent = "OUTSIDE=topsecret-outside\nINSIDE=shadow\n"
	writeFile(t, outside, outsideContent, 0o600)
	writeFile(t, filepath.Join(granted, ".env"), "INSIDE=1\n", 0o600)

	e := openDotenv(t, granted, dotenvConfig{})
	if _, err := e.Get(ctx, engine.GetRequest{Name: "OUTSIDE", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("Get(OUTSIDE): %v", err)
	}
	if got := values2(t, e); len(got) != 1 || got["INSIDE"] != "1" {
		t.Errorf("the vault sees %q", got)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "../OUTSIDE", Value: "x", Vault: vault2}); !errors.Is(err, engine.ErrInvalidArgument) {
		t.Errorf("Set(../OUTSIDE): %v", err)
	}

	for _, file := range []string{"../.env", "..", "/etc/passwd", `..\.env`, ""} {
		e := openDotenv(t, granted, dotenvConfig{params: fmt.Sprintf("file = %q", file)})
		_, err := e.Get(ctx, engine.GetRequest{Name: "OUTSIDE", Vault: vault2})
		if err == nil || errors.Is(err, engine.ErrSecretNotFound) || !strings.Contains(err.Error(), "parameter file") || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("file = %q: Get: %v, want the parameter refused", file, err)
		}
	}

	linked := filepath.Join(root, "linked")
	if err := os.Mkdir(linked, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(linked, ".env")); err != nil {
		t.Fatal(err)
	}
	e = openDotenv(t, linked, dotenvConfig{})
	if _, err := e.Get(ctx, engine.GetRequest{Name: "OUTSIDE", Vault: vault2}); !errors.Is(err, engine.ErrPermissionDenied) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("Get through a symbolic link: %v", err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "OUTSIDE", Value: "overwritten", Vault: vault2}); err == nil {
		t.Error("Set through a symbolic link succeeded")
	}
	if st, err := os.Lstat(filepath.Join(linked, ".env")); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", st.Mode(), err)
	}
	checkOnly(t, linked, ".env")
	if got := readFile(t, outside); got != outsideContent {
		t.Errorf("the file outside changed: %q", got)
	}
	checkOnly(t, root, ".env", "granted", "linked")
}

// Parameter file names another file in the folder; unknown parameters are
// refused.
func TestDotenvFileParameter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "A=from .env\n", 0o600)
	e := openDotenv(t, dir, dotenvConfig{params: `file = "prod.env"`})
	if _, err := e.Get(ctx, engine.GetRequest{Name: "A", Vault: vault2}); !errors.Is(err, engine.ErrSecretNotFound) {
		t.Errorf("Get(A) reads .env: %v", err)
	}
	set2(t, e, "B", "in prod")
	if got := readFile(t, filepath.Join(dir, "prod.env")); got != "B=\"in prod\"\n" {
		t.Errorf("prod.env = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, ".env")); got != "A=from .env\n" {
		t.Errorf(".env = %q", got)
	}
	checkOnly(t, dir, ".env", "prod.env")

	e = openDotenv(t, dir, dotenvConfig{params: `fiel = "x.env"`})
	if _, err := e.Get(ctx, engine.GetRequest{Name: "A", Vault: vault2}); err == nil || !strings.Contains(err.Error(), `unknown parameter "fiel"`) {
		t.Errorf("unknown parameter: %v", err)
	}
}

// BenchmarkDotenvGet measures one get from the dotenv vault: the guest
// stats, opens and reads the .env file through the directory mount on every
// call, so the mount's cost per path shows here.
func BenchmarkDotenvGet(b *testing.B) {
	e := openDotenv(b, b.TempDir(), dotenvConfig{})
	set2(b, e, "BENCH", "value")
	b.ReportAllocs()
	for b.Loop() {
		get2(b, e, "BENCH")
	}
}
