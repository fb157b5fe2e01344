package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

const (
	acct1 = "1688850000000001"
	acct2 = "1688850000000002"
)

// oneSendPerSecond is a quntool account rule of 1 send per second.
func oneSendPerSecond(backoff time.Duration) Rule {
	return Rule{Name: "quntool/account", Vendor: "quntool", SendsOnly: true, Scope: ScopeAccount,
		Max: 1, Window: time.Second, Backoff: backoff, MaxBackoff: 8 * backoff}
}

func newTestLimiter(t *testing.T, clock Clock, maxWait time.Duration, rules ...Rule) (*Limiter, *countingObserver) {
	t.Helper()
	obs := &countingObserver{}
	l, err := New(Options{Registry: testRegistry(t), Rules: Rules{Rules: rules, MaxWait: maxWait}, Clock: clock, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return l, obs
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	def := Defaults()
	want := map[string]struct {
		max    int
		window time.Duration
		sends  bool
		scope  Scope
	}{
		"quntool/account":  {1, 500 * time.Millisecond, true, ScopeAccount},
		"quntool/corp":     {50000, time.Hour, true, ScopeCorp},
		"wework/instance":  {1, 500 * time.Millisecond, true, ScopeAccount},
		"wechat/instance":  {100, time.Minute, false, ScopeAccount},
		"msgserver/vendor": {100, time.Second, false, ScopeVendor},
	}
	if len(def.Rules) != len(want) || def.MaxWait != 30*time.Second {
		t.Fatalf("defaults: %d rules, max wait %s", len(def.Rules), def.MaxWait)
	}
	for _, r := range def.Rules {
		w, ok := want[r.Name]
		if !ok || r.Max != w.max || r.Window != w.window || r.SendsOnly != w.sends || r.Scope != w.scope {
			t.Errorf("rule %+v, want %+v", r, w)
		}
	}
	var c config.Limits
	c.Wechat.CallsPerMinute = 10
	if got := FromConfig(c); len(got.Rules) != 1 || got.Rules[0].Max != 10 {
		t.Errorf("a config with only wechat set: %+v", got.Rules)
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	t.Parallel()
	good := oneSendPerSecond(0)
	cases := []struct {
		name string
		edit func(r *Rule)
		want string
	}{
		{"no name", func(r *Rule) { r.Name = "" }, "without a name"},
		{"zero max", func(r *Rule) { r.Max = 0 }, "max must be positive"},
		{"zero window", func(r *Rule) { r.Window = 0 }, "window must be positive"},
		{"negative backoff", func(r *Rule) { r.Backoff = -time.Second }, "negative backoff"},
		{"unknown scope", func(r *Rule) { r.Scope = "room" }, "unknown scope"},
		{"every vendor per account", func(r *Rule) { r.Vendor = "" }, "only plugin rules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := good
			c.edit(&r)
			_, err := New(Options{Registry: testRegistry(t), Rules: Rules{Rules: []Rule{r}}})
			if !errors.Is(err, ErrRules) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrRules with %q", err, c.want)
			}
		})
	}
	if _, err := New(Options{Registry: testRegistry(t), Rules: Rules{Rules: []Rule{good, good}}}); !errors.Is(err, ErrRules) {
		t.Errorf("a rule given twice: %v", err)
	}
	if _, err := New(Options{Rules: Defaults()}); !errors.Is(err, ErrRules) {
		t.Errorf("no registry: %v", err)
	}
}

// TestWhichRulesApply: sends and calls are counted under the keys their
// vendor's rules name, and nothing else is.
func TestWhichRulesApply(t *testing.T) {
	t.Parallel()
	plugins := Rule{Name: "plugin", Scope: ScopePlugin, Max: 1000, Window: time.Second}
	cases := []struct {
		name string
		call bindings.Call
		want []string
	}{
		{"quntool send", send("p1", acct1, 1),
			[]string{"plugin/p1", "quntool/account/" + acct1, "quntool/corp/account:" + acct1}},
		{"quntool query", bindings.Call{Plugin: "p1", Vendor: "quntool", Method: "contact.external.list",
			Args: map[string]any{"wxId": acct1}}, []string{"plugin/p1"}},
		{"wechat query", bindings.Call{Plugin: "p2", Vendor: "wechat", Method: "contact.list",
			Args: map[string]any{"guid": "g-1"}}, []string{"plugin/p2", "wechat/instance/g-1"}},
		{"msgserver", bindings.Call{Vendor: "msgserver", Method: "chatMsg.search"},
			[]string{"msgserver/vendor", "plugin/"}},
		{"unknown method goes through", bindings.Call{Plugin: "p1", Vendor: "quntool", Method: "nope"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rules := append(Defaults().Rules, plugins)
			l, _ := newTestLimiter(t, newFakeClock(), time.Second, rules...)
			rec := &recorder{}
			if _, err := l.Wrap(rec).Invoke(testCtx(t), c.call); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range l.Keys() {
				got = append(got, k.Key)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || rec.count() != 1 {
				t.Errorf("keys %q, want %q (calls %d)", got, c.want, rec.count())
			}
		})
	}
}

// start runs one call in a goroutine and answers its result channel.
func start(ctx context.Context, inv bindings.Invoker, c bindings.Call) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := inv.Invoke(ctx, c)
		ch <- err
	}()
	return ch
}

