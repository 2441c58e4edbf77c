package sandbox

import (
	"context"
	"sync"
)

// pool keeps at most size instances of one module: idle ones wait in idle,
// and slots holds a token for every live instance, idle or busy.
type pool struct {
	idle  chan *instance
	slots chan struct{}

	mu     sync.Mutex
	closed bool
}

func newPool(size int) *pool {
	return &pool{idle: make(chan *instance, size), slots: make(chan struct{}, size)}
}

// get returns an idle instance, or creates one while fewer than size are
// live, or waits for one to be returned, until ctx is done. create has its
// own deadline.
func (p *pool) get(ctx context.Context, create func() (*instance, error)) (*instance, error) {
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	select {
	case in := <-p.idle:
		return in, nil
	case p.slots <- struct{}{}:
		in, err := create()
		if err != nil {
			<-p.slots
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns in to the pool, or discards it when keep is false or the pool
// is closed. It never blocks: idle has room for every live instance.
func (p *pool) put(ctx context.Context, in *instance, keep bool) {
	p.mu.Lock()
	keep = keep && !p.closed
	if keep {
		p.idle <- in
	}
	p.mu.Unlock()
	if !keep {
		in.close(ctx)
		<-p.slots
	}
}

// close discards the idle instances; busy ones are discarded when put back.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case in := <-p.idle:
			in.close(ctx)
			<-p.slots
		default:
			return
		}
	}
}
