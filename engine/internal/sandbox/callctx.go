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
	in     *instance
	timer  *time.Timer
	unhook func() bool // stops the parent's AfterFunc; nil when the parent cannot end

	// Guarded by mu, since contexts derived from this one may outlive the
	// call on goroutines of their own (net/http's connection reader
	// cancels a request's context after the response, and looks up its
	// parent's values as it does) while the next call begins.
	mu       sync.Mutex
	parent   context.Context
	call     *call // its state, for callFrom; nil while the instance starts
	deadline time.Time
	done     chan struct{}
	err      error
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
	deadline := time.Now().Add(limit)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cc.mu.Lock()
	cc.parent, cc.call, cc.deadline = parent, c, deadline
	cc.mu.Unlock()
	cc.timer.Reset(time.Until(deadline))
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
	cc.unhook = nil
	cc.mu.Lock()
	cc.parent, cc.call = nil, nil
	cc.mu.Unlock()
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

func (cc *callContext) Deadline() (time.Time, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.deadline, true
}

func (cc *callContext) Done() <-chan struct{} { return cc.done }

// Err is the context's error, or the parent's: its hook runs on a
// goroutine of its own, and the parent's end must show at once, as in a
// context derived the usual way (a host function that checks Err right
// after the caller canceled).
func (cc *callContext) Err() error {
	cc.mu.Lock()
	err, parent := cc.err, cc.parent
	cc.mu.Unlock()
	if err == nil && parent != nil {
		err = parent.Err()
	}
	return err
}

func (cc *callContext) Value(key any) any {
	cc.mu.Lock()
	c, parent := cc.call, cc.parent
	cc.mu.Unlock()
	if _, ok := key.(callKey); ok {
		if c == nil {
			return nil // typed nil would read as a call
		}
		return c
	}
	if parent != nil {
		return parent.Value(key)
	}
	return nil
}
