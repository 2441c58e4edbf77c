package kdbx

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sesamehq/sesame/internal/keepassxctest"
)

// keePassXC drives keepassxc-cli, the command line of the real KeePassXC,
// on databases in a test's folder (see internal/keepassxctest: a test
// that reads or changes one database several times does it in one
// process of keepassxc-cli's interactive mode, k.shell).
type keePassXC struct {
	t        *testing.T
	dir      string
	password string // "" for none
	keyFile  string // "" for none
}

func newKeePassXC(t *testing.T, password, keyFile string) *keePassXC {
	t.Helper()
	keepassxctest.Path(t)
	return &keePassXC{t: t, dir: t.TempDir(), password: password, keyFile: keyFile}
}

// file returns the path of name in the test's folder.
func (k *keePassXC) file(name string) string { return filepath.Join(k.dir, name) }

// newKey returns the options and standard input of db-create and import
// that give a new database k's key.
func (k *keePassXC) newKey() (args []string, stdin string) {
	if k.password != "" {
		args = append(args, "-p")
		stdin = k.password + "\n" + k.password + "\n"
	}
	if k.keyFile != "" {
		args = append(args, "--set-key-file", k.file(k.keyFile))
	}
	return args, stdin
}

// create makes db with keepassxc-cli db-create, with its defaults.
func (k *keePassXC) create(db string) {
	k.t.Helper()
	args, stdin := k.newKey()
	keepassxctest.Run(k.t, k.dir, stdin, append(append([]string{"db-create", "-q"}, args...), k.file(db))...)
}

// shell opens db, with k's key, in keepassxc-cli's interactive mode.
func (k *keePassXC) shell(db string) *keepassxctest.Shell {
	k.t.Helper()
	var opts []string
	if k.keyFile != "" {
		opts = append(opts, "-k", k.file(k.keyFile))
	}
	return keepassxctest.Open(k.t, k.dir, k.file(db), k.password, opts...)
}

// fill adds the entries the read tests look for, each a change KeePassXC
// saves: Internet/GitHub with a user name, password and attachment, and
// Email at the root.
func (k *keePassXC) fill(db string) {
	k.t.Helper()
	if err := os.WriteFile(k.file("note.txt"), []byte("attached\x00bytes"), 0o600); err != nil {
		k.t.Fatal(err)
	}
	sh := k.shell(db)
	sh.Change("mkdir Internet")
	sh.Change("add -u alice -p Internet/GitHub", keepassxctest.EntryPassword("s3cret pass"))
	sh.Change("attachment-import Internet/GitHub note.txt " + k.file("note.txt"))
	sh.Change("add -u bob@example.org -p Email", keepassxctest.EntryPassword("mail pw"))
	sh.Close()
}

// export returns keepassxc-cli's XML export of db (its interactive mode
// has no export).
func (k *keePassXC) export(db string) string {
	k.t.Helper()
	args := []string{"export", "-q", "-f", "xml"}
	stdin := ""
	if k.keyFile != "" {
		args = append(args, "-k", k.file(k.keyFile))
	}
	if k.password == "" {
		args = append(args, "--no-password")
	} else {
		stdin = k.password + "\n"
	}
	return keepassxctest.Run(k.t, k.dir, stdin, append(args, k.file(db))...)
}

// filled is a database that create and fill made with the password "pw",
// and keepassxc-cli's XML export of it, made once per test process (by the
// first test that asks), in three keepassxc-cli processes: importing the
// export makes the same database in one, and the test of a database filled
// entry by entry reads this one.
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

// imported holds createFilled's databases whose key is the password "pw"
// alone, by version (KDBX 3.1, 4), made once per test process: the tests
// that change such a database start from the same bytes, a copy each, and
// a keepassxc-cli import fewer each.
var imported [2]struct {
	once sync.Once
	db   []byte
}

// createFilled makes db, with k's key, as create and fill would, in one
// keepassxc-cli import of filled; with v4, as a KDBX 4 file, the way
// KeePassXC writes one: it writes 4.x when a group has custom data, so the
// export is given some before the import. With the password "pw" alone as
// the key, db is a copy of the import the first such test made.
func (k *keePassXC) createFilled(db string, v4 bool) {
	k.t.Helper()
	if k.password != "pw" || k.keyFile != "" {
		k.importFilled(db, v4)
		return
	}
	i := &imported[0]
	if v4 {
		i = &imported[1]
	}
	i.once.Do(func() {
		k.importFilled(db, v4)
		b, err := os.ReadFile(k.file(db))
		if err != nil {
			k.t.Fatalf("reading the imported database: %v", err)
		}
		i.db = b
	})
	if i.db == nil {
		k.t.Fatal("keepassxc-cli failed to import the filled database in an earlier test")
	}
	if err := os.WriteFile(k.file(db), i.db, 0o600); err != nil {
		k.t.Fatal(err)
	}
}

// importFilled makes db with keepassxc-cli import, as createFilled says.
func (k *keePassXC) importFilled(db string, v4 bool) {
	k.t.Helper()
	k.makeFilled()
	x := filled.xml
	if v4 {
		x = strings.Replace(x, "<IsExpanded>", "<CustomData><Item><Key>sesame-test</Key><Value>4</Value></Item></CustomData><IsExpanded>", 1)
	}
	if err := os.WriteFile(k.file("filled.xml"), []byte(x), 0o600); err != nil {
		k.t.Fatal(err)
	}
	args, stdin := k.newKey()
	keepassxctest.Run(k.t, k.dir, stdin, append(append([]string{"import", "-q"}, args...), k.file("filled.xml"), k.file(db))...)
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
