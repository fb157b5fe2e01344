// Package limits keeps every vendor account under its vendor's limits
// (SPEC §2, §10): a bindings.Invoker middleware with buckets keyed by
// vendor and account, by vendor and company, by vendor, and by plugin.
//
// Each Rule allows at most Max calls in any Window per key, and counts a
// call from the moment it is let through until Window after the vendor's
// answer (see Rule), so the vendor's own count stays under the limit
// whatever the latency. Callers that find no free slot wait in order:
// first in, first out within one plugin, round-robin across plugins, so a
// plugin with a backlog cannot starve another one sharing the account.
// A caller waits up to Rules.MaxWait (or until its context ends), and then
// fails with a *bindings.RateLimitedError; one that could not possibly
// be served in time fails at once.
//
// When a vendor answers with its own frequency limit anyway
// (errors.Is(err, bindings.ErrVendorThrottled): quntool -1000999, the
// wechat block) the buckets of the call whose rule has a Backoff pause
// for a growing interval instead of retrying into a longer ban.
//
// golang.org/x/time/rate does not fit: its reservations count from the
// request, not the answer, and it has no notion of fairness between
// callers of one key.
//
// Lifecycle: New builds a Limiter from Options; Wrap wraps the invoker the
// calls go to (the registry, or the outbox's sender); Learn records the
// company of an account whenever it becomes known. A Limiter needs no
// closing: idle keys are dropped as it goes. Every method is safe for
// concurrent use.
package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// ErrRules marks a rule set New refuses.
var ErrRules = errors.New("bad rate-limit rules")

// sweepEvery is how often idle keys are looked for.
const sweepEvery = time.Minute

// Observer is told what the limiter does, for metrics. Its methods are
// called from the callers' goroutines, concurrently, and must not block.
type Observer interface {
	// Waited: a call passed rule's bucket after queueing for d (0 when it
	// did not queue).
	Waited(rule string, d time.Duration)
	// Limited: a call gave up waiting on rule's bucket.
	Limited(rule string)
	// Throttled: the vendor throttled a call and rule's bucket key paused
	// for pause.
	Throttled(rule, key string, pause time.Duration)
}

// Options configure a Limiter.
type Options struct {
	// Registry tells each call's endpoint: its class and its account
	// parameter. Required.
	Registry *bindings.Registry
	// Rules are the limits (FromConfig(cfg.Limits), or Defaults()).
	Rules Rules
	// Clock is the time source (SystemClock when nil).
	Clock Clock
	// Logger receives throttle pauses (silent when nil).
	Logger hclog.Logger
	// Observer is told every wait, give-up and pause (none when nil).
	Observer Observer
}

// Limiter enforces Rules on the calls that go through Wrap.
type Limiter struct {
	reg     *bindings.Registry
	rules   []Rule
	maxWait time.Duration
	clock   Clock
	log     hclog.Logger
	obs     Observer

	mu        sync.Mutex
	buckets   map[bucketID]*bucket
	lastSweep time.Time

	corpMu sync.RWMutex
	corps  map[accountKey]string
}

type bucketID struct {
	rule int
	id   string
}

type accountKey struct{ vendor, account string }

// New checks the rules and builds a Limiter.
func New(o Options) (*Limiter, error) {
	if o.Registry == nil {
		return nil, fmt.Errorf("%w: a limiter needs the bindings registry", ErrRules)
	}
	rules := append([]Rule(nil), o.Rules.Rules...)
	seen := map[string]bool{}
	for i := range rules {
		if err := rules[i].validate(); err != nil {
			return nil, err
		}
		if seen[rules[i].Name] {
			return nil, fmt.Errorf("%w: rule %s given twice", ErrRules, rules[i].Name)
		}
		seen[rules[i].Name] = true
	}
	l := &Limiter{
		reg: o.Registry, rules: rules, maxWait: o.Rules.MaxWait, clock: o.Clock, log: o.Logger, obs: o.Observer,
		buckets: map[bucketID]*bucket{}, corps: map[accountKey]string{},
	}
	if l.maxWait <= 0 {
		l.maxWait = DefaultMaxWait
	}
	if l.clock == nil {
		l.clock = SystemClock
	}
	if l.log == nil {
		l.log = hclog.NewNullLogger()
	}
	if l.obs == nil {
		l.obs = nopObserver{}
	}
	l.lastSweep = l.clock.Now()
	return l, nil
}

// Wrap returns an Invoker that lets each call through to next once every
// bucket that applies to it has a slot for it.
func (l *Limiter) Wrap(next bindings.Invoker) bindings.Invoker {
	return bindings.InvokerFunc(func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		return l.invoke(ctx, c, next)
	})
}

// Learn records that account of vendor belongs to company corp, so its
// ScopeCorp buckets are the company's. Empty values are ignored. Calls
// already counted under the account's own key stay there.
func (l *Limiter) Learn(vendor, account, corp string) {
	if vendor == "" || account == "" || corp == "" {
		return
	}
	l.corpMu.Lock()
	l.corps[accountKey{vendor, account}] = corp
	l.corpMu.Unlock()
}

// LearnEvent learns the company of the account from a login event that
// carries data.corp_id (quntool's user_login). Other events are ignored:
// their corp_id may be a contact's.
func (l *Limiter) LearnEvent(ev *event.Event) {
	if ev == nil || ev.Type != event.TypeLogin {
		return
	}
	if corp, ok := ev.Data["corp_id"].(string); ok {
		l.Learn(ev.Vendor, ev.Account, corp)
	}
}

