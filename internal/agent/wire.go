package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
)

// The protocol is a stream of messages over the connection (codec.go).
// The client opens it with the preface, and may send its first request
// right behind it without waiting; the server greets every connection as
// it admits it: a response with its Version and Build, and an Err when it
// refuses the client. Then, for each request the client sends, the server
// answers with a response. While it runs a call, the server may send a
// response holding only a question, and the client answers with a request
// before the final response comes:
//
//   - Confirm, for a writing operation whose request asked for
//     confirmation: the client answers with Op opConfirm;
//   - Env, the names of environment variables that a vault's env grant
//     names and the engine reads for this call: the client answers with
//     Op opEnv and the values of those it has set. A request carries no
//     environment of its own, so a client's variables reach the agent only
//     when a grant names them (RATIONALE.md, "A thin client").
//
// One connection carries one request at a time.
//
// Version names the protocol; a client and a server of different versions
// refuse each other: a client of DialOrStart stops the agent of another
// version (by a signal: it cannot be asked) and starts its own, any other
// reports the mismatch (errOtherVersion). Version is the first field
// of a response, so that a greeting of any later version tells its version
// to this one. A call sent before the greeting came is run only by an
// agent of this version (the preface) and of the build it names
// (request.Build), so that a command's engine code is its own.
const Version = 3

// preface opens every connection, from the client. Its first byte is one
// that the framing of every earlier version refuses as a message's length
// (a byte count of 128), so that an agent of an earlier version, which
// would otherwise read the first request of a client that did not wait for
// its greeting, drops the connection before reading a byte of it.
const preface = "\x80sesame agent protocol 3\n"

// The agent's own messages; a request without one carries an api.Call.
const (
	opConfirm = "confirm"
	opEnv     = "env"
	opStop    = "stop"
	opStatus  = "status"
)

// target names the engine a request runs on: its registry file and folders,
// as engine.Open takes them.
type target struct {
	Path     string // absolute
	DataDir  string
	CacheDir string
	NoCache  bool
}

// request is what the client sends: an engine call, or one of the agent's
// own messages (Op).
type request struct {
	Op     string   // opStop, opStatus, opConfirm, opEnv; "" for a call
	Call   api.Call // its callbacks stay with the client (call.go)
	Target target

	Confirm bool     // the call has a confirmation: ask the client
	Report  bool     // the call has a report: send it back
	Yes     bool     // opConfirm: the answer
	Env     [][]byte // opEnv: NAME=value of each variable asked for that is set; bytes, so that the agent can zero them

	Log      bool       // send back the log lines the call causes (relay.go)
	LogLevel slog.Level // from this level up

	// Build is the agent the call is meant for (RunOptions.Build): an
	// agent of another build refuses the call without running it. ""
	// accepts any.
	Build string
}

// response is what the server sends.
type response struct {
	Version int    // the greeting
	Build   string // the greeting

	Confirm *api.Action // a question, not the answer: reply with opConfirm
	Env     []string    // a question: reply with opEnv

	Err     *wireError
	Result  any                 // the call's result
	Reports []api.StorageReport // what the call reported, for the client's callback
	Logs    []logLine           // the log lines the call caused, when asked (request.Log)
	Status  Status
}

// Status describes a running agent.
type Status struct {
	PID        int
	Started    time.Time
	Idle       time.Duration // the idle period after which it exits; 0 = never
	Registries []string      // the registry files it has engines open for
	Unlocked   []Unlocked    // the vaults it holds unlocked, by registry and name
}

// Unlocked is a vault the agent holds unlocked (engine.Engine.Unlocked), in
// the registry file Registry.
type Unlocked struct {
	Registry string
	api.Unlocked
}

// foreign are the errors that cross the socket as themselves, beside the
// engine's Codes: other packages', and the agent's refusals of a
// connection, which a client that sent its first request without waiting
// for the greeting retries (Client.call).
var foreign = []error{
	context.Canceled, context.DeadlineExceeded,
	fs.ErrNotExist, fs.ErrExist, fs.ErrPermission,
	errAgentStopping, errAgentBusy,
}

