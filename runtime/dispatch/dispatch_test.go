package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// memJournal is an in-memory Journal.
type memJournal struct {
	mu       sync.Mutex
	evs      []*event.Event
	changed  chan struct{}
	progress map[string]*memProgress
}

func newMemJournal() *memJournal {
	return &memJournal{changed: make(chan struct{}), progress: map[string]*memProgress{}}
}

func (j *memJournal) add(evs ...*event.Event) {
	j.mu.Lock()
	for _, ev := range evs {
		ev.Seq = uint64(len(j.evs) + 1)
		j.evs = append(j.evs, ev)
	}
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

func (j *memJournal) Read(from uint64, max int) ([]*event.Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if from == 0 {
		from = 1
	}
	var out []*event.Event
	for i := from; i <= uint64(len(j.evs)) && len(out) < max; i++ {
		out = append(out, j.evs[i-1])
	}
	return out, nil
}

func (j *memJournal) Wait(ctx context.Context, after uint64) error {
	for {
		j.mu.Lock()
		n, ch := uint64(len(j.evs)), j.changed
		j.mu.Unlock()
		if n > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (j *memJournal) Progress(name string) (Progress, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	p, ok := j.progress[name]
	if !ok {
		p = &memProgress{done: map[uint64]bool{}}
		j.progress[name] = p
	}
	return p, nil
}

// prog is the progress of name, for assertions.
func (j *memJournal) prog(name string) *memProgress {
	p, _ := j.Progress(name)
	return p.(*memProgress)
}

func (j *memJournal) Forget(name string) error {
	j.mu.Lock()
	delete(j.progress, name)
	j.mu.Unlock()
	return nil
}

type memProgress struct {
	mu   sync.Mutex
	done map[uint64]bool
}

func (p *memProgress) Start() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := uint64(1)
	for p.done[s] {
		s++
	}
	return s
}
func (p *memProgress) IsDone(seq uint64) bool { p.mu.Lock(); defer p.mu.Unlock(); return p.done[seq] }
func (p *memProgress) Done(seq uint64)        { p.mu.Lock(); p.done[seq] = true; p.mu.Unlock() }
func (p *memProgress) count() int             { p.mu.Lock(); defer p.mu.Unlock(); return len(p.done) }

// recorder is a Handler that records what it handled.
type recorder struct {
	name   string
	wants  func(*event.Event) bool
	handle func(ctx context.Context, ev *event.Event) error
	mu     sync.Mutex
	got    []*event.Event
	closed atomic.Bool
	gotCh  chan *event.Event
}

func (r *recorder) Wants(ev *event.Event) bool {
	if r.wants == nil {
		return true
	}
	return r.wants(ev)
}

func (r *recorder) Handle(ctx context.Context, ev *event.Event) error {
	if r.closed.Load() {
		return plugin.ErrClosed
	}
	var err error
	if r.handle != nil {
		err = r.handle(ctx, ev)
	}
	r.mu.Lock()
	r.got = append(r.got, ev)
	r.mu.Unlock()
	if r.gotCh != nil {
		r.gotCh <- ev
	}
	return err
}

func (r *recorder) Close() error { r.closed.Store(true); return nil }

func spec() *plugin.Spec { return &plugin.Spec{Timeout: 2 * time.Second} }

func msg(conv string, n int) *event.Event {
	return &event.Event{ID: fmt.Sprintf("%s-%d", conv, n), Type: event.TypeMessage, Vendor: "quntool", Account: "a",
		Conversation: &event.Conversation{ID: conv}, Message: &event.Message{Kind: "text", Text: fmt.Sprint(n)}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestOrderPerConversationConcurrencyAcross(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	d := New(j, Options{})
	defer d.Stop(context.Background())

	release := make(chan struct{})
	blockedA := make(chan struct{}, 1)
	var inA atomic.Int32
	r := &recorder{handle: func(ctx context.Context, ev *event.Event) error {
		if ev.Conversation.ID == "S:A" {
			if inA.Add(1) > 1 {
				return errors.New("two events of one conversation ran at once")
			}
			defer inA.Add(-1)
			if ev.Message.Text == "0" {
				blockedA <- struct{}{}
				<-release
			}
		}
		return nil
	}}
	if err := d.Set("p", spec(), r); err != nil {
		t.Fatal(err)
	}
	j.add(msg("S:A", 0), msg("S:A", 1), msg("S:B", 0), msg("S:B", 1))
	<-blockedA
	// A is blocked on its first event; B must still be handled completely.
	waitFor(t, "conversation B while A blocks", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, ev := range r.got {
			if ev.Conversation.ID == "S:B" {
				n++
			}
		}
		return n == 2
	})
	close(release)
	waitFor(t, "all four", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) == 4 })
	var order []string
	for _, ev := range r.got {
		if ev.Conversation.ID == "S:A" {
			order = append(order, ev.Message.Text)
		}
	}
	if fmt.Sprint(order) != "[0 1]" {
		t.Fatalf("conversation A out of order: %v", order)
	}
	waitFor(t, "progress", func() bool { return j.prog("p").count() == 4 })
}

func TestUnwantedEventsAreMarkedDone(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	d := New(j, Options{})
	defer d.Stop(context.Background())
	r := &recorder{wants: func(ev *event.Event) bool { return ev.Conversation.ID == "S:yes" }}
	_ = d.Set("p", spec(), r)
	j.add(msg("S:no", 1), msg("S:yes", 1), msg("S:no", 2))
	waitFor(t, "progress of all three", func() bool { return j.prog("p").count() == 3 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 1 || r.got[0].Conversation.ID != "S:yes" {
		t.Fatalf("handled %v", r.got)
	}
}

// Handlers run under a context marked for redelivery: what they send is
// made again if a crash loses it before the event is marked done. Every
// attempt names its sends the same way (plugin, event id, number), so the
// outbox can tell a send an earlier attempt made.
func TestHandleContextIsMarkedRedelivered(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	d := New(j, Options{})
	defer d.Stop(context.Background())
	type seen struct {
		marked     bool
		key1, key2 string
		again      bool
	}
	attempts := make(chan seen, 4)
	var n atomic.Int32
	r := &recorder{handle: func(ctx context.Context, ev *event.Event) error {
		k1, again := bindings.SendKey(ctx)
		k2, _ := bindings.SendKey(ctx)
		attempts <- seen{bindings.Redelivered(ctx), k1, k2, again}
		if ev.ID == "S:a-1" && n.Add(1) == 1 {
			return errors.New("fail the first attempt")
		}
		return nil
	}}
	sp := spec()
	sp.Retries = 1
	_ = d.Set("p", sp, r)
	// S:a-1 is received now and fails its first attempt; S:a-2 was
	// received before the dispatcher started (by a previous run).
	ev, old := msg("S:a", 1), msg("S:a", 2)
	ev.Received = time.Now().UnixMilli() + 1
	old.Received = time.Now().UnixMilli() - 60_000
	j.add(ev)
	j.add(old)
	for i, want := range []struct {
		id, seq string
		again   bool
	}{{ev.ID, "1", false}, {ev.ID, "1", true}, {old.ID, "2", true}} {
		select {
		case s := <-attempts:
			if !s.marked {
				t.Errorf("delivery %d: Handle's context is not marked for redelivery", i+1)
			}
			if k := "p/" + want.seq + "#1"; s.key1 != k || s.key2 != "p/"+want.seq+"#2" {
				t.Errorf("delivery %d: send keys %q, %q; want %q and #2", i+1, s.key1, s.key2, k)
			}
			if s.again != want.again {
				t.Errorf("delivery %d of %s: marked as a possible repeat = %v, want %v", i+1, want.id, s.again, want.again)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d: the event was not handled", i+1)
		}
	}
}

func TestRetriesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprint("retries=", retries), func(t *testing.T) {
			t.Parallel()
			j := newMemJournal()
			d := New(j, Options{})
			defer d.Stop(context.Background())
			var calls atomic.Int32
			r := &recorder{handle: func(context.Context, *event.Event) error {
				calls.Add(1)
				return errors.New("boom")
			}}
			sp := spec()
			sp.Retries = retries
			_ = d.Set("p", sp, r)
			j.add(msg("S:x", 1), msg("S:x", 2))
			waitFor(t, "both done", func() bool { return j.prog("p").count() == 2 })
			if got := int(calls.Load()); got != 2*(retries+1) {
				t.Fatalf("calls = %d, want %d", got, 2*(retries+1))
			}
		})
	}
}

func TestResumeFromProgress(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	j.add(msg("S:x", 1), msg("S:x", 2), msg("S:y", 1))
	j.prog("p").Done(1) // handled before a crash; 2 and 3 were not
	d := New(j, Options{})
	defer d.Stop(context.Background())
	r := &recorder{}
	_ = d.Set("p", spec(), r)
	waitFor(t, "two redelivered", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.got) == 2 })
	for _, ev := range r.got {
		if ev.Seq == 1 {
			t.Fatal("a done event was delivered again")
		}
	}
}

