package sandbox_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The hostile HTTP guest (testdata/http.wat) sends whatever request
// encoding a test gives it, including ones no SDK would write; each test
// runs a real server on loopback and checks what reached it.

// server is an httptest server that counts the requests reaching it.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// origin is the server's origin as a grant lists it.
func (s *server) origin() string { return s.URL }

func ok(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "fine") }

// loadHTTP loads the hostile guest with grant g (nil: none) and the memory
// and timeout given (0: defaults).
func loadHTTP(t *testing.T, g *sandbox.HTTPGrant, memory uint64, timeout time.Duration) *sandbox.Module {
	t.Helper()
	h := newHost(t, nil)
	m, err := h.Load(context.Background(), sandbox.Spec{Vault: "Web", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/http.wat"),
		HTTP: g, Memory: memory, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// send has the guest send the encoded request and decodes the response.
func send(t *testing.T, m *sandbox.Module, enc []byte) (abi.HTTPResponse, error) {
	t.Helper()
	out, err := m.Call(context.Background(), abi.OpGet, enc)
	if err != nil {
		return abi.HTTPResponse{}, err
	}
	resp, err := abi.DecodeHTTPResponse(out)
	if err != nil {
		t.Fatalf("the host's response does not decode: %v", err)
	}
	return resp, nil
}

func encode(t *testing.T, req abi.HTTPRequest) []byte {
	t.Helper()
	enc, err := abi.AppendHTTPRequest(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func get(t *testing.T, rawURL string) []byte {
	return encode(t, abi.HTTPRequest{Method: "GET", URL: rawURL})
}

// httpRefused checks that err is a failed call with status want whose message
// says why, in the words of because.
func httpRefused(t *testing.T, err error, want abi.Status, because string) {
	t.Helper()
	var se *sandbox.Error
	if !errors.As(err, &se) || se.Status != want {
		t.Fatalf("got %v, want status %s", err, want)
	}
	if !strings.Contains(se.Message, because) {
		t.Errorf("message %q does not say %q", se.Message, because)
	}
}

func TestHTTPRoundTrip(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+r.UserAgent())
		w.Header().Add("X-Twice", "a")
		w.Header().Add("X-Twice", "b")
		w.WriteHeader(http.StatusCreated)
		w.Write(append([]byte("got "), body...))
	})
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{s.origin()}}, 0, 0)
	resp, err := send(t, m, encode(t, abi.HTTPRequest{Method: "POST", URL: s.URL + "/v3/kv/put?x=1",
		Header: map[string]string{"authorization": "Bearer t"}, Body: []byte("body")}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 201 || string(resp.Body) != "got body" {
		t.Errorf("status %d body %q, want 201 %q", resp.Status, resp.Body, "got body")
	}
	if got, want := resp.Header["x-seen"], "POST /v3/kv/put?x=1 Bearer t sesame"; got != want {
		t.Errorf("x-seen %q, want %q", got, want)
	}
	if got := resp.Header["x-twice"]; got != "a, b" {
		t.Errorf("x-twice %q, want the values joined", got)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1: http_response must not send it again", n)
	}
}

func TestHTTPNoGrant(t *testing.T) {
	s := newServer(t, ok)
	m := loadHTTP(t, nil, 0, 0)
	_, err := send(t, m, get(t, s.URL))
	httpRefused(t, err, abi.PermissionDenied, "")
	if s.hits.Load() != 0 {
		t.Error("a vault without the grant reached the server")
	}
}

// TestHTTPOrigins: http_origins gives the granted origins in the grant's
// order, and is refused without the grant.
func TestHTTPOrigins(t *testing.T) {
	want := []string{"https://b.example:2379", "http://127.0.0.1:2379", "https://a.example:443"}
	out, err := loadHTTP(t, &sandbox.HTTPGrant{Origins: want}, 0, 0).Call(context.Background(), abi.OpGet, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := abi.DecodeKeyList(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, string(k))
	}
	if !slices.Equal(got, want) {
		t.Errorf("http_origins gave %q, want %q", got, want)
	}
	_, err = loadHTTP(t, nil, 0, 0).Call(context.Background(), abi.OpGet, nil)
	httpRefused(t, err, abi.PermissionDenied, "")
}

func TestHTTPUnlistedOrigin(t *testing.T) {
	granted, other := newServer(t, ok), newServer(t, ok)
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{granted.origin()}}, 0, 0)
	u, _ := url.Parse(other.URL)
	for _, rawURL := range []string{
		other.URL + "/",                                    // another port
		"http://127.0.0.2:" + u.Port() + "/",               // another address
		strings.Replace(granted.URL, "http:", "https:", 1), // another scheme
		"http://localhost:" + u.Port() + "/",               // an address by a name
	} {
		_, err := send(t, m, get(t, rawURL))
		httpRefused(t, err, abi.PermissionDenied, "is not granted")
	}
	if other.hits.Load() != 0 || granted.hits.Load() != 0 {
		t.Error("a request reached a server")
	}
	if _, err := send(t, m, get(t, granted.URL+"/x")); err != nil {
		t.Fatalf("the granted origin: %v", err)
	}
}

