package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/limits"
)

// TestStoreThenSend: a send is on disk before the vendor sees it, the
// caller gets the vendor's answer, and the entry is gone afterwards.
func TestStoreThenSend(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	db := openDB(t, "")
	var ob *Outbox
	storedBeforeSend := make(chan bool, 1)
	next := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		st, err := ob.Stats()
		storedBeforeSend <- err == nil && st.Pending == 1
		return w.reg.Invoke(ctx, c)
	})
	rec := &recorder{}
	ob = start(t, db, Options{Next: next, Registry: w.reg, Observer: rec})

	data, err := ob.Invoke(ctx, text(acct1, cust1, "hello"))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if !<-storedBeforeSend {
		t.Error("the send was not stored before it went out")
	}
	var answer struct {
		MsgID string `json:"msgId"`
	}
	if err := json.Unmarshal(data, &answer); err != nil || answer.MsgID == "" {
		t.Errorf("answer %s: want the vendor's {msgId} (%v)", data, err)
	}
	if _, queued := IsQueued(data); queued {
		t.Errorf("answer %s is a queued answer", data)
	}
	sent := w.sim.Sent()
	if len(sent) != 1 || sent[0].Content != "hello" {
		t.Fatalf("simulator got %+v, want one send of hello", sent)
	}
	waitFor(t, ctx, "the entry's delete", func() bool { return mustStats(t, ob).Pending == 0 })
	st := mustStats(t, ob)
	if st.Sent != 1 || st.Resent != 0 || st.Dead != 0 {
		t.Errorf("stats %+v: want sent 1, resent 0, dead 0", st)
	}
	if s, r, _, _ := rec.counts(); s != 1 || r != 0 {
		t.Errorf("observer saw %d sent, %d recovered; want 1, 0", s, r)
	}
}

// TestSyncedUnlessRedelivered: a send made outside any event is synced
// before it goes out; one made while handling a journaled event is only
// committed (its event comes again after a crash), and stored all the
// same.
func TestSyncedUnlessRedelivered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		ctx       func(context.Context) context.Context
		wantSyncs bool
	}{
		{"top level", func(ctx context.Context) context.Context { return ctx }, true},
		{"handling an event", func(ctx context.Context) context.Context { return bindings.WithRedelivery(ctx, "p/ev1", false) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			w := newWorld(t)
			db := openDB(t, "")
			var ob *Outbox
			var syncs atomic.Int32
			syncsBeforeSend := make(chan int32, 1)
			storedBeforeSend := make(chan bool, 1)
			next := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
				syncsBeforeSend <- syncs.Load()
				st, err := ob.Stats()
				storedBeforeSend <- err == nil && st.Pending == 1
				return w.reg.Invoke(ctx, c)
			})
			ob, err := Open(db, Options{Next: next, Registry: w.reg})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ob.Close() })
			ob.w.sync = func() error { syncs.Add(1); return db.Sync() }
			if err := ob.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := ob.Invoke(tc.ctx(ctx), text(acct1, cust1, "hello")); err != nil {
				t.Fatalf("invoke: %v", err)
			}
			if got := <-syncsBeforeSend; (got > 0) != tc.wantSyncs {
				t.Errorf("%d syncs before the send went out, want synced = %v", got, tc.wantSyncs)
			}
			if !<-storedBeforeSend {
				t.Error("the send was not stored before it went out")
			}
			if got := len(w.sim.Sent()); got != 1 {
				t.Errorf("simulator got %d sends, want 1", got)
			}
		})
	}
}

