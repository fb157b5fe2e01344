package poll

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/msgserver/sim"
	kvbadger "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

func TestNewMessagesArriveExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	if err := e.sim.AddStaff(corpA, staffB); err != nil {
		t.Fatal(err)
	}
	add := func(staff string, m sim.Message) {
		t.Helper()
		if _, err := e.sim.AddMessage(corpA, staff, m); err != nil {
			t.Fatal(err)
		}
	}
	add(staffA, sim.Message{MsgID: "m1", From: "cust1", Text: "hello"})
	add(staffA, sim.Message{MsgID: "m2", From: staffA, ToList: []string{"cust1"}, Text: "hi there"})
	add(staffA, sim.Message{MsgID: "m3", From: staffB, Text: "lunch?"})
	add(staffA, sim.Message{MsgID: "m4", From: "cust2", RoomID: "room1", Text: "group hello"})
	add(staffB, sim.Message{MsgID: "b1", From: "cust9", Text: "for B"})

	app, cur := newMemAppender(), newMemCursors()
	p := newPoller(t, e.options(app, cur, Target{CorpID: corpA, Staff: []string{staffA, staffB}}))
	ctx := testContext(t)
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	evs, offered := app.snapshot()
	if got := msgIDs(evs); !slices.Equal(got, []string{"m1", "m2", "m3", "m4", "b1"}) {
		t.Fatalf("appended %v, want every message oldest first per staff", got)
	}
	if offered != 5 {
		t.Errorf("%d events offered for 5 messages", offered)
	}
	byID := map[string]*event.Event{}
	for _, ev := range evs {
		byID[ev.Message.ID] = ev
	}
	if ev := byID["m2"]; !ev.Message.Self || ev.Account != staffA || ev.Vendor != "msgserver" || ev.Conversation.ID != "S:cust1_staffA" {
		t.Errorf("m2 = %+v %+v", ev, ev.Message)
	}
	if ev := byID["m4"]; ev.Conversation.ID != "R:room1" {
		t.Errorf("group message conversation = %+v", ev.Conversation)
	}
	if ev := byID["b1"]; ev.Account != staffB {
		t.Errorf("b1 account = %q", ev.Account)
	}
	if cur.seq(corpA, staffA) != 4 || cur.seq(corpA, staffB) != 5 {
		t.Errorf("cursors %d %d, want 4 5", cur.seq(corpA, staffA), cur.seq(corpA, staffB))
	}

	// Nothing new: nothing offered again.
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, offered := app.snapshot(); offered != 5 {
		t.Errorf("a round without news offered %d more events", offered-5)
	}

	// New messages in old and new sessions arrive once, after the sync.
	add(staffA, sim.Message{MsgID: "m5", From: "cust1", Text: "again"})
	add(staffA, sim.Message{MsgID: "m6", From: "cust3", Text: "new customer"})
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	evs, offered = app.snapshot()
	if got := msgIDs(evs[5:]); !slices.Equal(got, []string{"m5", "m6"}) || offered != 7 {
		t.Errorf("then appended %v (%d offered), want [m5 m6] (7)", got, offered)
	}
	if st := p.Stats(); st.Rounds != 3 || st.Appended != 7 || st.Duplicates != 0 || st.Failures != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWithoutSyncPendingStaysInvisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	if _, err := e.sim.AddMessage(corpA, staffA, sim.Message{From: "c", Text: "pending"}); err != nil {
		t.Fatal(err)
	}
	app := newMemAppender()
	o := e.options(app, newMemCursors())
	o.Sync = false
	p := newPoller(t, o)
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := app.snapshot(); len(evs) != 0 || e.sim.Requests(sim.APIPrefix+"/chat-msg/sync") != 0 {
		t.Fatalf("appended %d without a sync", len(evs))
	}
	e.sim.Sync(corpA)
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := app.snapshot(); len(evs) != 1 {
		t.Fatalf("after the vendor synced: %d events", len(evs))
	}
}

func TestPagingAcrossManyPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var msgs []sim.Message
	want := map[string]bool{}
	for i := range 230 { // one long session
		id := fmt.Sprintf("long%03d", i)
		msgs = append(msgs, sim.Message{MsgID: id, From: "talker", Text: id, Time: base.Add(time.Duration(i) * time.Second)})
		want[id] = true
	}
	for i := range 45 { // many short sessions
		id := fmt.Sprintf("short%03d", i)
		msgs = append(msgs, sim.Message{MsgID: id, From: fmt.Sprintf("cust%03d", i), Text: id, Time: base.Add(time.Duration(i) * time.Minute)})
		want[id] = true
	}
	if _, err := e.sim.Seed(corpA, staffA, msgs...); err != nil {
		t.Fatal(err)
	}
	app, cur := newMemAppender(), newMemCursors()
	o := e.options(app, cur)
	o.PageSize, o.BatchSize = 10, 32
	p := newPoller(t, o)
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	evs, offered := app.snapshot()
	if len(evs) != len(want) || offered != len(want) {
		t.Fatalf("%d new of %d offered, want %d", len(evs), offered, len(want))
	}
	prev := int64(0)
	for _, ev := range evs {
		if !want[ev.Message.ID] {
			t.Fatalf("unexpected %s", ev.Message.ID)
		}
		seq, _ := ev.Data["seq"].(int64)
		if seq <= prev {
			t.Fatalf("events out of seq order: %d after %d", seq, prev)
		}
		prev = seq
	}
	if got := cur.seq(corpA, staffA); got != int64(len(want)) {
		t.Errorf("cursor %d, want %d", got, len(want))
	}
	// 5 pages of sessions, 23 of the long session, one per short one, one
	// sync, one empty listing each of internal and group.
	if st := p.Stats(); st.Requests != 5+23+45+1+2 {
		t.Errorf("%d requests", st.Requests)
	}

	// A few more at the end of the long session: only they are read.
	more := []sim.Message{{MsgID: "late1", From: "talker", Text: "late1"}, {MsgID: "late2", From: staffA, ToList: []string{"talker"}, Text: "late2"}}
	for _, m := range more {
		if _, err := e.sim.AddMessage(corpA, staffA, m); err != nil {
			t.Fatal(err)
		}
	}
	before := p.Stats().Requests
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	evs, _ = app.snapshot()
	if got := msgIDs(evs[len(want):]); !slices.Equal(got, []string{"late1", "late2"}) {
		t.Errorf("then %v", got)
	}
	if n := p.Stats().Requests - before; n != 1+5+1+2 {
		t.Errorf("second round took %d requests, want a sync, the listing and one page of one session", n)
	}
}

func TestRestartResumesFromCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	dir := t.TempDir()
	open := func() (*KVCursors, func()) {
		db, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		store := kvbadger.New(db)
		return NewKVCursors(store.Bucket("msgserver.poll")), func() {
			if err := errors.Join(store.Close(), db.Close()); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := e.sim.Seed(corpA, staffA, sim.Message{MsgID: "a", From: "c", Text: "a"}, sim.Message{MsgID: "b", From: "c", Text: "b"}); err != nil {
		t.Fatal(err)
	}
	cursors, closeDB := open()
	first := newMemAppender()
	if err := newPoller(t, e.options(first, cursors)).Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	closeDB()
	if evs, _ := first.snapshot(); len(evs) != 2 {
		t.Fatalf("first run appended %d", len(evs))
	}

	if _, err := e.sim.AddMessage(corpA, staffA, sim.Message{MsgID: "c", From: "c", Text: "c"}); err != nil {
		t.Fatal(err)
	}
	cursors, closeDB = open()
	defer closeDB()
	if c, err := cursors.Get(corpA, staffA); err != nil || c.Seq != 2 || c.Updated == 0 {
		t.Fatalf("cursor after restart = %+v, %v", c, err)
	}
	// A fresh appender that does not know the first run's events: it
	// must be offered only what is new.
	second := newMemAppender()
	if err := newPoller(t, e.options(second, cursors)).Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	evs, offered := second.snapshot()
	if got := msgIDs(evs); !slices.Equal(got, []string{"c"}) || offered != 1 {
		t.Fatalf("after restart appended %v (%d offered), want [c]", got, offered)
	}
}

func TestCursorMovesOnlyAfterAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	if _, err := e.sim.Seed(corpA, staffA, sim.Message{MsgID: "a", From: "c"}, sim.Message{MsgID: "b", From: "c"}); err != nil {
		t.Fatal(err)
	}
	app, cur := newMemAppender(), newMemCursors()
	p := newPoller(t, e.options(app, cur))

	app.failNext(1)
	err := p.Poll(testContext(t))
	if !errors.Is(err, errDiskFull) || !transient(err) {
		t.Fatalf("Poll with a failing appender = %v", err)
	}
	if cur.seq(corpA, staffA) != 0 {
		t.Fatalf("cursor moved to %d past a failed append", cur.seq(corpA, staffA))
	}

	// Appended, but the cursor could not be saved: the next round offers
	// the same events again and the appender drops them by id.
	cur.failPut = true
	if err := p.Poll(testContext(t)); !errors.Is(err, errCursor) {
		t.Fatalf("Poll with a failing cursor store = %v", err)
	}
	cur.failPut = false
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	evs, offered := app.snapshot()
	if len(evs) != 2 || offered != 4 || cur.seq(corpA, staffA) != 2 {
		t.Fatalf("%d events, %d offered, cursor %d; want 2, 4, 2", len(evs), offered, cur.seq(corpA, staffA))
	}
	if st := p.Stats(); st.Duplicates != 2 || st.Appended != 2 || st.Failures != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestRunBacksOffOnVendorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(e *env)
		simOpt   sim.Options
		failures bool // a round fails and is retried early, not only requests
	}{
		{"internal errors", func(e *env) { e.sim.FailNext(5, sim.CodeInternal, "数据库繁忙") }, sim.Options{}, true},
		{"rate limited", func(e *env) {}, sim.Options{RequestsPerSecond: 6}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.simOpt, nil)
			// Pending: visible only once a sync got through.
			var msgs []sim.Message
			for i := range 8 {
				m := sim.Message{From: fmt.Sprintf("c%d", i), Text: "x"}
				if _, err := e.sim.AddMessage(corpA, staffA, m); err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, m)
			}
			tt.setup(e)
			app := newMemAppender()
			p := newPoller(t, e.options(app, newMemCursors()))
			ctx, cancel := context.WithCancel(testContext(t))
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- p.Run(ctx) }()
			if err := app.waitFor(testContext(t), len(msgs)); err != nil {
				t.Fatalf("messages did not arrive: %v (stats %+v)", err, p.Stats())
			}
			elapsed := time.Since(start)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
			st := p.Stats()
			if st.Retries < 1 || (st.Failures > 0) != tt.failures || (st.Rounds > 1) != tt.failures {
				t.Errorf("no backoff happened: %+v", st)
			}
			if elapsed < 10*time.Millisecond {
				t.Errorf("retried after %v, before the backoff", elapsed)
			}
			if evs, offered := app.snapshot(); len(evs) != len(msgs) || offered != len(msgs) {
				t.Errorf("%d events, %d offered", len(evs), offered)
			}
		})
	}
}

