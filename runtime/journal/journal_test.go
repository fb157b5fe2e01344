package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// testCtx is the deadline every test runs under.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatalf("open db: %v", err)
	}
	return db
}

// env is one on-disk database with a journal over it, reopenable.
type env struct {
	t    testing.TB
	dir  string
	opts Options
	db   *badger.DB
	j    *Journal
}

func newEnv(t testing.TB, opts Options) *env {
	e := &env{t: t, dir: t.TempDir(), opts: opts}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	e.db = openDB(e.t, e.dir)
	j, err := Open(e.db, e.opts)
	if err != nil {
		e.db.Close()
		e.t.Fatalf("open journal: %v", err)
	}
	e.j = j
}

func (e *env) close() {
	if e.j != nil {
		if err := e.j.Close(); err != nil {
			e.t.Errorf("close journal: %v", err)
		}
		e.j = nil
	}
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			e.t.Errorf("close db: %v", err)
		}
		e.db = nil
	}
}

func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

func ev(id string) *event.Event {
	return &event.Event{
		ID: id, Type: event.TypeMessage, Vendor: event.VendorQuntool, Account: "wx-self", Time: 1686708146000,
		Conversation: &event.Conversation{ID: "S:1_2", Kind: event.ConversationPrivate},
		Message:      &event.Message{ID: id, Kind: event.KindText, Text: "hello " + id, From: &event.Party{ID: "1"}},
		Raw:          json.RawMessage(`{"id":"` + id + `"}`),
	}
}

func evs(ids ...string) []*event.Event {
	out := make([]*event.Event, len(ids))
	for i, id := range ids {
		out[i] = ev(id)
	}
	return out
}

func mustAppend(t testing.TB, j *Journal, evs ...*event.Event) []bool {
	t.Helper()
	fresh, err := j.Append(testCtx(t), evs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return fresh
}

func seqs(evs []*event.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func ids(evs []*event.Event) string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return strings.Join(out, ",")
}

func TestAppendDedupe(t *testing.T) {
	t.Parallel()
	type step struct {
		ids   []string
		fresh []bool
		seqs  []uint64 // Seq after the append; 0 for duplicates
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"new events are numbered in order", []step{
			{[]string{"a", "b", "c"}, []bool{true, true, true}, []uint64{1, 2, 3}},
		}},
		{"repeat inside one append", []step{
			{[]string{"a", "a", "b", "a"}, []bool{true, false, true, false}, []uint64{1, 0, 2, 0}},
		}},
		{"repeat of an earlier append", []step{
			{[]string{"a"}, []bool{true}, []uint64{1}},
			{[]string{"a", "b"}, []bool{false, true}, []uint64{0, 2}},
			{[]string{"b", "a"}, []bool{false, false}, []uint64{0, 0}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Options{})
			for i, s := range tc.steps {
				in := evs(s.ids...)
				fresh := mustAppend(t, e.j, in...)
				if fmt.Sprint(fresh) != fmt.Sprint(s.fresh) {
					t.Errorf("step %d: fresh = %v, want %v", i, fresh, s.fresh)
				}
				if got := seqs(in); fmt.Sprint(got) != fmt.Sprint(s.seqs) {
					t.Errorf("step %d: seqs = %v, want %v", i, got, s.seqs)
				}
			}
			var stored int
			for _, s := range tc.steps {
				for _, f := range s.fresh {
					if f {
						stored++
					}
				}
			}
			if got := e.j.Head(); got != uint64(stored) {
				t.Errorf("Head = %d, want %d", got, stored)
			}
		})
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	bad := ev("bad-raw")
	bad.Raw = json.RawMessage(`{not json`)
	tests := []struct {
		name string
		evs  []*event.Event
	}{
		{"nil event", []*event.Event{ev("ok"), nil}},
		{"empty id", []*event.Event{{Type: event.TypeUnknown, Vendor: "wework"}}},
		{"id too long", []*event.Event{ev(strings.Repeat("x", MaxIDBytes+1))}},
		{"raw is not json", []*event.Event{bad}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.j.Append(testCtx(t), tc.evs)
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
	if h := e.j.Head(); h != 0 {
		t.Errorf("Head = %d after refused appends, want 0", h)
	}
	if fresh, err := e.j.Append(testCtx(t), nil); err != nil || len(fresh) != 0 {
		t.Errorf("empty append = %v, %v; want empty, nil", fresh, err)
	}
}

func TestAppendStampsReceived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	a, b := ev("a"), ev("b")
	b.Received = 42
	before := time.Now().UnixMilli()
	mustAppend(t, e.j, a, b)
	if a.Received < before || a.Received > time.Now().UnixMilli() {
		t.Errorf("Received = %d, want the append time (>= %d)", a.Received, before)
	}
	if b.Received != 42 {
		t.Errorf("Received = %d, want the caller's 42 kept", b.Received)
	}
}

func TestDedupeAndSeqSurviveReopen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	mustAppend(t, e.j, evs("a", "b", "c")...)
	e.reopen()
	if h := e.j.Head(); h != 3 {
		t.Fatalf("Head after reopen = %d, want 3", h)
	}
	in := evs("c", "d", "a", "e")
	fresh := mustAppend(t, e.j, in...)
	if want := []bool{false, true, false, true}; fmt.Sprint(fresh) != fmt.Sprint(want) {
		t.Errorf("fresh = %v, want %v", fresh, want)
	}
	if in[1].Seq != 4 || in[3].Seq != 5 {
		t.Errorf("seqs after reopen = %d, %d; want 4, 5", in[1].Seq, in[3].Seq)
	}
	got, err := e.j.Read(1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "a,b,c,d,e" || fmt.Sprint(seqs(got)) != "[1 2 3 4 5]" {
		t.Errorf("Read = %s %v, want a..e numbered 1..5", ids(got), seqs(got))
	}
}

// gatedSync holds the first sync until the test opens the gate, so the
// test can line requests up behind it.
type gatedSync struct {
	db      func() *badger.DB
	calls   atomic.Int64
	entered chan struct{}
	gate    chan struct{}
}

func newGatedSync() *gatedSync {
	return &gatedSync{entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedSync) sync() error {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.gate
	}
	return g.db().Sync()
}

// gatedEnv is an env whose first sync blocks on the gate.
func gatedEnv(t *testing.T) (*env, *gatedSync) {
	g := newGatedSync()
	e := &env{t: t, dir: t.TempDir()}
	g.db = func() *badger.DB { return e.db }
	e.opts = Options{sync: g.sync}
	e.open()
	t.Cleanup(e.close)
	return e, g
}

// appendAsync appends in a goroutine; the result arrives on the channel.
func appendAsync(ctx context.Context, j *Journal, evs ...*event.Event) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := j.Append(ctx, evs)
		ch <- err
	}()
	return ch
}