// TestQueriesPassThrough: a Query-class call, or one of an unknown
// endpoint, goes straight to Next and is not stored.
func TestQueriesPassThrough(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	var query *bindings.Endpoint
	for _, ep := range w.reg.Endpoints() {
		if ep.Class == bindings.Query {
			query = ep
			break
		}
	}
	if query == nil {
		t.Fatal("the registry has no query endpoint")
	}
	var passed []string
	next := bindings.InvokerFunc(func(_ context.Context, c bindings.Call) (json.RawMessage, error) {
		passed = append(passed, c.String())
		return json.RawMessage(`{"ok":true}`), nil
	})
	ob := start(t, openDB(t, ""), Options{Next: next, Registry: w.reg})
	for _, c := range []bindings.Call{
		{Vendor: query.Vendor, Method: query.Name, Args: map[string]any{}},
		{Vendor: "quntool", Method: "no.such.method"},
	} {
		data, err := ob.Invoke(ctx, c)
		if err != nil || string(data) != `{"ok":true}` {
			t.Errorf("%s: %s, %v: want Next's answer", c, data, err)
		}
	}
	if len(passed) != 2 {
		t.Errorf("Next saw %v, want both calls", passed)
	}
	if st := mustStats(t, ob); st.Pending != 0 || st.Sent != 0 {
		t.Errorf("stats %+v after queries: want nothing stored or counted", st)
	}
}

// TestBadArgumentsRefusedBeforeStoring: a call that fails the endpoint's
// checks is answered with the ArgumentError and never stored.
func TestBadArgumentsRefusedBeforeStoring(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	ob := start(t, openDB(t, ""), Options{Next: w.reg, Registry: w.reg})
	c := text(acct1, cust1, "x")
	delete(c.Args, "content")
	_, err := ob.Invoke(ctx, c)
	var ae *bindings.ArgumentError
	if !errors.As(err, &ae) || ae.Param != "content" {
		t.Fatalf("err %v: want an ArgumentError about content", err)
	}
	if st := mustStats(t, ob); st.Pending != 0 {
		t.Errorf("pending %d: want the bad call not stored", st.Pending)
	}
}

