//go:build wasip1

package main

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/kdbx"
)

// The mapping of secrets to entries (docs/keepass.md):
//
//   - A secret's name is the names of the entry's groups below the root,
//     then its title, joined by "/": "Internet/GitHub"; an entry of the
//     root group is named by its title. The recycle bin is not searched.
//     A title with "/" in it makes a name that reads as if it had more
//     groups: such an entry is found by that name all the same.
//   - Two entries with one name: the first in the file's order (a group's
//     entries before its subgroups) is the secret; the others are not
//     listed, and come forward when it is removed.
//   - A credential is UserName and Password; a string or secure string the
//     Password; bytes an attachment named by the title. Without a note of
//     the type, an entry with a user name reads as a credential, one
//     without as a secure string.
//   - Metadata are the entry's own (custom) string fields that are not
//     protected; ints and datetimes are written as text and noted as such.
//   - The notes live in one custom field, "sesame", written only when
//     needed: type=TYPE when the rule above would read another type, and
//     int=KEY and datetime=KEY for each such metadata key.

// standard are KeePass's own string fields, which are not metadata.
var standard = []string{"Title", "UserName", "Password", "URL", "Notes"}

// noteField holds what the entry cannot say itself.
const noteField = "sesame"

type located struct {
	name         string
	group, entry *kdbx.Node
}

// entries returns every entry outside the recycle bin, by name, the first
// of each name only.
func entries(db *kdbx.Database) []located {
	var out []located
	seen := map[string]bool{}
	db.Entries(func(groups []string, g, e *kdbx.Node) bool {
		t, _ := kdbx.Field(e, "Title")
		name := strings.Join(append(groups, t), "/")
		if !seen[name] {
			seen[name] = true
			out = append(out, located{name, g, e})
		}
		return true
	})
	return out
}

// find returns the first entry called name.
func find(db *kdbx.Database, name string) (located, bool) {
	var out located
	found := false
	db.Entries(func(groups []string, g, e *kdbx.Node) bool {
		t, _ := kdbx.Field(e, "Title")
		if strings.Join(append(groups, t), "/") == name {
			out, found = located{name, g, e}, true
			return false
		}
		return true
	})
	return out, found
}

