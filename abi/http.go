package abi

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the HTTP requests of SPEC.md §5.9 and §7.10.
const (
	MaxHTTPRequest         = 4 << 20  // a request's whole encoding
	MaxHTTPURL             = 8 << 10  // its URL
	MaxHTTPHeaders         = 64       // its headers
	MaxHTTPResponseHeaders = 64 << 10 // a response's header bytes, as the server sent them
	MaxHTTPResponseBody    = 16 << 20 // a response's body, and at most a quarter of the memory grant
	maxHTTPMethod          = 16
)

// HTTPRequest is one request a guest asks the host to make (SPEC.md §7.10).
type HTTPRequest struct {
	Method string
	URL    string
	Header map[string]string // names in lower case, one value each
	Body   []byte
}

// HTTPResponse is what the host hands back (SPEC.md §7.11).
type HTTPResponse struct {
	Status int
	Header map[string]string // names in lower case; repeated headers joined with ", "
	Body   []byte
}

// httpMethods are the methods a request may use, in the order SPEC.md
// lists them. CONNECT and TRACE are not among them: neither fetches a
// record, and CONNECT would make the granted server a tunnel.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// HTTPHeaderProblem says why a guest may not send the header name: value,
// or returns "". The host sets host, content-length and the connection
// headers itself, so that a guest can neither address another virtual host
// of a granted server nor smuggle a second request past it; a CR or LF in
// a value would end the header and start another.
func HTTPHeaderProblem(name, value string) string {
	if p := HTTPHeaderNameProblem(name); p != "" {
		return p
	}
	switch {
	case strings.HasPrefix(name, "proxy-"):
		return "header " + strconv.Quote(name) + " is for proxies, and no proxy is used"
	case forbiddenHeader(name):
		return "header " + strconv.Quote(name) + " is set by the host"
	}
	return headerValueProblem(name, value)
}

// forbiddenHeader reports the names the host keeps for itself (SPEC.md §5.9).
func forbiddenHeader(name string) bool {
	switch name {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive",
		"upgrade", "te", "trailer", "expect":
		return true
	}
	return false
}

// headerNameProblem refuses a name that is not a lower-case token (RFC 9110 §5.1).
func HTTPHeaderNameProblem(name string) string {
	if name == "" {
		return "empty header name"
	}
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			return "header name " + strconv.Quote(name) + " is not in lower case"
		}
		if !isTokenByte(c) {
			return "header name " + strconv.Quote(name) + " is not a token"
		}
	}
	return ""
}

// headerValueProblem refuses control characters other than a tab: CR, LF
// and NUL above all.
func headerValueProblem(name, value string) string {
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "header " + strconv.Quote(name) + " has a control character in its value"
		}
	}
	return ""
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// AppendHTTPRequest appends the encoding of req (SPEC.md §7.10), refusing
// what the host would refuse to decode.
func AppendHTTPRequest(b []byte, req HTTPRequest) ([]byte, error) {
	bad := func(reason string, s Status) error { return &EncodeError{What: "http request", Reason: reason, Err: s} }
	switch {
	case !slices.Contains(httpMethods, req.Method):
		return nil, bad("method "+strconv.Quote(req.Method)+" is not one of "+strings.Join(httpMethods, ", "), InvalidArgument)
	case req.URL == "" || !utf8.ValidString(req.URL):
		return nil, bad("empty URL or invalid UTF-8", InvalidArgument)
	case len(req.URL) > MaxHTTPURL:
		return nil, bad("URL longer than 8 KiB", TooLarge)
	case len(req.Header) > MaxHTTPHeaders:
		return nil, bad("more than 64 headers", TooLarge)
	}
	for _, k := range sortedKeys(req.Header) {
		if p := HTTPHeaderProblem(k, req.Header[k]); p != "" {
			return nil, bad(p, InvalidArgument)
		}
	}
	start := len(b)
	b = appendStr(b, req.Method)
	b = appendStr(b, req.URL)
	b, err := AppendParams(b, req.Header)
	if err != nil {
		return nil, bad("a header value is not UTF-8", InvalidArgument)
	}
	b = append(b, req.Body...)
	if len(b)-start > MaxHTTPRequest {
		return nil, bad("request larger than 4 MiB", TooLarge)
	}
	return b, nil
}

// DecodeHTTPRequest decodes a request; nothing in it aliases b.
func DecodeHTTPRequest(b []byte) (HTTPRequest, error) {
	r := &reader{what: "http request", b: b}
	if len(b) > MaxHTTPRequest {
		r.failLimit("request larger than 4 MiB")
		return HTTPRequest{}, r.err
	}
	var req HTTPRequest
	start := r.off
	if req.Method = r.str(maxHTTPMethod); r.err == nil && !slices.Contains(httpMethods, req.Method) {
		r.off = start
		r.fail("method " + strconv.Quote(req.Method) + " is not one of " + strings.Join(httpMethods, ", "))
	}
	start = r.off
	if req.URL = r.str(MaxHTTPURL); r.err == nil && req.URL == "" {
		r.off = start
		r.fail("empty URL")
	}
	req.Header = r.headers(MaxHTTPHeaders, HTTPHeaderProblem)
	req.Body = slices.Clone(r.rest())
	if err := r.end(); err != nil {
		return HTTPRequest{}, err
	}
	return req, nil
}