func TestRefusalsAreNotRetriedEarly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	if err := e.sim.AddStaff(corpA, staffA); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client func() Options
		check  func(err error) bool
	}{
		{"wrong secret", func() Options {
			o := e.options(newMemAppender(), newMemCursors())
			o.Client = newClient(t, e.url, "wrong")
			return o
		}, func(err error) bool { return errors.Is(err, bindings.ErrAuth) }},
		{"unknown staff", func() Options {
			return e.options(newMemAppender(), newMemCursors(), Target{CorpID: corpA, Staff: []string{"ghost"}})
		}, func(err error) bool { return strings.Contains(err.Error(), "1002") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newPoller(t, tt.client())
			err := p.Poll(testContext(t))
			if err == nil || !tt.check(err) || transient(err) {
				t.Fatalf("Poll = %v (transient %v)", err, err != nil && transient(err))
			}
			var te *TargetError
			if !errors.As(err, &te) || te.Corp != corpA || te.Transient() {
				t.Errorf("not a permanent TargetError: %#v", err)
			}
			// Run waits the full interval after a refusal.
			ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
			defer cancel()
			if err := p.Run(ctx); err != nil {
				t.Errorf("Run = %v", err)
			}
			if st := p.Stats(); st.Rounds != 2 || st.Retries != 0 {
				t.Errorf("stats %+v, want one more round and no early retry", st)
			}
		})
	}
}

