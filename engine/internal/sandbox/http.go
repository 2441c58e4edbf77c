package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/tetratelabs/wazero/api"

	"github.com/sesamehq/sesame/abi"
)

// HTTPGrant is the grant "http" of one vault (SPEC.md §5.9): the origins it
// may reach and the TLS material the host uses for it. The engine reads the
// files; the sandbox sees their bytes only.
type HTTPGrant struct {
	Origins    []string // scheme://host:port, each passing abi.OriginProblem
	CA         []byte   // PEM certificates added to the system roots (grant ca_file); nil = none
	ClientCert []byte   // PEM certificate chain for mutual TLS (grant client_cert); nil = none
	ClientKey  []byte   // its PEM private key (grant client_key)
}

// httpClient makes one vault's requests. Its connections are its own:
// reused between the vault's calls, never between vaults.
type httpClient struct {
	origins map[string]bool   // scheme://host:port as granted
	listed  []byte            // the origins in the grant's order, as a key list (http_origins)
	dial    map[string]dialTo // host:port as the transport dials it → what it may reach
	client  *http.Client
	// resolver is the lookup of granted names; tests point it elsewhere.
	resolver *net.Resolver
}

// dialTo is where one granted host:port may be reached: at addr only when
// the origin names an address, at public addresses when it names a host.
type dialTo struct {
	addr netip.Addr // the granted address; invalid for a name
	port uint16
}

// newHTTPClient builds the client of grant g; an error names the grant at
// fault.
func newHTTPClient(g *HTTPGrant) (*httpClient, error) {
	c := &httpClient{origins: map[string]bool{}, dial: map[string]dialTo{}, resolver: net.DefaultResolver}
	for _, o := range g.Origins {
		if p := abi.OriginProblem(o); p != "" {
			return nil, errorf(abi.InvalidArgument, "", "grant http: "+quote(o)+": "+p)
		}
		c.origins[o] = true
		u, _ := url.Parse(o)
		port, _ := strconv.Atoi(u.Port())
		addr, _ := netip.ParseAddr(u.Hostname()) // invalid for a name
		c.dial[net.JoinHostPort(u.Hostname(), u.Port())] = dialTo{addr: addr, port: uint16(port)}
	}
	list := make([][]byte, len(g.Origins))
	for i, o := range g.Origins {
		list[i] = []byte(o)
	}
	c.listed = abi.AppendKeyList(nil, list)
	tlsConfig, err := clientTLS(g)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:                  nil, // never the environment's: it would decide where requests go
		DialContext:            c.dialContext,
		TLSClientConfig:        tlsConfig,
		DisableCompression:     true,
		MaxResponseHeaderBytes: abi.MaxHTTPResponseHeaders,
		MaxIdleConnsPerHost:    abi.DefaultInstances,
		IdleConnTimeout:        90 * time.Second,
	}
	c.client = &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// clientTLS is the TLS configuration of g: the system roots plus ca_file,
// and the client certificate of client_cert and client_key.
func clientTLS(g *HTTPGrant) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(g.CA) > 0 {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(g.CA) {
			return nil, errorf(abi.InvalidArgument, "", "grant ca_file: no PEM certificate in it")
		}
		cfg.RootCAs = roots
	}
	switch {
	case len(g.ClientCert) > 0 && len(g.ClientKey) > 0:
		cert, err := tls.X509KeyPair(g.ClientCert, g.ClientKey)
		if err != nil {
			return nil, errorf(abi.InvalidArgument, "", "grants client_cert and client_key: "+err.Error())
		}
		cfg.Certificates = []tls.Certificate{cert}
	case len(g.ClientCert) > 0 || len(g.ClientKey) > 0:
		return nil, errorf(abi.InvalidArgument, "", "grants client_cert and client_key go together: give both or neither")
	}
	return cfg, nil
}

// close drops the client's idle connections.
func (c *httpClient) close() { c.client.CloseIdleConnections() }

// refusedAddr is the error of a connection the grant does not allow.
type refusedAddr struct{ msg string }

func (e *refusedAddr) Error() string { return e.msg }

// dialContext connects to addr (host:port, as the URL named it) once the
// grant allows it, and checks each address the dialer tries after
// resolving: the granted address itself for an origin written as one, a
// public address for a name.
func (c *httpClient) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	to, ok := c.dial[addr]
	if !ok {
		return nil, &refusedAddr{msg: addr + " is not granted"}
	}
	d := &net.Dialer{
		Resolver: c.resolver,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			return to.allows(address)
		},
	}
	return d.DialContext(ctx, network, addr)
}

