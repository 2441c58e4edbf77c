package kdbx

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Root returns the root group (KeePassFile/Root/Group), or nil.
func (db *Database) Root() *Node {
	if r := db.XML.Child("Root"); r != nil {
		return r.Child("Group")
	}
	return nil
}

// RecycleBin returns the recycle bin group when the database has one.
func (db *Database) RecycleBin() *Node {
	id := db.meta().Child("RecycleBinUUID")
	if id == nil || id.Text == "" {
		return nil
	}
	var find func(g *Node) *Node
	find = func(g *Node) *Node {
		if u := g.Child("UUID"); u != nil && u.Text == id.Text {
			return g
		}
		for _, k := range g.Children("Group") {
			if f := find(k); f != nil {
				return f
			}
		}
		return nil
	}
	if r := db.Root(); r != nil {
		return find(r)
	}
	return nil
}

// Field returns the value of an entry's string field.
func Field(entry *Node, key string) (string, bool) {
	if s := stringField(entry, key); s != nil {
		if v := s.Child("Value"); v != nil {
			return v.Text, true
		}
		return "", true
	}
	return "", false
}

func stringField(entry *Node, key string) *Node {
	for _, s := range entry.Children("String") {
		if k := s.Child("Key"); k != nil && k.Text == key {
			return s
		}
	}
	return nil
}

// SetField sets an entry's string field, adding it after the last one
// when it is new; protected fields are under the inner stream in the file.
func SetField(entry *Node, key, value string, protected bool) {
	s := stringField(entry, key)
	if s == nil {
		s = &Node{Name: "String", Kids: []*Node{{Name: "Key", Text: key}, {Name: "Value"}}}
		insertAfterLast(entry, "String", s)
	}
	v := s.Ensure("Value")
	v.Text = value
	if protected {
		v.SetAttr("Protected", "True")
	} else {
		var keep []xml.Attr
		for _, a := range v.Attrs {
			if a.Name.Local != "Protected" {
				keep = append(keep, a)
			}
		}
		v.Attrs = keep
	}
}

// RemoveField drops an entry's string field.
func RemoveField(entry *Node, key string) {
	if s := stringField(entry, key); s != nil {
		entry.Remove(s)
	}
}

// FieldNames returns the keys of an entry's string fields in file order.
func FieldNames(entry *Node) []string {
	var out []string
	for _, s := range entry.Children("String") {
		if k := s.Child("Key"); k != nil {
			out = append(out, k.Text)
		}
	}
	return out
}

// insertAfterLast puts c after n's last child named name, or, when there
// is none, before the History and at the end otherwise.
func insertAfterLast(n *Node, name string, c *Node) {
	at := -1
	for i, k := range n.Kids {
		if k.Name == name {
			at = i + 1
		}
	}
	if at < 0 {
		at = len(n.Kids)
		for i, k := range n.Kids {
			if k.Name == "History" {
				at = i
				break
			}
		}
	}
	n.Kids = append(n.Kids[:at], append([]*Node{c}, n.Kids[at:]...)...)
}

// AttachmentNames returns the names of an entry's attachments.
func AttachmentNames(entry *Node) []string {
	var out []string
	for _, b := range entry.Children("Binary") {
		if k := b.Child("Key"); k != nil {
			out = append(out, k.Text)
		}
	}
	return out
}

func attachmentNode(entry *Node, name string) *Node {
	for _, b := range entry.Children("Binary") {
		if k := b.Child("Key"); k != nil && k.Text == name {
			return b
		}
	}
	return nil
}

// Attachment returns the content of an entry's attachment.
func (db *Database) Attachment(entry *Node, name string) ([]byte, bool, error) {
	b := attachmentNode(entry, name)
	if b == nil {
		return nil, false, nil
	}
	v := b.Child("Value")
	if v == nil {
		return nil, true, formatErr("attachment %q has no value", name)
	}
	ref, ok := v.Attr("Ref")
	if !ok {
		return nil, true, formatErr("attachment %q has no reference", name)
	}
	i, err := strconv.Atoi(ref)
	if err != nil || i < 0 {
		return nil, true, formatErr("attachment %q has reference %q", name, ref)
	}
	data, err := db.binary(i)
	return data, true, err
}

// binary returns the content of binary i of the pool.
func (db *Database) binary(i int) ([]byte, error) {
	if db.h.v4() {
		if i >= len(db.Binaries) {
			return nil, formatErr("binary %d is not in the inner header", i)
		}
		return db.Binaries[i].Data, nil
	}
	for _, b := range db.meta().Ensure("Binaries").Children("Binary") {
		if id, _ := b.Attr("ID"); id == strconv.Itoa(i) {
			return metaBinary(b)
		}
	}
	return nil, formatErr("binary %d is not in Meta/Binaries", i)
}

