package agent

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// The protocol is a stream of gob values over the connection. The server
// speaks first: a response with its Version, and an Err when it refuses the
// client. Then the client sends a request, the server answers with a
// response. While it runs a
// writing operation whose request asked for confirmation, the server may
// send a response holding only a question (Confirm), and the client answers
// with a request whose Op is opConfirm before the final response comes.
// One connection carries one request at a time.
//
// Version names the protocol; a client and a server of different versions
// refuse each other: the client reports the mismatch (the sesame command
// then works alone until the old agent exits).
const Version = 1

// The agent's own messages; a request without one carries an engine.Call.
const (
	opConfirm = "confirm"
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
	Op     string      // opStop, opStatus, opConfirm; "" for a call
	Call   engine.Call // its callbacks stay with the client (call.go)
	Target target
	Env    [][]byte // the client's environment (NAME=value), for variables granted to extensions; bytes, so that the agent can zero it

	Confirm bool // the call has a confirmation: ask the client
	Report  bool // the call has a report: send it back
	Yes     bool // opConfirm: the answer

	Log      bool       // send back the log lines the call causes (relay.go)
	LogLevel slog.Level // from this level up
}

// response is what the server sends.
type response struct {
	Confirm *engine.Action // a question, not the answer: reply with opConfirm

	Err     *wireError
	Result  any                    // the call's result
	Reports []engine.StorageReport // what the call reported, for the client's callback
	Logs    []logLine              // the log lines the call caused, when asked (request.Log)
	Status  Status
	Version int    // the greeting
	Build   string // the greeting
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
	engine.Unlocked
}

// foreign are the errors of other packages that cross the socket as
// themselves, beside the engine's Codes.
var foreign = []error{
	context.Canceled, context.DeadlineExceeded,
	fs.ErrNotExist, fs.ErrExist, fs.ErrPermission,
}

// wireError is an error tree in transit. An engine sentinel (an
// engine.Code) travels as its code, an *engine.Error keeps its fields (its
// message is rebuilt from them), an error of foreign its index, and any
// other error its message and the errors it wraps.
type wireError struct {
	Code    engine.Code // 0 = not an engine sentinel
	Foreign int         // 1 + index in foreign; 0 = none
	Engine  bool
	Op      engine.Op
	Vault   string
	Secret  string
	Text    string
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
	if c, ok := err.(engine.Code); ok {
		return wireError{Code: c}
	}
	for i, f := range foreign {
		if err == f {
			return wireError{Foreign: i + 1}
		}
	}
	if e, ok := err.(*engine.Error); ok {
		w := wireError{Engine: true, Op: e.Op, Vault: e.Vault, Secret: e.Secret}
		if e.Err != nil {
			w.Wrapped = []wireError{encodeNode(e.Err)}
		}
		return w
	}
	w := wireError{Text: err.Error()}
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
// *engine.Error values for errors.Is and errors.As.
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
		e := &engine.Error{Op: w.Op, Vault: w.Vault, Secret: w.Secret}
		if len(w.Wrapped) > 0 {
			e.Err = w.Wrapped[0].decode()
		}
		return e
	}
	r := &remoteError{text: w.Text}
	for i := range w.Wrapped {
		r.wrapped = append(r.wrapped, w.Wrapped[i].decode())
	}
	return r
}

// remoteError is an error that came over the socket.
type remoteError struct {
	text    string
	wrapped []error
}

func (r *remoteError) Error() string   { return r.text }
func (r *remoteError) Unwrap() []error { return r.wrapped }

// errProtocol is a peer that does not speak this protocol.
var errProtocol = errors.New("agent protocol error")

// The limits of one gob message (a length, then that many bytes): what the
// agent reads from a client holds at most a value (abi.MaxValueBytes), its
// metadata and the client's environment (a few MiB at most on Linux); what
// a client reads holds at most the output of one call (abi.MaxCallBytes)
// with gob's framing.
const (
	maxRequest  = 8 << 20
	maxResponse = 4 * abi.MaxCallBytes
)

// errTooLarge is a message longer than its limit: the connection is dropped
// before anything is allocated for it.
var errTooLarge = errors.New("agent protocol error: message too large")

