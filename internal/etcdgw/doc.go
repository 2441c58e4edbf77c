// Package etcdgw is a small client of etcd v3's JSON gateway (the
// /v3/kv/... and /v3/auth/... endpoints that every etcd member serves on its
// client URL): range (one key or a prefix), put, delete, and transactions
// that compare a key's create_revision or mod_revision. It was the client of
// the etcd vault when that was a Go guest; the vault is C now
// (extensions/etcd/gateway.c) and speaks this package's wire byte for byte,
// and this package is the tests' client of a cluster (internal/etcdtest)
// and their reference for the vault's decoding (engine/etcdfuzz_test.go).
// It is plain Go: no net/http, no goroutines, no etcd client library. The
// requests go through a Transport that the caller gives: net/http in tests
// (internal/etcdtest).
//
// A Client holds a list of endpoints (the members' client URLs). A request
// goes to the endpoint that last answered; when it fails before any answer
// (the member is down) or the member answers that it cannot serve now (no
// leader, leader changed: gRPC code UNAVAILABLE), the client moves to the
// next endpoint, and after a round of failures waits a moment and tries the
// round again, until the context's deadline. The error it then returns
// wraps ErrUnavailable and names each endpoint's last failure.
//
// Caveat: a request whose answer was lost (the connection broke after the
// member received it) may have been applied; the retry on another member
// then sees its effect (a create-if-absent transaction finds the key it
// created). Callers that must tell these apart write a value they can
// recognize.
//
// Keys and values are bytes; the gateway carries them in base64, and its
// 64-bit numbers as decimal strings, which this package decodes.
package etcdgw
