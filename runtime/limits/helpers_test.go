package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
)

// testCtx bounds a test.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeClock is a manual clock: time moves only on Advance, which runs the
// timers that fall due, in order, on the caller's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

type fakeTimer struct {
	at      time.Time
	seq     int
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 3, 6, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the clock forward by d, firing due timers one by one.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if c.timers[i].at.Equal(c.timers[j].at) {
				return c.timers[i].seq < c.timers[j].seq
			}
			return c.timers[i].at.Before(c.timers[j].at)
		})
		var due *fakeTimer
		for len(c.timers) > 0 {
			t := c.timers[0]
			if t.stopped {
				c.timers = c.timers[1:]
				continue
			}
			if !t.at.After(end) {
				due = t
				c.timers = c.timers[1:]
				if t.at.After(c.now) {
					c.now = t.at
				}
				t.stopped = true
			}
			break
		}
		if due == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		due.f()
	}
}

// recorder is a fake vendor: it records the calls that reach it and
// answers with the errors queued in fail (nil: success).
type recorder struct {
	mu    sync.Mutex
	calls []bindings.Call
	fail  []error
	block chan struct{} // when set, calls wait for it to close
	got   chan string   // when set, receives each call's "plugin:tag"
}

func (r *recorder) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	var err error
	if len(r.fail) > 0 {
		err, r.fail = r.fail[0], r.fail[1:]
	}
	block, got := r.block, r.got
	r.mu.Unlock()
	if got != nil {
		got <- fmt.Sprintf("%s:%v", c.Plugin, c.Args["tag"])
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(`{"msgId":"m"}`), nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// testRegistry holds quntool's endpoint table (no client: tests put a
// recorder behind the limiter) and a small wechat and msgserver table.
func testRegistry(t testing.TB) *bindings.Registry {
	t.Helper()
	reg := bindings.NewRegistry()
	for _, v := range []bindings.Vendor{
		quntool.Vendor(nil),
		{Name: "wechat", Endpoints: []bindings.Endpoint{
			{Name: "contact.list", Method: "POST", Path: "/contact/list", AccountParam: "guid"},
			{Name: "msg.sendText", Method: "POST", Path: "/msg/sendText", AccountParam: "guid", Class: bindings.Send},
		}},
		{Name: "msgserver", Endpoints: []bindings.Endpoint{
			{Name: "chatMsg.search", Method: "GET", Path: "/chat_msg/search"},
		}},
	} {
		if err := reg.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// send is a quntool text send of account, tagged for the recorder.
func send(plugin, account string, tag any) bindings.Call {
	return bindings.Call{Plugin: plugin, Vendor: "quntool", Method: "msg.text",
		Args: map[string]any{"wxId": account, "conversationId": "S:1_2", "content": "hi", "tag": tag}}
}

// waitFor polls cond until it holds or the test's time runs out.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// waiting answers how many calls queue on key.
func waiting(l *Limiter, key string) int {
	for _, k := range l.Keys() {
		if k.Key == key {
			return k.Waiting
		}
	}
	return 0
}

// countingObserver counts what the limiter reports.
type countingObserver struct {
	mu        sync.Mutex
	waited    int
	limited   map[string]int
	throttled []time.Duration
}

func (o *countingObserver) Waited(string, time.Duration) {
	o.mu.Lock()
	o.waited++
	o.mu.Unlock()
}

func (o *countingObserver) Limited(rule string) {
	o.mu.Lock()
	if o.limited == nil {
		o.limited = map[string]int{}
	}
	o.limited[rule]++
	o.mu.Unlock()
}

func (o *countingObserver) Throttled(_, _ string, pause time.Duration) {
	o.mu.Lock()
	o.throttled = append(o.throttled, pause)
	o.mu.Unlock()
}
