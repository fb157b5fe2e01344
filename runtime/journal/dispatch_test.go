package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/dispatch"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/journal"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// adapter presents a Journal as the dispatcher's journal.
type adapter struct {
	*journal.Journal
	t *testing.T
}

func (a adapter) Progress(name string) (dispatch.Progress, error) {
	return a.Consumer(name)
}

// handler records what it handles; block holds events until released.
type handler struct {
	mu      sync.Mutex
	got     map[string][]uint64 // per conversation, in handling order
	n       int
	want    int
	all     chan struct{}
	block   func(*event.Event) bool
	release chan struct{}
}

func newHandler(want int) *handler {
	return &handler{got: map[string][]uint64{}, want: want, all: make(chan struct{}), release: make(chan struct{})}
}

func (h *handler) Wants(*event.Event) bool { return true }
func (h *handler) Close() error            { return nil }
func (h *handler) Handle(ctx context.Context, ev *event.Event) error {
	if h.block != nil && h.block(ev) {
		<-h.release
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got[ev.Conversation.ID] = append(h.got[ev.Conversation.ID], ev.Seq)
	h.n++
	if h.n == h.want {
		close(h.all)
	}
	return nil
}

func (h *handler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func conversationEvent(i int) *event.Event {
	conv := fmt.Sprintf("R:room%d", i%5)
	return &event.Event{
		ID: fmt.Sprintf("quntool:wx:%d", i), Type: event.TypeMessage, Vendor: event.VendorQuntool, Account: "wx",
		Conversation: &event.Conversation{ID: conv, Kind: event.ConversationGroup},
		Message:      &event.Message{ID: fmt.Sprint(i), Kind: event.KindText, Text: "hi"},
		Raw:          json.RawMessage(`{}`),
	}
}

// TestDispatcherOverJournal runs the dispatcher on a real journal: every
// event is delivered in per-conversation order, and an event still in
// flight at shutdown is delivered again after a restart.
func TestDispatcherOverJournal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(db, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Consumer("rec"); err != nil {
		t.Fatal(err)
	}
	const total = 100
	var in []*event.Event
	for i := range total {
		in = append(in, conversationEvent(i))
	}
	if _, err := j.Append(ctx, in); err != nil {
		t.Fatal(err)
	}

	// First run: event 50 (room4) hangs, so it and the later events of
	// its conversation are not done at shutdown.
	var again []uint64
	for s := uint64(50); s <= total; s += 5 {
		again = append(again, s)
	}
	h := newHandler(total - len(again))
	h.block = func(ev *event.Event) bool { return ev.Seq == 50 }
	d := dispatch.New(adapter{j, t}, dispatch.Options{})
	spec := &plugin.Spec{Timeout: time.Minute}
	if err := d.Set("rec", spec, h); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.all:
	case <-ctx.Done():
		t.Fatalf("handled %d events before the deadline", h.count())
	}
	stopCtx, stopCancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if err := d.Stop(stopCtx); err == nil {
		t.Error("Stop with an event in flight reported nothing")
	}
	stopCancel()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: exactly the events of the stuck conversation from 50 on
	// come again.
	db, err = storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	j, err = journal.Open(db, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	p, err := j.Consumer("rec")
	if err != nil {
		t.Fatal(err)
	}
	if p.Start() != 50 {
		t.Errorf("watermark after restart = %d, want 50", p.Start())
	}
	h2 := newHandler(len(again))
	d2 := dispatch.New(adapter{j, t}, dispatch.Options{})
	if err := d2.Set("rec", spec, h2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h2.all:
	case <-ctx.Done():
		t.Fatalf("redelivered %d of %d events", h2.count(), len(again))
	}
	if err := d2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h2.got["R:room4"]; fmt.Sprint(got) != fmt.Sprint(again) || len(h2.got) != 1 {
		t.Errorf("redelivered %v, want %v in room4 only", h2.got, again)
	}
	for conv, seqs := range h.got {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("%s handled out of order: %v", conv, seqs)
				break
			}
		}
	}
	if p.Start() != total+1 {
		t.Errorf("watermark at the end = %d, want %d", p.Start(), total+1)
	}
}
