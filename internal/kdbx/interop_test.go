package kdbx

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/keepassxctest"
)

// entryAt returns the entry at path (groups below the root, then the
// title), failing the test when there is none.
func entryAt(t *testing.T, db *Database, path string) *Node {
	t.Helper()
	var found *Node
	db.Entries(func(groups []string, _, e *Node) bool {
		title, _ := Field(e, "Title")
		if strings.Join(append(groups, title), "/") == path {
			found = e
			return false
		}
		return true
	})
	if found == nil {
		t.Fatalf("no entry %s", path)
	}
	return found
}

func groupAt(t *testing.T, db *Database, name string) *Node {
	t.Helper()
	for _, g := range db.Root().Children("Group") {
		if n := g.Child("Name"); n != nil && n.Text == name {
			return g
		}
	}
	t.Fatalf("no group %s", name)
	return nil
}

// keyFiles writes the key file formats KeePassXC reads besides its own
// .keyx, and returns the names of the files.
func keyFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	v1 := `<?xml version="1.0" encoding="utf-8"?>
<KeyFile><Meta><Version>1.00</Version></Meta><Key><Data>` + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" + `</Data></Key></KeyFile>`
	files := map[string][]byte{
		"raw.key":   raw,
		"hex.key":   []byte(hex.EncodeToString(raw)),
		"photo.jpg": []byte("any file at all is a key file: its SHA-256 is the key"),
		"v1.key":    []byte(v1),
	}
	for name, b := range files {
		if err := os.WriteFile(dir+"/"+name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"32 raw bytes": "raw.key", "64 hex digits": "hex.key", "any other file": "photo.jpg", "XML version 1.0": "v1.key"}
}

// TestReadsKeePassXC reads databases that keepassxc-cli wrote, with each
// kind of key and in both versions KeePassXC writes: one that it created
// and filled entry by entry, the others imports of such a database.
func TestReadsKeePassXC(t *testing.T) {
	type tc struct {
		name, password, keyFile string
		v4, byEntry             bool
	}
	cases := []tc{
		{name: "password, filled entry by entry", password: "pw", byEntry: true},
		{name: "password", password: "correct horse"},
		{name: "password, KDBX 4", password: "correct horse", v4: true},
		{name: "KeePassXC's .keyx", keyFile: "new.keyx"},
		{name: "password and .keyx, KDBX 4", password: "pw", keyFile: "new.keyx", v4: true},
	}
	for name, file := range keyFiles(t, t.TempDir()) {
		cases = append(cases, tc{name: "key file of " + name, keyFile: file, password: "pw"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKeePassXC(t, c.password, c.keyFile)
			if c.keyFile != "new.keyx" {
				keyFiles(t, k.dir)
			}
			if c.byEntry {
				k.copyFilled("db.kdbx") // made by create and fill
			} else {
				k.createFilled("db.kdbx", c.v4)
			}
			want := uint32(Version31)
			if c.v4 {
				want = Version40
			}
			db := k.open("db.kdbx")
			if db.Version() != want {
				t.Errorf("version %x, want %x", db.Version(), want)
			}
			gh := entryAt(t, db, "Internet/GitHub")
			if u, _ := Field(gh, "UserName"); u != "alice" {
				t.Errorf("UserName %q", u)
			}
			if p, _ := Field(gh, "Password"); p != "s3cret pass" {
				t.Errorf("Password %q", p)
			}
			if a, ok, err := db.Attachment(gh, "note.txt"); err != nil || !ok || string(a) != "attached\x00bytes" {
				t.Errorf("attachment %q %v %v", a, ok, err)
			}
			if p, _ := Field(entryAt(t, db, "Email"), "Password"); p != "mail pw" {
				t.Errorf("Email's password %q", p)
			}
		})
	}
}