// TestRestartResumes: sends stored by a run that stopped before sending
// them go out, in order, when the next run starts; the caller whose
// context ended got a queued answer.
func TestRestartResumes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	dir := t.TempDir()
	db := openDB(t, dir)
	first, err := Open(db, Options{Next: w.reg, Registry: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	// Never started: the calls are stored and their callers give up.
	var ids []string
	for i := range 3 {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		data, err := first.Invoke(cctx, text(acct1, cust1, fmt.Sprint("m", i)))
		cancel()
		id, queued := IsQueued(data)
		if err != nil || !queued {
			t.Fatalf("invoke %d: %s, %v: want a queued answer", i, data, err)
		}
		ids = append(ids, id)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(w.sim.Sent()); n != 0 {
		t.Fatalf("%d sends before the restart, want 0", n)
	}

	db = openDB(t, dir)
	rec := &recorder{}
	second := start(t, db, Options{Next: w.reg, Registry: w.reg, Observer: rec})
	sent, err := w.sim.WaitSent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sent {
		if want := fmt.Sprint("m", i); s.Content != want {
			t.Errorf("send %d is %q, want %q", i, s.Content, want)
		}
	}
	waitFor(t, ctx, "the entries' deletes", func() bool { return mustStats(t, second).Pending == 0 })
	if st := mustStats(t, second); st.Resent != 3 {
		t.Errorf("resent %d, want 3", st.Resent)
	}
	if _, r, _, _ := rec.counts(); r != 3 {
		t.Errorf("observer saw %d recovered sends, want 3", r)
	}
	if ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Errorf("ids %v are not increasing", ids)
	}
}

// TestCrashAfterSendResendsOnce: the vendor accepted a send, then the
// process died before the entry's delete: after the restart it goes out
// exactly once more (at least once, never lost).
func TestCrashAfterSendResendsOnce(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	dir := t.TempDir()
	db := openDB(t, dir)
	delivered := make(chan struct{})
	// The vendor gets the send; the answer never comes back before the
	// process stops.
	hang := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		if _, err := w.reg.Invoke(context.Background(), c); err != nil {
			return nil, err
		}
		close(delivered)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	first, err := Open(db, Options{Next: hang, Registry: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	answered := make(chan json.RawMessage, 1)
	go func() {
		data, _ := first.Invoke(ctx, text(acct1, cust1, "once"))
		answered <- data
	}()
	select {
	case <-delivered:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, queued := IsQueued(<-answered); !queued {
		t.Error("the caller of a send cut off by Close did not get a queued answer")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, dir)
	second := start(t, db, Options{Next: w.reg, Registry: w.reg})
	sent, err := w.sim.WaitSent(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the resent entry's delete", func() bool { return mustStats(t, second).Pending == 0 })
	if len(w.sim.Sent()) != 2 || sent[0].Content != "once" || sent[1].Content != "once" {
		t.Errorf("simulator got %+v: want the send twice (once before the crash, once after)", w.sim.Sent())
	}
	if st := mustStats(t, second); st.Resent != 1 || st.Sent != 1 {
		t.Errorf("stats %+v: want sent 1, resent 1", st)
	}
}

// TestTransientRetry: transient failures are retried with a doubling
// backoff, then the send succeeds and the caller gets the answer. Pacing
// failures (the limiter gave up, the vendor's frequency limit) are retried
// too but not counted as attempts, so with MaxAttempts 1 they still go out.
func TestTransientRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		err          error
		pacing       bool
		wantAttempts int
	}{
		{"unreachable", fmt.Errorf("post: %w", bindings.ErrTransport), false, 3},
		{"vendor 5xx", &bindings.VendorError{Vendor: "quntool", Code: 502, HTTPStatus: 502}, false, 3},
		{"timeout", context.DeadlineExceeded, false, 3},
		{"vendor throttled", &bindings.VendorError{Vendor: "quntool", Code: bindings.CodeFrequencyLimit}, true, 0},
		{"limiter gave up", &bindings.RateLimitedError{Key: "quntool/account/1", Wait: 30 * time.Millisecond}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			w := newWorld(t)
			f := newFlaky(w.reg, 3, tt.err)
			rec := &recorder{}
			const base = 20 * time.Millisecond
			opts := Options{Next: f, Registry: w.reg, Backoff: base, MaxBackoff: time.Second, Observer: rec}
			if tt.pacing {
				opts.MaxAttempts = 1
			}
			ob := start(t, openDB(t, ""), opts)
			data, err := ob.Invoke(ctx, text(acct1, cust1, "retry me"))
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			if _, queued := IsQueued(data); queued || len(data) == 0 {
				t.Errorf("answer %s: want the vendor's", data)
			}
			tries := f.triesOf("retry me")
			if len(tries) != 4 {
				t.Fatalf("%d tries, want 4", len(tries))
			}
			for i := 1; i < len(tries); i++ {
				want := base << (i - 1)
				if tt.pacing {
					want = base
					var rl *bindings.RateLimitedError
					if errors.As(tt.err, &rl) {
						want = rl.Wait
					}
				}
				if gap := tries[i].Sub(tries[i-1]); gap < want {
					t.Errorf("gap before try %d is %s, want at least %s", i+1, gap, want)
				}
			}
			if got := rec.retryAttempts(); len(got) != 3 || got[2] != tt.wantAttempts {
				t.Errorf("attempts seen by the observer %v, want the last %d", got, tt.wantAttempts)
			}
			if _, _, r, d := rec.counts(); r != 3 || d != 0 {
				t.Errorf("observer saw %d retries, %d dead; want 3, 0", r, d)
			}
			if st := mustStats(t, ob); st.Retries != 3 || st.Sent != 1 {
				t.Errorf("stats %+v: want 3 retries, 1 sent", st)
			}
		})
	}
}

// TestAttemptTimeout: a try that hangs is cut off after AttemptTimeout and
// retried.
func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	var hung atomic.Bool
	next := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		if hung.CompareAndSwap(false, true) {
			<-ctx.Done()
			return nil, fmt.Errorf("post: %w", ctx.Err())
		}
		return w.reg.Invoke(ctx, c)
	})
	ob := start(t, openDB(t, ""), Options{Next: next, Registry: w.reg, AttemptTimeout: 20 * time.Millisecond,
		Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if _, err := ob.Invoke(ctx, text(acct1, cust1, "slow vendor")); err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if st := mustStats(t, ob); st.Retries != 1 || len(w.sim.Sent()) != 1 {
		t.Errorf("stats %+v, %d sent: want one retry and one send", st, len(w.sim.Sent()))
	}
}

// TestOpenRefusesBadOptions: settings that cannot work are refused.
func TestOpenRefusesBadOptions(t *testing.T) {
	t.Parallel()
	db := openDB(t, "")
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"negative attempts", Options{MaxAttempts: -1}},
		{"negative backoff", Options{Backoff: -time.Second}},
		{"max below base", Options{Backoff: time.Minute, MaxBackoff: time.Second}},
		{"negative workers", Options{Workers: -2}},
		{"negative timeout", Options{AttemptTimeout: -time.Second}},
	} {
		if _, err := Open(db, tc.o); err == nil {
			t.Errorf("%s: opened", tc.name)
		}
	}
	if _, err := Open(nil, Options{}); err == nil {
		t.Error("opened without a database")
	}
	ob, err := Open(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if err := ob.Start(context.Background()); err == nil {
		t.Error("started without Next")
	}
}