// TestSwapUnderStream reloads a plugin many times while events flow: every
// event is handled exactly once, by one version, and retired versions are
// closed only after their events returned.
func TestSwapUnderStream(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	d := New(j, Options{})
	defer d.Stop(context.Background())

	var mu sync.Mutex
	seen := map[uint64]int{}
	var closedWhileBusy atomic.Bool
	mk := func() *recorder {
		r := &recorder{}
		r.handle = func(ctx context.Context, ev *event.Event) error {
			if r.closed.Load() {
				closedWhileBusy.Store(true)
			}
			time.Sleep(50 * time.Microsecond)
			mu.Lock()
			seen[ev.Seq]++
			mu.Unlock()
			return nil
		}
		return r
	}
	_ = d.Set("p", spec(), mk())
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i++ {
			j.add(msg(fmt.Sprintf("S:%d", i%17), i))
		}
	}()
	var versions []*recorder
	for i := 0; i < 30; i++ {
		r := mk()
		versions = append(versions, r)
		if err := d.Set("p", spec(), r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	<-done
	waitFor(t, "all events", func() bool { return j.prog("p").count() == total })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != total {
		t.Fatalf("handled %d distinct events, want %d", len(seen), total)
	}
	for seq, n := range seen {
		if n != 1 {
			t.Fatalf("event %d handled %d times", seq, n)
		}
	}
	if closedWhileBusy.Load() {
		t.Fatal("a version was closed while it still handled an event")
	}
	for _, r := range versions[:len(versions)-1] {
		if !r.closed.Load() {
			t.Fatal("a retired version was never closed")
		}
	}
}

func TestRemoveAndStop(t *testing.T) {
	t.Parallel()
	j := newMemJournal()
	d := New(j, Options{})
	r := &recorder{gotCh: make(chan *event.Event, 1)}
	_ = d.Set("p", spec(), r)
	j.add(msg("S:x", 1))
	<-r.gotCh
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Remove(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if !r.closed.Load() {
		t.Fatal("removed plugin not closed")
	}
	if len(d.Plugins()) != 0 {
		t.Fatal("plugin still listed")
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Set("q", spec(), &recorder{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Set after Stop = %v", err)
	}
}
