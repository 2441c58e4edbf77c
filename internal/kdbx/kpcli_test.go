package kdbx

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// keePassXC drives keepassxc-cli, the command line of the real KeePassXC,
// on databases in a test's folder. Tests that need it fail, not skip, when
// it is missing: make deps installs it.
type keePassXC struct {
	t        *testing.T
	path     string
	dir      string
	password string // "" for none
	keyFile  string // "" for none
}

func newKeePassXC(t *testing.T, password, keyFile string) *keePassXC {
	t.Helper()
	p, err := exec.LookPath("keepassxc-cli")
	if err != nil {
		t.Fatal("keepassxc-cli is needed: install Debian's keepassxc package (make deps does)")
	}
	return &keePassXC{t: t, path: p, dir: t.TempDir(), password: password, keyFile: keyFile}
}

// file returns the path of name in the test's folder.
func (k *keePassXC) file(name string) string { return filepath.Join(k.dir, name) }

// run runs keepassxc-cli with stdin and returns its standard output.
func (k *keePassXC) run(stdin string, args ...string) string {
	k.t.Helper()
	cmd := exec.Command(k.path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Dir = k.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		k.t.Fatalf("keepassxc-cli %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// unlock returns the arguments and standard input that open a database.
func (k *keePassXC) unlock() (args []string, stdin string) {
	if k.keyFile != "" {
		args = append(args, "-k", k.file(k.keyFile))
	}
	if k.password == "" {
		args = append(args, "--no-password")
	} else {
		stdin = k.password + "\n"
	}
	return append(args, "-q"), stdin
}

// create makes db with keepassxc-cli db-create, with its defaults.
func (k *keePassXC) create(db string) {
	k.t.Helper()
	args := []string{"db-create", "-q"}
	stdin := ""
	if k.password != "" {
		args = append(args, "-p")
		stdin = k.password + "\n" + k.password + "\n"
	}
	if k.keyFile != "" {
		args = append(args, "--set-key-file", k.file(k.keyFile))
	}
	k.run(stdin, append(args, k.file(db))...)
}

// do runs a command that opens db, such as add or show: opts go before
// the database, args after it; extraStdin follows the database password.
func (k *keePassXC) do(cmd, db, extraStdin string, opts []string, args ...string) string {
	k.t.Helper()
	u, stdin := k.unlock()
	all := append(append(append([]string{cmd}, u...), opts...), k.file(db))
	return k.run(stdin+extraStdin, append(all, args...)...)
}

// fill adds the entries the read tests look for: Internet/GitHub with a
// user name, password and attachment, and Email at the root.
func (k *keePassXC) fill(db string) {
	k.t.Helper()
	k.do("mkdir", db, "", nil, "Internet")
	k.do("add", db, "s3cret pass\n", []string{"-u", "alice", "-p"}, "Internet/GitHub")
	if err := os.WriteFile(k.file("note.txt"), []byte("attached\x00bytes"), 0o600); err != nil {
		k.t.Fatal(err)
	}
	k.do("attachment-import", db, "", nil, "Internet/GitHub", "note.txt", k.file("note.txt"))
	k.do("add", db, "mail pw\n", []string{"-u", "bob@example.org", "-p"}, "Email")
}

// export returns keepassxc-cli's XML export of db.
func (k *keePassXC) export(db string) string {
	k.t.Helper()
	return k.do("export", db, "", []string{"-f", "xml"})
}

// filled is a database that create and fill made with the password "pw",
// and keepassxc-cli's XML export of it, made once per test process (by the
// first test that asks): fill takes four keepassxc-cli processes, and each
// one derives the key again; importing the export makes the same database
// in one, and the test of a database filled entry by entry reads this one.
var filled struct {
	once sync.Once
	db   []byte
	xml  string
}

// makeFilled makes filled, once.
func (k *keePassXC) makeFilled() {
	k.t.Helper()
	filled.once.Do(func() {
		first := newKeePassXC(k.t, "pw", "")
		first.create("db.kdbx")
		first.fill("db.kdbx")
		filled.xml = first.export("db.kdbx")
		db, err := os.ReadFile(first.file("db.kdbx"))
		if err != nil {
			first.t.Fatalf("reading the filled database: %v", err)
		}
		filled.db = db
	})
	if filled.xml == "" || filled.db == nil {
		k.t.Fatal("keepassxc-cli failed to make the filled database in an earlier test")
	}
}

// copyFilled makes db a copy of the database that create and fill made,
// whose key is the password "pw" alone: k's must be.
func (k *keePassXC) copyFilled(db string) {
	k.t.Helper()
	if k.password != "pw" || k.keyFile != "" {
		k.t.Fatal("the filled database's key is the password pw alone")
	}
	k.makeFilled()
	if err := os.WriteFile(k.file(db), filled.db, 0o600); err != nil {
		k.t.Fatal(err)
	}
}

// createFilled makes db, with k's key, as create and fill would, in one
// keepassxc-cli import of filled; with v4, as a KDBX 4 file, the way
// KeePassXC writes one: it writes 4.x when a group has custom data, so the
// export is given some before the import.
func (k *keePassXC) createFilled(db string, v4 bool) {
	k.t.Helper()
	k.makeFilled()
	x := filled.xml
	if v4 {
		x = strings.Replace(x, "<IsExpanded>", "<CustomData><Item><Key>sesame-test</Key><Value>4</Value></Item></CustomData><IsExpanded>", 1)
	}
	if err := os.WriteFile(k.file("filled.xml"), []byte(x), 0o600); err != nil {
		k.t.Fatal(err)
	}
	args := []string{"import", "-q"}
	stdin := ""
	if k.password != "" {
		args = append(args, "-p")
		stdin = k.password + "\n" + k.password + "\n"
	}
	if k.keyFile != "" {
		args = append(args, "--set-key-file", k.file(k.keyFile))
	}
	k.run(stdin, append(args, k.file("filled.xml"), k.file(db))...)
}

// open decodes db with the codec and GoCrypto.
func (k *keePassXC) open(db string) *Database {
	k.t.Helper()
	data, err := os.ReadFile(k.file(db))
	if err != nil {
		k.t.Fatal(err)
	}
	key := k.composite()
	d, err := Decode(data, GoCrypto{}, key)
	GoCrypto{}.Forget(key)
	if err != nil {
		k.t.Fatalf("%s: %v", db, err)
	}
	k.t.Cleanup(d.Close)
	return d
}

// save encodes d into db.
func (k *keePassXC) save(d *Database, db string) {
	k.t.Helper()
	out, err := d.Encode()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(k.file(db), out, 0o600); err != nil {
		k.t.Fatal(err)
	}
}

// composite is the composite key of k's password and key file.
func (k *keePassXC) composite() Key {
	k.t.Helper()
	var pw, kf []byte
	var err error
	if k.password != "" {
		pw = []byte(k.password)
	}
	if k.keyFile != "" {
		if kf, err = os.ReadFile(k.file(k.keyFile)); err != nil {
			k.t.Fatal(err)
		}
	}
	key, err := CompositeKey(GoCrypto{}, pw, kf)
	if err != nil {
		k.t.Fatal(err)
	}
	return key
}