// waitQueued waits until n requests are queued behind the blocked batch.
func waitQueued(t *testing.T, j *Journal, n int) {
	t.Helper()
	ctx := testCtx(t)
	for len(j.reqs) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("only %d of %d requests queued", len(j.reqs), n)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestGroupCommitSharesOneSync(t *testing.T) {
	t.Parallel()
	e, g := gatedEnv(t)
	ctx := testCtx(t)
	first := appendAsync(ctx, e.j, ev("first"))
	<-g.entered // batch 1 is syncing and holds the committer

	const appenders = 64
	results := make(chan []bool, appenders)
	errs := make(chan error, appenders)
	for i := range appenders {
		go func() {
			fresh, err := e.j.Append(ctx, evs(fmt.Sprintf("e%02d", i)))
			results <- fresh
			errs <- err
		}()
	}
	waitQueued(t, e.j, appenders)
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatalf("first append: %v", err)
	}
	for range appenders {
		if err := <-errs; err != nil {
			t.Fatalf("append: %v", err)
		}
		if fresh := <-results; len(fresh) != 1 || !fresh[0] {
			t.Errorf("fresh = %v, want [true]", fresh)
		}
	}
	st := e.j.Stats()
	if st.Syncs != 2 || st.Batches != 2 {
		t.Errorf("syncs = %d, batches = %d for %d appends; want 2 and 2 (one for the first, one shared)",
			st.Syncs, st.Batches, appenders+1)
	}
	if st.Requests != appenders+1 || st.Stored != appenders+1 {
		t.Errorf("stats = %+v, want %d requests and events", st, appenders+1)
	}
	if h := e.j.Head(); h != appenders+1 {
		t.Errorf("Head = %d, want %d", h, appenders+1)
	}
}

