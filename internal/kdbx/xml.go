package kdbx

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Node is an element of the database's XML. The tree keeps every element
// and attribute it reads, in order, so that what a caller does not touch
// is written back unchanged. Whitespace between elements is not kept (it
// is reindented on writing); the text of an element without children is
// kept exactly.
//
// Text of an element whose Protected attribute is True is the plain value:
// the codec removes the inner stream on reading and puts it back on
// writing.
type Node struct {
	Name  string
	Attrs []xml.Attr
	Text  string
	Kids  []*Node
}

// Child returns the first child named name, or nil.
func (n *Node) Child(name string) *Node {
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Children returns the children named name.
func (n *Node) Children(name string) []*Node {
	var out []*Node
	for _, k := range n.Kids {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

// Ensure returns the first child named name, adding an empty one at the
// end when there is none.
func (n *Node) Ensure(name string) *Node {
	if c := n.Child(name); c != nil {
		return c
	}
	c := &Node{Name: name}
	n.Kids = append(n.Kids, c)
	return c
}

// Attr returns the value of attribute name.
func (n *Node) Attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// SetAttr sets attribute name, adding it when missing.
func (n *Node) SetAttr(name, value string) {
	for i := range n.Attrs {
		if n.Attrs[i].Name.Local == name {
			n.Attrs[i].Value = value
			return
		}
	}
	n.Attrs = append(n.Attrs, xml.Attr{Name: xml.Name{Local: name}, Value: value})
}

// Remove drops child c.
func (n *Node) Remove(c *Node) {
	for i, k := range n.Kids {
		if k == c {
			n.Kids = append(n.Kids[:i], n.Kids[i+1:]...)
			return
		}
	}
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	c := &Node{Name: n.Name, Attrs: append([]xml.Attr(nil), n.Attrs...), Text: n.Text}
	for _, k := range n.Kids {
		c.Kids = append(c.Kids, k.Clone())
	}
	return c
}

// protected reports whether n's text is under the inner stream.
func (n *Node) protected() bool {
	v, ok := n.Attr("Protected")
	return ok && strings.EqualFold(v, "true")
}

// parseXML reads the document and removes the inner stream from every
// protected value, in document order.
//
// The document is read by scanXML, a tokenizer for what KeePass writes
// that slices names and text out of one copy of the document. Anything
// it does not take (namespace prefixes, a DOCTYPE, non-ASCII names,
// malformed input) is read again by encoding/xml, which also words the
// error: the two give the same tree wherever scanXML accepts
// (FuzzScanXML).
func parseXML(data []byte, s *innerStream) (*Node, error) {
	root, ok := scanXML(string(data))
	if !ok {
		var err error
		if root, err = decodeXML(data); err != nil {
			return nil, err
		}
	}
	if err := unprotectAll(root, s); err != nil {
		return nil, err
	}
	return root, nil
}

// decodeXML reads the document with encoding/xml.
func decodeXML(data []byte) (*Node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var b treeBuilder
	var names []xml.Name // the open elements' names as written, to match end tags
	for {
		// RawToken, not Token: the document has no namespaces, and Token's
		// translation of them took a third of a database's decoding. The
		// one check of Token's that RawToken leaves out, that end tags
		// match, is made below.
		tok, err := d.RawToken()
		if err == io.EOF {
			return b.finish()
		}
		if err != nil {
			return nil, formatErr("the database's XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			names = append(names, t.Name)
			var attrs []xml.Attr
			for _, a := range t.Attr {
				attrs = append(attrs, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
			}
			if err := b.start(t.Name.Local, attrs); err != nil {
				return nil, err
			}
		case xml.EndElement:
			if len(names) == 0 || names[len(names)-1] != t.Name {
				return nil, formatErr("the database's XML has an unexpected </%s>", t.Name.Local)
			}
			names = names[:len(names)-1]
			if err := b.end(); err != nil {
				return nil, err
			}
		case xml.CharData:
			b.chars(string(t))
		}
	}
}

// treeBuilder makes the tree from a tokenizer's events and checks its
// shape: one root, and text only in elements without children.
type treeBuilder struct {
	stack []*Node
	root  *Node
	text  string // the text since the last tag
	nodes []Node // allocated, not yet used: nodes come in blocks
}

func (b *treeBuilder) node() *Node {
	if len(b.nodes) == 0 {
		b.nodes = make([]Node, 64)
	}
	n := &b.nodes[0]
	b.nodes = b.nodes[1:]
	return n
}

func (b *treeBuilder) start(name string, attrs []xml.Attr) error {
	n := b.node()
	n.Name, n.Attrs = name, attrs
	if len(b.stack) == 0 {
		if b.root != nil {
			return formatErr("the database's XML has two root elements")
		}
		b.root = n
	} else {
		p := b.stack[len(b.stack)-1]
		if strings.TrimSpace(b.text) != "" {
			return formatErr("the database's XML has text beside element <%s>", name)
		}
		p.Kids = append(p.Kids, n)
	}
	b.text = ""
	b.stack = append(b.stack, n)
	return nil
}

// end closes the innermost open element; the tokenizer has matched its
// name.
func (b *treeBuilder) end() error {
	n := b.stack[len(b.stack)-1]
	b.stack = b.stack[:len(b.stack)-1]
	if len(n.Kids) == 0 {
		n.Text = b.text
	} else if strings.TrimSpace(b.text) != "" {
		return formatErr("the database's XML has text beside the elements of <%s>", n.Name)
	}
	b.text = ""
	return nil
}

// chars adds text; text outside the root is dropped.
func (b *treeBuilder) chars(s string) {
	switch {
	case len(b.stack) == 0:
	case b.text == "":
		b.text = s
	default:
		b.text += s
	}
}

func (b *treeBuilder) finish() (*Node, error) {
	if len(b.stack) > 0 {
		return nil, formatErr("the database's XML ends inside <%s>", b.stack[len(b.stack)-1].Name)
	}
	if b.root == nil {
		return nil, formatErr("the database's XML is empty")
	}
	return b.root, nil
}

// unprotectAll removes the inner stream from the protected values under
// n in the order their elements close, which is document order.
func unprotectAll(n *Node, s *innerStream) error {
	for _, k := range n.Kids {
		if err := unprotectAll(k, s); err != nil {
			return err
		}
	}
	if n.protected() {
		return unprotect(n, s)
	}
	return nil
}

// unprotect decodes a protected value. Elements close in document order
// only for leaves, which protected values are; one with children is not a
// value and keeps its text as it is.
func unprotect(n *Node, s *innerStream) error {
	if len(n.Kids) > 0 {
		return formatErr("protected element <%s> has children", n.Name)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(n.Text))
	if err != nil {
		return formatErr("protected <%s> is not base64", n.Name)
	}
	s.xor(b)
	n.Text = string(b)
	return nil
}

const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// encodeXML writes the document, putting protected values under s.
func encodeXML(root *Node, s *innerStream) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xmlDecl)
	if err := writeNode(&b, root, 0, s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeNode(b *bytes.Buffer, n *Node, depth int, s *innerStream) error {
	if n.Name == "" {
		return errors.New("kdbx: an element without a name")
	}
	indent(b, depth)
	b.WriteByte('<')
	b.WriteString(n.Name)
	for _, a := range n.Attrs {
		b.WriteByte(' ')
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escape(b, a.Value)
		b.WriteByte('"')
	}
	text := n.Text
	if n.protected() && len(n.Kids) == 0 {
		v := []byte(text)
		s.xor(v)
		text = base64.StdEncoding.EncodeToString(v)
	}
	switch {
	case len(n.Kids) > 0:
		b.WriteString(">\n")
		for _, k := range n.Kids {
			if err := writeNode(b, k, depth+1, s); err != nil {
				return err
			}
		}
		indent(b, depth)
	case text == "":
		b.WriteString("/>\n")
		return nil
	default:
		b.WriteByte('>')
		escape(b, text)
	}
	b.WriteString("</")
	b.WriteString(n.Name)
	b.WriteString(">\n")
	return nil
}

const tabs = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t"

func indent(b *bytes.Buffer, depth int) {
	for ; depth > len(tabs); depth -= len(tabs) {
		b.WriteString(tabs)
	}
	b.WriteString(tabs[:depth])
}

// escape writes s as xml.EscapeText does, copying it as it is when it
// holds nothing that function would change.
func escape(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= utf8.RuneSelf, c == '"', c == '\'', c == '&', c == '<', c == '>':
			xml.EscapeText(b, []byte(s))
			return
		}
	}
	b.WriteString(s)
}