// metaBinary decodes a 3.1 Meta/Binaries/Binary: base64, gzip when
// Compressed is True (a protected one's text is plain already).
func metaBinary(b *Node) ([]byte, error) {
	data := []byte(b.Text)
	if !b.protected() {
		var err error
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(b.Text)); err != nil {
			return nil, formatErr("binary %q is not base64", b.Text)
		}
	}
	if c, _ := b.Attr("Compressed"); strings.EqualFold(c, "true") {
		r, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, formatErr("a compressed binary is not gzip")
		}
		if data, err = io.ReadAll(io.LimitReader(r, maxPayload)); err != nil {
			return nil, formatErr("a compressed binary: %v", err)
		}
	}
	return data, nil
}

// SetAttachment sets an entry's attachment to data, adding the content to
// the pool (the old content stays there while history items use it).
func (db *Database) SetAttachment(entry *Node, name string, data []byte) {
	ref := db.addBinary(data)
	b := attachmentNode(entry, name)
	if b == nil {
		b = &Node{Name: "Binary", Kids: []*Node{{Name: "Key", Text: name}, {Name: "Value"}}}
		insertAfterLast(entry, "Binary", b)
	}
	b.Ensure("Value").Attrs = []xml.Attr{{Name: xml.Name{Local: "Ref"}, Value: strconv.Itoa(ref)}}
}

// RemoveAttachment drops an entry's attachment. Its content stays in the
// pool while a history item refers to it; a 4.x write drops it otherwise
// (pruneBinaries), a 3.1 write keeps it in Meta/Binaries.
func RemoveAttachment(entry *Node, name string) {
	if b := attachmentNode(entry, name); b != nil {
		entry.Remove(b)
	}
}

// pruneBinaries drops from a 4.x pool the contents that no entry or
// history item refers to any more, as KeePassXC does on saving, and
// renumbers the references: a removed attachment's bytes do not stay in
// the file. A reference it cannot read leaves the pool as it is.
func (db *Database) pruneBinaries() {
	var refs []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Name == "Binary" {
			if v := n.Child("Value"); v != nil {
				if _, ok := v.Attr("Ref"); ok {
					refs = append(refs, v)
				}
			}
		}
		for _, k := range n.Kids {
			walk(k)
		}
	}
	if r := db.XML.Child("Root"); r != nil {
		walk(r)
	}
	renum := make(map[int]int)
	var kept []Binary
	for _, v := range refs {
		ref, _ := v.Attr("Ref")
		i, err := strconv.Atoi(ref)
		if err != nil || i < 0 || i >= len(db.Binaries) {
			return
		}
		if _, ok := renum[i]; !ok {
			renum[i] = -1
		}
	}
	for i, b := range db.Binaries {
		if _, ok := renum[i]; ok {
			renum[i] = len(kept)
			kept = append(kept, b)
		}
	}
	for _, v := range refs {
		ref, _ := v.Attr("Ref")
		i, _ := strconv.Atoi(ref)
		v.SetAttr("Ref", strconv.Itoa(renum[i]))
	}
	db.Binaries = kept
}

// addBinary adds data to the pool, or finds it there, and returns its
// reference.
func (db *Database) addBinary(data []byte) int {
	if db.h.v4() {
		for i, b := range db.Binaries {
			if bytes.Equal(b.Data, data) {
				return i
			}
		}
		db.Binaries = append(db.Binaries, Binary{Protected: true, Data: bytes.Clone(data)})
		return len(db.Binaries) - 1
	}
	pool := db.meta().Ensure("Binaries")
	next := 0
	for _, b := range pool.Children("Binary") {
		id, _ := b.Attr("ID")
		n, err := strconv.Atoi(id)
		if err == nil && n >= next {
			next = n + 1
		}
		if got, err := metaBinary(b); err == nil && bytes.Equal(got, data) {
			return n
		}
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(data)
	w.Close()
	pool.Kids = append(pool.Kids, &Node{Name: "Binary", Text: base64.StdEncoding.EncodeToString(z.Bytes()),
		Attrs: []xml.Attr{{Name: xml.Name{Local: "ID"}, Value: strconv.Itoa(next)}, {Name: xml.Name{Local: "Compressed"}, Value: "True"}}})
	return next
}

// epoch is the zero of KDBX 4's times: seconds since 0001-01-01 UTC.
var epoch = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// FormatTime writes t the way the file's version does: base64 of the
// little-endian seconds since year 1 in 4.x, ISO 8601 in UTC in 3.1.
func (db *Database) FormatTime(t time.Time) string {
	t = t.UTC().Truncate(time.Second)
	if db.h.v4() {
		secs := t.Unix() - epoch.Unix()
		return base64.StdEncoding.EncodeToString(binary.LittleEndian.AppendUint64(nil, uint64(secs)))
	}
	return t.Format("2006-01-02T15:04:05Z")
}

// ParseTime reads a time in either form.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return time.Time{}, fmt.Errorf("kdbx: %q is not a time", s)
	}
	return time.Unix(int64(binary.LittleEndian.Uint64(b))+epoch.Unix(), 0).UTC(), nil
}