// A database the codec wrote with each KDF and cipher of KDBX 4 opens in
// KeePassXC, and what KeePassXC writes back in the same settings opens in
// the codec.
func TestKDFsAndCiphersBothWays(t *testing.T) {
	salt := make([]byte, 32)
	rand.Read(salt)
	cases := []struct {
		name   string
		kdf    KDF
		cipher Cipher
		gzip   bool
	}{
		{"AES-KDF, AES-256", KDF{Kind: AESKDF, Seed: salt, Rounds: 1000}, CipherAES256, true},
		{"Argon2d, AES-256", KDF{Kind: Argon2d, Seed: salt, Iterations: 2, MemoryBytes: 1 << 20, Parallelism: 2, Version: 0x13}, CipherAES256, true},
		{"Argon2id, ChaCha20", KDF{Kind: Argon2id, Seed: salt, Iterations: 2, MemoryBytes: 1 << 20, Parallelism: 2, Version: 0x13}, CipherChaCha20, true},
		{"Argon2d, ChaCha20, no compression", KDF{Kind: Argon2d, Seed: salt, Iterations: 1, MemoryBytes: 64 << 10, Parallelism: 1, Version: 0x13}, CipherChaCha20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := newKeePassXC(t, "pw", "")
			k.createFilled("db.kdbx", true)
			db := k.open("db.kdbx")
			key := k.composite()
			defer GoCrypto{}.Forget(key)
			if err := db.SetKDF(c.kdf, key); err != nil {
				t.Fatal(err)
			}
			db.SetCipher(c.cipher)
			db.SetCompression(c.gzip)
			k.save(db, "db.kdbx")
			sh := k.shell("db.kdbx")
			if got := sh.Do("show -s -a Password Internet/GitHub"); got != "s3cret pass\n" {
				t.Fatalf("KeePassXC shows %q", got)
			}
			sh.Change("add -u carol -p Internet/New", keepassxctest.EntryPassword("new pw"))
			sh.Close()
			back := k.open("db.kdbx")
			if back.KDF().Kind != c.kdf.Kind || back.Cipher() != c.cipher {
				t.Errorf("KeePassXC wrote %v, %x", back.KDF().Kind, back.Cipher())
			}
			if p, _ := Field(entryAt(t, back, "Internet/New"), "Password"); p != "new pw" {
				t.Errorf("KeePassXC's new entry has password %q", p)
			}
		})
	}
}

// TestWritesOnlyWhatChanged changes a database the codec read (a password,
// with a history item; a new entry with a custom field and an attachment)
// and checks that KeePassXC sees those changes and nothing else: its
// export before and after is the same but for the two entries.
func TestWritesOnlyWhatChanged(t *testing.T) {
	for _, v4 := range []bool{false, true} {
		name := "KDBX 3.1"
		if v4 {
			name = "KDBX 4"
		}
		t.Run(name, func(t *testing.T) {
			k := newKeePassXC(t, "pw", "")
			k.createFilled("db.kdbx", v4)
			before := k.export("db.kdbx")
			db := k.open("db.kdbx")
			version := db.Version()
			now := time.Now()
			gh := entryAt(t, db, "Internet/GitHub")
			db.AddHistory(gh)
			SetField(gh, "Password", "changed", true)
			db.Touch(gh, now)
			e := db.NewEntry(groupAt(t, db, "Internet"), now)
			SetField(e, "Title", "New", false)
			SetField(e, "UserName", "carol", false)
			SetField(e, "Password", "new secret", true)
			SetField(e, "team", "blue", false)
			db.SetAttachment(e, "blob.bin", []byte{0, 1, 2, 255})
			k.save(db, "db.kdbx")

			if got := k.open("db.kdbx").Version(); got != version {
				t.Errorf("written as version %x, read as %x", got, version)
			}
			sh := k.shell("db.kdbx")
			sh.Change("attachment-export Internet/New blob.bin " + k.file("out.bin"))
			sh.Close()
			if got, err := os.ReadFile(k.file("out.bin")); err != nil || string(got) != "\x00\x01\x02\xff" {
				t.Errorf("New's attachment reads %q (%v)", got, err)
			}
			// The fields as KeePassXC read them, from its export rather than
			// from a show of each entry (a keepassxc-cli process each).
			after := k.export("db.kdbx")
			x := parseExport(t, after)
			ghx, n := takeEntry(x, gh.Child("UUID").Text), takeEntry(x, e.Child("UUID").Text)
			if ghx == nil || n == nil {
				t.Fatal("an entry is missing from KeePassXC's export")
			}
			if got, _ := Field(ghx, "Password"); got != "changed" {
				t.Errorf("GitHub's password reads %q", got)
			}
			if p, _ := Field(n, "Password"); p != "new secret" {
				t.Errorf("New's password reads %q", p)
			}
			if team, _ := Field(n, "team"); team != "blue" {
				t.Errorf("New's team reads %q", team)
			}
			compareExports(t, before, after, e.Child("UUID").Text, gh.Child("UUID").Text)
		})
	}
}

