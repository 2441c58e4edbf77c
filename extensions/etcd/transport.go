//go:build wasip1

package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/abi/guest"
	"github.com/sesamehq/sesame/internal/etcdgw"
)

// hostTransport sends etcdgw's requests through the host's http function
// (SPEC.md §5.9): only the granted origins are reachable, the host does
// the TLS, and no redirect is followed.
type hostTransport struct {
	// refused is the host's refusal of the last request that was not a
	// member's failure (an origin not granted, the call's deadline): the
	// status the operation reports.
	refused error
}

// RoundTrip returns an error only when no answer came: the host could not
// reach the member (UNAVAILABLE), which moves the client to the next one.
// A refused origin or a passed deadline is not a member's failure: it is
// kept in refused and returned as an etcdgw.Error, which stops the client.
//
// The request carries ctx's deadline as grpc-timeout, which etcd's gateway
// turns into the deadline of the request inside etcd: a member that has
// lost its quorum answers DEADLINE_EXCEEDED then, instead of holding the
// request (and the host call, which the guest cannot cancel) until etcd's
// own timeout, past the call's deadline.
func (t *hostTransport) RoundTrip(ctx context.Context, req etcdgw.Request) (etcdgw.Response, error) {
	h := make(map[string]string, len(req.Header)+1)
	for k, v := range req.Header {
		h[strings.ToLower(k)] = v
	}
	if dl, ok := ctx.Deadline(); ok {
		h["grpc-timeout"] = strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10) + "m"
	}
	resp, err := guest.HTTP(abi.HTTPRequest{Method: req.Method, URL: req.URL, Header: h, Body: req.Body})
	switch {
	case errors.Is(err, abi.Unavailable):
		return etcdgw.Response{}, err
	case err != nil:
		t.refused = err
		return etcdgw.Response{}, &etcdgw.Error{Endpoint: origin(req.URL), Path: path(req.URL), Code: -1, Message: err.Error()}
	}
	return etcdgw.Response{Status: resp.Status, Body: resp.Body}, nil
}

// origin and path split url after its scheme://host:port.
func origin(url string) string { return url[:len(url)-len(path(url))] }

func path(url string) string {
	if i := strings.Index(url, "://"); i >= 0 {
		if j := strings.IndexByte(url[i+3:], '/'); j >= 0 {
			return url[i+3+j:]
		}
	}
	return ""
}
