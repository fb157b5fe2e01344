package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// countingVendor answers every send with a msgId naming its content and
// how many times that content came; content "refused" is refused for good
// the first time; sends wait while hold is closed... unless hold is nil.
type countingVendor struct {
	mu    sync.Mutex
	calls map[string]int
	hold  chan struct{}
}

func (v *countingVendor) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	content, _ := c.Args["content"].(string)
	v.mu.Lock()
	v.calls[content]++
	n := v.calls[content]
	hold := v.hold
	v.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if content == "refused" && n == 1 {
		return nil, &bindings.VendorError{Vendor: "quntool", Code: -1, Message: "no such conversation"}
	}
	return json.RawMessage(fmt.Sprintf(`{"msgId":"%s-%d"}`, content, n)), nil
}

func (v *countingVendor) count(content string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls[content]
}

// delivery is the context of one delivery of event id to plugin p; again:
// it may have been delivered before.
func delivery(ctx context.Context, id string, again bool) context.Context {
	return bindings.WithRedelivery(ctx, "p/"+id, again)
}

// A handler run again for the same event (after a crash, or a retry)
// makes the same sends in the same order: the outbox answers those the
// earlier run made with the vendor's first answer, without sending them
// again, and sends the rest; across a restart too.
func TestRepeatedSendsAreNotMadeAgain(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	db := openDB(t, t.TempDir())
	v := &countingVendor{calls: map[string]int{}}
	rec := &recorder{}
	ob := start(t, db, Options{Next: v, Registry: w.reg, Observer: rec, MaxAttempts: 1})

	first := delivery(ctx, "ev1", false)
	a, err := ob.Invoke(first, text(acct1, cust1, "hello"))
	if err != nil || string(a) != `{"msgId":"hello-1"}` {
		t.Fatalf("first send: %s, %v", a, err)
	}
	waitFor(t, ctx, "the send's answer in the store", func() bool {
		a, id, err := ob.earlier("p/ev1#1")
		return err == nil && a != nil && id == ""
	})

	again := delivery(ctx, "ev1", true)
	a, err = ob.Invoke(again, text(acct1, cust1, "hello"))
	if err != nil || string(a) != `{"msgId":"hello-1"}` {
		t.Errorf("repeated send answered %s, %v; want the first answer", a, err)
	}
	if n := v.count("hello"); n != 1 {
		t.Errorf("the vendor got hello %d times, want 1", n)
	}
	// The second send of the delivery is new: it goes out.
	if a, err := ob.Invoke(again, text(acct1, cust1, "more")); err != nil || string(a) != `{"msgId":"more-1"}` {
		t.Errorf("a send the first run did not make: %s, %v", a, err)
	}
	// Another event's first send is its own.
	if _, err := ob.Invoke(delivery(ctx, "ev2", true), text(acct1, cust1, "hello")); err != nil || v.count("hello") != 2 {
		t.Errorf("another event's send: %v, vendor got hello %d times, want 2", err, v.count("hello"))
	}
	// A delivery not marked as a possible repeat is not looked up.
	if _, err := ob.Invoke(delivery(ctx, "ev1", false), text(acct1, cust1, "hello")); err != nil || v.count("hello") != 3 {
		t.Errorf("a first delivery: %v, vendor got hello %d times, want 3", err, v.count("hello"))
	}
	st := mustStats(t, ob)
	if st.Repeated != 1 || st.Sent != 4 {
		t.Errorf("stats %+v, want 1 repeated and 4 sent", st)
	}

	// After a restart, the answer is still there (the last one given
	// under the key: the unchecked first delivery above).
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	ob = start(t, db, Options{Next: v, Registry: w.reg, MaxAttempts: 1})
	a, err = ob.Invoke(delivery(ctx, "ev1", true), text(acct1, cust1, "hello"))
	if err != nil || string(a) != `{"msgId":"hello-3"}` || v.count("hello") != 3 {
		t.Errorf("after a restart: %s, %v, vendor got hello %d times; want the answer hello-3 and 3", a, err, v.count("hello"))
	}

	// A send refused for good is forgotten: the next delivery tries again.
	var dead *DeadError
	if _, err := ob.Invoke(delivery(ctx, "ev3", false), text(acct1, cust1, "refused")); !errors.As(err, &dead) {
		t.Fatalf("refused send: err = %v, want a *DeadError", err)
	}
	a, err = ob.Invoke(delivery(ctx, "ev3", true), text(acct1, cust1, "refused"))
	if err != nil || string(a) != `{"msgId":"refused-2"}` {
		t.Errorf("the dead send delivered again: %s, %v; want it sent again", a, err)
	}
	if st := mustStats(t, ob); st.Repeated != 1 {
		t.Errorf("stats after the restart %+v, want 1 repeated", st)
	}
}