// Corp answers the company learned for an account.
func (l *Limiter) Corp(vendor, account string) (string, bool) {
	l.corpMu.RLock()
	defer l.corpMu.RUnlock()
	c, ok := l.corps[accountKey{vendor, account}]
	return c, ok
}

// KeyState describes one key the limiter tracks.
type KeyState struct {
	Key       string        `json:"key"`
	Rule      string        `json:"rule"`
	Waiting   int           `json:"waiting"`
	InFlight  int           `json:"in_flight"`
	PausedFor time.Duration `json:"paused_for"`
	Streak    int           `json:"throttle_streak"`
}

// Keys answers the state of every tracked key, sorted by key.
func (l *Limiter) Keys() []KeyState {
	l.mu.Lock()
	bs := make([]*bucket, 0, len(l.buckets))
	for _, b := range l.buckets {
		bs = append(bs, b)
	}
	l.mu.Unlock()
	now := l.clock.Now().UnixNano()
	out := make([]KeyState, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.state(now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// lease is a slot held in one bucket.
type lease struct {
	b      *bucket
	seq    uint64
	waited time.Duration
}

func (l *Limiter) invoke(ctx context.Context, c bindings.Call, next bindings.Invoker) (json.RawMessage, error) {
	ep, err := l.reg.Lookup(c.Vendor, c.Method)
	if err != nil {
		return next.Invoke(ctx, c) // the registry reports the unknown endpoint
	}
	ids := l.keys(ep, c)
	if len(ids) == 0 {
		return next.Invoke(ctx, c)
	}
	deadline := l.clock.Now().Add(l.maxWait).UnixNano()
	leases := make([]lease, 0, len(ids))
	for _, id := range ids {
		le, err := l.acquire(ctx, id, c.Plugin, deadline)
		if err != nil {
			l.obs.Limited(l.rules[id.rule].Name)
			now := l.clock.Now()
			for _, held := range leases {
				held.b.done(held.seq, now, false, false, false)
			}
			return nil, err
		}
		leases = append(leases, le)
	}
	for _, le := range leases {
		l.obs.Waited(le.b.rule.Name, le.waited)
	}
	data, err := next.Invoke(ctx, c)
	now := l.clock.Now()
	var argErr *bindings.ArgumentError
	used := !errors.As(err, &argErr) // refused before sending: the vendor never saw it
	throttled := errors.Is(err, bindings.ErrVendorThrottled)
	for _, le := range leases {
		if pause := le.b.done(le.seq, now, used, throttled, err == nil); pause > 0 {
			l.obs.Throttled(le.b.rule.Name, le.b.key, pause)
			l.log.Warn("vendor throttled a call: pausing its key", "key", le.b.key, "call", c.String(),
				"plugin", c.Plugin, "pause", pause)
		}
	}
	return data, err
}

// acquire waits for a slot of bucket id, looking the bucket up again if it
// was evicted meanwhile.
func (l *Limiter) acquire(ctx context.Context, id bucketID, plugin string, deadline int64) (lease, error) {
	start := l.clock.Now()
	for {
		b := l.bucket(id)
		seq, err := b.acquire(ctx, plugin, deadline)
		if errors.Is(err, errEvicted) {
			continue
		}
		if err != nil {
			return lease{}, err
		}
		return lease{b: b, seq: seq, waited: l.clock.Now().Sub(start)}, nil
	}
}

// keys answers the buckets that apply to a call, in the fixed order of
// the rules (so no two calls wait on each other's buckets crosswise).
func (l *Limiter) keys(ep *bindings.Endpoint, c bindings.Call) []bucketID {
	var ids []bucketID
	for i := range l.rules {
		r := &l.rules[i]
		if (r.Vendor != "" && r.Vendor != ep.Vendor) || (r.SendsOnly && ep.Class != bindings.Send) {
			continue
		}
		var id string
		switch r.Scope {
		case ScopeAccount:
			id = ep.Account(c.Args)
		case ScopeCorp:
			account := ep.Account(c.Args)
			if corp, ok := l.Corp(ep.Vendor, account); ok {
				id = corp
			} else {
				id = "account:" + account
			}
		case ScopePlugin:
			id = c.Plugin
		}
		ids = append(ids, bucketID{rule: i, id: id})
	}
	return ids
}

// bucket finds or makes the bucket of id, sweeping idle buckets now and
// then.
func (l *Limiter) bucket(id bucketID) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.lastSweep = now
		ns := now.UnixNano()
		for k, b := range l.buckets {
			if k != id && b.evictIfIdle(ns) {
				delete(l.buckets, k)
			}
		}
	}
	b := l.buckets[id]
	if b == nil {
		r := &l.rules[id.rule]
		key := r.Name
		if id.id != "" || r.Scope != ScopeVendor {
			key += "/" + id.id
		}
		b = newBucket(r, key, l.clock)
		l.buckets[id] = b
	}
	return b
}

type nopObserver struct{}

func (nopObserver) Waited(string, time.Duration)            {}
func (nopObserver) Limited(string)                          {}
func (nopObserver) Throttled(string, string, time.Duration) {}
