package kdbx

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// plainStream is an inner stream that changes nothing.
var plainStream = &innerStream{func(dst, src []byte) { copy(dst, src) }}

// keePassLikeXML is a document in the forms KeePass 2 and KeePassXC
// write, with what a value may hold: entities, character references,
// CDATA, line ends of each kind, comments and a declaration.
const keePassLikeXML = "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n" +
	"<KeePassFile>\r\n\t<Meta>\r\n\t\t<Generator>KeePass</Generator>\r\n\t\t<!-- a comment -->\r\n" +
	"\t\t<DatabaseName>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;</DatabaseName>\r\n" +
	"\t\t<DatabaseDescription/>\r\n\t</Meta>\r\n\t<Root>\r\n\t\t<Group>\r\n" +
	"\t\t\t<Entry><String><Key>Notes</Key><Value>line 1\r\nline 2\rline 3\n  </Value></String>\r\n" +
	"\t\t\t<String><Key>Password</Key><Value Protected='True'>c2VjcmV0</Value></String>\r\n" +
	"\t\t\t<String><Key>CDATA</Key><Value><![CDATA[<raw> & ]] \r\n]]>tail</Value></String>\r\n" +
	"\t\t\t<Binary><Key>a.bin</Key><Value Ref = \"0\" x=\"&#9;&#10;&lt;\"  /></Binary></Entry>\r\n" +
	"\t\t</Group>\r\n\t</Root>\r\n</KeePassFile>\r\n<!-- after -->\n"

// TestScanXMLTakesKeePass: the tokenizer itself reads what KeePass,
// KeePassXC and this package write, rather than handing it to
// encoding/xml, and finds the tree encoding/xml finds.
func TestScanXMLTakesKeePass(t *testing.T) {
	docs := map[string]string{"KeePass-like": keePassLikeXML, "large": string(largeXML(t, 200))}
	for _, name := range []string{"kdbx31.kdbx", "kdbx40.kdbx"} {
		db, _ := testdataDB(t, name)
		docs[name] = dump(db.XML)
	}
	for name, doc := range docs {
		got, ok := scanXML(doc)
		if !ok {
			t.Errorf("%s: the tokenizer gives up", name)
			continue
		}
		want, err := decodeXML([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the trees differ:\n%s", name, lineDiff(dump(want), dump(got)))
		}
	}
}

// FuzzScanXML differential-tests the tokenizer against encoding/xml: where
// scanXML takes a document, encoding/xml must read the same tree from it.
// Where it gives up, parseXML uses encoding/xml's answer, so the two
// always agree.
func FuzzScanXML(f *testing.F) {
	seeds := []string{
		keePassLikeXML,
		`<a/>`, `<a></a>`, `<a>x</a>`, `<a><b/></a>`, `<a> <b>x</b> </a>`, `<a>x<b/></a>`,
		`<a k="v" k='w'/>`, `<a k="v"j="w"/>`, `<a k=v/>`, `<a k="<"/>`, `<a k="]]>"/>`,
		`<a>]]></a>`, `<a>]]&gt;</a>`, `<a>&#0;</a>`, `<a>&#xD800;</a>`, `<a>&#X41;</a>`, `<a>&#x;</a>`,
		`<a>&#1114112;</a>`, `<a>&amp</a>`, `<a>&nbsp;</a>`, "<a>\x00</a>", "<a>\xff</a>", "<a>\r\r\n</a>",
		"<a>\r&amp;\n</a>", "<a><![CDATA[\r\r\n]]]></a>", `<a><!-- -- --></a>`, `<a><!----></a>`, `<a><!---></a>`,
		`<?xml version="1.1"?><a/>`, `<?xml encoding="latin1"?><a/>`, `<??><a/>`, `<?pi x?><a/><?pi?>`,
		`<!DOCTYPE a><a/>`, `<x:a></x:a>`, `<a x:k="v"/>`, `<é/>`, `<a.b-c_d/>`, `<1a/>`, `< a/>`, `<a></a >`,
		`<a></b>`, `<a/><b/>`, `<a>`, `</a>`, `text<a/>text`, ``, `<a`, `<a k`, `<a k=`, `<a k="`, `<a/`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, ok := scanXML(doc)
		if !ok {
			return
		}
		want, err := decodeXML([]byte(doc))
		if err != nil {
			t.Fatalf("the tokenizer takes what encoding/xml refuses: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the trees differ:\n%#v\n%#v", got, want)
		}
	})
}

// largeXML is the XML of a database of n entries of four fields each.
func largeXML(tb testing.TB, n int) []byte {
	tb.Helper()
	db, _ := testdataDB(tb, "kdbx40.kdbx")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		e := db.NewEntry(db.Root(), now)
		SetField(e, "Title", fmt.Sprintf("entry %d", i), false)
		SetField(e, "UserName", "user", false)
		SetField(e, "Password", strings.Repeat("p", 20), true)
		SetField(e, "Notes", "a <note> & more", false)
	}
	x, err := encodeXML(db.XML, plainStream)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// BenchmarkDecodeXML reads the XML of a database of 200 entries.
func BenchmarkDecodeXML(b *testing.B) {
	x := largeXML(b, 200)
	b.SetBytes(int64(len(x)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseXML(x, plainStream); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeXML writes the XML of a database of 200 entries.
func BenchmarkEncodeXML(b *testing.B) {
	root, err := parseXML(largeXML(b, 200), plainStream)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeXML(root, plainStream); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzEscape: escape writes what xml.EscapeText writes.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", `<"'&>`, "\t\n\r\x00", "é\xff\ufffe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want bytes.Buffer
		escape(&got, s)
		xml.EscapeText(&want, []byte(s))
		if got.String() != want.String() {
			t.Fatalf("%q, want %q", got.String(), want.String())
		}
	})
}