// A send still pending when its event is delivered again is not stored a
// second time: the repeat answers queued, with the pending entry's id;
// after a restart too (the entry is loaded with its key).
func TestRepeatedPendingSendIsQueued(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	v := &countingVendor{calls: map[string]int{}, hold: make(chan struct{})}
	db := openDB(t, "")
	ob := start(t, db, Options{Next: v, Registry: w.reg})

	short, cancel := context.WithTimeout(delivery(ctx, "ev1", false), 50*time.Millisecond)
	defer cancel()
	a, err := ob.Invoke(short, text(acct1, cust1, "hello"))
	var q struct {
		Queued bool   `json:"queued"`
		ID     string `json:"outbox_id"`
	}
	if err != nil || json.Unmarshal(a, &q) != nil || !q.Queued {
		t.Fatalf("first send: %s, %v; want a queued answer", a, err)
	}
	a, err = ob.Invoke(delivery(ctx, "ev1", true), text(acct1, cust1, "hello"))
	if err != nil || string(a) != string(queuedAnswer(q.ID)) {
		t.Errorf("repeat of a pending send: %s, %v; want %s", a, err, queuedAnswer(q.ID))
	}
	if st := mustStats(t, ob); st.Pending != 1 || st.Repeated != 1 {
		t.Errorf("stats %+v, want 1 pending and 1 repeated", st)
	}

	// Stopped with the send still with the vendor: the next run loads it.
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	ob = start(t, db, Options{Next: v, Registry: w.reg})
	a, err = ob.Invoke(delivery(ctx, "ev1", true), text(acct1, cust1, "hello"))
	if err != nil || string(a) != string(queuedAnswer(q.ID)) {
		t.Errorf("repeat after a restart: %s, %v; want %s", a, err, queuedAnswer(q.ID))
	}
	close(v.hold)
	waitFor(t, ctx, "the send", func() bool { return mustStats(t, ob).Sent == 1 })
	if st := mustStats(t, ob); st.Pending != 0 || st.Repeated != 1 || st.Resent != 1 {
		t.Errorf("stats of the second run %+v, want nothing pending, 1 repeated, 1 re-sent", st)
	}
}

// Sends made outside an event have no key and are never taken for
// repeats.
func TestUnkeyedSendsAreAlwaysMade(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	v := &countingVendor{calls: map[string]int{}}
	ob := start(t, openDB(t, ""), Options{Next: v, Registry: w.reg})
	for _, c := range []context.Context{ctx, ctx, bindings.WithRedelivery(ctx, "", true), bindings.WithRedelivery(ctx, "", true)} {
		if _, err := ob.Invoke(c, text(acct1, cust1, "hello")); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.count("hello"); n != 4 {
		t.Errorf("the vendor got hello %d times, want 4", n)
	}
}

// Between the vendor's answer and the commit of the batch that stores it,
// the answer is in memory: a repeat in that window is still answered
// from it (a redelivered handler racing a resumed send after a restart).
func TestAnswerKeptUntilStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ob := start(t, openDB(t, ""), Options{Next: &countingVendor{calls: map[string]int{}}, Registry: w.reg})
	e := &entry{Entry: Entry{ID: formatID(42), Key: "p/7#1"}}
	ob.mu.Lock()
	ob.track(e)
	ob.mu.Unlock()
	if a, id, err := ob.earlier("p/7#1"); err != nil || string(a) != string(queuedAnswer(e.ID)) || id != e.ID {
		t.Fatalf("pending: %s, %s, %v; want a queued answer", a, id, err)
	}
	var wr write
	ob.mu.Lock()
	ob.answered(e, json.RawMessage(`{"msgId":"m1"}`), &wr)
	ob.mu.Unlock()
	if a, _, err := ob.earlier("p/7#1"); err != nil || string(a) != `{"msgId":"m1"}` {
		t.Fatalf("answered, not yet stored: %s, %v; want the answer", a, err)
	}
	if len(wr.keep) != 1 || wr.after == nil {
		t.Fatalf("the write does not store the answer: %+v", wr)
	}
	// The write was never committed (the test holds it): once its commit
	// has run, memory forgets the key and only the store answers.
	wr.after()
	if a, _, err := ob.earlier("p/7#1"); err != nil || a != nil {
		t.Fatalf("after the commit of a write that did not reach the store: %s, %v; want nothing", a, err)
	}
	if err := ob.w.submit(write{keep: wr.keep}, true); err != nil {
		t.Fatal(err)
	}
	if a, _, err := ob.earlier("p/7#1"); err != nil || string(a) != `{"msgId":"m1"}` {
		t.Fatalf("stored: %s, %v; want the answer", a, err)
	}
}

// An entry is stored without what its key says (id, state) and without a
// zero attempt count, and reads back whole.
func TestStoredEntryIsCompact(t *testing.T) {
	t.Parallel()
	for _, attempts := range []int{0, 2} {
		e := Entry{ID: formatID(7), State: Pending, Plugin: "p", Vendor: "quntool", Method: "msg.text",
			Args: map[string]any{"content": "hi"}, Attempts: attempts, Key: "p/1#1"}
		b, err := encodeEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{`"id"`, `"state"`} {
			if bytes.Contains(b, []byte(field)) {
				t.Errorf("stored %s has %s", b, field)
			}
		}
		if got := bytes.Contains(b, []byte(`"attempts"`)); got != (attempts > 0) {
			t.Errorf("stored %s: attempts present = %v, want %v", b, got, attempts > 0)
		}
		back, err := decodeEntry(stateKey(Pending, e.ID), b)
		if err != nil {
			t.Fatal(err)
		}
		if back.ID != e.ID || back.State != Pending || back.Attempts != attempts || back.Key != e.Key || back.Args["content"] != "hi" {
			t.Errorf("read back %+v, want %+v", back, e)
		}
	}
}
