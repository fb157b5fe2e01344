package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

const (
	acct1 = "1688850000000001"
	acct2 = "1688850000000002"
	cust1 = "7881300000000001"
	cust2 = "7881300000000002"
)

// testCtx bounds a test.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// world is the quntool simulator (two accounts, two customers each, no
// send interval) behind a registry.
type world struct {
	sim *sim.Sim
	reg *bindings.Registry
	api string // the simulator's API base URL
}

func newWorld(t testing.TB) *world {
	t.Helper()
	s := sim.New(sim.Options{SendInterval: -1, HourlyCorpCap: -1})
	t.Cleanup(s.Close)
	return newWorldOn(t, s)
}

// newWorldOn seeds s with the accounts and customers and serves it.
func newWorldOn(t testing.TB, s *sim.Sim) *world {
	t.Helper()
	for _, a := range []string{acct1, acct2} {
		if _, err := s.Seed(sim.Account{WxID: a}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{cust1, cust2} {
			if err := s.AddContact(a, sim.Contact{UserID: c}); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	reg := bindings.NewRegistry()
	client := quntool.NewClient(quntool.Config{BaseURL: srv.URL + sim.APIPrefix, HTTP: srv.Client(), Timeout: 5 * time.Second})
	if err := reg.Add(quntool.Vendor(client)); err != nil {
		t.Fatal(err)
	}
	return &world{sim: s, reg: reg, api: srv.URL + sim.APIPrefix}
}

// text is a quntool text send from account to customer.
func text(account, customer, content string) bindings.Call {
	return bindings.Call{Plugin: "p", Vendor: "quntool", Method: "msg.text",
		Args: map[string]any{"wxId": account, "conversationId": "S:" + account + "_" + customer, "content": content}}
}

// openDB opens a database in dir ("" for in memory) closed at cleanup
// unless the test closed it.
func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := storage.Open(dir, storage.Options{InMemory: dir == ""})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !db.IsClosed() {
			_ = db.Close()
		}
	})
	return db
}

// start opens and starts an outbox, closed at cleanup.
func start(t testing.TB, db *badger.DB, o Options) *Outbox {
	t.Helper()
	ob, err := Open(db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ob
}

// flaky fails the first n calls of each content (of content only, when
// set) with err, then passes them to next.
type flaky struct {
	next    bindings.Invoker
	err     error
	n       int
	content string

	mu    sync.Mutex
	tries map[string][]time.Time
}

func newFlaky(next bindings.Invoker, n int, err error) *flaky {
	return &flaky{next: next, n: n, err: err, tries: map[string][]time.Time{}}
}

func (f *flaky) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	key := fmt.Sprint(c.Args["content"])
	f.mu.Lock()
	f.tries[key] = append(f.tries[key], time.Now())
	fail := len(f.tries[key]) <= f.n && (f.content == "" || f.content == key)
	f.mu.Unlock()
	if fail {
		return nil, f.err
	}
	return f.next.Invoke(ctx, c)
}

func (f *flaky) triesOf(content string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.tries[content]...)
}

// recorder is an Observer that counts.
type recorder struct {
	mu                   sync.Mutex
	sent, recovered      int
	retrying, deadLetter int
	attempts             []int
}

func (r *recorder) Sent(_ Entry, recovered bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	if recovered {
		r.recovered++
	}
}

func (r *recorder) Retrying(e Entry, _ error, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retrying++
	r.attempts = append(r.attempts, e.Attempts)
}

// retryAttempts are the entries' attempt counts at each retry.
func (r *recorder) retryAttempts() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.attempts...)
}

func (r *recorder) Repeated(bindings.Call, string, string) {}

func (r *recorder) Dead(Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deadLetter++
}

func (r *recorder) counts() (sent, recovered, retrying, dead int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent, r.recovered, r.retrying, r.deadLetter
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

func mustStats(t testing.TB, o *Outbox) Stats {
	t.Helper()
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