func TestDuplicateInOneBatch(t *testing.T) {
	t.Parallel()
	e, g := gatedEnv(t)
	ctx := testCtx(t)
	first := appendAsync(ctx, e.j, ev("first"))
	<-g.entered
	type res struct {
		fresh []bool
		err   error
	}
	out := make(chan res, 2)
	for range 2 {
		go func() {
			fresh, err := e.j.Append(ctx, evs("same"))
			out <- res{fresh, err}
		}()
	}
	waitQueued(t, e.j, 2)
	close(g.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var news int
	for range 2 {
		r := <-out
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.fresh[0] {
			news++
		}
	}
	if news != 1 {
		t.Errorf("%d of two appends of one id in one batch were new, want 1", news)
	}
	if st := e.j.Stats(); st.Batches != 2 || st.Duplicates != 1 {
		t.Errorf("stats = %+v, want 2 batches and 1 duplicate", st)
	}
}

func TestConcurrentAppendersGetUniqueSeqs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	const appenders, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, appenders)
	for a := range appenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := e.j.Append(testCtx(t), evs(fmt.Sprintf("a%d-%d", a, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := e.j.Read(1, appenders*each+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != appenders*each {
		t.Fatalf("read %d events, want %d", len(got), appenders*each)
	}
	for i, x := range got {
		if x.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d, want %d", i, x.Seq, i+1)
		}
	}
	if st := e.j.Stats(); st.Syncs >= appenders*each {
		t.Errorf("%d syncs for %d concurrent appends: nothing was shared", st.Syncs, appenders*each)
	}
}

func TestCancelledWaitStillWrites(t *testing.T) {
	t.Parallel()
	e, g := gatedEnv(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	res := appendAsync(ctx, e.j, ev("x"))
	<-g.entered
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(g.gate)
	if err := e.j.Wait(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	if fresh := mustAppend(t, e.j, ev("x")); fresh[0] {
		t.Error("the event of a cancelled append was not written")
	}
}

func TestSyncFailureIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	var fail atomic.Bool
	fail.Store(true)
	e := &env{t: t, dir: t.TempDir()}
	e.opts = Options{sync: func() error {
		if fail.Load() {
			return boom
		}
		return e.db.Sync()
	}}
	e.open()
	t.Cleanup(e.close)
	if _, err := e.j.Append(testCtx(t), evs("a")); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the sync error", err)
	}
	fail.Store(false)
	// The retry is a duplicate, acknowledged only after a good sync.
	if fresh := mustAppend(t, e.j, ev("a")); fresh[0] {
		t.Error("retry after a failed sync stored the event twice")
	}
	if st := e.j.Stats(); st.Syncs != 2 {
		t.Errorf("syncs = %d, want 2 (the failed one, then one for the duplicate)", st.Syncs)
	}
	if got, _ := e.j.Read(1, 10); len(got) != 1 {
		t.Errorf("read %d events, want 1", len(got))
	}
}

func TestAppendTooLarge(t *testing.T) {
	t.Parallel()
	e, g := gatedEnv(t)
	ctx := testCtx(t)
	big := func(id string) *event.Event {
		x := ev(id)
		// Just under Badger's value threshold, so each counts in full
		// against the transaction size (15% of the 32 MiB memtable).
		x.Raw = json.RawMessage(`"` + strings.Repeat("x", 900<<10) + `"`)
		return x
	}
	first := appendAsync(ctx, e.j, ev("first"))
	<-g.entered
	// Alone each fits; together they need two transactions of one batch.
	// Queued one after the other, so that their order is known.
	half1 := appendAsync(ctx, e.j, big("h1"), big("h2"), big("h3"))
	waitQueued(t, e.j, 1)
	half2 := appendAsync(ctx, e.j, big("h4"), big("h5"), big("h6"))
	waitQueued(t, e.j, 2)
	var huge []*event.Event
	for i := range 8 {
		huge = append(huge, big(fmt.Sprintf("huge%d", i)))
	}
	tooBig := appendAsync(ctx, e.j, huge...)
	waitQueued(t, e.j, 3)
	close(g.gate)
	for _, ch := range []<-chan error{first, half1, half2} {
		if err := <-ch; err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := <-tooBig; !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	got, err := e.j.Read(1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "first,h1,h2,h3,h4,h5,h6" {
		t.Errorf("stored %s", ids(got))
	}
	if st := e.j.Stats(); st.Batches != 2 || st.Commits != 3 || st.Syncs != 2 {
		t.Errorf("stats = %+v, want 2 batches, 3 transactions (the second batch split), 2 syncs", st)
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{RingSize: 4})
	var in []*event.Event
	for i := 1; i <= 10; i++ {
		x := ev(fmt.Sprintf("e%02d", i))
		in = append(in, x)
		mustAppend(t, e.j, x) // one by one: the ring holds 7..10
	}
	tests := []struct {
		name      string
		from      uint64
		max       int
		want      string // seqs
		fromRing  string // which of them are the appended objects
		wantError error
	}{
		{"all, disk then ring", 1, 100, "[1 2 3 4 5 6 7 8 9 10]", "[7 8 9 10]", nil},
		{"from 0 means from the start", 0, 3, "[1 2 3]", "[]", nil},
		{"disk only", 2, 3, "[2 3 4]", "[]", nil},
		{"across the boundary", 5, 4, "[5 6 7 8]", "[7 8]", nil},
		{"ring only", 8, 2, "[8 9]", "[8 9]", nil},
		{"at head", 10, 5, "[10]", "[10]", nil},
		{"past head", 11, 5, "[]", "[]", nil},
		{"zero max", 1, 0, "", "", ErrInvalidArgument},
		{"negative max", 1, -1, "", "", ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.j.Read(tc.from, tc.max)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("err = %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(seqs(got)); s != tc.want {
				t.Errorf("seqs = %s, want %s", s, tc.want)
			}
			var ring []uint64
			for _, x := range got {
				orig := in[x.Seq-1]
				if x == orig {
					ring = append(ring, x.Seq)
					continue
				}
				a, _ := json.Marshal(x)
				b, _ := json.Marshal(orig)
				if !bytes.Equal(a, b) {
					t.Errorf("event %d from disk = %s, want %s", x.Seq, a, b)
				}
			}
			if s := fmt.Sprint(ring); s != tc.fromRing {
				t.Errorf("served from the ring: %s, want %s", s, tc.fromRing)
			}
		})
	}
}

func TestReadAfterReopenComesFromDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	in := evs("a", "b", "c")
	mustAppend(t, e.j, in...)
	e.reopen()
	got, err := e.j.Read(2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "b,c" || got[0] == in[1] {
		t.Fatalf("Read = %s (same objects: %v), want b,c decoded from disk", ids(got), got[0] == in[1])
	}
	if got[0].Message == nil || got[0].Message.Text != "hello b" || got[0].Conversation.ID != "S:1_2" {
		t.Errorf("decoded event = %+v, fields lost", got[0])
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := testCtx(t)
	mustAppend(t, e.j, ev("a"))
	if err := e.j.Wait(ctx, 0); err != nil {
		t.Fatalf("Wait for an existing event: %v", err)
	}
	woke := make(chan error, 1)
	go func() { woke <- e.j.Wait(ctx, 1) }()
	mustAppend(t, e.j, ev("b"))
	if err := <-woke; err != nil {
		t.Fatalf("Wait woke with %v", err)
	}

	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.j.Wait(short, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v, want context.Canceled", err)
	}

	closed := make(chan error, 1)
	go func() { closed <- e.j.Wait(ctx, 2) }()
	if err := e.j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; !errors.Is(err, ErrClosed) {
		t.Errorf("Wait across Close = %v, want ErrClosed", err)
	}
	if _, err := e.j.Append(ctx, evs("c")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := e.j.Read(1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := e.j.Reject("wework", "", nil, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Reject after Close = %v, want ErrClosed", err)
	}
}

func TestRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	bodies := []string{`{"a":`, "not json", "\x00\xff binary"}
	for i, b := range bodies {
		if err := e.j.Reject(fmt.Sprintf("v%d", i), "127.0.0.1:9", []byte(b), "not valid JSON"); err != nil {
			t.Fatal(err)
		}
	}
	e.reopen()
	tests := []struct {
		name  string
		limit int
		want  []int // indexes into bodies, newest first
	}{
		{"default limit", 0, []int{2, 1, 0}},
		{"limit", 2, []int{2, 1}},
		{"over the count", 50, []int{2, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.j.Rejected(tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				r := got[i]
				if r.Vendor != fmt.Sprintf("v%d", w) || string(r.Body) != bodies[w] || r.Remote != "127.0.0.1:9" ||
					r.Reason != "not valid JSON" || r.Received == 0 {
					t.Errorf("entry %d = %+v, want body %q from v%d", i, r, bodies[w], w)
				}
			}
		})
	}
	if h := e.j.Head(); h != 0 {
		t.Errorf("rejects changed the event head to %d", h)
	}
}

func TestRetentionExpiresEventsAndDedupeKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Retention: time.Second, RingSize: 1, FlushInterval: time.Hour})
	p, err := e.j.Consumer("p")
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, e.j, evs("a", "b", "c")...)
	ctx := testCtx(t)
	for {
		got, err := e.j.Read(1, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 { // a and b are gone from disk; c is still in the ring
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("events did not expire: %s", ids(got))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if fresh := mustAppend(t, e.j, ev("a")); !fresh[0] {
		t.Error("an expired id is still a duplicate")
	}
	// The consumer waits at 1, whose event expired: once it marks the new
	// event 4 done, the flusher moves it past the gap.
	p.Done(4)
	if p.Start() != 1 {
		t.Fatalf("Start = %d before the flush, want 1", p.Start())
	}
	if err := e.j.FlushProgress(); err != nil {
		t.Fatal(err)
	}
	if p.Start() != 5 {
		t.Errorf("Start = %d after the flush, want 5 (1..3 expired, 4 done)", p.Start())
	}
	e.reopen()
	if h := e.j.Head(); h != 4 {
		t.Errorf("Head after reopen = %d, want 4 (kept past expiry)", h)
	}
	fresh := mustAppend(t, e.j, ev("z"))
	if !fresh[0] || e.j.Head() != 5 {
		t.Errorf("next append: fresh %v, head %d; want a new event 5", fresh, e.j.Head())
	}
}
