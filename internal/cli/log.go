package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// stderrLog is the engine's logger in the sesame command: each line on
// standard error, a vault's prefixed with its name ("sesame: vault Team:
// warning: …"), the engine's own with its details in parentheses. Warnings
// and errors always; info and debug lines with --verbose. The engine (and,
// through the agent, the agent's engine) has made every text printable
// already (api.Options.Logger).
type stderrLog struct {
	mu      *sync.Mutex
	w       io.Writer
	verbose bool
	attrs   []slog.Attr
}

func newStderrLog(w io.Writer, verbose bool) *slog.Logger {
	return slog.New(&stderrLog{mu: new(sync.Mutex), w: w, verbose: verbose})
}

func (h *stderrLog) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.verbose
}

func (h *stderrLog) Handle(_ context.Context, r slog.Record) error {
	vault := ""
	var details []string
	add := func(a slog.Attr) bool {
		switch {
		case a.Key == "vault":
			vault = a.Value.String()
		case !a.Equal(slog.Attr{}):
			details = append(details, a.Key+": "+a.Value.String())
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	var line strings.Builder
	line.WriteString("sesame: ")
	if vault != "" {
		fmt.Fprintf(&line, "vault %s: ", vault)
	}
	fmt.Fprintf(&line, "%s: %s", levelWord(r.Level), r.Message)
	if len(details) > 0 {
		fmt.Fprintf(&line, " (%s)", strings.Join(details, ", "))
	}
	line.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, line.String())
	return err
}

func (h *stderrLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	return &c
}

func (h *stderrLog) WithGroup(string) slog.Handler { return h }

// levelWord names a level as the command's other lines do ("warning").
func levelWord(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}
