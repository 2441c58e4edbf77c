//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/sesamehq/sesame/abi"
)

// HTTP (SPEC.md §5.9) sends one request through the host and returns the
// response. It needs the "http" grant (list abi.GrantHTTP in the manifest's
// Grants) and a host of sesame 0.4 or later: a guest that calls it imports
// http_request and http_response, and an older host refuses to load it.
// A guest that never calls it imports neither.
//
// Only the origins the grant lists are reachable; redirects come back as
// responses (status 3xx, header "location"), never followed. A status of
// 404 or 500 is a response, not an error. Errors are *HostError values
// wrapping the status: abi.PermissionDenied (not granted, or an origin the
// grant does not list), abi.InvalidArgument (a request the encoding of
// SPEC.md §7.10 refuses: a header with CR or LF, a header the host sets, a
// method it does not send), abi.TooLarge, abi.DeadlineExceeded (the
// call's deadline passed), abi.Unavailable (the server could not be
// reached). The host says why in the call's error; the guest need not.
func HTTP(req abi.HTTPRequest) (abi.HTTPResponse, error) {
	enc, err := abi.AppendHTTPRequest(nil, req)
	if err != nil {
		return abi.HTTPResponse{}, err
	}
	buf := make([]byte, httpBuffer)
	n := hostHTTPRequest(ptr(enc), uint32(len(enc)), ptr(buf), uint32(len(buf)))
	if n > int64(len(buf)) && n <= abi.MaxCallBytes+abi.MaxHTTPResponseHeaders {
		// Too large for the first buffer: take it again, without
		// sending the request twice.
		buf = make([]byte, n)
		n = hostHTTPResponse(ptr(buf), uint32(len(buf)))
	}
	switch {
	case n < 0:
		return abi.HTTPResponse{}, &HostError{Func: abi.ImportHTTPRequest, Status: negStatus(n)}
	case n > int64(len(buf)):
		return abi.HTTPResponse{}, &HostError{Func: abi.ImportHTTPRequest, Status: abi.Internal}
	}
	resp, err := abi.DecodeHTTPResponse(buf[:n])
	if err != nil {
		return abi.HTTPResponse{}, &HostError{Func: abi.ImportHTTPRequest, Status: abi.Internal}
	}
	return resp, nil
}

// HTTPOrigins returns the origins the vault's http grant lists, in the
// grant's order (SPEC.md §5.9): the servers a vault may reach, which it may
// take as its default list of servers.
func HTTPOrigins() ([]string, error) {
	buf := make([]byte, 1<<10)
	for {
		n := hostHTTPOrigins(ptr(buf), uint32(len(buf)))
		switch {
		case n < 0:
			return nil, &HostError{Func: abi.ImportHTTPOrigins, Status: negStatus(n)}
		case n > int64(len(buf)):
			if n > abi.MaxCallBytes {
				return nil, &HostError{Func: abi.ImportHTTPOrigins, Status: abi.Internal}
			}
			buf = make([]byte, n)
			continue
		}
		keys, err := abi.DecodeKeyList(buf[:n])
		if err != nil {
			return nil, &HostError{Func: abi.ImportHTTPOrigins, Status: abi.Internal}
		}
		origins := make([]string, len(keys))
		for i, k := range keys {
			origins[i] = string(k)
		}
		return origins, nil
	}
}

// httpBuffer is the first buffer for a response; a larger one costs one
// more call (http_response), not a second request.
const httpBuffer = 16 << 10

//go:wasmimport sesame_v1 http_request
func hostHTTPRequest(req unsafe.Pointer, reqLen uint32, dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 http_response
func hostHTTPResponse(dst unsafe.Pointer, capacity uint32) int64

//go:wasmimport sesame_v1 http_origins
func hostHTTPOrigins(dst unsafe.Pointer, capacity uint32) int64
