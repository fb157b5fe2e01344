package poll

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/msgserver"
	"github.com/switchboard-dev/switchboard/bindings/msgserver/sim"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

const (
	testSecret = "poll-secret"
	corpA      = "corpA"
	staffA     = "staffA"
	staffB     = "staffB"
)

// memAppender is an in-memory Appender with the journal's semantics:
// dedupe by Event.ID, report which were new. It can be told to fail.
type memAppender struct {
	mu      sync.Mutex
	ids     map[string]bool
	events  []*event.Event // the new ones, in order
	offered int            // every event ever offered, duplicates included
	fail    int            // fail this many next calls
	changed chan struct{}  // closed and replaced on every append of new events
}

var errDiskFull = errors.New("disk full")

func newMemAppender() *memAppender {
	return &memAppender{ids: map[string]bool{}, changed: make(chan struct{})}
}

func (a *memAppender) Append(_ context.Context, evs []*event.Event) ([]bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail > 0 {
		a.fail--
		return nil, errDiskFull
	}
	fresh := make([]bool, len(evs))
	for i, ev := range evs {
		a.offered++
		if !a.ids[ev.ID] {
			a.ids[ev.ID] = true
			a.events = append(a.events, ev)
			fresh[i] = true
		}
	}
	close(a.changed)
	a.changed = make(chan struct{})
	return fresh, nil
}

func (a *memAppender) failNext(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = n
}

// snapshot answers the new events so far and how many were offered.
func (a *memAppender) snapshot() ([]*event.Event, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*event.Event(nil), a.events...), a.offered
}

// waitFor blocks until n new events have arrived or ctx ends.
func (a *memAppender) waitFor(ctx context.Context, n int) error {
	for {
		a.mu.Lock()
		got, ch := len(a.events), a.changed
		a.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// memCursors is an in-memory CursorStore that can fail its Puts.
type memCursors struct {
	mu      sync.Mutex
	m       map[string]Cursor
	failPut bool
}

var errCursor = errors.New("cursor store down")

func newMemCursors() *memCursors { return &memCursors{m: map[string]Cursor{}} }

func (c *memCursors) Get(corp, staff string) (Cursor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[corp+"/"+staff], nil
}

func (c *memCursors) Put(corp, staff string, cur Cursor) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failPut {
		return errCursor
	}
	c.m[corp+"/"+staff] = cur
	return nil
}

func (c *memCursors) seq(corp, staff string) int64 {
	cur, _ := c.Get(corp, staff)
	return cur.Seq
}

// env is a simulator behind a loopback server and a client for it.
type env struct {
	sim    *sim.Sim
	url    string
	client *msgserver.Client
}

func newEnv(t *testing.T, o sim.Options, wrap func(s *sim.Sim, next http.Handler) http.Handler) *env {
	t.Helper()
	o.Secret = testSecret
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = -1
	}
	s, err := sim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	if wrap != nil {
		h = wrap(s, h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{sim: s, url: srv.URL, client: newClient(t, srv.URL, testSecret)}
}

func newClient(t *testing.T, base, secret string) *msgserver.Client {
	t.Helper()
	c, err := msgserver.NewClient(msgserver.Config{BaseURL: base + sim.APIPrefix, Secret: secret, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// options are poller options for the env: unpaced, fast backoff.
func (e *env) options(app Appender, cur CursorStore, targets ...Target) Options {
	if len(targets) == 0 {
		targets = []Target{{CorpID: corpA, Staff: []string{staffA}}}
	}
	return Options{Client: e.client, Targets: targets, Appender: app, Cursor: cur, Sync: true,
		Interval: time.Hour, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, RequestsPerSecond: -1}
}

func newPoller(t *testing.T, o Options) *Poller {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// msgIDs are the archive msgids of events, in order.
func msgIDs(evs []*event.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Message.ID
	}
	return out
}