// title is the last part of name: the title of the entry a set makes.
func title(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// ensureGroups returns the group a new entry called name goes in, making
// the groups of its path that are missing (the first group of each name).
func ensureGroups(db *kdbx.Database, name string, now time.Time) *kdbx.Node {
	g := db.Root()
	bin := db.RecycleBin()
	parts := strings.Split(name, "/")
	for _, p := range parts[:len(parts)-1] {
		var next *kdbx.Node
		for _, sub := range g.Children("Group") {
			if n := sub.Child("Name"); sub != bin && n != nil && n.Text == p {
				next = sub
				break
			}
		}
		if next == nil {
			next = db.NewGroup(g, p, now)
		}
		g = next
	}
	return g
}

// notes reads the "sesame" field.
func notes(e *kdbx.Node) url.Values {
	s, _ := kdbx.Field(e, noteField)
	v, _ := url.ParseQuery(s)
	return v
}

// readEntry returns the Info of entry e, and with withValue its value.
func readEntry(db *kdbx.Database, e *kdbx.Node, name string, withValue bool) (abi.Info, abi.Value, error) {
	n := notes(e)
	user, _ := kdbx.Field(e, "UserName")
	typ := abi.TypeSecureString
	if user != "" {
		typ = abi.TypeCredential
	}
	if t := n.Get("type"); t != "" {
		if parsed, ok := typeNamed(t); ok {
			typ = parsed
		}
	}
	in := abi.Info{Name: name, Type: typ, Metadata: readMetadata(e, n)}
	if !withValue {
		return in, abi.Value{}, nil
	}
	v := abi.Value{Type: typ}
	pw, _ := kdbx.Field(e, "Password")
	switch typ {
	case abi.TypeCredential:
		v.UserName, v.Data = user, []byte(pw)
	case abi.TypeBytes:
		t, _ := kdbx.Field(e, "Title")
		data, ok, err := db.Attachment(e, t)
		if err != nil {
			return in, v, guest.Error(abi.Internal, "attachment of "+strconv.Quote(name)+": "+strings.TrimPrefix(err.Error(), "kdbx: "))
		}
		if !ok {
			return in, v, guest.Error(abi.Internal, "entry "+strconv.Quote(name)+" holds bytes but has no attachment "+strconv.Quote(t))
		}
		v.Data = append([]byte{}, data...)
	default:
		v.Data = []byte(pw)
	}
	return in, v, nil
}

func typeNamed(s string) (abi.Type, bool) {
	for _, t := range []abi.Type{abi.TypeBytes, abi.TypeString, abi.TypeSecureString, abi.TypeCredential} {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// readMetadata returns the custom fields that are not protected, typed by
// the notes.
func readMetadata(e *kdbx.Node, n url.Values) abi.Metadata {
	md := abi.Metadata{}
	for _, s := range e.Children("String") {
		k, v := s.Child("Key"), s.Child("Value")
		if k == nil || slices.Contains(standard, k.Text) || k.Text == noteField {
			continue
		}
		if v != nil {
			if p, _ := v.Attr("Protected"); strings.EqualFold(p, "true") {
				continue
			}
		}
		text := ""
		if v != nil {
			text = v.Text
		}
		mv := abi.MetaValue{Kind: abi.MetaString, Str: text}
		if slices.Contains(n["int"], k.Text) {
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				mv = abi.MetaValue{Kind: abi.MetaInt, Int: i}
			}
		} else if slices.Contains(n["datetime"], k.Text) {
			if t, err := time.Parse(time.RFC3339Nano, text); err == nil {
				mv = abi.MetaValue{Kind: abi.MetaDatetime, Time: t.UTC()}
			}
		}
		md[k.Text] = mv
	}
	if len(md) == 0 {
		return nil
	}
	return md
}

// checkSet refuses, before anything is written, what an entry cannot hold.
func checkSet(name string, v abi.Value, md abi.Metadata) error {
	if name == "" || slices.Contains(strings.Split(name, "/"), "") {
		return guest.Error(abi.InvalidArgument, "a name's groups and title must not be empty: "+strconv.Quote(name))
	}
	if !xmlText(name) {
		return guest.Error(abi.InvalidArgument, "name "+strconv.Quote(name)+" has characters a KeePass file cannot hold")
	}
	switch v.Type {
	case abi.TypeHashtable:
		return guest.Error(abi.InvalidArgument, "keepass stores bytes, string, securestring and credential, not hashtable")
	case abi.TypeString, abi.TypeSecureString, abi.TypeCredential:
		if !xmlText(string(v.Data)) || !xmlText(v.UserName) {
			return guest.Error(abi.InvalidArgument, "the value of "+strconv.Quote(name)+" has characters a KeePass entry cannot hold (control characters other than tab and line breaks, or invalid UTF-8)")
		}
	}
	return checkMetadata(md)
}

// checkMetadata refuses keys that are KeePass's own fields or the notes,
// text that XML cannot hold, and datetimes outside years 1 to 9999.
func checkMetadata(md abi.Metadata) error {
	for k, v := range md {
		switch {
		case k == "" || slices.Contains(standard, k) || k == noteField:
			return guest.Error(abi.InvalidArgument, "metadata key "+strconv.Quote(k)+" is one of the entry's own fields (Title, UserName, Password, URL, Notes, sesame)")
		case !xmlText(k) || (v.Kind == abi.MetaString && !xmlText(v.Str)):
			return guest.Error(abi.InvalidArgument, "metadata "+strconv.Quote(k)+" has characters a KeePass entry cannot hold")
		case (v.Kind == abi.MetaDatetime || v.Kind == abi.MetaDatetimeOffset) && (v.Time.UTC().Year() < 1 || v.Time.UTC().Year() > 9999):
			return guest.Error(abi.InvalidArgument, "metadata "+strconv.Quote(k)+" is a datetime outside the years 1 to 9999")
		}
	}
	return nil
}

// xmlText reports whether s is UTF-8 that XML 1.0 can hold.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

// writeEntry sets e to v and, when md is not nil, its metadata to md.
func writeEntry(db *kdbx.Database, e *kdbx.Node, v abi.Value, md abi.Metadata) {
	n := notes(e)
	old, _ := typeNamed(n.Get("type"))
	t, _ := kdbx.Field(e, "Title")
	user := ""
	if v.Type == abi.TypeCredential {
		user = v.UserName
	}
	kdbx.SetField(e, "UserName", user, false)
	if v.Type == abi.TypeBytes {
		kdbx.SetField(e, "Password", "", true)
		db.SetAttachment(e, t, v.Data)
	} else {
		kdbx.SetField(e, "Password", string(v.Data), true)
		if old == abi.TypeBytes {
			kdbx.RemoveAttachment(e, t)
		}
	}
	n.Del("type")
	if v.Type == abi.TypeString || v.Type == abi.TypeBytes || (v.Type == abi.TypeCredential && user == "") {
		n.Set("type", v.Type.String())
	}
	if md != nil {
		n.Del("int")
		n.Del("datetime")
		replaceMetadata(e, md, n)
	}
	writeNotes(e, n)
}

// writeMetadata replaces e's metadata with md.
func writeMetadata(e *kdbx.Node, md abi.Metadata) {
	n := notes(e)
	n.Del("int")
	n.Del("datetime")
	replaceMetadata(e, md, n)
	writeNotes(e, n)
}

// replaceMetadata drops the unprotected custom fields and writes md's,
// noting the types that are not strings in n.
func replaceMetadata(e *kdbx.Node, md abi.Metadata, n url.Values) {
	for _, k := range kdbx.FieldNames(e) {
		if slices.Contains(standard, k) || k == noteField {
			continue
		}
		if _, ok := readMetadata(e, nil)[k]; ok {
			kdbx.RemoveField(e, k)
		}
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := md[k]
		text := v.Str
		switch v.Kind {
		case abi.MetaInt:
			text = strconv.FormatInt(v.Int, 10)
			n.Add("int", k)
		case abi.MetaDatetime, abi.MetaDatetimeOffset:
			text = v.Time.UTC().Format(time.RFC3339Nano)
			n.Add("datetime", k)
		}
		kdbx.SetField(e, k, text, false)
	}
}

// writeNotes writes n to the "sesame" field, or removes the field when
// there is nothing to note.
func writeNotes(e *kdbx.Node, n url.Values) {
	if len(n) == 0 {
		kdbx.RemoveField(e, noteField)
		return
	}
	kdbx.SetField(e, noteField, n.Encode(), false)
}