// NewUUID returns a random UUID in the XML's form (base64).
func NewUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return base64.StdEncoding.EncodeToString(b)
}

// Touch sets an entry's or group's modification and access times to now.
func (db *Database) Touch(n *Node, now time.Time) {
	times := n.Ensure("Times")
	for _, k := range []string{"LastModificationTime", "LastAccessTime"} {
		times.Ensure(k).Text = db.FormatTime(now)
	}
}

// NewEntry adds an empty entry to group, with a new UUID and times.
func (db *Database) NewEntry(group *Node, now time.Time) *Node {
	t := db.FormatTime(now)
	e := &Node{Name: "Entry", Kids: []*Node{
		{Name: "UUID", Text: NewUUID()}, {Name: "IconID", Text: "0"}, {Name: "ForegroundColor"},
		{Name: "BackgroundColor"}, {Name: "OverrideURL"}, {Name: "Tags"},
		{Name: "Times", Kids: []*Node{
			{Name: "LastModificationTime", Text: t}, {Name: "CreationTime", Text: t},
			{Name: "LastAccessTime", Text: t}, {Name: "ExpiryTime", Text: t},
			{Name: "Expires", Text: "False"}, {Name: "UsageCount", Text: "0"},
			{Name: "LocationChanged", Text: t}}},
		{Name: "AutoType", Kids: []*Node{{Name: "Enabled", Text: "True"}, {Name: "DataTransferObfuscation", Text: "0"}}},
	}}
	insertAfterLast(group, "Entry", e)
	return e
}

// NewGroup adds a group named name under parent.
func (db *Database) NewGroup(parent *Node, name string, now time.Time) *Node {
	t := db.FormatTime(now)
	g := &Node{Name: "Group", Kids: []*Node{
		{Name: "UUID", Text: NewUUID()}, {Name: "Name", Text: name}, {Name: "Notes"}, {Name: "IconID", Text: "48"},
		{Name: "Times", Kids: []*Node{
			{Name: "LastModificationTime", Text: t}, {Name: "CreationTime", Text: t},
			{Name: "LastAccessTime", Text: t}, {Name: "ExpiryTime", Text: t},
			{Name: "Expires", Text: "False"}, {Name: "UsageCount", Text: "0"},
			{Name: "LocationChanged", Text: t}}},
		{Name: "IsExpanded", Text: "True"}, {Name: "EnableAutoType", Text: "null"},
		{Name: "EnableSearching", Text: "null"}, {Name: "LastTopVisibleEntry", Text: "AAAAAAAAAAAAAAAAAAAAAA=="},
	}}
	parent.Kids = append(parent.Kids, g)
	return g
}

// Delete removes entry from group: into the recycle bin when the database
// has one enabled (made on first use, as KeePassXC does), else for good,
// recorded in Root/DeletedObjects so that a merge does not bring it back.
func (db *Database) Delete(group, entry *Node, now time.Time) {
	group.Remove(entry)
	if en := db.meta().Child("RecycleBinEnabled"); en != nil && strings.EqualFold(en.Text, "true") {
		bin := db.RecycleBin()
		if bin == nil {
			bin = db.NewGroup(db.Root(), "Recycle Bin", now)
			bin.Ensure("IconID").Text = "43"
			bin.Ensure("EnableAutoType").Text = "false"
			bin.Ensure("EnableSearching").Text = "false"
			db.meta().Ensure("RecycleBinUUID").Text = bin.Child("UUID").Text
			db.meta().Ensure("RecycleBinChanged").Text = db.FormatTime(now)
		}
		entry.Ensure("Times").Ensure("LocationChanged").Text = db.FormatTime(now)
		insertAfterLast(bin, "Entry", entry)
		return
	}
	del := db.XML.Ensure("Root").Ensure("DeletedObjects")
	id := ""
	if u := entry.Child("UUID"); u != nil {
		id = u.Text
	}
	del.Kids = append(del.Kids, &Node{Name: "DeletedObject", Kids: []*Node{
		{Name: "UUID", Text: id}, {Name: "DeletionTime", Text: db.FormatTime(now)}}})
}

// Entries calls fn for each entry outside the recycle bin, in file order,
// with the names of the groups from below the root down to its own, until
// fn returns false. History items are not entries.
func (db *Database) Entries(fn func(groups []string, group, entry *Node) bool) {
	root := db.Root()
	if root == nil {
		return
	}
	bin := db.RecycleBin()
	var walk func(path []string, g *Node) bool
	walk = func(path []string, g *Node) bool {
		for _, e := range g.Children("Entry") {
			if !fn(path, g, e) {
				return false
			}
		}
		for _, sub := range g.Children("Group") {
			if sub == bin {
				continue
			}
			name := ""
			if n := sub.Child("Name"); n != nil {
				name = n.Text
			}
			if !walk(append(path[:len(path):len(path)], name), sub) {
				return false
			}
		}
		return true
	}
	walk(nil, root)
}