// The agent's refusals of a connection, in its greeting: it read nothing
// from it. They wrap api.ErrUnavailable.
var (
	errAgentStopping = errors.New("the sesame agent is stopping")
	errAgentBusy     = errors.New("the sesame agent is busy")
)

// wireError is an error tree in transit. An engine sentinel (an
// api.Code) travels as its code, an *api.Error keeps its fields (its
// message is rebuilt from them), an error of foreign its index, and any
// other error its message and the errors it wraps.
type wireError struct {
	Code    api.Code // 0 = not an engine sentinel
	Foreign int      // 1 + index in foreign; 0 = none
	Engine  bool
	Op      api.Op
	Vault   string
	Secret  string
	Text    string
	Grants  []string // an error that names missing grants (api.MissingGrants)
	Wrapped []wireError
}

// encodeError converts err for the wire.
func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := encodeNode(err)
	return &w
}

func encodeNode(err error) wireError {
	if c, ok := err.(api.Code); ok {
		return wireError{Code: c}
	}
	for i, f := range foreign {
		if err == f {
			return wireError{Foreign: i + 1}
		}
	}
	if e, ok := err.(*api.Error); ok {
		w := wireError{Engine: true, Op: e.Op, Vault: e.Vault, Secret: e.Secret}
		if e.Err != nil {
			w.Wrapped = []wireError{encodeNode(e.Err)}
		}
		return w
	}
	w := wireError{Text: err.Error()}
	if g, ok := err.(interface{ MissingGrants() []string }); ok {
		w.Grants = g.MissingGrants()
	}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		if u := x.Unwrap(); u != nil {
			w.Wrapped = []wireError{encodeNode(u)}
		}
	case interface{ Unwrap() []error }:
		for _, u := range x.Unwrap() {
			if u != nil {
				w.Wrapped = append(w.Wrapped, encodeNode(u))
			}
		}
	}
	return w
}

// decode rebuilds the error: same message, same sentinels, same
// *api.Error values for errors.Is and errors.As.
func (w *wireError) decode() error {
	if w == nil {
		return nil
	}
	switch {
	case w.Code != 0:
		return w.Code
	case w.Foreign > 0 && w.Foreign <= len(foreign):
		return foreign[w.Foreign-1]
	case w.Engine:
		e := &api.Error{Op: w.Op, Vault: w.Vault, Secret: w.Secret}
		if len(w.Wrapped) > 0 {
			e.Err = w.Wrapped[0].decode()
		}
		return e
	}
	r := &remoteError{text: w.Text}
	for i := range w.Wrapped {
		r.wrapped = append(r.wrapped, w.Wrapped[i].decode())
	}
	if w.Grants != nil {
		return &grantsError{remoteError: r, grants: w.Grants}
	}
	return r
}

// grantsError is a remote error that names the grants a vault's extension
// was not given.
type grantsError struct {
	*remoteError
	grants []string
}

func (g *grantsError) MissingGrants() []string { return g.grants }

// remoteError is an error that came over the socket.
type remoteError struct {
	text    string
	wrapped []error
}

func (r *remoteError) Error() string   { return r.text }
func (r *remoteError) Unwrap() []error { return r.wrapped }

// errProtocol is a peer that does not speak this protocol.
var errProtocol = errors.New("agent protocol error")

// protocolError is a kind of errProtocol. It is made without fmt, so that
// the package's errors cost its init nothing (a command served by the agent
// starts in a few milliseconds, and fmt's first use is a measurable part).
type protocolError string

func (e protocolError) Error() string        { return errProtocol.Error() + ": " + string(e) }
func (e protocolError) Is(target error) bool { return target == errProtocol }

// The limits of one message (a length, then that many bytes): what the
// agent reads from a client holds at most a value (abi.MaxValueBytes), its
// metadata and the environment variables it asks for; what a client reads
// holds at most the output of one call (abi.MaxCallBytes) with the codec's
// framing.
const (
	maxRequest  = 8 << 20
	maxResponse = 4 * abi.MaxCallBytes
)

// errTooLarge is a message longer than its limit: the connection is dropped
// before anything is allocated for it.
var errTooLarge = errors.New("agent protocol error: message too large")