// allows checks the address (ip:port) about to be connected to.
func (to dialTo) allows(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedAddr{msg: "cannot read the address " + address}
	}
	ip := ap.Addr().Unmap()
	switch {
	case ap.Port() != to.port:
		return &refusedAddr{msg: fmt.Sprintf("port %d is not the granted %d", ap.Port(), to.port)}
	case to.addr.IsValid() && ip != to.addr:
		return &refusedAddr{msg: ip.String() + " is not the granted address " + to.addr.String()}
	case !to.addr.IsValid():
		if kind := nonPublic(carried(ip)); kind != "" {
			return &refusedAddr{msg: "the granted name resolves to " + ip.String() + ", a " + kind + " address, which a grant reaches only when it lists the address itself"}
		}
	}
	return nil
}

// The IPv6 ranges whose addresses carry an IPv4 address that a translator
// on the way, or the kernel, reaches instead: NAT64's well-known prefix
// (RFC 6052, the last 32 bits), 6to4 (RFC 3056, bits 16 to 48) and the
// deprecated IPv4-compatible addresses (RFC 4291, the last 32 bits).
var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	ipv4Compatible = netip.MustParsePrefix("::/96")
)

// carried is the IPv4 address ip carries when it is in one of the ranges
// above (what a connection to it reaches, for nonPublic to judge); ip
// otherwise. :: and ::1 are themselves.
func carried(ip netip.Addr) netip.Addr {
	b := ip.As16()
	switch {
	case !ip.Is6():
	case nat64.Contains(ip), ipv4Compatible.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback():
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return ip
}

// shared is 100.64.0.0/10 (RFC 6598), the carrier-grade NAT range.
var shared = netip.MustParsePrefix("100.64.0.0/10")

// nonPublic names the kind of ip when it is not a public unicast address
// (which a granted name may not resolve to), or returns "".
func nonPublic(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case shared.Contains(ip):
		return "shared (carrier-grade NAT)"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast():
		return "multicast"
	case ip.IsUnspecified(), ip.Is4() && ip.As4()[0] == 0, ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "unspecified or broadcast"
	}
	return ""
}

// origin returns the origin of rawURL as the grant writes it, or why the
// URL cannot be requested.
func origin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return "", errors.New("the URL cannot be parsed")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("the URL is not an absolute http or https URL")
	case u.Opaque != "" || u.Host == "":
		return "", errors.New("the URL has no host")
	case u.User != nil:
		return "", errors.New("the URL has a user name: send credentials in a header")
	case u.Fragment != "" || strings.Contains(rawURL, "#"):
		return "", errors.New("the URL has a fragment")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), nil
}

// httpFailure is why a request failed: the status for the guest, and the
// reason added to the call's error.
type httpFailure struct {
	status abi.Status
	reason string
}

// do makes req under ctx (the call's deadline) and returns the encoded
// response, its body at most maxBody bytes.
func (c *httpClient) do(ctx context.Context, req abi.HTTPRequest, maxBody int) ([]byte, *httpFailure) {
	o, err := origin(req.URL)
	if err != nil {
		return nil, &httpFailure{abi.InvalidArgument, err.Error()}
	}
	if !c.origins[o] {
		return nil, &httpFailure{abi.PermissionDenied, "origin " + o + " is not granted"}
	}
	var body io.Reader
	if len(req.Body) > 0 {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return nil, &httpFailure{abi.InvalidArgument, o + ": " + errors.Unwrap(err).Error()}
	}
	for k, v := range req.Header {
		hr.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if _, ok := req.Header["user-agent"]; !ok {
		hr.Header.Set("User-Agent", "sesame")
	}
	resp, err := c.client.Do(hr)
	if err != nil {
		return nil, c.failure(ctx, o, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxBody)+1))
	switch {
	case err != nil:
		return nil, c.failure(ctx, o, err)
	case len(b) > maxBody:
		return nil, &httpFailure{abi.TooLarge, fmt.Sprintf("%s: the response body is larger than %d bytes", o, maxBody)}
	}
	out, err := abi.AppendHTTPResponse(nil, abi.HTTPResponse{Status: resp.StatusCode, Header: responseHeader(resp.Header), Body: b})
	if err != nil {
		return nil, &httpFailure{abi.Unavailable, o + ": the server answered status " + strconv.Itoa(resp.StatusCode)}
	}
	return out, nil
}

