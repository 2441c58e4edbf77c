package kdbx

import (
	"strconv"
	"strings"
)

// AddHistory stores a copy of entry, as it is now, in its History, then
// keeps the history within the database's limits as KeePassXC 2.7 does
// after it changes an entry (Entry::truncateHistory): the newest
// Meta/HistoryMaxItems items, then, counting from the newest, the items
// whose sizes (entrySize) add up to at most Meta/HistoryMaxSize bytes;
// every older one goes. A limit that is absent or negative is none.
func (db *Database) AddHistory(entry *Node) {
	item := entry.Clone()
	if h := item.Child("History"); h != nil {
		item.Remove(h)
	}
	hist := entry.Ensure("History")
	hist.Kids = append(hist.Kids, item)
	if max, ok := db.historyLimit("HistoryMaxItems"); ok && len(hist.Kids) > max {
		hist.Kids = hist.Kids[len(hist.Kids)-max:]
	}
	if max, ok := db.historyLimit("HistoryMaxSize"); ok {
		size, keep := 0, 0
		for i := len(hist.Kids) - 1; i >= 0; i-- {
			if size += db.entrySize(hist.Kids[i]); size > max {
				break
			}
			keep++
		}
		hist.Kids = hist.Kids[len(hist.Kids)-keep:]
	}
}

// historyLimit returns Meta's limit name when it sets one (KeePassXC
// writes -1 for none).
func (db *Database) historyLimit(name string) (int, bool) {
	m := db.meta().Child(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(m.Text))
	return n, err == nil && n >= 0
}

// standardFields are the string fields every KeePassXC entry has, and
// counts in its size, even when the file leaves one out.
var standardFields = []string{"Title", "UserName", "Password", "URL", "Notes"}

// entrySize is the size KeePassXC 2.7 gives an entry (Entry::size) to
// apply HistoryMaxSize: the UTF-8 bytes of the keys and values of its
// string fields, of its attachments' names and their contents (each
// counted in full, also when another item shares it), of the windows and
// sequences of its auto-type associations, of the keys and values of its
// custom data, and of its tags split at ",", ";" and ":". An attachment
// that cannot be read counts its name only.
func (db *Database) entrySize(e *Node) int {
	n := 0
	for _, k := range standardFields {
		if stringField(e, k) == nil {
			n += len(k)
		}
	}
	for _, s := range e.Children("String") {
		n += len(text(s, "Key")) + len(text(s, "Value"))
	}
	for _, name := range AttachmentNames(e) {
		data, _, _ := db.Attachment(e, name)
		n += len(name) + len(data)
	}
	if at := e.Child("AutoType"); at != nil {
		for _, a := range at.Children("Association") {
			n += len(text(a, "Window")) + len(text(a, "KeystrokeSequence"))
		}
	}
	if cd := e.Child("CustomData"); cd != nil {
		for _, it := range cd.Children("Item") {
			n += len(text(it, "Key")) + len(text(it, "Value"))
		}
	}
	for _, tag := range strings.FieldsFunc(text(e, "Tags"), func(r rune) bool { return r == ',' || r == ';' || r == ':' }) {
		n += len(tag)
	}
	return n
}

// text is the text of n's child name, "" when there is none.
func text(n *Node, name string) string {
	if c := n.Child(name); c != nil {
		return c.Text
	}
	return ""
}