// msgReader is what a gob.Decoder reads a connection through. It refuses a
// message longer than max from its length alone, before gob allocates for
// it; with a timeout, it gives the rest of a message that long once its
// first byte came (a peer that sends half a message and stops is dropped);
// and it remembers the bytes it gave gob, so that wipe can zero gob's copy
// of a message once decoded (gob copies what it decodes out of them).
type msgReader struct {
	nc      net.Conn
	max     uint64
	timeout time.Duration // 0: the caller sets the deadlines

	countLeft int    // bytes of the length still to come
	count     uint64 // the length so far
	left      uint64 // bytes of the message still to come
	lent      [][]byte
	err       error // once set, every Read returns it: the stream is broken
}

// Read reads gob's next bytes. gob asks for a message's length byte by
// byte as its encoding says, then for the message: Read never reads past
// what gob asked for, and so never past a message.
func (r *msgReader) Read(p []byte) (int, error) {
	switch {
	case r.err != nil:
		return 0, r.err
	case len(p) == 0:
		return 0, nil
	case r.countLeft == 0 && r.left == 0: // a message begins
		n, err := r.nc.Read(p[:1])
		if n == 0 {
			return 0, err
		}
		if r.timeout > 0 {
			r.nc.SetReadDeadline(time.Now().Add(r.timeout))
		}
		if p[0] < 0x80 {
			return 1, r.begin(uint64(p[0]))
		}
		// gob's long form: the negated byte count of the length follows.
		r.countLeft, r.count = -int(int8(p[0])), 0
		if r.countLeft > 8 {
			r.err = fmt.Errorf("%w: bad message length", errProtocol)
			return 1, r.err
		}
		return 1, nil
	case r.countLeft > 0:
		n, err := r.nc.Read(p[:min(len(p), r.countLeft)])
		for _, b := range p[:n] {
			r.count = r.count<<8 | uint64(b)
		}
		r.countLeft -= n
		if n > 0 && r.countLeft == 0 {
			if berr := r.begin(r.count); berr != nil {
				return 0, berr // not n: io.ReadFull would drop the error, and gob allocate
			}
		}
		return n, err
	}
	n, err := r.nc.Read(p[:min(uint64(len(p)), r.left)])
	r.lent = append(r.lent, p[:n])
	r.left -= uint64(n)
	return n, err
}

// ReadByte makes msgReader an io.ByteReader, so that gob reads it as it
// is, without a buffer of its own (which could not be zeroed).
func (r *msgReader) ReadByte() (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(r, b[:])
	return b[0], err
}

func (r *msgReader) begin(n uint64) error {
	if n > r.max {
		r.err = fmt.Errorf("%w (%d bytes; the limit is %d)", errTooLarge, n, r.max)
		return r.err
	}
	r.left = n
	return nil
}

// wipe zeroes the bytes gob read since the last wipe. Call it once Decode
// returned: gob keeps no reference to a decoded message.
func (r *msgReader) wipe() {
	for _, b := range r.lent {
		clear(b)
	}
	r.lent = r.lent[:0]
}

// msgWriter is what a gob.Encoder writes a connection through: each
// message within timeout (0: the caller sets the deadlines), and gob's
// buffer zeroed once written. (encoding/gob writes each message from its
// buffer in one Write and resets the buffer at once; it never reads it
// again, so zeroing it is safe.)
type msgWriter struct {
	nc      net.Conn
	timeout time.Duration
}

func (w msgWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	n, err := w.nc.Write(p)
	clear(p)
	return n, err
}

// stream is the gob stream of one connection, through msgReader and
// msgWriter.
type stream struct {
	r   *msgReader
	enc *gob.Encoder
	dec *gob.Decoder
}

func newStream(nc net.Conn, max uint64, timeout time.Duration) *stream {
	r := &msgReader{nc: nc, max: max, timeout: timeout}
	return &stream{r: r, enc: gob.NewEncoder(msgWriter{nc, timeout}), dec: gob.NewDecoder(r)}
}

// recv decodes the next value into v and zeroes gob's copy of it.
func (s *stream) recv(v any) error {
	err := s.dec.Decode(v)
	s.r.wipe()
	return err
}
