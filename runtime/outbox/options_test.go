package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

// TestWithConfig: the outbox section of the configuration sets the
// retry settings.
func TestWithConfig(t *testing.T) {
	t.Parallel()
	o := Options{Workers: 3}.WithConfig(config.Outbox{MaxAttempts: 7, BackoffMS: 250, MaxBackoffMS: 9000})
	if o.MaxAttempts != 7 || o.Backoff != 250*time.Millisecond || o.MaxBackoff != 9*time.Second || o.Workers != 3 {
		t.Errorf("options %+v", o)
	}
	d := Options{}.WithConfig(config.Default().Outbox)
	if d.MaxAttempts != DefaultMaxAttempts || d.Backoff != DefaultBackoff || d.MaxBackoff != DefaultMaxBackoff {
		t.Errorf("the default configuration gives %+v, want the package defaults", d)
	}
}

// TestWorkersBound: with Workers set, no more sends than that are with
// Next at once, whatever the number of conversations.
func TestWorkersBound(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	var now, peak atomic.Int32
	next := bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		defer now.Add(-1)
		time.Sleep(2 * time.Millisecond) // hold the slot so callers overlap
		return w.reg.Invoke(ctx, c)
	})
	ob := start(t, openDB(t, ""), Options{Next: next, Registry: w.reg, Workers: 2})
	var wg sync.WaitGroup
	for _, a := range []string{acct1, acct2} {
		for _, c := range []string{cust1, cust2} {
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := ob.Invoke(ctx, text(a, c, "x")); err != nil {
						t.Error(err)
					}
				}()
			}
		}
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency %d, want at most 2", p)
	}
	if n := len(w.sim.Sent()); n != 12 {
		t.Errorf("%d sent, want 12", n)
	}
}

// TestParseState: the state names the CLI and admin API take.
func TestParseState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want State
		err  bool
	}{
		{"", Pending, false},
		{"pending", Pending, false},
		{" DEAD ", Dead, false},
		{"sent", "", true},
	} {
		got, err := ParseState(tc.in)
		if got != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrBadRequest)) {
			t.Errorf("ParseState(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// TestIsQueued tells queued answers from vendor answers.
func TestIsQueued(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data, id string
		ok             bool
	}{
		{"queued", string(queuedAnswer("00000000000000ab")), "00000000000000ab", true},
		{"vendor answer", `{"msgId":"1"}`, "", false},
		{"queued false", `{"queued":false,"outbox_id":"1"}`, "", false},
		{"no id", `{"queued":true}`, "", false},
		{"not JSON", `{"queued":true,`, "", false},
		{"empty", ``, "", false},
	} {
		id, ok := IsQueued(json.RawMessage(tc.data))
		if id != tc.id || ok != tc.ok {
			t.Errorf("%s: IsQueued = %q, %v; want %q, %v", tc.name, id, ok, tc.id, tc.ok)
		}
	}
}

// TestUnreadableEntrySkipped: a record that does not decode is skipped
// (and can be dropped); the others still go out.
func TestUnreadableEntrySkipped(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	db := openDB(t, "")
	first, err := Open(db, Options{Next: w.reg, Registry: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := first.Invoke(gone, text(acct1, cust1, "good")); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	const badID = "0000000000000001"
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(stateKey(Pending, badID), []byte("{not json")) }); err != nil {
		t.Fatal(err)
	}
	ob := start(t, db, Options{Next: w.reg, Registry: w.reg})
	if _, err := w.sim.WaitSent(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the good entry's delete", func() bool {
		l, err := ob.List(Pending, 0)
		return err == nil && len(l) == 0
	})
	if st := mustStats(t, ob); st.Pending != 1 {
		t.Errorf("pending %d, want the unreadable record still counted", st.Pending)
	}
	if err := ob.Drop(badID); err != nil {
		t.Errorf("drop the unreadable record: %v", err)
	}
	if st := mustStats(t, ob); st.Pending != 0 {
		t.Errorf("pending %d after the drop, want 0", st.Pending)
	}
}