// TestHTTPListedNameResolvingElsewhere: a granted name reaches public
// addresses only. localhost resolves to loopback, where the server is:
// granted as a name, it is refused, and the message says to list the
// address.
func TestHTTPListedNameResolvingElsewhere(t *testing.T) {
	s := newServer(t, ok)
	u, _ := url.Parse(s.URL)
	byName := "http://localhost:" + u.Port()
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{byName}}, 0, 0)
	_, err := send(t, m, get(t, byName+"/"))
	httpRefused(t, err, abi.PermissionDenied, "a loopback address, which a grant reaches only when it lists the address itself")
	if s.hits.Load() != 0 {
		t.Error("a granted name reached a loopback server")
	}
}

func TestHTTPOversizedResponse(t *testing.T) {
	const memory = 8 << 20 // a body of at most 2 MiB
	size := atomic.Int64{}
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Write(make([]byte, size.Load()))
	})
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{s.origin()}}, memory, 0)
	size.Store(memory / 4)
	resp, err := send(t, m, get(t, s.URL))
	if err != nil || len(resp.Body) != memory/4 {
		t.Fatalf("a body at the limit: %d bytes, %v", len(resp.Body), err)
	}
	size.Store(memory/4 + 1)
	_, err = send(t, m, get(t, s.URL))
	httpRefused(t, err, abi.TooLarge, "the response body is larger than 2097152 bytes")

	big := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("x", abi.MaxHTTPResponseHeaders))
	})
	m = loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{big.origin()}}, 0, 0)
	_, err = send(t, m, get(t, big.URL))
	httpRefused(t, err, abi.TooLarge, "the response headers are larger than 65536 bytes")
}

// TestHTTPSlowResponse: a server that never answers holds the call until
// its deadline and no longer: the connection is closed (the handler sees
// its request end), and the vault answers the next call.
func TestHTTPSlowResponse(t *testing.T) {
	ended := make(chan struct{})
	var slow atomic.Bool
	slow.Store(true)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !slow.Load() {
			return
		}
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("12345")) // headers and half the body, then nothing
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(ended)
	})
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{s.origin()}}, 0, 300*time.Millisecond)
	_, err := send(t, m, get(t, s.URL))
	var se *sandbox.Error
	if !errors.As(err, &se) || se.Status != abi.DeadlineExceeded {
		t.Fatalf("got %v, want the deadline", err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the server's request still runs: the host did not close the connection")
	}
	slow.Store(false)
	if _, err := send(t, m, get(t, s.URL)); err != nil {
		t.Fatalf("the call after the deadline: %v", err)
	}
}

// TestHTTPHeaderInjection: requests no SDK writes, refused before anything
// is sent.
func TestHTTPHeaderInjection(t *testing.T) {
	s := newServer(t, ok)
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{s.origin()}}, 0, 0)
	raw := func(method, name, value string) []byte {
		b := appendStr(appendStr(nil, method), s.URL+"/")
		return appendStr(appendStr(append(b, 1, 0, 0, 0), name), value)
	}
	for _, c := range []struct {
		enc     []byte
		because string
	}{
		{raw("GET", "x-a", "1\r\nHost: evil.example"), "control character"},
		{raw("GET", "x-a", "1\nX-B: 2"), "control character"},
		{raw("GET", "x-a", "1\x00"), "control character"},
		{raw("GET", "x-a\r\nx-b", "1"), "not a token"},
		{raw("GET", "host", "evil.example"), `header "host" is set by the host`},
		{raw("POST", "transfer-encoding", "chunked"), "is set by the host"},
		{raw("POST", "content-length", "0"), "is set by the host"},
		{raw("GET", "connection", "close"), "is set by the host"},
		{raw("GET", "proxy-authorization", "x"), "for proxies"},
		{raw("CONNECT", "x-a", "1"), "method"},
		{raw("GET\r\nX", "x-a", "1"), "method"},
	} {
		_, err := send(t, m, c.enc)
		httpRefused(t, err, abi.InvalidArgument, c.because)
	}
	for _, rawURL := range []string{"http://user:pw@" + s.URL[len("http://"):] + "/", s.URL + "/#f", "/relative", "ftp://x:1/"} {
		_, err := send(t, m, get(t, rawURL))
		httpRefused(t, err, abi.InvalidArgument, "the URL")
	}
	if s.hits.Load() != 0 {
		t.Errorf("%d refused requests reached the server", s.hits.Load())
	}
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	return append(append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24)), s...)
}