// AppendHTTPResponse appends the encoding of resp (SPEC.md §7.11).
func AppendHTTPResponse(b []byte, resp HTTPResponse) ([]byte, error) {
	bad := func(reason string) error {
		return &EncodeError{What: "http response", Reason: reason, Err: InvalidArgument}
	}
	if resp.Status < 100 || resp.Status > 599 {
		return nil, bad("status " + strconv.Itoa(resp.Status) + " is not from 100 to 599")
	}
	for _, k := range sortedKeys(resp.Header) {
		if p := responseHeaderProblem(k, resp.Header[k]); p != "" {
			return nil, bad(p)
		}
	}
	b = appendU32(b, uint32(resp.Status))
	b, err := AppendParams(b, resp.Header)
	if err != nil {
		return nil, bad("a header value is not UTF-8")
	}
	return append(b, resp.Body...), nil
}

// DecodeHTTPResponse decodes a response; nothing in it aliases b.
func DecodeHTTPResponse(b []byte) (HTTPResponse, error) {
	r := &reader{what: "http response", b: b}
	var resp HTTPResponse
	if resp.Status = int(r.u32()); r.err == nil && (resp.Status < 100 || resp.Status > 599) {
		r.off = 0
		r.fail("status " + strconv.Itoa(resp.Status) + " is not from 100 to 599")
	}
	resp.Header = r.headers(0, responseHeaderProblem)
	resp.Body = slices.Clone(r.rest())
	if err := r.end(); err != nil {
		return HTTPResponse{}, err
	}
	return resp, nil
}

// responseHeaderProblem checks a header of a response: a lower-case token
// and a value without control characters, whatever the name.
func responseHeaderProblem(name, value string) string {
	if p := HTTPHeaderNameProblem(name); p != "" {
		return p
	}
	return headerValueProblem(name, value)
}

// headers reads a params map (SPEC.md §7.2) of at most max entries (0: any)
// whose entries problem accepts.
func (r *reader) headers(max int, problem func(name, value string) string) map[string]string {
	n := r.count(8, max)
	h := make(map[string]string, n)
	prev := ""
	for i := 0; i < n && r.err == nil; i++ {
		start := r.off
		k := r.key(prev, i == 0, 0)
		v := r.str(0)
		if r.err != nil {
			break
		}
		if p := problem(k, v); p != "" {
			r.off = start
			r.fail(p)
			break
		}
		h[k], prev = v, k
	}
	return h
}

// OriginProblem says why s is not an origin as the grant http lists it
// (SPEC.md §5.9), or returns "": the scheme http or https, a host (an IP
// address as Go's net/netip writes it, IPv6 in brackets, or an ASCII name
// in lower case) and a port from 1 to 65535, and nothing else. One
// spelling per origin, so that comparing strings is comparing origins.
func OriginProblem(s string) string {
	const want = "want scheme://host:port, such as https://etcd.example:2379"
	rest, ok := strings.CutPrefix(s, "https://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "http://"); !ok {
			return "the scheme is not http:// or https://; " + want
		}
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "no port; " + want
	}
	host, port := rest[:i], rest[i+1:]
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "port " + strconv.Quote(port) + " is not a number from 1 to 65535; " + want
	}
	if inner, ok := strings.CutPrefix(host, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if a, err := netip.ParseAddr(inner); !ok || err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || a.String() != inner {
			return "host " + strconv.Quote(host) + " is not an IPv6 address as Go writes it (lower case, shortest form, no zone)"
		}
		return ""
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !a.Is4() || a.String() != host {
			return "host " + strconv.Quote(host) + " is not an IPv4 address in dotted decimal (IPv6 goes in brackets)"
		}
		return ""
	}
	if !validHostName(host) {
		return "host " + strconv.Quote(host) + " is not a lower-case ASCII host name (write a non-ASCII name in its xn-- form); " + want
	}
	return ""
}

// validHostName reports whether s is a DNS name in lower case: labels of
// letters, digits and hyphens, not starting or ending with a hyphen, the
// last not all digits (RFC 3696 §2), so that nothing that reads like an
// address ("127.0.0.01", "0x7f.1") passes for a name.
func validHostName(s string) bool {
	last := s[strings.LastIndexByte(s, '.')+1:]
	if s == "" || len(s) > 253 || strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := range len(label) {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
