package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// TestHygiene runs sesame through the commands that handle secrets, the
// ways they fail included, on a user's vaults (the first-run LocalStore, a
// password vault, a dotenv vault) and on a project's registry, with
// distinctive secret values; umask is 022, so that nothing is private by
// accident. Then:
//
//   - outputs: no secret value appears in any standard error, nor in any
//     standard output but the ones that ask for it (get --as-plain-text);
//   - files: no secret value appears in any file sesame wrote, except the
//     .env file that a dotenv vault keeps in clear by design;
//   - permissions: every folder sesame created is 0700 and every file it
//     wrote 0600.
func TestHygiene(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	c := newCLIEnv(t)
	envDir := filepath.Join(c.dir, "envdir")
	proj := filepath.Join(c.dir, "proj")
	for _, d := range []string{envDir, proj} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The secrets: each value, password and hashtable entry is distinct.
	const (
		sString   = "canary-string-Kx81"
		sSecure   = "canary-secure-Qm27"
		sCredPW   = "canary-credpw-Zt55"
		sBytes    = "canary-bytes-Hv03"
		sTableA   = "canary-table-a-Lp64"
		sTableB   = "canary-table-b-Rw19"
		sNew      = "canary-noclobber-Jd42"
		sBad      = "canary-refused-Tn88"
		sPassword = "canary-password-Ve36"
		sWrongPW  = "canary-wrongpw-Bs71"
		sDotenv   = "canary-dotenv-Ny50"
		sProject  = "canary-project-Wc13"
		sImport   = "canary-import-Fy62"
	)
	all := []string{sString, sSecure, sCredPW, sBytes, sTableA, sTableB, sNew, sBad, sPassword, sWrongPW, sDotenv, sProject, sImport}
	big := strings.Repeat(sBad, (1<<20)/len(sBad)+1)

	type step struct {
		stdin string
		args  []string
		code  int    // expected exit status
		shows string // the secret its standard output shows, if asked for
	}
	cfg := []string{"--config", filepath.Join(proj, "vaults.toml")}
	// The steps of a phase run at once, each phase after the one before.
	phases := [][]step{{
		// The first run creates LocalStore.
		{sString, []string{"set", "s1", "--stdin"}, 0, ""},
	}, {
		{sSecure, []string{"set", "s2", "--stdin", "--type", "securestring"}, 0, ""},
		{sCredPW, []string{"set", "c1", "--stdin", "--type", "credential", "--username", "alice"}, 0, ""},
		{sBytes, []string{"set", "b1", "--stdin", "--type", "bytes"}, 0, ""},
		{`{"a":"` + sTableA + `","b":{"type":"securestring","value":"` + sTableB + `"}}`, []string{"set", "t1", "--stdin", "--type", "hashtable", "--metadata", "owner=ops"}, 0, ""},
		{"", []string{"vault", "register", "P", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=password"}, 0, ""},
		{"", []string{"vault", "register", "D", "--extension", "builtin:dotenv", "--grant", "directory=" + envDir}, 0, ""},
		{"", append(cfg, "vault", "register", "Proj", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=none"), 0, ""},
		// Refused input that holds a secret.
		{sNew, []string{"set", "s1", "--stdin", "--no-clobber"}, 1, ""},
		{sBad, []string{"set", "bad*name", "--stdin"}, 1, ""},
		{big, []string{"set", "big", "--stdin"}, 1, ""},
		{`{"a":"` + sBad + `",}`, []string{"set", "t2", "--stdin", "--type", "hashtable"}, 1, ""},
		{`{"a":{"type":"bytes","base64":"` + sBad + `"}}`, []string{"set", "t2", "--stdin", "--type", "hashtable"}, 1, ""},
		{sBad, []string{"set", "c2", "--stdin", "--type", "credential"}, 2, ""},
		{"", []string{"set", "v1", "--value", sBad, "--no-clobber", "--vault", "Nowhere"}, 1, ""},
	}, {
		{"", []string{"get", "s1"}, 0, ""},
		{"", []string{"get", "t1"}, 0, ""},
		{"", []string{"get", "b1"}, 0, ""},
		{"", []string{"get", "b1", "--json"}, 0, ""},
		{"", []string{"get", "t1", "--json"}, 0, ""},
		{"", []string{"get", "s2", "--as-plain-text"}, 0, sSecure},
		{"", []string{"info", "--vault", "LocalStore", "--json"}, 0, ""},
		{sNew, []string{"set", "s1", "--stdin", "--what-if"}, 0, ""},
		{"", []string{"exec", "--env", "X=s1", "--env", "Y=s2", "--", "exitwith", "3"}, 3, ""},
		{"", []string{"exec", "--env", "X=s1", "--", filepath.Join(c.dir, "no-such-command")}, 127, ""},
		// A password vault gets its password; a dotenv vault its .env
		// file; the project's registry a store in .sesame beside it.
		{sPassword + "\n", []string{"vault", "unlock", "P", "--password-stdin"}, 0, ""},
		{sDotenv, []string{"set", "DB_PASSWORD", "--vault", "D", "--stdin"}, 0, ""},
		{sBad, []string{"set", "not-a-variable", "--vault", "D", "--stdin"}, 1, ""},
		{sProject, append(cfg, "set", "p1", "--stdin"), 0, ""},
		// import: what it stores, and what it refuses.
		{"IMP_A=" + sImport + "\nIMP_B='" + sImport + "'\n", []string{"import", "-"}, 0, ""},
		{"IMP_C=1\n-" + sBad + "\n", []string{"import", "-"}, 1, ""},
		{`{"name":"j","type":"bytes","value":"` + sBad + `"}`, []string{"import", "-"}, 1, ""},
		{`{"name":"j","value":` + sBad + `}`, []string{"import", "-"}, 1, ""},
	}, {
		{"s1=" + sNew + "\n", []string{"import", "-", "--no-clobber"}, 1, ""},
		{"IMP_A=" + sImport + "\n", []string{"import", "-", "--no-clobber", "--what-if"}, 0, ""},
		{sWrongPW + "\n", []string{"vault", "unlock", "P", "--password-stdin"}, 1, ""},
		{"", []string{"get", "DB_PASSWORD", "--vault", "D"}, 0, ""},
	}}
	commands := 0
	for _, steps := range phases {
		var wg sync.WaitGroup
		for _, s := range steps {
			commands++
			wg.Go(func() {
				r := c.run(s.stdin, s.args...)
				if r.code != s.code {
					t.Errorf("%s%s\nwant exit %d", r, r.stdout, s.code)
				}
				for _, secret := range all {
					if strings.Contains(r.stderr, secret) {
						t.Errorf("standard error shows %s:\n%s", secret, r)
					}
					if strings.Contains(r.stdout, secret) != (secret == s.shows) {
						t.Errorf("standard output of sesame %s: shows %s is %v, want %v:\n%s", strings.Join(s.args, " "), secret, secret != s.shows, secret == s.shows, r.stdout)
					}
				}
			})
		}
		wg.Wait()
	}

	// What sesame wrote: the user's registry and data folders, the
	// project's data folder, the dotenv vault's folder.
	roots := []string{
		filepath.Join(c.dir, "config", "sesame"),
		filepath.Join(c.dir, "data", "sesame"),
		filepath.Join(proj, ".sesame"),
		envDir,
	}
	files := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(c.dir, path)
			switch {
			case path == envDir:
				return nil // the user's folder, of the user's mode
			case d.IsDir():
				if fi.Mode().Perm() != 0o700 {
					t.Errorf("folder %s is %v, want 0700", rel, fi.Mode().Perm())
				}
				return nil
			case !fi.Mode().IsRegular():
				t.Errorf("%s is a %v", rel, fi.Mode().Type())
				return nil
			}
			files++
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("file %s is %v, want 0600", rel, fi.Mode().Perm())
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if filepath.Base(path) == ".env" {
				if !bytes.Contains(data, []byte(sDotenv)) {
					t.Errorf("%s does not hold the dotenv secret", rel)
				}
				return nil
			}
			for _, secret := range all {
				if bytes.Contains(data, []byte(secret)) {
					t.Errorf("file %s holds %s in clear", rel, secret)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	// The files that must be there: two registries, the project's lock
	// file, three stores, the .env file.
	for _, f := range []string{
		"config/sesame/vaults.toml", engine.StorageFile("data/sesame", "LocalStore", "builtin:secretstore"),
		engine.StorageFile("data/sesame", "P", "builtin:secretstore"), "proj/vaults.toml", "proj/vaults.toml.lock",
		engine.StorageFile("proj/.sesame", "Proj", "builtin:secretstore"), "envdir/.env",
	} {
		fi, err := os.Stat(filepath.Join(c.dir, f))
		if err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o600 {
			t.Errorf("file %s is %v, want 0600", f, fi.Mode().Perm())
		}
	}
	t.Logf("%d commands, %d files checked", commands, files)
}
