package sandbox

import (
	"context"
	"sync"
	"time"
)

// callContext is the context of one call on an instance: the caller's
// values and cancellation, the call's own state (callKey), and a deadline
// of its own. Host functions receive it, so that what they wait for
// (storage's lock) ends with the call.
//
// An instance keeps one, and one timer, for all its calls:
// context.WithTimeout, WithValue and AfterFunc made 9 allocations and cost
// ~3 µs a call on a loaded two-core machine, against ~0.3 µs to reset a
// timer. At the deadline the timer sets the context's error, closes Done
// and stops the guest (halt); so does the caller's context ending first.
// A call whose context ended may not be the instance's last only if the
// guest returned first; end then reports it, and the instance is discarded
// (halted), so no later call sees a context that has ended. A caller must
// not keep the context past the call (nothing in a call does: storage's
// call scope and waits, and HTTP requests, end with it).
type callContext struct {
	in       *instance
	parent   context.Context
	call     *call // its state, for callFrom; nil while the instance starts
	deadline time.Time
	timer    *time.Timer
	unhook   func() bool // stops the parent's AfterFunc; nil when the parent cannot end

	mu   sync.Mutex
	done chan struct{}
	err  error
}

// begin starts a call on in, with state c (nil while the instance starts),
// under parent and for at most limit, and returns its context; end ends
// it.
func (in *instance) begin(parent context.Context, limit time.Duration, c *call) *callContext {
	cc := in.ctx
	if cc == nil {
		cc = &callContext{in: in, done: make(chan struct{})}
		cc.timer = time.AfterFunc(limit, func() { cc.cancel(context.DeadlineExceeded) })
		in.ctx = cc
	}
	cc.parent, cc.call = parent, c
	cc.deadline = time.Now().Add(limit)
	if d, ok := parent.Deadline(); ok && d.Before(cc.deadline) {
		cc.deadline = d
	}
	cc.timer.Reset(time.Until(cc.deadline))
	if parent.Done() != nil {
		cc.unhook = context.AfterFunc(parent, func() { cc.cancel(context.Cause(parent)) })
	}
	return cc
}

// end ends the call and reports whether its context ended, or may yet end
// (the timer or the parent's hook has fired): the guest may have been
// stopped, and the instance must go.
func (cc *callContext) end() (ended bool) {
	ended = !cc.timer.Stop()
	if cc.unhook != nil && !cc.unhook() {
		ended = true
	}
	ended = ended || cc.Err() != nil
	cc.parent, cc.call, cc.unhook = nil, nil, nil
	return ended
}

// cancel ends the context with err and stops the guest.
func (cc *callContext) cancel(err error) {
	cc.mu.Lock()
	if cc.err == nil {
		cc.err = err
		close(cc.done)
	}
	cc.mu.Unlock()
	cc.in.halt()
}

func (cc *callContext) Deadline() (time.Time, bool) { return cc.deadline, true }

func (cc *callContext) Done() <-chan struct{} { return cc.done }

// Err is the context's error, or the parent's: its hook runs on a
// goroutine of its own, and the parent's end must show at once, as in a
// context derived the usual way (a host function that checks Err right
// after the caller canceled).
func (cc *callContext) Err() error {
	cc.mu.Lock()
	err := cc.err
	cc.mu.Unlock()
	if err == nil && cc.parent != nil {
		err = cc.parent.Err()
	}
	return err
}

func (cc *callContext) Value(key any) any {
	if _, ok := key.(callKey); ok {
		if cc.call == nil {
			return nil // typed nil would read as a call
		}
		return cc.call
	}
	if p := cc.parent; p != nil {
		return p.Value(key)
	}
	return nil
}
