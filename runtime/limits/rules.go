package limits

import (
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// Scope says what a rule counts calls by: each distinct value of the scope
// gets a bucket of its own.
type Scope string

// Scopes.
const (
	// ScopeAccount counts the calls of one account: the value of the
	// endpoint's AccountParam (quntool wxId, wework and wechat guid).
	// Calls that name no account share one bucket of the rule.
	ScopeAccount Scope = "account"
	// ScopeCorp counts the calls of one company: the corp Learn recorded
	// for the call's account, or the account itself while none is known.
	ScopeCorp Scope = "corp"
	// ScopeVendor counts every call to the vendor.
	ScopeVendor Scope = "vendor"
	// ScopePlugin counts the calls of one plugin (the host's own calls,
	// made with an empty Plugin, share one bucket).
	ScopePlugin Scope = "plugin"
)

// Rule is one limit: at most Max calls in any Window, per value of Scope.
//
// A call holds its slot from the moment it is let through until the
// vendor's answer arrives, and the slot is free again Window after that
// answer. Counting from the answer rather than from the request is what
// keeps the vendor's own count under the limit whatever the network
// latency: the vendor stamps a request somewhere between the two, so two
// requests let through this way are always at least Window apart at the
// vendor. The price is one round trip per slot: a rule of one call per
// 500 ms against a vendor answering in 20 ms runs at one call per 520 ms.
type Rule struct {
	// Name identifies the rule in errors, logs and metrics, and prefixes
	// its bucket keys: "quntool/account" gives "quntool/account/1688...".
	Name string
	// Vendor is the vendor whose calls the rule counts; empty for every
	// vendor (plugin rules).
	Vendor string
	// SendsOnly restricts the rule to Send-class endpoints (bindings.Send).
	SendsOnly bool
	Scope     Scope
	Max       int
	Window    time.Duration
	// Backoff, when positive, pauses the bucket for that long after the
	// vendor answers with its own frequency limit (bindings.ErrVendorThrottled),
	// doubled for every further throttle answer in a row up to MaxBackoff
	// (Backoff when zero). A successful call ends the streak.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Rules are the limits a Limiter enforces.
type Rules struct {
	Rules []Rule
	// MaxWait bounds how long a call waits for its turn (DefaultMaxWait
	// when zero). A call that would wait longer fails with a
	// *bindings.RateLimitedError.
	MaxWait time.Duration
}

// Defaults of the settings (SPEC §2, §11) and of the throttle backoff,
// which has no setting.
const (
	DefaultMaxWait = 30 * time.Second
	// QuntoolBackoff is the first pause of a quntool account after a
	// -1000999 answer; pauses double up to QuntoolMaxBackoff.
	QuntoolBackoff    = 2 * time.Second
	QuntoolMaxBackoff = 5 * time.Minute
	// WeworkBackoff and WeworkMaxBackoff pause a wework instance that the
	// vendor throttled.
	WeworkBackoff    = 2 * time.Second
	WeworkMaxBackoff = 5 * time.Minute
	// WechatBlock is how long the wechat vendor blocks an instance that
	// went over its limit (seed 002): calling earlier only meets the block.
	WechatBlock    = 30 * time.Minute
	WechatMaxBlock = 2 * time.Hour
)

// FromConfig builds the rules of the limits section of switchboard.yaml:
//
//   - quntool/account: Send-class calls, 1 per send_interval_ms per account;
//   - quntool/corp: Send-class calls, sends_per_hour_per_corp per hour per company;
//   - wework/instance: Send-class calls, 1 per send_interval_ms per instance (guid);
//   - wechat/instance: every call, calls_per_minute per minute per instance (guid);
//   - msgserver/vendor: every call, requests_per_second per second.
//
// A value that is zero or negative leaves its rule out (config.Load refuses
// those, so that happens only for a hand-built config.Limits).
func FromConfig(c config.Limits) Rules {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	candidates := []Rule{
		{Name: "quntool/account", Vendor: event.VendorQuntool, SendsOnly: true, Scope: ScopeAccount,
			Max: 1, Window: ms(c.Quntool.SendIntervalMS), Backoff: QuntoolBackoff, MaxBackoff: QuntoolMaxBackoff},
		{Name: "quntool/corp", Vendor: event.VendorQuntool, SendsOnly: true, Scope: ScopeCorp,
			Max: c.Quntool.SendsPerHourPerCorp, Window: time.Hour},
		{Name: "wework/instance", Vendor: event.VendorWework, SendsOnly: true, Scope: ScopeAccount,
			Max: 1, Window: ms(c.Wework.SendIntervalMS), Backoff: WeworkBackoff, MaxBackoff: WeworkMaxBackoff},
		{Name: "wechat/instance", Vendor: event.VendorWechat, Scope: ScopeAccount,
			Max: c.Wechat.CallsPerMinute, Window: time.Minute, Backoff: WechatBlock, MaxBackoff: WechatMaxBlock},
		{Name: "msgserver/vendor", Vendor: event.VendorMsgserver, Scope: ScopeVendor,
			Max: c.Msgserver.RequestsPerSecond, Window: time.Second},
	}
	r := Rules{MaxWait: c.MaxWait()}
	for _, rule := range candidates {
		if rule.Max > 0 && rule.Window > 0 {
			r.Rules = append(r.Rules, rule)
		}
	}
	return r
}

// Defaults are the rules of the default configuration: the vendors'
// documented limits.
func Defaults() Rules { return FromConfig(config.Default().Limits) }

// validate checks one rule.
func (r *Rule) validate() error {
	switch {
	case r.Name == "":
		return fmt.Errorf("%w: a rule without a name", ErrRules)
	case r.Max <= 0:
		return fmt.Errorf("%w: rule %s: max must be positive, got %d", ErrRules, r.Name, r.Max)
	case r.Window <= 0:
		return fmt.Errorf("%w: rule %s: window must be positive, got %s", ErrRules, r.Name, r.Window)
	case r.Backoff < 0 || r.MaxBackoff < 0:
		return fmt.Errorf("%w: rule %s: negative backoff", ErrRules, r.Name)
	}
	switch r.Scope {
	case ScopeAccount, ScopeCorp, ScopeVendor, ScopePlugin:
	default:
		return fmt.Errorf("%w: rule %s: unknown scope %q", ErrRules, r.Name, r.Scope)
	}
	if r.Vendor == "" && r.Scope != ScopePlugin {
		return fmt.Errorf("%w: rule %s: only plugin rules may apply to every vendor", ErrRules, r.Name)
	}
	return nil
}

// pause is the pause after the streak-th throttle answer in a row (0-based).
func (r *Rule) pause(streak int) time.Duration {
	if r.Backoff <= 0 {
		return 0
	}
	max := r.MaxBackoff
	if max < r.Backoff {
		max = r.Backoff
	}
	d := r.Backoff
	for i := 0; i < streak && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
