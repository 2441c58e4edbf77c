package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The log lines a request causes in the agent (a vault's warning, the
// compile cache's) travel back with its response, and the client logs them
// to its own api.Options.Logger, as if the engine ran in its process: a
// client that asked for none gets none. The lines of an engine's own
// events that no request causes (and every line, too) also go to the
// agent's Logger.

// maxRelayLines bounds the lines one response carries; past it they are
// counted, and one line says how many were dropped.
const maxRelayLines = 256

// logLine is one log line in transit: its text is printable already
// (api.Options.Logger).
type logLine struct {
	Level   slog.Level
	Message string
	Attrs   []logAttr
}

type logAttr struct{ Key, Value string }

// sink collects the lines of one request.
type sink struct {
	level   slog.Level
	mu      sync.Mutex
	lines   []logLine
	dropped int
}

type sinkKey struct{}

// withSink returns ctx carrying s: what the engine logs with ctx goes to s.
func withSink(ctx context.Context, s *sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

func (s *sink) add(r slog.Record) {
	if r.Level < s.level {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lines) >= maxRelayLines {
		s.dropped++
		return
	}
	l := logLine{Level: r.Level, Message: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs = append(l.Attrs, logAttr{a.Key, a.Value.String()})
		return true
	})
	s.lines = append(s.lines, l)
}

// collectedOrNil returns the lines, and one that counts those dropped; nil
// for a nil sink (the request asked for none).
func (s *sink) collectedOrNil() []logLine {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped > 0 {
		return append(s.lines, logLine{Level: slog.LevelWarn, Message: fmt.Sprintf("sesame agent: %d more log lines of this request dropped past the limit of %d", s.dropped, maxRelayLines)})
	}
	return s.lines
}

// relay is the log handler of the agent's engines: a line goes to the sink
// of the request whose context it was logged with, or, without one, to
// that of the request opening the engine (the engine's warnings at open
// have no context); and to the agent's own log.
type relay struct {
	next    slog.Handler
	opening *atomic.Pointer[sink]
	attrs   []slog.Attr // of WithAttrs, added to each line relayed
}

func newRelay(next slog.Handler) relay {
	return relay{next: next, opening: new(atomic.Pointer[sink])}
}

func (h relay) sinkOf(ctx context.Context) *sink {
	if s, ok := ctx.Value(sinkKey{}).(*sink); ok {
		return s
	}
	return h.opening.Load()
}

func (h relay) Enabled(ctx context.Context, l slog.Level) bool {
	if s := h.sinkOf(ctx); s != nil && l >= s.level {
		return true
	}
	return h.next.Enabled(ctx, l)
}

func (h relay) Handle(ctx context.Context, r slog.Record) error {
	if s := h.sinkOf(ctx); s != nil {
		rr := r.Clone()
		rr.AddAttrs(h.attrs...)
		s.add(rr)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h relay) WithAttrs(as []slog.Attr) slog.Handler {
	return relay{next: h.next.WithAttrs(as), opening: h.opening, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

// WithGroup is not used by the engine: a group gives up the relaying rather
// than flatten the attributes.
func (h relay) WithGroup(name string) slog.Handler { return h.next.WithGroup(name) }

// replay logs lines, received with a response, to logger.
func replay(ctx context.Context, logger *slog.Logger, lines []logLine) {
	for _, l := range lines {
		if !logger.Enabled(ctx, l.Level) {
			continue
		}
		r := slog.NewRecord(time.Now(), l.Level, l.Message, 0)
		for _, a := range l.Attrs {
			r.AddAttrs(slog.String(a.Key, a.Value))
		}
		logger.Handler().Handle(ctx, r)
	}
}

// lowestLevel is the lowest of the four levels that logger handles: what a
// client asks the agent for.
func lowestLevel(ctx context.Context, logger *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if logger.Enabled(ctx, l) {
			return l
		}
	}
	return slog.LevelError
}
