package testwasm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/sesamehq/sesame/abi"
)

func TestHostile(t *testing.T) {
	h := newFakeHost(t, Build(t, hostile))
	m := h.instance()

	got := manifest(t, h.mustCall(m, abi.OK, abi.ExportManifest))
	if want := "misbehaves on purpose: \"loop\", \"sleep\", \\ and\ttabs…"; got.Description != want {
		t.Errorf("description = %q, want %q", got.Description, want)
	}
	if !got.CaseSensitive || !got.Metadata || got.Name != "hostile" {
		t.Errorf("manifest = %+v", got)
	}

	value := func(r result) string {
		t.Helper()
		_, v, err := abi.DecodeSecret(r.out)
		if err != nil {
			t.Fatal(err)
		}
		return string(v.Data)
	}
	// An ordinary secret round-trips.
	h.mustCall(m, abi.OK, abi.ExportSet, []byte("Plain"), encValue(t, str("p")), nil)
	if v := value(h.mustCall(m, abi.OK, abi.ExportGet, []byte("Plain"))); v != "p" {
		t.Errorf("get Plain = %q", v)
	}
	h.mustCall(m, abi.NotFound, abi.ExportGet, []byte("plain"))

	// count is per instance; a trap needs a fresh one.
	if v := value(h.mustCall(m, abi.OK, abi.ExportGet, []byte("count"))); v != "4" {
		t.Errorf("count = %q, want 4", v)
	}
	if r := h.call(m, abi.ExportGet, 5*time.Second, []byte("panic")); r.err == nil {
		t.Error("panic: no trap")
	}
	if !strings.Contains(h.stderr.String(), "panic on request") {
		t.Errorf("stderr = %q", h.stderr.String())
	}
	m2 := h.instance()
	if v := value(h.mustCall(m2, abi.OK, abi.ExportGet, []byte("count"))); v != "1" {
		t.Errorf("count in a fresh instance = %q, want 1", v)
	}

	// The host's clock and random source reach the guest.
	r1 := h.mustCall(m2, abi.OK, abi.ExportGet, []byte("rand")).out
	r2 := h.mustCall(h.instance(), abi.OK, abi.ExportGet, []byte("rand")).out
	if bytes.Equal(r1, r2) {
		t.Error("two instances got the same random bytes")
	}
	now, err := time.Parse(time.RFC3339Nano, value(h.mustCall(m2, abi.OK, abi.ExportGet, []byte("now"))))
	if err != nil || time.Since(now).Abs() > time.Minute {
		t.Errorf("now = %v, %v", now, err)
	}

	// Nothing granted, nothing visible.
	for _, name := range []string{"env", "args"} {
		t.Logf("%s = %q", name, value(h.mustCall(m2, abi.OK, abi.ExportGet, []byte(name))))
	}
	if v := value(h.mustCall(m2, abi.OK, abi.ExportGet, []byte("file"))); strings.Contains(v, "root:") {
		t.Errorf("file = %q", v)
	} else {
		t.Logf("file = %q", v)
	}

	if r := h.mustCall(m2, abi.OK, abi.ExportGet, []byte("log")); r.logs != 10_000 {
		t.Errorf("log: %d lines", r.logs)
	}
	h.mustCall(m2, abi.TooLarge, abi.ExportGet, []byte("bigout"))
	if r := h.mustCall(m2, abi.Internal, abi.ExportGet, []byte("bigerr")); len(r.msg) != 1<<20 {
		t.Errorf("bigerr: message of %d bytes", len(r.msg))
	}

	// A trap after a storage write.
	if r := h.call(m2, abi.ExportSet, 5*time.Second, []byte("trapmidset"), encValue(t, str("t")), nil); r.err == nil {
		t.Error("trapmidset: no trap")
	}
	if _, ok := h.record("s/trapmidset"); !ok {
		t.Error("trapmidset wrote no record")
	}

	var exit *sys.ExitError
	if r := h.call(h.instance(), abi.ExportGet, 5*time.Second, []byte("exit")); !errors.As(r.err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("exit: %v", r.err)
	}
}

// TestHostileStops checks that the guest's endless calls do end: loop and
// sleep by the deadline, oom and recurse by a trap when memory runs out (or
// by the deadline on a slow machine).
func TestHostileStops(t *testing.T) {
	h := newFakeHost(t, Build(t, hostile))
	for _, c := range []struct {
		name    string
		timeout time.Duration
	}{{"loop", 300 * time.Millisecond}, {"sleep", 300 * time.Millisecond}, {"oom", 5 * time.Second}, {"recurse", 5 * time.Second}} {
		start := time.Now()
		r := h.call(h.instance(), abi.ExportGet, c.timeout, []byte(c.name))
		if r.err == nil {
			t.Errorf("%s: returned %v", c.name, r.status)
			continue
		}
		msg, _, _ := strings.Cut(r.err.Error(), "\n")
		t.Logf("%s: stopped after %v: %s", c.name, time.Since(start).Round(time.Millisecond), msg)
	}
}

// TestSDKYields checks that every export ends with runtime.Gosched. Between
// calls no goroutine runs, the garbage collector's workers included. Without
// the yield, a guest whose calls each drop 256 KiB runs fine at first, then
// stops collecting once its clock has advanced far enough, and grows by
// 256 KiB a call past the 64 MiB limit. With wazero's default clock, whose
// nanotime advances 1 ms per reading, that happens after about 1650 calls;
// with the real clock it would take minutes, so the test uses the default
// clock.
func TestSDKYields(t *testing.T) {
	h := newFakeHost(t, Build(t, hostile))
	h.fakeClock = true
	m := h.instance()
	for range 3000 {
		h.mustCall(m, abi.OK, abi.ExportGet, []byte("garbage"))
	}
	size := m.Memory().Size()
	t.Logf("linear memory after 3000 calls: %.1f MiB", float64(size)/(1<<20))
	if size > 32<<20 {
		t.Errorf("linear memory grew to %d bytes", size)
	}
}