// keepBuffer is the largest receive buffer a stream keeps between messages.
const keepBuffer = 64 << 10

// stream is the messages of one connection. Each message is its length, in
// gob's form of an unsigned integer (below 0x80 one byte, else the negated
// count of the big-endian bytes that follow: the framing of the first
// protocol version, kept), then that many bytes of the codec (codec.go).
//
// recv refuses a message longer than max from its length alone, before
// anything is allocated for it; with a timeout, it gives the rest of a
// message that long once its first byte came (a peer that sends half a
// message and stops is dropped), and send gives each message that long to
// be written (0: the caller sets the deadlines). Both zero their copy of a
// message once it is decoded or written.
type stream struct {
	nc      net.Conn
	max     uint64
	timeout time.Duration

	buf []byte // recv's buffer, zeroed after each message
	err error  // once set, recv returns it: the stream is broken
}

func newStream(nc net.Conn, max uint64, timeout time.Duration) *stream {
	return &stream{nc: nc, max: max, timeout: timeout}
}

// send writes the message v (a pointer to a request or a response).
func (s *stream) send(v any) error { return s.sendAfter("", v) }

// sendAfter writes head, then the message v, in one write.
func (s *stream) sendAfter(head string, v any) error {
	room := len(head) + 9 // 9: the longest length
	b, err := marshal(make([]byte, room, 512), v)
	defer clear(b)
	if err != nil {
		return err
	}
	n := uint64(len(b) - room)
	start := room - 1
	if n < 0x80 {
		b[start] = byte(n)
	} else {
		for ; n > 0; n >>= 8 {
			b[start] = byte(n)
			start--
		}
		b[start] = byte(-int8(room - 1 - start))
	}
	start -= copy(b[start-len(head):start], head)
	if s.timeout > 0 {
		s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	_, err = s.nc.Write(b[start:])
	return err
}

// errNoPreface is a connection that does not open with the preface: a
// client of another version (or not a client).
var errNoPreface error = protocolError("the connection does not open with the preface of version 3 (a client of another version)")

// readPreface reads the preface that opens a client's connection. The
// client may wait before it sends it; then the rest comes within the
// timeout, as a message's does.
func (s *stream) readPreface() error {
	b := make([]byte, len(preface))
	if _, err := io.ReadFull(s.nc, b[:1]); err != nil {
		return err
	}
	if s.timeout > 0 {
		s.nc.SetReadDeadline(time.Now().Add(s.timeout))
	}
	if _, err := io.ReadFull(s.nc, b[1:]); err != nil {
		return err
	}
	if string(b) != preface {
		return errNoPreface
	}
	return nil
}

// recv reads the next message into v and zeroes the bytes it read.
func (s *stream) recv(v any) error {
	if s.err != nil {
		return s.err
	}
	n, err := s.length()
	if err != nil {
		s.err = err
		return err
	}
	if uint64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	msg := s.buf[:n]
	defer func() {
		clear(msg)
		if cap(s.buf) > keepBuffer {
			s.buf = nil
		}
	}()
	if _, err := io.ReadFull(s.nc, msg); err != nil {
		s.err = err
		return err
	}
	return unmarshal(msg, v)
}

// length reads a message's length and checks it against the limit. The
// first byte may take as long as the caller allows; the rest of the
// message then has timeout.
func (s *stream) length() (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(s.nc, b[:1]); err != nil {
		return 0, err
	}
	if s.timeout > 0 {
		s.nc.SetReadDeadline(time.Now().Add(s.timeout))
	}
	n := uint64(b[0])
	if b[0] >= 0x80 {
		count := -int(int8(b[0]))
		if count > 8 {
			return 0, fmt.Errorf("%w: bad message length", errProtocol)
		}
		if _, err := io.ReadFull(s.nc, b[:count]); err != nil {
			return 0, err
		}
		n = 0
		for _, c := range b[:count] {
			n = n<<8 | uint64(c)
		}
	}
	if n > s.max {
		return 0, fmt.Errorf("%w (%d bytes; the limit is %d)", errTooLarge, n, s.max)
	}
	return n, nil
}
