package sim

import (
	"context"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// DefaultExpectTimeout is how long an Expect step waits when its Timeout
// is zero.
const DefaultExpectTimeout = simkit.DefaultExpectTimeout

// Step is one step of a scripted conversation. After Wait, it does at most
// one of Say (a received text message), Post (any other callback) and
// Expect (wait for a send); a step with only Wait is a pause.
type Step = simkit.ScriptStep[Incoming, Post, Expect]

// Post is a callback for a Step, as PostCallback takes it.
type Post struct {
	Type    string
	Account string
	Data    any
}

// Expect matches a send. Empty fields match anything.
type Expect struct {
	Account        string
	ConversationID string
	Kind           string
	// Contains must be part of the send's Content.
	Contains string
	// Timeout bounds the wait (DefaultExpectTimeout when zero).
	Timeout time.Duration
}

// Match tells whether s meets e.
func (e Expect) Match(s Sent) bool {
	return (e.Account == "" || e.Account == s.Account) &&
		(e.ConversationID == "" || e.ConversationID == s.ConversationID) &&
		(e.Kind == "" || e.Kind == s.Kind) &&
		strings.Contains(s.Content, e.Contains)
}

// String describes the sends e matches.
func (e Expect) String() string {
	return simkit.DescribeSends([2]string{"account", e.Account}, [2]string{"conversation", e.ConversationID},
		[2]string{"kind", e.Kind}, [2]string{"containing", e.Contains})
}

// Within is how long e waits (DefaultExpectTimeout when zero).
func (e Expect) Within() time.Duration { return e.Timeout }

// ExpectError is a Play expectation that timed out. It matches
// ErrExpectTimeout.
type ExpectError = simkit.ExpectError[Expect, Sent]

// Play plays script in order. Expectations consume sends in order: each is
// met by the first matching send after the one that met the previous
// expectation (or, for the first, made after Play began); sends in between
// are skipped. It stops at the first step that fails: a callback that
// cannot be delivered, an *ExpectError, or the end of ctx. The script is
// checked before anything is played.
func (s *Sim) Play(ctx context.Context, script []Step) error {
	post := func(ctx context.Context, p Post) error { return s.PostCallback(ctx, p.Type, p.Account, p.Data) }
	return simkit.PlayScript(ctx, &s.sent, script, s.Say, post, ErrInvalid)
}
