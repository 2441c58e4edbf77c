package engine

import (
	"context"
	"log/slog"

	"github.com/sesamehq/sesame/engine/internal/sandbox"
)

// printableLog is the handler of Options.Logger as the engine uses it: it
// makes every message and every attribute's text printable (no control or
// bidirectional characters, no line breaks) before the program's handler
// sees it, so that a program may print a line of a vault's log, or of the
// engine's own, as it comes (see sandbox.Printable for the attacks that
// stops).
type printableLog struct{ next slog.Handler }

func (h printableLog) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h printableLog) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, sandbox.Printable(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(printableAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h printableLog) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = printableAttr(a)
	}
	return printableLog{h.next.WithAttrs(clean)}
}

func (h printableLog) WithGroup(name string) slog.Handler {
	return printableLog{h.next.WithGroup(sandbox.Printable(name))}
}

// printableAttr is a with its text made printable: a string, or anything
// shown as text (an error), becomes a printable string; a group, each of its
// attributes.
func printableAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = printableAttr(x)
		}
		return slog.Group(sandbox.Printable(a.Key), clean...)
	case slog.KindString, slog.KindAny:
		return slog.String(sandbox.Printable(a.Key), sandbox.Printable(v.String()))
	}
	return slog.Attr{Key: sandbox.Printable(a.Key), Value: v}
}
