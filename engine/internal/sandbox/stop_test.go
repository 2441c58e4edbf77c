package sandbox_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestSpinningGuestIsStopped: each way a guest can run on without end (a
// loop with no call in it, a loop that only calls the host, a recursion
// that stays shallow but branches) is stopped at the call's deadline, and
// the next call gets a fresh instance. The host stops a call through the
// stop global that the instrumentation checks at each loop and call
// (instrument.go); without the check, these calls never return. The
// collector runs over and over while each call spins: the check returns to
// Go now and then, or Go could not stop the spinning goroutine for the
// collector's stop-the-world pauses, and runtime.GC would never return.
func TestSpinningGuestIsStopped(t *testing.T) {
	h := newHost(t, nil)
	m := load(t, h, sandbox.Spec{Vault: "Spin", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/spin.wat"), Timeout: 200 * time.Millisecond, Instances: 1})
	for _, c := range []struct {
		name string
		op   abi.Op
		args [][]byte
	}{
		{"a loop", abi.OpGet, [][]byte{[]byte("loop")}},
		{"a recursion", abi.OpGet, [][]byte{[]byte("tree")}},
		{"a loop calling the host", abi.OpSet, [][]byte{[]byte("a"), nil, nil}},
	} {
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := m.Call(context.Background(), c.op, c.args...)
			done <- err
		}()
		var err error
		for collected := 0; ; collected++ {
			select {
			case err = <-done:
			default:
				runtime.GC()
				continue
			}
			t.Logf("%s: %d collections while it ran", c.name, collected)
			break
		}
		t.Logf("%s: stopped after %v: %v", c.name, time.Since(start).Round(time.Millisecond), err)
		wantStatus(t, err, abi.DeadlineExceeded)
	}
}

// TestHostCloseStopsASpinningCall: closing the host stops a call that spins
// in a loop with no call in it, which would otherwise run until its
// deadline, a minute away; the call says the vault was closed.
func TestHostCloseStopsASpinningCall(t *testing.T) {
	h, err := sandbox.NewHost(sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := &signalStorage{memStorage: newMemStorage(), read: make(chan struct{})}
	m, err := h.Load(context.Background(), sandbox.Spec{Vault: "Spin", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/spin.wat"), Storage: st, Timeout: time.Minute, Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Call(context.Background(), abi.OpRemove, []byte("a"))
		done <- err
	}()
	<-st.read // remove runs: it read its storage and spins
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	se := wantStatus(t, <-done, abi.Unavailable)
	if !strings.Contains(se.Message, "closed") {
		t.Errorf("message %q does not say the vault was closed", se.Message)
	}
}

// signalStorage closes read at its first Get.
type signalStorage struct {
	*memStorage
	once sync.Once
	read chan struct{}
}

func (s *signalStorage) Get(ctx context.Context, key []byte) ([]byte, error) {
	s.once.Do(func() { close(s.read) })
	return s.memStorage.Get(ctx, key)
}
