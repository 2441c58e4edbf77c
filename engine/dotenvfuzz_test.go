package engine_test

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// FuzzDotenvFile writes the fuzzed bytes as the .env file of a dotenv vault
// (the C module, through the sandbox) and checks, on every input:
//   - no trap, and no INTERNAL but the vault's refusal of a file it does not
//     understand or of a value that is not UTF-8 (both name a line);
//   - a file that list refuses is refused by set too, and left as it was;
//   - on a file that parses, a set of K (new or not) reads back as the value
//     set and changes no other secret; a new K is appended after every byte
//     of the file, and its remove gives the file back (with the line
//     terminator the append added);
//   - the vault leaves no file of its own behind (lock, temporary files).
func FuzzDotenvFile(f *testing.F) {
	for _, src := range []string{
		handWritten, golden, "", "A=1\r", "K=\"a\\\"\" # c\nB='x'\n", "\r\n\r", "K=\"\"#", "K=v\nK=w\n",
		"export K=1\n", "export=1\n", "A=\xff\n", "A=\"\\\xff\"\n", "just words\n", "K='unterminated\n",
		"\xef\xbb\xbfK=1\r\n", "K= # c\n",
	} {
		f.Add([]byte(src), "new value", false)
		f.Add([]byte(src), "new value", true)
	}
	for _, v := range tricky {
		f.Add([]byte("K=old\n"), v, false)
	}
	v := openDotenvFile(f)
	f.Fuzz(func(t *testing.T, src []byte, value string, export bool) {
		value = strings.ReplaceAll(strings.ToValidUTF8(value, "?"), "\x00", "")
		key := "K"
		if export { // a name that is also the keyword of the export prefix
			key = "export"
		}
		checkDotenvEdit(t, v, src, key, value)
	})
}

// dotenvState is what a reader of the file sees: the values of the names
// that read, and the names whose value is refused as not UTF-8.
type dotenvState struct {
	values  map[string]string
	badUTF8 []string
}

// readDotenv lists the file and gets every name. It returns the list's
// error, which must be the refusal of the file; a get may only fail with
// the refusal of a value that is not UTF-8.
func readDotenv(t *testing.T, v *dotenvFile) (dotenvState, error) {
	list, err := v.List(ctx, "*")
	if err != nil {
		if refusedLine(err) == 0 {
			t.Fatalf("list of %q: %v, want success or the file refused", v.file(t), err)
		}
		return dotenvState{}, err
	}
	s := dotenvState{values: map[string]string{}}
	for _, in := range list {
		_, val, err := v.Get(ctx, in.Name)
		switch {
		case err == nil:
			s.values[in.Name] = string(val.Data)
		case refusedLine(err) > 0 && strings.Contains(err.Error(), "is not UTF-8"):
			s.badUTF8 = append(s.badUTF8, in.Name)
		default:
			t.Fatalf("get %s from %q: %v", in.Name, v.file(t), err)
		}
	}
	return s, nil
}

// checkOnlyFile fails unless the folder holds the .env file and nothing else.
func checkOnlyFile(t *testing.T, v *dotenvFile) {
	des, err := os.ReadDir(v.dir)
	if err != nil || len(des) != 1 || des[0].Name() != ".env" {
		t.Fatalf("the folder holds %v (%v), want .env alone", des, err)
	}
}

// checkDotenvEdit checks a set and a remove of key in the file src.
func checkDotenvEdit(t *testing.T, v *dotenvFile, src []byte, key, value string) {
	v.write(t, string(src))
	before, err := readDotenv(t, v)
	if err != nil {
		if err := v.set(key, value); refusedLine(err) == 0 || v.file(t) != string(src) {
			t.Fatalf("set %s in a refused file %q: %v; the file is now %q", key, src, err, v.file(t))
		}
		checkOnlyFile(t, v)
		return
	}
	_, existed := before.values[key]
	existed = existed || slices.Contains(before.badUTF8, key)
	if err := v.set(key, value); err != nil {
		t.Fatalf("set %s to %q in %q: %v", key, value, src, err)
	}
	written := []byte(v.file(t))
	after, err := readDotenv(t, v)
	if err != nil {
		t.Fatalf("set %s to %q in %q wrote %q, which is refused: %v", key, value, src, written, err)
	}
	want := maps.Clone(before.values)
	want[key] = value
	if !maps.Equal(after.values, want) || !slices.Equal(after.badUTF8, slices.DeleteFunc(before.badUTF8, func(n string) bool { return n == key })) {
		t.Fatalf("set %s to %q in %q wrote %q: reads %q, want %q", key, value, src, written, after.values, want)
	}
	if !existed && !bytes.HasPrefix(written, src) {
		t.Fatalf("set of a new %s in %q wrote %q: the old bytes are not kept", key, src, written)
	}
	checkOnlyFile(t, v)

	if err := v.Remove(ctx, key); err != nil {
		t.Fatalf("remove %s from %q: %v", key, written, err)
	}
	removed := []byte(v.file(t))
	if _, _, err := v.Get(ctx, key); !errors.Is(err, abi.NotFound) {
		t.Fatalf("get %s after its remove from %q (now %q): %v", key, written, removed, err)
	}
	final, err := readDotenv(t, v)
	delete(want, key)
	if err != nil || !maps.Equal(final.values, want) {
		t.Fatalf("remove %s from %q wrote %q: reads %q (%v), want %q", key, written, removed, final.values, err, want)
	}
	if !existed && !bytes.Equal(removed, withTerminator(src)) {
		t.Fatalf("set then remove of a new %s in %q gives %q", key, src, removed)
	}
	checkOnlyFile(t, v)
}

// withTerminator returns src as an append leaves it before the new line:
// with "\n" after a last line that ends in a lone "\r", with the file's line
// ending after a last line without one.
func withTerminator(src []byte) []byte {
	switch {
	case len(src) == 0 || src[len(src)-1] == '\n':
		return src
	case src[len(src)-1] == '\r':
		return append(slices.Clip(src), '\n')
	}
	nl := "\n"
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		nl = "\r\n"
	}
	return append(slices.Clip(src), nl...)
}