func TestHTTPRedirectNotFollowed(t *testing.T) {
	var target atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			target.Add(1)
			return
		}
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{s.origin()}}, 0, 0)
	resp, err := send(t, m, get(t, s.URL+"/start"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusFound || resp.Header["location"] != "/target" {
		t.Errorf("status %d location %q, want the redirect itself", resp.Status, resp.Header["location"])
	}
	if target.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

// TestHTTPMutualTLS: the host does TLS with the roots of ca_file and the
// client certificate of client_cert and client_key.
func TestHTTPMutualTLS(t *testing.T) {
	certPEM, keyPEM, cert := clientCert(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	s.StartTLS()
	t.Cleanup(s.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	origins := []string{s.URL}

	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: origins}, 0, 0)
	_, err := send(t, m, get(t, s.URL))
	httpRefused(t, err, abi.Unavailable, "certificate")

	m = loadHTTP(t, &sandbox.HTTPGrant{Origins: origins, CA: ca, ClientCert: certPEM, ClientKey: keyPEM}, 0, 0)
	resp, err := send(t, m, get(t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "sesame-client" {
		t.Errorf("the server saw client %q", resp.Body)
	}

	h := newHost(t, nil)
	_, err = h.Load(context.Background(), sandbox.Spec{Vault: "Web", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/http.wat"),
		HTTP: &sandbox.HTTPGrant{Origins: origins, ClientCert: certPEM}})
	if err == nil || !strings.Contains(err.Error(), "client_cert and client_key go together") {
		t.Errorf("a certificate without its key: %v", err)
	}
}

// clientCert makes a self-signed client certificate.
func clientCert(t *testing.T) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sesame-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), cert
}

// TestHTTPGoSDK: guest.HTTP in a Go guest, with a response larger than
// its first buffer (taken with http_response, the request sent once), and
// a refusal reaching the guest as a status.
func TestHTTPGoSDK(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("X-Name")+"|"+string(body))
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, strings.Repeat("z", 40<<10))
	})
	h := newHost(t, nil)
	spec := sandbox.Spec{Vault: "Web", Wasm: wasm(t, "engine/internal/sandbox/testdata/httpguest"),
		Params: map[string]string{"url": s.URL}, HTTP: &sandbox.HTTPGrant{Origins: []string{s.origin()}}}
	m, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	out, err := m.Call(context.Background(), abi.OpGet, []byte("db"))
	if err != nil {
		t.Fatal(err)
	}
	_, v, err := abi.DecodeSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "202 db|from the guest " + strings.Repeat("z", 40<<10); string(v.Data) != want {
		t.Errorf("the guest saw %.60q…", v.Data)
	}
	if n := s.hits.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}

	spec.Params = map[string]string{"url": "http://127.0.0.1:1"}
	m2, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(context.Background())
	_, err = m2.Call(context.Background(), abi.OpGet, []byte("db"))
	httpRefused(t, err, abi.PermissionDenied, "origin http://127.0.0.1:1 is not granted")
}

// BenchmarkHTTP compares a GET through http_request (a WAT guest, one
// call each) with the same GET from Go's client in the test process, both
// to a loopback server, connections kept alive.
func BenchmarkHTTP(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer s.Close()
	b.Run("guest", func(b *testing.B) {
		h := newHost(b, nil)
		m, err := h.Load(context.Background(), sandbox.Spec{Vault: "Web", Wasm: testwasm.WAT(b, "engine/internal/sandbox/testdata/http.wat"),
			HTTP: &sandbox.HTTPGrant{Origins: []string{s.URL}}})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(context.Background())
		enc, _ := abi.AppendHTTPRequest(nil, abi.HTTPRequest{Method: "GET", URL: s.URL + "/"})
		for b.Loop() {
			if _, err := m.Call(context.Background(), abi.OpGet, enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			resp, err := http.Get(s.URL + "/")
			if err != nil {
				b.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
}

// TestHTTPProxyEnvironmentIgnored: HTTP_PROXY and its kin in the host's
// environment do not decide where a vault's requests go: a request to a
// granted address (192.0.2.1, where nothing answers) never reaches the
// proxy they name, even one the grant lists too.
func TestHTTPProxyEnvironmentIgnored(t *testing.T) {
	proxy := newServer(t, ok)
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"} {
		t.Setenv(v, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	const granted = "http://192.0.2.1:80"
	m := loadHTTP(t, &sandbox.HTTPGrant{Origins: []string{granted, proxy.origin()}}, 0, 500*time.Millisecond)
	if _, err := send(t, m, get(t, granted+"/")); err == nil {
		t.Error("a request to an address where nothing answers succeeded")
	}
	if proxy.hits.Load() != 0 {
		t.Error("the request went to the proxy of the host's environment")
	}
}
