package kdbx

import (
	"slices"
	"strings"
	"testing"
)

// TestHistoryLimitsAsKeePassXC changes an entry five times with
// keepassxc-cli's edit (in one interactive keepassxc-cli, which saves
// each), and the same five times with the codec, on copies of a database
// whose Meta allows 3 history items and 500 bytes of them: the histories
// left are the same, and both limits took items away.
func TestHistoryLimitsAsKeePassXC(t *testing.T) {
	k := newKeePassXC(t, "pw", "")
	k.createFilled("db.kdbx", false) // Internet/GitHub has an attachment of 14 bytes, counted in its size
	db := k.open("db.kdbx")
	db.meta().Ensure("HistoryMaxItems").Text = "3"
	db.meta().Ensure("HistoryMaxSize").Text = "500"
	k.save(db, "db.kdbx")
	k.save(db, "ours.kdbx")
	ours := k.open("ours.kdbx")
	sh := k.shell("db.kdbx")
	for _, n := range []string{strings.Repeat("a", 100), "bbbbbbbbbb", strings.Repeat("c", 300), strings.Repeat("d", 20), strings.Repeat("e", 50)} {
		sh.Change("edit --notes " + n + " Internet/GitHub")
		gh := entryAt(t, ours, "Internet/GitHub")
		ours.AddHistory(gh)
		SetField(gh, "Notes", n, false)
	}
	sh.Close()
	k.save(ours, "ours.kdbx")
	// Each item holds the notes from before an edit: "", a…, b…, c…, d….
	// The item limit leaves b…, c…, d…; the size limit (c… is 373 bytes
	// with the other fields, b… 83, d… 93) leaves c…, d….
	history := func(db *Database) []string {
		var notes []string
		for _, item := range entryAt(t, db, "Internet/GitHub").Ensure("History").Children("Entry") {
			n, _ := Field(item, "Notes")
			notes = append(notes, n[:min(len(n), 1)])
		}
		return notes
	}
	want := history(k.open("db.kdbx"))
	if !slices.Equal(want, []string{"c", "d"}) {
		t.Fatalf("KeePassXC kept the notes %q: the limits did not bite as the test expects", want)
	}
	if got := history(k.open("ours.kdbx")); !slices.Equal(got, want) {
		t.Errorf("the codec kept the history items of notes %q, KeePassXC %q", got, want)
	}
}
