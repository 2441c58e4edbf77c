package etcdgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request is one HTTP request for a Transport: always a POST of a JSON
// body in this package.
type Request struct {
	Method string
	URL    string            // endpoint + path, such as http://127.0.0.1:2379/v3/kv/range
	Header map[string]string // Content-Type, and Authorization once authenticated
	Body   []byte
}

// Response is what a Transport got back: the status code and the body.
type Response struct {
	Status int
	Body   []byte
}

// Transport sends one request and returns the answer. It returns an error
// only when no answer came (the connection was refused or broke, the
// deadline passed); an answer with any status code is a Response. It must
// not follow redirects.
type Transport interface {
	RoundTrip(ctx context.Context, req Request) (Response, error)
}

// Sentinels, for errors.Is.
var (
	// ErrUnavailable: no endpoint could serve the request before the
	// deadline (members down, no quorum, no leader).
	ErrUnavailable = errors.New("etcd unavailable")
	// ErrAuth: etcd refused the user, the password or the token.
	ErrAuth = errors.New("etcd authentication failed")
)

// Error is an answer of etcd that is not a success: Code is the gRPC code
// (14 UNAVAILABLE, 16 UNAUTHENTICATED, …), Message etcd's text, which names
// no key or value.
type Error struct {
	Endpoint string
	Path     string // /v3/kv/put, say
	Status   int    // the HTTP status
	Code     int
	Message  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd %s%s: %s (HTTP %d, code %d)", e.Endpoint, e.Path, e.Message, e.Status, e.Code)
}

// Unwrap makes errors.Is(err, ErrUnavailable) and ErrAuth work.
func (e *Error) Unwrap() error {
	switch e.Code {
	case codeUnavailable, codeDeadlineExceeded:
		// A member without quorum holds a request until its deadline
		// (the grpc-timeout header, when the transport sends one).
		return ErrUnavailable
	case codeUnknown:
		// The same, when the deadline ends in the gateway's own call to
		// its member rather than in the member: the gateway reports the
		// context's error with code UNKNOWN.
		if e.Message == context.DeadlineExceeded.Error() {
			return ErrUnavailable
		}
	case codeUnauthenticated, codePermissionDenied:
		return ErrAuth
	case codeInvalidArgument:
		if strings.Contains(e.Message, "authentication failed") || strings.Contains(e.Message, "user name is empty") {
			return ErrAuth
		}
	}
	return nil
}

// gRPC status codes that the gateway reports.
const (
	codeUnknown          = 2
	codeInvalidArgument  = 3
	codeDeadlineExceeded = 4
	codePermissionDenied = 7
	codeUnavailable      = 14
	codeUnauthenticated  = 16
)

// Client talks to one etcd cluster through its members' JSON gateways. It
// is not safe for concurrent use (the guest calls it from one goroutine);
// make one per goroutine elsewhere.
type Client struct {
	endpoints []string
	transport Transport
	user      string
	password  string
	tokens    map[string]string // endpoint → auth token (simple tokens are per member)
	current   int               // the endpoint that last answered

	// Pause is the wait between two rounds of the endpoints that all
	// failed; 50ms when zero.
	Pause time.Duration
}

// New returns a client of the cluster whose members serve endpoints
// (http://host:port or https://host:port, no path). With a user, it
// authenticates with password before its first request to each member.
func New(t Transport, endpoints []string, user, password string) *Client {
	eps := make([]string, len(endpoints))
	for i, e := range endpoints {
		eps[i] = strings.TrimRight(e, "/")
	}
	return &Client{endpoints: eps, transport: t, user: user, password: password, tokens: map[string]string{}}
}

// call posts in (marshalled as JSON) to path, following the endpoint
// rules of the package doc, and decodes the answer into out.
func (c *Client) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if len(c.endpoints) == 0 {
		return fmt.Errorf("%w: no endpoints", ErrUnavailable)
	}
	failures := make([]string, len(c.endpoints))
	for {
		for range c.endpoints {
			ep := c.endpoints[c.current]
			err := c.callAt(ctx, ep, path, body, out)
			if err == nil {
				return nil
			}
			if !movesOn(err) {
				return err
			}
			failures[c.current] = err.Error()
			if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return unavailable(path, failures)
			}
			c.current = (c.current + 1) % len(c.endpoints)
		}
		if err := c.wait(ctx); err != nil {
			return unavailable(path, failures)
		}
	}
}

// movesOn reports whether a failure at one endpoint sends the request to
// the next: no answer at all, or etcd's UNAVAILABLE.
func movesOn(err error) bool {
	var e *Error
	return !errors.As(err, &e) || e.Code == codeUnavailable
}

// unavailable is the error of a request that no endpoint served.
func unavailable(path string, failures []string) error {
	var seen []string
	for _, f := range failures {
		if f != "" {
			seen = append(seen, f)
		}
	}
	return fmt.Errorf("%w: %s: every endpoint failed: %s", ErrUnavailable, path, strings.Join(seen, "; "))
}

func (c *Client) wait(ctx context.Context) error {
	d := c.Pause
	if d <= 0 {
		d = 50 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// callAt is one attempt at endpoint ep, authenticating first when the
// client has a user and no token for ep, and once again when ep says the
// token is no longer valid (a restarted member forgets its tokens).
func (c *Client) callAt(ctx context.Context, ep, path string, body []byte, out any) error {
	for attempt := 0; ; attempt++ {
		if c.user != "" && c.tokens[ep] == "" {
			if err := c.authenticate(ctx, ep); err != nil {
				return err
			}
		}
		err := c.post(ctx, ep, path, c.tokens[ep], body, out)
		var e *Error
		if attempt == 0 && c.user != "" && errors.As(err, &e) && e.Code == codeUnauthenticated {
			delete(c.tokens, ep)
			continue
		}
		return err
	}
}

func (c *Client) authenticate(ctx context.Context, ep string) error {
	body, err := json.Marshal(map[string]string{"name": c.user, "password": c.password})
	if err != nil {
		return err
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := c.post(ctx, ep, "/v3/auth/authenticate", "", body, &out); err != nil {
		return err
	}
	c.tokens[ep] = out.Token
	return nil
}

// post sends one request to ep and decodes a 200 answer into out, or
// returns the *Error of any other answer, or the transport's error.
func (c *Client) post(ctx context.Context, ep, path, token string, body []byte, out any) error {
	h := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		h["Authorization"] = token
	}
	resp, err := c.transport.RoundTrip(ctx, Request{Method: "POST", URL: ep + path, Header: h, Body: body})
	if err != nil {
		return fmt.Errorf("etcd %s%s: %w", ep, path, err)
	}
	if resp.Status != 200 {
		e := &Error{Endpoint: ep, Path: path, Status: resp.Status}
		var answer struct {
			Error   string `json:"error"`
			Message string `json:"message"`
			Code    int    `json:"code"`
		}
		if json.Unmarshal(resp.Body, &answer) == nil {
			e.Code, e.Message = answer.Code, answer.Message
			if e.Message == "" {
				e.Message = answer.Error
			}
		}
		if e.Message == "" {
			e.Message = "the answer is not an etcd error"
		}
		if e.Code == 0 && resp.Status == 503 {
			e.Code = codeUnavailable
		}
		return e
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &Error{Endpoint: ep, Path: path, Status: resp.Status, Message: "the answer does not decode: " + err.Error()}
	}
	return nil
}