// TestOrderAndFairness: callers of one plugin are served first in, first
// out; two plugins queued on one account take turns.
func TestOrderAndFairness(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		queue []string // plugin of each queued call, in arrival order
		want  []string // the order they reach the vendor
	}{
		{"one plugin is FIFO", []string{"a", "a", "a", "a"}, []string{"a:1", "a:2", "a:3", "a:4"}},
		{"two plugins alternate", []string{"a", "a", "a", "a", "b", "b"},
			[]string{"a:1", "b:5", "a:2", "b:6", "a:3", "a:4"}},
		{"three plugins rotate", []string{"a", "a", "b", "b", "c"},
			[]string{"a:1", "b:3", "c:5", "a:2", "b:4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			clock := newFakeClock()
			l, _ := newTestLimiter(t, clock, time.Hour, oneSendPerSecond(0))
			rec := &recorder{got: make(chan string, 32)}
			inv := l.Wrap(rec)
			if _, err := inv.Invoke(ctx, send("first", acct1, 0)); err != nil {
				t.Fatal(err)
			}
			<-rec.got
			var results []<-chan error
			for i, p := range c.queue {
				results = append(results, start(ctx, inv, send(p, acct1, i+1)))
				waitFor(t, ctx, "the call to queue", func() bool { return waiting(l, "quntool/account/"+acct1) == i+1 })
			}
			var order []string
			for range c.queue {
				clock.Advance(time.Second)
				select {
				case got := <-rec.got:
					order = append(order, got)
				case <-ctx.Done():
					t.Fatalf("no call went out; order so far %v", order)
				}
			}
			if fmt.Sprint(order) != fmt.Sprint(c.want) {
				t.Errorf("order %v, want %v", order, c.want)
			}
			for _, r := range results {
				if err := <-r; err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestMaxWait: a call that cannot get its turn in time fails with a
// RateLimitedError, at once when that is certain, else when the bound
// passes; the key is not left holding a slot for it.
func TestMaxWait(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := newFakeClock()
	l, obs := newTestLimiter(t, clock, 1500*time.Millisecond, oneSendPerSecond(0))
	rec := &recorder{}
	inv := l.Wrap(rec)
	if _, err := inv.Invoke(ctx, send("p", acct1, 1)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(600 * time.Millisecond)

	// 400 ms to go for the slot: one call may queue, a second one would
	// need 1.4 s and a third 2.4 s, over the 1.5 s bound.
	second := start(ctx, inv, send("p", acct1, 2))
	waitFor(t, ctx, "the second call to queue", func() bool { return waiting(l, "quntool/account/"+acct1) == 1 })
	third := start(ctx, inv, send("p", acct1, 3))
	waitFor(t, ctx, "the third call to queue", func() bool { return waiting(l, "quntool/account/"+acct1) == 2 })
	_, err := inv.Invoke(ctx, send("p", acct1, 4))
	var rl *bindings.RateLimitedError
	if !errors.As(err, &rl) || rl.Key != "quntool/account/"+acct1 || rl.Wait != 2400*time.Millisecond {
		t.Fatalf("fourth call: %v (%+v), want an immediate RateLimitedError waiting 2.4s", err, rl)
	}
	if bindings.Describe("quntool", err).Code != "rate_limited" {
		t.Errorf("described as %+v", bindings.Describe("quntool", err))
	}

	rec.mu.Lock()
	rec.block = make(chan struct{}) // the second call hangs at the vendor
	rec.mu.Unlock()
	clock.Advance(400 * time.Millisecond)
	waitFor(t, ctx, "the second call to go out", func() bool { return rec.count() == 2 })
	clock.Advance(1100 * time.Millisecond) // the third call's bound passes
	select {
	case err := <-third:
		if !errors.As(err, &rl) {
			t.Fatalf("third call: %v, want RateLimitedError", err)
		}
	case <-ctx.Done():
		t.Fatal("third call still waiting after its bound")
	}
	close(rec.block)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if waiting(l, "quntool/account/"+acct1) != 0 {
		t.Error("a call that gave up is still queued")
	}
	clock.Advance(time.Second)
	if _, err := inv.Invoke(ctx, send("p", acct1, 5)); err != nil {
		t.Errorf("call after the key freed: %v", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.limited["quntool/account"] != 2 || obs.waited != 3 {
		t.Errorf("observed %d limited, %d waited; want 2, 3", obs.limited["quntool/account"], obs.waited)
	}
}

// TestContextEnds: a queued caller whose context is cancelled returns at
// once with the context's error; one whose deadline passes gets a
// RateLimitedError that also matches context.DeadlineExceeded. Neither
// keeps a slot.
func TestContextEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		cancel bool
		ctx    func(parent context.Context) (context.Context, context.CancelFunc)
		check  func(err error) bool
	}{
		{"cancel", true, func(p context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(p) },
			func(err error) bool {
				var rl *bindings.RateLimitedError
				return errors.Is(err, context.Canceled) && !errors.As(err, &rl)
			}},
		{"deadline", false, func(p context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(p, 20*time.Millisecond)
		}, func(err error) bool {
			var rl *bindings.RateLimitedError
			return errors.Is(err, context.DeadlineExceeded) && errors.As(err, &rl)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			clock := newFakeClock()
			l, _ := newTestLimiter(t, clock, time.Hour, oneSendPerSecond(0))
			rec := &recorder{}
			inv := l.Wrap(rec)
			if _, err := inv.Invoke(ctx, send("p", acct1, 1)); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := c.ctx(ctx)
			defer cancel()
			res := start(cctx, inv, send("p", acct1, 2))
			waitFor(t, ctx, "the call to queue", func() bool { return waiting(l, "quntool/account/"+acct1) == 1 })
			if c.cancel {
				cancel()
			}
			select {
			case err := <-res:
				if !c.check(err) {
					t.Fatalf("error %v", err)
				}
			case <-ctx.Done():
				t.Fatal("the caller was not released")
			}
			clock.Advance(time.Second)
			if _, err := inv.Invoke(ctx, send("p", acct1, 3)); err != nil || rec.count() != 2 {
				t.Errorf("next call: %v, %d calls", err, rec.count())
			}
		})
	}
}

// TestThrottleBackoff: the vendor's own frequency answer pauses the key
// for a growing interval; callers that cannot outlast the pause fail at
// once; a success ends the streak.
func TestThrottleBackoff(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := newFakeClock()
	l, obs := newTestLimiter(t, clock, 3*time.Second, oneSendPerSecond(2*time.Second))
	throttle := &bindings.VendorError{Vendor: "quntool", Code: bindings.CodeFrequencyLimit, Message: "Abnormal request frequency"}
	rec := &recorder{fail: []error{throttle, throttle, throttle}}
	inv := l.Wrap(rec)
	key := "quntool/account/" + acct1
	paused := func() time.Duration {
		for _, k := range l.Keys() {
			if k.Key == key {
				return k.PausedFor
			}
		}
		return 0
	}

	steps := []struct {
		name      string
		advance   time.Duration
		wantErr   bool // the vendor throttles
		wantPause time.Duration
	}{
		{"first throttle pauses 2s", 0, true, 2 * time.Second},
		{"second throttle pauses 4s", 2 * time.Second, true, 4 * time.Second},
		{"third throttle pauses 8s", 4 * time.Second, true, 8 * time.Second},
		{"success after the pause", 8 * time.Second, false, 0},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		_, err := inv.Invoke(ctx, send("p", acct1, st.name))
		if (err != nil) != st.wantErr || (err != nil && !errors.Is(err, bindings.ErrVendorThrottled)) {
			t.Fatalf("%s: error %v", st.name, err)
		}
		if got := paused(); got != st.wantPause {
			t.Fatalf("%s: paused for %s, want %s", st.name, got, st.wantPause)
		}
		if st.wantPause > 3*time.Second {
			// A call now cannot outlast the pause within 3 s.
			_, err := inv.Invoke(ctx, send("p", acct1, "during pause"))
			var rl *bindings.RateLimitedError
			if !errors.As(err, &rl) || rl.Wait != st.wantPause {
				t.Fatalf("%s: call during the pause: %v", st.name, err)
			}
		}
	}
	// The streak ended: the next throttle pauses 2 s again, and fails a
	// queued caller whose bound ends inside the pause.
	rec.mu.Lock()
	rec.fail = []error{throttle}
	rec.mu.Unlock()
	clock.Advance(time.Second)
	rec.mu.Lock()
	rec.block = make(chan struct{})
	rec.mu.Unlock()
	first := start(ctx, inv, send("p", acct1, "throttled"))
	waitFor(t, ctx, "the call to reach the vendor", func() bool { return rec.count() == 5 })
	queued := start(ctx, inv, send("p", acct1, "queued"))
	waitFor(t, ctx, "the call to queue", func() bool { return waiting(l, key) == 1 })
	clock.Advance(1500 * time.Millisecond) // the queued call's bound ends at +3 s, inside the pause (+1.5 s .. +3.5 s)
	close(rec.block)
	if err := <-first; !errors.Is(err, bindings.ErrVendorThrottled) {
		t.Fatalf("throttled call: %v", err)
	}
	var rl *bindings.RateLimitedError
	if err := <-queued; !errors.As(err, &rl) || rl.Wait != 2*time.Second {
		t.Fatalf("queued call: %v, want RateLimitedError for the 2s pause", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if fmt.Sprint(obs.throttled) != "[2s 4s 8s 2s]" {
		t.Errorf("observed pauses %v", obs.throttled)
	}
}

// TestCorpLearning: accounts learned to be of one company share its
// bucket; an account of unknown company has one of its own.
func TestCorpLearning(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	corpRule := Rule{Name: "quntool/corp", Vendor: "quntool", SendsOnly: true, Scope: ScopeCorp, Max: 2, Window: time.Hour}
	l, _ := newTestLimiter(t, newFakeClock(), time.Second, corpRule)
	l.LearnEvent(&event.Event{Type: event.TypeLogin, Vendor: "quntool", Account: acct1, Data: map[string]any{"corp_id": "corp-x"}})
	l.LearnEvent(&event.Event{Type: event.TypeMessage, Vendor: "quntool", Account: acct2, Data: map[string]any{"corp_id": "corp-y"}})
	if c, ok := l.Corp("quntool", acct1); !ok || c != "corp-x" {
		t.Fatalf("corp of %s: %q %v", acct1, c, ok)
	}
	if _, ok := l.Corp("quntool", acct2); ok {
		t.Fatal("learned a corp from a message event")
	}
	l.Learn("quntool", "", "corp-z")
	inv := l.Wrap(&recorder{})
	steps := []struct {
		name    string
		account string
		limited bool
	}{
		{"account 1, first of corp x", acct1, false},
		{"account 2, own bucket", acct2, false},
		{"account 2, own bucket again", acct2, false},
		{"account 2 over its own cap", acct2, true},
	}
	for _, st := range steps {
		_, err := inv.Invoke(ctx, send("p", st.account, st.name))
		var rl *bindings.RateLimitedError
		if errors.As(err, &rl) != st.limited {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	l.Learn("quntool", acct2, "corp-x")
	if _, err := inv.Invoke(ctx, send("p", acct2, "second of corp x")); err != nil {
		t.Fatalf("second send of corp x: %v", err)
	}
	var rl *bindings.RateLimitedError
	if _, err := inv.Invoke(ctx, send("p", acct1, "third of corp x")); !errors.As(err, &rl) || rl.Key != "quntool/corp/corp-x" {
		t.Fatalf("third send of corp x: %v", err)
	}
}

// TestRefusedBeforeSending: a call the client refused before sending
// frees its slot at once.
func TestRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	l, _ := newTestLimiter(t, newFakeClock(), 10*time.Millisecond, oneSendPerSecond(0))
	rec := &recorder{fail: []error{&bindings.ArgumentError{Endpoint: "quntool.msg.text", Param: "conversationId", Reason: "is bad"}}}
	inv := l.Wrap(rec)
	var ae *bindings.ArgumentError
	if _, err := inv.Invoke(ctx, send("p", acct1, 1)); !errors.As(err, &ae) {
		t.Fatalf("first call: %v", err)
	}
	if _, err := inv.Invoke(ctx, send("p", acct1, 2)); err != nil {
		t.Fatalf("the refused call kept its slot: %v", err)
	}
	var rl *bindings.RateLimitedError
	if _, err := inv.Invoke(ctx, send("p", acct1, 3)); !errors.As(err, &rl) {
		t.Fatalf("third call within the second: %v", err)
	}
}

// TestIdleKeysDropped: keys with nothing left to count are dropped after
// a while; busy ones stay.
func TestIdleKeysDropped(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	clock := newFakeClock()
	l, _ := newTestLimiter(t, clock, time.Second, oneSendPerSecond(0),
		Rule{Name: "quntool/corp", Vendor: "quntool", SendsOnly: true, Scope: ScopeCorp, Max: 10, Window: time.Hour})
	inv := l.Wrap(&recorder{})
	for _, a := range []string{acct1, acct2} {
		if _, err := inv.Invoke(ctx, send("p", a, a)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Keys()); n != 4 {
		t.Fatalf("%d keys, want 4", n)
	}
	clock.Advance(2 * sweepEvery)
	if _, err := inv.Invoke(ctx, send("p", acct1, "again")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range l.Keys() {
		keys = append(keys, k.Key)
	}
	want := []string{"quntool/account/" + acct1, "quntool/corp/account:" + acct1, "quntool/corp/account:" + acct2}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("keys %v, want %v (the corp keys still count their hour)", keys, want)
	}
}

func TestRulePause(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		rule   Rule
		streak int
		want   time.Duration
	}{
		{"no backoff", Rule{}, 3, 0},
		{"first", Rule{Backoff: time.Second, MaxBackoff: time.Minute}, 0, time.Second},
		{"doubles", Rule{Backoff: time.Second, MaxBackoff: time.Minute}, 3, 8 * time.Second},
		{"capped", Rule{Backoff: time.Second, MaxBackoff: time.Minute}, 30, time.Minute},
		{"max below backoff", Rule{Backoff: time.Minute, MaxBackoff: time.Second}, 2, time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := c.rule.pause(c.streak); got != c.want {
				t.Errorf("pause(%d) = %s, want %s", c.streak, got, c.want)
			}
		})
	}
}
