package agent

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// lines is a log handler that keeps each record as "LEVEL vault=V msg".
type lines struct {
	mu    sync.Mutex
	level slog.Level
	got   []string
}

func (l *lines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= l.level }
func (l *lines) Handle(_ context.Context, r slog.Record) error {
	var vault string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "vault" {
			vault = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, r.Level.String()+" vault="+vault+" "+r.Message)
	return nil
}
func (l *lines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lines) WithGroup(string) slog.Handler      { return l }

// TestLogsComeBack: the lines a request makes a vault log in the agent come
// back to the logger of the client that sent it, from the level it handles
// up, made printable; another client's requests bring none of them.
func TestLogsComeBack(t *testing.T) {
	ctx := context.Background()
	logvault, err := testwasm.Path("internal/cli/testdata/logvault")
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, NewServer(testEngines))
	f := newFiles(t)
	remote := func(l *lines) *Remote {
		opts := *f.opts
		opts.Logger = slog.New(l)
		r, err := srv.dial(t).Engine(f.path, &opts)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	all, warn, other := &lines{level: slog.LevelDebug}, &lines{level: slog.LevelWarn}, &lines{level: slog.LevelDebug}
	a, w, o := remote(all), remote(warn), remote(other)
	reg := engine.Registration{Name: "L", Extension: logvault, Grants: engine.Grants{Storage: true}}
	if err := engine.Run(ctx, a, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Remote{a, w} {
		if err := engine.Run(ctx, r, engine.TestRequest{Vault: "L"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := engine.Do(ctx, o, engine.VaultsRequest{}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"DEBUG vault=L checked 3 records",
		"INFO vault=L storage reachable",
		"WARN vault=L disk almost full \uFFFD[31mred sesame: error: forged",
		"ERROR vault=L one record unreadable",
	}
	if got := strings.Join(all.got, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("the client that asked for every level got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if got := strings.Join(warn.got, "\n"); got != strings.Join(want[2:], "\n") {
		t.Errorf("the client that asked for warnings got:\n%s\nwant:\n%s", got, strings.Join(want[2:], "\n"))
	}
	if len(other.got) > 0 {
		t.Errorf("a client whose requests logged nothing got:\n%s", strings.Join(other.got, "\n"))
	}
}