// TestDeadLetter: a send failing transiently MaxAttempts times, or
// permanently once, goes to the dead-letter list; the caller gets a
// DeadError that still describes as the vendor's error.
func TestDeadLetter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantTries int
	}{
		{"transient until max attempts", fmt.Errorf("dial: %w", bindings.ErrTransport), 3},
		{"permanent at once", &bindings.VendorError{Vendor: "quntool", Code: 4001, Message: "no such contact"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			w := newWorld(t)
			f := newFlaky(w.reg, 1000, tt.err)
			ob := start(t, openDB(t, ""), Options{Next: f, Registry: w.reg, MaxAttempts: 3,
				Backoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
			_, err := ob.Invoke(ctx, text(acct1, cust1, "doomed"))
			var de *DeadError
			if !errors.As(err, &de) {
				t.Fatalf("err %v: want a DeadError", err)
			}
			if de.Attempts != tt.wantTries || len(f.triesOf("doomed")) != tt.wantTries {
				t.Errorf("attempts %d, tries %d: want %d", de.Attempts, len(f.triesOf("doomed")), tt.wantTries)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("err %v does not unwrap to %v", err, tt.err)
			}
			if info := bindings.Describe("quntool", err); info.Vendor != "quntool" {
				t.Errorf("described as %+v", info)
			}
			waitFor(t, ctx, "the dead letter", func() bool { return mustStats(t, ob).Dead == 1 })
			dead, err := ob.List(Dead, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) != 1 || dead[0].ID != de.ID || dead[0].Attempts != tt.wantTries || dead[0].LastError == nil ||
				dead[0].State != Dead || dead[0].Args["content"] != "doomed" {
				t.Errorf("dead list %+v: want the one entry with its attempts and error", dead)
			}
			if st := mustStats(t, ob); st.Pending != 0 || st.DeadLettered != 1 {
				t.Errorf("stats %+v: want nothing pending, one dead-lettered", st)
			}
			if len(w.sim.Sent()) != 0 {
				t.Errorf("the simulator got %d sends, want 0", len(w.sim.Sent()))
			}
		})
	}
}

// TestRetryAndDrop: a dead letter retried goes out; one dropped is gone;
// unknown and malformed ids are refused.
func TestRetryAndDrop(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	f := newFlaky(w.reg, 1, &bindings.VendorError{Vendor: "quntool", Code: 4001, Message: "refused once"})
	ob := start(t, openDB(t, ""), Options{Next: f, Registry: w.reg, MaxAttempts: 1})
	var ids []string
	for _, content := range []string{"revive", "forget"} {
		_, err := ob.Invoke(ctx, text(acct1, cust1, content))
		var de *DeadError
		if !errors.As(err, &de) {
			t.Fatalf("%s: err %v, want a DeadError", content, err)
		}
		ids = append(ids, de.ID)
	}
	waitFor(t, ctx, "two dead letters", func() bool { return mustStats(t, ob).Dead == 2 })

	e, err := ob.Retry(ids[0])
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if e.State != Pending || e.Attempts != 0 {
		t.Errorf("retried entry %+v: want pending with attempts reset", e)
	}
	sent, err := w.sim.WaitSent(ctx, 1)
	if err != nil || sent[0].Content != "revive" {
		t.Fatalf("after retry the simulator got %+v (%v), want revive", sent, err)
	}
	if err := ob.Drop(ids[1]); err != nil {
		t.Fatalf("drop: %v", err)
	}
	waitFor(t, ctx, "an empty outbox", func() bool {
		st := mustStats(t, ob)
		return st.Dead == 0 && st.Pending == 0
	})

	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"dropped id", ids[1], ErrNotFound},
		{"sent id", ids[0], ErrNotFound},
		{"malformed id", "../k/x", ErrBadRequest},
		{"upper-case id", "00000000000000AB", ErrBadRequest},
	} {
		if _, err := ob.Retry(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("retry %s: err %v, want %v", tc.name, err, tc.want)
		}
		if err := ob.Drop(tc.id); !errors.Is(err, tc.want) {
			t.Errorf("drop %s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestDropPendingReleasesCaller: dropping a pending send that waits out a
// backoff removes it and answers its caller with ErrDropped; the sends
// queued behind it in the conversation then go out.
func TestDropPendingReleasesCaller(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w, ob, first := backedOff(t, ctx, "stuck")
	second := make(chan error, 1)
	go func() {
		_, err := ob.Invoke(ctx, text(acct1, cust1, "behind"))
		second <- err
	}()
	waitFor(t, ctx, "the second send stored", func() bool { return mustStats(t, ob).Pending == 2 })
	pending, err := ob.List(Pending, 0)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending %+v (%v), want 2", pending, err)
	}
	if pending[0].Attempts != 1 || pending[0].NextAttempt.IsZero() || pending[0].LastError == nil {
		t.Errorf("the failed entry %+v does not show its attempt, next attempt and error", pending[0])
	}
	if err := ob.Drop(pending[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := <-first; !errors.Is(err, ErrDropped) {
		t.Errorf("the dropped send's caller got %v, want ErrDropped", err)
	}
	if err := <-second; err != nil {
		t.Errorf("the send behind it: %v", err)
	}
	if sent := w.sim.Sent(); len(sent) != 1 || sent[0].Content != "behind" {
		t.Errorf("simulator got %+v, want only behind", sent)
	}
}

// backedOff starts an outbox whose first try of a send of content fails
// transiently, to be retried in an hour, and sends content from acct1 to
// cust1. It returns once that try failed, with the channel the caller's
// result comes on.
func backedOff(t *testing.T, ctx context.Context, content string) (*world, *Outbox, <-chan error) {
	t.Helper()
	w := newWorld(t)
	f := newFlaky(w.reg, 1, fmt.Errorf("down: %w", bindings.ErrTransport))
	f.content = content
	ob := start(t, openDB(t, ""), Options{Next: f, Registry: w.reg, Backoff: time.Hour, MaxBackoff: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := ob.Invoke(ctx, text(acct1, cust1, content))
		done <- err
	}()
	waitFor(t, ctx, "the first failure", func() bool { return mustStats(t, ob).Retries == 1 })
	return w, ob, done
}

// TestRetryPendingSkipsBackoff: Retry of a pending entry waiting out a
// long backoff sends it now.
func TestRetryPendingSkipsBackoff(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	_, ob, done := backedOff(t, ctx, "now")
	pending, err := ob.List(Pending, 1)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending %+v (%v)", pending, err)
	}
	if _, err := ob.Retry(pending[0].ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the retried send did not go out")
	}
}

// TestOrderPerConversation: sends of several conversations stored from
// concurrent callers, with failures sprinkled in, reach the vendor in the
// order each conversation stored them.
func TestOrderPerConversation(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	var mu sync.Mutex
	calls := 0
	// Every fifth call fails transiently.
	next := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		mu.Lock()
		calls++
		fail := calls%5 == 0
		mu.Unlock()
		if fail {
			return nil, bindings.ErrTransport
		}
		return w.reg.Invoke(ctx, c)
	})
	// Failures fall on whichever lane makes the fifth call, so one entry
	// can fail several times in a row: enough attempts that none is
	// dead-lettered (this test is about order, not the attempt bound).
	ob, err := Open(openDB(t, ""), Options{Next: next, Registry: w.reg, MaxAttempts: 1000,
		Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	convs := [][2]string{{acct1, cust1}, {acct1, cust2}, {acct2, cust1}, {acct2, cust2}}
	const each = 25
	gone, cancel := context.WithCancel(ctx)
	cancel() // callers that do not wait: Invoke stores and answers queued
	var wg sync.WaitGroup
	for _, c := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if data, err := ob.Invoke(gone, text(c[0], c[1], fmt.Sprint(i))); err != nil {
					t.Errorf("invoke: %v (%s)", err, data)
				}
			}
		}()
	}
	wg.Wait()
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sim.WaitSent(ctx, len(convs)*each); err != nil {
		t.Fatalf("%v; outbox %+v", err, mustStats(t, ob))
	}
	next2 := map[string]int{}
	for _, s := range w.sim.Sent() {
		want := next2[s.ConversationID]
		if s.Content != fmt.Sprint(want) {
			t.Errorf("conversation %s: got %s, want %d", s.ConversationID, s.Content, want)
		}
		next2[s.ConversationID] = want + 1
	}
	if len(next2) != len(convs) {
		t.Errorf("%d conversations reached the vendor, want %d", len(next2), len(convs))
	}
	if st := mustStats(t, ob); st.Retries == 0 {
		t.Error("no send failed: the test did not exercise retries")
	}
}

// TestConversationsIndependent: a conversation held back by a failing send
// does not hold back another one of the same account.
func TestConversationsIndependent(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w, ob, _ := backedOff(t, ctx, "stuck")
	if _, err := ob.Invoke(ctx, text(acct1, cust2, "free")); err != nil {
		t.Fatalf("the other conversation's send: %v", err)
	}
	if sent := w.sim.Sent(); len(sent) != 1 || sent[0].Content != "free" {
		t.Errorf("simulator got %+v, want free", sent)
	}
}

// TestPacedByLimiter: sends through the outbox and the host limiter to a
// simulator that refuses sends closer than its interval all go out, in
// order, with no refusal, the two accounts in parallel.
func TestPacedByLimiter(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const interval = 15 * time.Millisecond
	s := sim.New(sim.Options{SendInterval: interval, HourlyCorpCap: -1})
	t.Cleanup(s.Close)
	w := newWorldOn(t, s)
	var lc config.Limits
	lc.Quntool.SendIntervalMS = int(interval / time.Millisecond)
	lc.Quntool.SendsPerHourPerCorp = 50000
	lc.MaxWaitMS = 10000
	lim, err := limits.New(limits.Options{Registry: w.reg, Rules: limits.FromConfig(lc)})
	if err != nil {
		t.Fatal(err)
	}
	ob := start(t, openDB(t, ""), Options{Next: lim.Wrap(w.reg), Registry: w.reg})
	const each = 8
	var wg sync.WaitGroup
	for _, acct := range []string{acct1, acct2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last json.RawMessage
			for i := range each {
				var err error
				if last, err = ob.Invoke(ctx, text(acct, cust1, fmt.Sprint(i))); err != nil {
					t.Errorf("send %d from %s: %v (%s)", i, acct, err, last)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := s.Violations(); v != 0 {
		t.Errorf("the simulator refused %d sends as too frequent", v)
	}
	next := map[string]int{}
	for _, sent := range s.Sent() {
		if want := fmt.Sprint(next[sent.Account]); sent.Content != want {
			t.Errorf("%s sent %s, want %s", sent.Account, sent.Content, want)
		}
		next[sent.Account]++
	}
	if next[acct1] != each || next[acct2] != each {
		t.Errorf("sent per account %v, want %d each", next, each)
	}
}