func TestListingThatChangesIsReadAgain(t *testing.T) {
	t.Parallel()
	// Between the first and second page of external sessions, a session of
	// the second page gets a message and jumps to the first: the second
	// page then repeats one session and the jumper is unseen.
	var once sync.Once
	var moved error
	e := newEnv(t, sim.Options{}, func(s *sim.Sim, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if strings.HasSuffix(r.URL.Path, "/sessions") && q.Get("session_type") == "external" && q.Get("page") == "2" {
				once.Do(func() {
					_, moved = s.Seed(corpA, staffA, sim.Message{MsgID: "jump", From: "c0", Text: "jump",
						Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
				})
			}
			next.ServeHTTP(w, r)
		})
	})
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []sim.Message
	for i := range 4 {
		msgs = append(msgs, sim.Message{MsgID: fmt.Sprintf("m%d", i), From: fmt.Sprintf("c%d", i), Text: "x", Time: base.Add(time.Duration(i) * time.Hour)})
	}
	if _, err := e.sim.Seed(corpA, staffA, msgs...); err != nil {
		t.Fatal(err)
	}
	app, cur := newMemAppender(), newMemCursors()
	o := e.options(app, cur)
	o.PageSize, o.Sync = 2, false
	p := newPoller(t, o)
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if moved != nil {
		t.Fatal(moved)
	}
	evs, _ := app.snapshot()
	got := msgIDs(evs)
	slices.Sort(got)
	if !slices.Equal(got, []string{"jump", "m0", "m1", "m2", "m3"}) {
		t.Fatalf("appended %v", got)
	}
	if cur.seq(corpA, staffA) != 5 {
		t.Errorf("cursor %d", cur.seq(corpA, staffA))
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	good := func() Options { return e.options(newMemAppender(), newMemCursors()) }
	tests := []struct {
		name   string
		mutate func(o *Options)
	}{
		{"no client", func(o *Options) { o.Client = nil }},
		{"no appender", func(o *Options) { o.Appender = nil }},
		{"no cursor store", func(o *Options) { o.Cursor = nil }},
		{"no targets", func(o *Options) { o.Targets = nil }},
		{"no corp", func(o *Options) { o.Targets = []Target{{Staff: []string{"s"}}} }},
		{"no staff", func(o *Options) { o.Targets = []Target{{CorpID: "c"}} }},
		{"empty staff id", func(o *Options) { o.Targets = []Target{{CorpID: "c", Staff: []string{""}}} }},
		{"staff twice", func(o *Options) {
			o.Targets = []Target{{CorpID: "c", Staff: []string{"s"}}, {CorpID: "c", Staff: []string{"s"}}}
		}},
		{"page size over 100", func(o *Options) { o.PageSize = 101 }},
		{"negative interval", func(o *Options) { o.Interval = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := good()
			tt.mutate(&o)
			if _, err := New(o); !errors.Is(err, ErrOptions) {
				t.Errorf("New = %v, want ErrOptions", err)
			}
		})
	}
	p, err := New(Options{Client: e.client, Appender: newMemAppender(), Cursor: newMemCursors(),
		Targets: []Target{{CorpID: "c", Staff: []string{"s"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.o.Interval != DefaultInterval || p.o.PageSize != DefaultPageSize || p.o.Backoff != DefaultBackoff ||
		p.o.MaxBackoff != DefaultMaxBackoff || p.o.RequestsPerSecond != DefaultRequestsPerSecond || p.o.BatchSize != DefaultBatchSize {
		t.Errorf("defaults not applied: %+v", p.o)
	}
}

func TestPacing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{}, nil)
	if err := e.sim.AddStaff(corpA, staffA); err != nil {
		t.Fatal(err)
	}
	o := e.options(newMemAppender(), newMemCursors())
	o.RequestsPerSecond = 50 // 20 ms apart
	p := newPoller(t, o)
	start := time.Now()
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	// A sync and three listings: three gaps of 20 ms at least.
	if n, took := p.Stats().Requests, time.Since(start); n != 4 || took < 60*time.Millisecond {
		t.Errorf("%d requests in %v, want 4 paced 20 ms apart", n, took)
	}
}

func TestUnreadableMessageIsKeptAsUnknown(t *testing.T) {
	t.Parallel()
	// A service whose archive holds one message without a msgid.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data string
		switch {
		case strings.HasSuffix(r.URL.Path, "/sessions") && r.URL.Query().Get("session_type") == "external":
			data = `{"items":[{"session_id":"s1","session_type":"external","from":"c1","tolist":["staffA"],"peer_ext_id":"c1","seq":"9"}],"total":1,"page":1,"page_size":100}`
		case strings.HasSuffix(r.URL.Path, "/sessions"):
			data = `{"items":[],"total":0,"page":1,"page_size":100}`
		case strings.HasSuffix(r.URL.Path, "/session-msgs") && r.URL.Query().Get("receiver_id") == "c1":
			data = `{"items":[{"from":"c1","seq":9,"msg_type":"text","content_text":"no id"}],"total":1}`
		default:
			data = `null`
		}
		fmt.Fprintf(w, `{"code":0,"message":"success","data":%s}`, data)
	}))
	t.Cleanup(srv.Close)
	app, cur := newMemAppender(), newMemCursors()
	p := newPoller(t, Options{Client: newClient(t, srv.URL, testSecret), Targets: []Target{{CorpID: corpA, Staff: []string{staffA}}},
		Appender: app, Cursor: cur, RequestsPerSecond: -1})
	if err := p.Poll(testContext(t)); err != nil {
		t.Fatal(err)
	}
	evs, _ := app.snapshot()
	if len(evs) != 1 || evs[0].Type != event.TypeUnknown || evs[0].Account != staffA || !strings.Contains(string(evs[0].Raw), "no id") {
		t.Fatalf("events = %+v", evs)
	}
	if cur.seq(corpA, staffA) != 9 {
		t.Errorf("cursor %d, want 9", cur.seq(corpA, staffA))
	}
}