// failure classifies err, the failure of a request to origin o.
func (c *httpClient) failure(ctx context.Context, o string, err error) *httpFailure {
	var refused *refusedAddr
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &httpFailure{abi.DeadlineExceeded, o + ": no response before the call's deadline"}
	case errors.As(err, &refused):
		return &httpFailure{abi.PermissionDenied, o + ": " + refused.msg}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the URL, whose path and query may be secret
	}
	if strings.Contains(err.Error(), "server response headers exceeded") {
		return &httpFailure{abi.TooLarge, fmt.Sprintf("%s: the response headers are larger than %d bytes", o, abi.MaxHTTPResponseHeaders)}
	}
	return &httpFailure{abi.Unavailable, o + ": " + err.Error()}
}

// responseHeader turns h into the headers of SPEC.md §7.11: names in lower
// case, repeated values joined, text made valid UTF-8 without control
// characters. A name that is not a token (Go's parser lets none through) is
// left out.
func responseHeader(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		name := strings.ToLower(k)
		value := strings.Map(func(r rune) rune {
			if unicode.IsControl(r) && r != '\t' {
				return unicode.ReplacementChar
			}
			return r
		}, strings.ToValidUTF8(strings.Join(vs, ", "), "\uFFFD"))
		if abi.HTTPHeaderNameProblem(name) == "" {
			out[name] = value
		}
	}
	return out
}

// httpCall returns the call and its client, or the status to answer.
func httpCall(ctx context.Context) (*call, abi.Status) {
	return granted(callFrom(ctx), func(c *call) bool { return c.http != nil })
}

// hostHTTPRequest is http_request(ptr, len, dst, cap) -> i64.
func hostHTTPRequest(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := httpCall(ctx)
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	c.httpResp = nil
	enc, s := read(mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), abi.MaxHTTPRequest)
	dst, capacity := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	if s == abi.OK && !fits(mod, dst, capacity) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	req, err := abi.DecodeHTTPRequest(enc)
	if err != nil {
		c.httpErr = "http: " + strings.TrimPrefix(err.Error(), "abi: ")
		stack[0] = neg64(abi.InvalidArgument)
		return
	}
	out, fail := c.http.do(ctx, req, c.httpMaxBody())
	if fail != nil {
		c.httpErr = "http: " + fail.reason
		stack[0] = neg64(fail.status)
		return
	}
	c.httpResp = out
	stack[0] = copyOut(mod, out, dst, capacity)
}

// hostHTTPResponse is http_response(dst, cap) -> i64.
func hostHTTPResponse(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := httpCall(ctx)
	dst, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	switch {
	case s != abi.OK:
	case c.httpResp == nil:
		s = abi.NotFound
	case !fits(mod, dst, capacity):
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	stack[0] = copyOut(mod, c.httpResp, dst, capacity)
}

// hostHTTPOrigins is http_origins(dst, cap) -> i64: the granted origins, in
// the grant's order, as a key list.
func hostHTTPOrigins(ctx context.Context, mod api.Module, stack []uint64) {
	c, s := httpCall(ctx)
	answerBytes(mod, stack, s, func() []byte { return c.http.listed })
}

// answerBytes answers a host function (dst, cap) -> i64: -(s) when s is not
// OK or [dst, +cap) is outside memory, else the bytes b gives, as copyOut.
func answerBytes(mod api.Module, stack []uint64, s abi.Status, b func() []byte) {
	dst, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if s == abi.OK && !fits(mod, dst, capacity) {
		s = abi.InvalidArgument
	}
	if s != abi.OK {
		stack[0] = neg64(s)
		return
	}
	stack[0] = copyOut(mod, b(), dst, capacity)
}

// copyOut writes b to [dst, +capacity) if it fits and returns its length,
// as the functions of SPEC.md §5 that hand bytes back do.
func copyOut(mod api.Module, b []byte, dst, capacity uint32) uint64 {
	if len(b) <= int(capacity) && len(b) > 0 {
		mod.Memory().Write(dst, b)
	}
	return api.EncodeI64(int64(len(b)))
}

// httpMaxBody is the largest response body the call may receive: 16 MiB,
// and a quarter of the memory grant, since the guest must hold it.
func (c *call) httpMaxBody() int {
	return int(min(abi.MaxHTTPResponseBody, c.grant/4))
}
