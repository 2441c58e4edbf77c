package sandbox

import (
	"context"
	"sync"
)

// pool keeps at most size instances of one module: idle ones wait in idle,
// and slots holds a token for every live instance, idle or busy. An
// instance of an older generation than the pool's (see drain) is not kept.
type pool struct {
	idle  chan *instance
	slots chan struct{}

	mu     sync.Mutex
	closed bool
	gen    int
}

func newPool(size int) *pool {
	return &pool{idle: make(chan *instance, size), slots: make(chan struct{}, size)}
}

// idleOne returns an idle instance, or nil if none is idle now.
func (p *pool) idleOne() *instance {
	select {
	case in := <-p.idle:
		return in
	default:
		return nil
	}
}

// get returns an idle instance, or creates one while fewer than size are
// live, or waits for one to be returned, until ctx is done. create has its
// own deadline.
func (p *pool) get(ctx context.Context, create func() (*instance, error)) (*instance, error) {
	if in := p.idleOne(); in != nil {
		return in, nil
	}
	select {
	case in := <-p.idle:
		return in, nil
	case p.slots <- struct{}{}:
		p.mu.Lock()
		gen := p.gen
		p.mu.Unlock()
		in, err := create()
		if err != nil {
			<-p.slots
			return nil, err
		}
		in.gen = gen
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns in to the pool, or discards it when keep is false, the pool
// is closed or was drained since in was created. It never blocks: idle has
// room for every live instance.
func (p *pool) put(ctx context.Context, in *instance, keep bool) {
	p.mu.Lock()
	keep = keep && !p.closed && in.gen == p.gen
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
	p.discardIdle(ctx)
}

// drain discards the instances that exist now, the idle ones at once and
// the busy ones when they are put back; later calls get new instances. It is
// how a vault that forgot its keys also forgets the copies its instances'
// memory may hold.
func (p *pool) drain(ctx context.Context) {
	p.mu.Lock()
	p.gen++
	p.mu.Unlock()
	p.discardIdle(ctx)
}

func (p *pool) discardIdle(ctx context.Context) {
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
