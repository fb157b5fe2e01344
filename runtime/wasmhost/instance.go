package wasmhost

import (
	"context"
	"fmt"
	"sync"
)

// instance is one module instance with the tail of what its guest wrote
// to stdout/stderr. Owned by one Handle at a time.
type instance struct {
	mi  moduleInstance
	out *tailBuffer
}

// newInstance creates an instance of the version's module.
func (h *handler) newInstance(ctx context.Context) (*instance, error) {
	out := &tailBuffer{max: guestTailBytes}
	mi, err := h.mod.instance(ctx, out)
	if err != nil {
		return nil, err
	}
	return &instance{mi: mi, out: out}, nil
}

// get takes an idle instance or creates one.
func (h *handler) get(ctx context.Context) (*instance, error) {
	select {
	case inst := <-h.idle:
		return inst, nil
	default:
	}
	return h.newInstance(ctx)
}

// put returns a healthy instance to the pool, or closes it when the pool
// is full or the version closed.
func (h *handler) put(inst *instance) {
	if h.closed.Load() {
		inst.discard()
		return
	}
	select {
	case h.idle <- inst:
	default:
		inst.discard()
	}
}

// call runs the entry export on input; the guest output buffer starts
// empty for each call. When ctx ends first the instance is killed, which
// stops the guest soon after (engine.go: kill). The guest runs under a context
// without cancellation: with one, the runtime would start a watcher
// goroutine for every call the guest makes into the Extism kernel.
func (i *instance) call(ctx context.Context, input []byte) ([]byte, error) {
	i.out.reset()
	stop := context.AfterFunc(ctx, i.mi.kill)
	out, err := i.mi.call(context.WithoutCancel(ctx), entryExport, input)
	if !stop() {
		// Killed (or being killed): whatever the guest returned is void.
		return nil, fmt.Errorf("stopped: %w", context.Cause(ctx))
	}
	return out, err
}

// tail is what the guest wrote during its last call.
func (i *instance) tail() string { return i.out.String() }

// discard closes the instance; it is never used again.
func (i *instance) discard() { _ = i.mi.close(context.Background()) }

// tailBuffer keeps the first and the last max/2 bytes written to it: a Go
// runtime puts the reason of a fatal error first and goroutine dumps after
// it. Safe for concurrent use (the guest writes from the call's goroutine,
// errors read it after).
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	head []byte
	tail []byte
	cut  bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := t.max/2 - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.tail = append(t.tail, p...)
	if over := len(t.tail) - t.max/2; over > 0 {
		t.tail = append(t.tail[:0], t.tail[over:]...)
		t.cut = true
	}
	return n, nil
}

func (t *tailBuffer) reset() {
	t.mu.Lock()
	t.head, t.tail, t.cut = t.head[:0], t.tail[:0], false
	t.mu.Unlock()
}

// String is the kept output, marked where its middle was cut.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cut {
		return string(t.head) + "\n...\n" + string(t.tail)
	}
	return string(t.head) + string(t.tail)
}