// compareExports checks that two exports differ only in the changed entry
// (whose last history item must be the entry as it was) and the new one.
func compareExports(t *testing.T, before, after, newID, changedID string) {
	t.Helper()
	b, a := parseExport(t, before), parseExport(t, after)
	// KeePassXC stamps custom data with the time it loads it: two exports
	// of one unchanged file differ there.
	dropLoadStamps(b)
	dropLoadStamps(a)
	oldEntry := takeEntry(b, changedID)
	changed := takeEntry(a, changedID)
	added := takeEntry(a, newID)
	if added == nil || oldEntry == nil || changed == nil {
		t.Fatal("an entry is missing from the exports")
	}
	hist := changed.Child("History")
	if hist == nil || len(hist.Kids) == 0 {
		t.Fatal("the changed entry has no history")
	}
	if h := oldEntry.Child("History"); h != nil {
		oldEntry.Remove(h)
	}
	if x, y := dump(oldEntry), dump(hist.Kids[len(hist.Kids)-1]); x != y {
		t.Errorf("the history item is not the entry as it was:\n%s\nwant\n%s", y, x)
	}
	// The new attachment adds a binary to the export's pool, in 3.1; a
	// KDBX 4 export has the attachments inline.
	ref, _ := added.Child("Binary").Child("Value").Attr("Ref")
	if pool := a.Child("Meta").Child("Binaries"); pool != nil {
		for _, bin := range pool.Kids {
			if id, _ := bin.Attr("ID"); id == ref {
				pool.Remove(bin)
				break
			}
		}
	}
	if x, y := dump(b), dump(a); x != y {
		t.Errorf("the rest of the database changed:\n%s", lineDiff(x, y))
	}
}

// parseExport parses keepassxc-cli's XML export s, whose protected values
// are in the clear.
func parseExport(t *testing.T, s string) *Node {
	t.Helper()
	n, err := parseXML([]byte(s), &innerStream{func(dst, src []byte) { copy(dst, src) }})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// takeEntry removes the entry with the UUID from the tree and returns it.
func takeEntry(n *Node, id string) *Node {
	for _, k := range n.Kids {
		if k.Name == "Entry" {
			if u := k.Child("UUID"); u != nil && u.Text == id {
				n.Remove(k)
				return k
			}
		}
		if k.Name != "History" {
			if e := takeEntry(k, id); e != nil {
				return e
			}
		}
	}
	return nil
}

// dump writes n with protected values in the clear.
func dump(n *Node) string {
	x, err := encodeXML(n, &innerStream{func(dst, src []byte) { copy(dst, src) }})
	if err != nil {
		panic(err)
	}
	return string(x)
}

func lineDiff(x, y string) string {
	xl, yl := strings.Split(x, "\n"), strings.Split(y, "\n")
	var out []string
	for i := 0; i < max(len(xl), len(yl)); i++ {
		var a, b string
		if i < len(xl) {
			a = xl[i]
		}
		if i < len(yl) {
			b = yl[i]
		}
		if a != b {
			out = append(out, "- "+a, "+ "+b)
		}
	}
	return strings.Join(out, "\n")
}

// dropLoadStamps removes the _LAST_MODIFIED items of custom data.
func dropLoadStamps(n *Node) {
	for _, k := range n.Children("Item") {
		if key := k.Child("Key"); key != nil && key.Text == "_LAST_MODIFIED" {
			n.Remove(k)
		}
	}
	for _, k := range n.Kids {
		dropLoadStamps(k)
	}
}
