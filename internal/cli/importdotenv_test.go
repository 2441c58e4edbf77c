package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sesamehq/sesame/engine"
)

// dotenvVault is the builtin dotenv vault over a folder, run in process.
type dotenvVault struct {
	e   *engine.Engine
	dir string
}

func newDotenvVault(tb testing.TB) *dotenvVault {
	tb.Helper()
	dir := tb.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o700); err != nil {
		tb.Fatal(err)
	}
	reg := filepath.Join(dir, "vaults.toml")
	if err := os.WriteFile(reg, []byte("[vaults.D]\nextension = \"builtin:dotenv\"\ngrants.directory = \"files\"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	e, err := engine.Open(context.Background(), reg, &engine.Options{DataDir: filepath.Join(dir, "data"), NoCache: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return &dotenvVault{e: e, dir: files}
}

// read returns what the vault reads of src: each name and its value, or its
// error's line number.
func (v *dotenvVault) read(tb testing.TB, src string) (map[string]string, int) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(v.dir, ".env"), []byte(src), 0o600); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	list, err := v.e.Info(ctx, engine.InfoRequest{Vault: "D"})
	if err != nil {
		m := regexp.MustCompile(`line (\d+)`).FindStringSubmatch(err.Error())
		if m == nil {
			tb.Fatalf("the vault failed without naming a line: %v", err)
		}
		var n int
		fmt.Sscan(m[1], &n)
		return nil, n
	}
	out := map[string]string{}
	for _, in := range list {
		s, err := v.e.Get(ctx, engine.GetRequest{Name: in.Name, Vault: "D"})
		if err != nil {
			tb.Fatal(err)
		}
		out[in.Name] = s.Value.(string)
	}
	return out, 0
}

// importRead returns what import reads of src, as read does; the last value
// of a name wins.
func importRead(tb testing.TB, src string) (map[string]string, int) {
	tb.Helper()
	d := newDotenvReader(strings.NewReader(src))
	out := map[string]string{}
	for {
		e, err := d.next()
		var le *lineError
		switch {
		case err == io.EOF:
			return out, 0
		case errors.As(err, &le):
			return nil, le.Line
		case err != nil:
			tb.Fatal(err)
		}
		out[e.name] = string(e.value)
	}
}

var dotenvCases = []string{
	"",
	"A=1\n",
	"A=1",
	"A=1\r\nB=2\r\n",
	"\xef\xbb\xbfA=1\n",
	"# comment\n\n   \t\nA=1\n",
	"export A=1\n",
	"export   A = 1 \n",
	"export=1\n",
	"exportA=1\n",
	"export 1A=2\n",
	"  A  =  spaced value  # comment\n",
	"A=a#b\n",
	"A=a #b\n",
	"A=a\t#b\n",
	"A=#b\n",
	"A= #b\n",
	"A=\n",
	"A=  \n",
	`A="x\ny"` + "\n",
	`A="q\"q" # c` + "\n",
	`A="\n\r\t\"\\\$\a"` + "\n",
	`A="$HOME"` + "\n",
	"A='single\nover\nlines'\nB=2\n",
	"A=\"double\r\nover lines\"\nB=2\n",
	`A='a\nb'` + "\n",
	`A="ends with \\"` + "\n",
	"A=1\nA=2\n",
	"A=lone\r",
	"A=mid\rdle\n",
	"A=\"x\" y\n",
	"A='x'y\n",
	"A=\"open\nB=2\n",
	"A='open\n",
	"A=1\n1B=2\n",
	"A=1\nB\n",
	"A=1\nB 2\n",
	"A=1\n-B=2\n",
	"A=1\n\"B\"=2\n",
	"A=1\nB=\"x\"\nC='y\nz'\nD E\n",
	"A=\"back\\",
	"A=\"a\\\nb\"\n",
	"A=ünïcödé ✓\n",
}

// TestImportDotenvAsTheVault: import reads every case as the builtin dotenv
// vault reads the same file: the same names and values, or a refusal naming
// the same line.
func TestImportDotenvAsTheVault(t *testing.T) {
	v := newDotenvVault(t)
	read, refused := 0, 0
	for _, src := range dotenvCases {
		if got, line := compareDotenv(t, v, src); line > 0 {
			refused++
		} else if len(got) > 0 {
			read++
		}
	}
	if read < 25 || refused < 10 {
		t.Errorf("of %d cases, %d read and %d refused: the table lost its point", len(dotenvCases), read, refused)
	}
}

// compareDotenv compares import's reading of src with the vault's and
// returns import's.
func compareDotenv(t *testing.T, v *dotenvVault, src string) (map[string]string, int) {
	t.Helper()
	want, wantLine := v.read(t, src)
	got, gotLine := importRead(t, src)
	if gotLine != wantLine || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%q:\nimport reads %q (error at line %d)\nthe vault    %q (error at line %d)", src, got, gotLine, want, wantLine)
	}
	return got, gotLine
}

// FuzzImportDotenv compares import's reading with the vault's on any file.
func FuzzImportDotenv(f *testing.F) {
	for _, src := range dotenvCases {
		f.Add(src)
	}
	v := newDotenvVault(f)
	f.Fuzz(func(t *testing.T, src string) {
		if strings.ContainsRune(src, 0) || !utf8.ValidString(src) || len(src) > 4096 {
			// NUL and invalid UTF-8 the vault refuses at get, and the
			// engine at import; both refuse large files for reasons of
			// their own.
			t.Skip()
		}
		compareDotenv(t, v, src)
	})
}
