package sim

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// DefaultExpectTimeout is how long an Expect step waits when its Timeout
// is zero.
const DefaultExpectTimeout = simkit.DefaultExpectTimeout

// Step is one step of a scripted conversation. After Wait, it does exactly
// one of: Say, Post, Expect; a step with only Wait is a pause.
type Step struct {
	// Wait pauses before the step (real time).
	Wait time.Duration
	// Say posts a received text message.
	Say *Incoming
	// Post posts any other callback.
	Post *Post
	// Expect waits for a send.
	Expect *Expect
}

// Post is a callback for a Step, as PostCallback takes it.
type Post struct {
	GUID       string
	NotifyType int
	Data       any
}

// Expect matches a send. Empty fields match anything.
type Expect struct {
	GUID string
	To   string
	Kind string
	// Contains must be part of the send's Content.
	Contains string
	// Timeout bounds the wait (DefaultExpectTimeout when zero).
	Timeout time.Duration
}

func (e *Expect) matches(s Sent) bool {
	return (e.GUID == "" || e.GUID == s.GUID) && (e.To == "" || e.To == s.To) &&
		(e.Kind == "" || e.Kind == s.Kind) && strings.Contains(s.Content, e.Contains)
}

// String describes the sends e matches.
func (e *Expect) String() string {
	return simkit.DescribeSends([2]string{"guid", e.GUID}, [2]string{"to", e.To},
		[2]string{"kind", e.Kind}, [2]string{"containing", e.Contains})
}

// ExpectError is a Play expectation that timed out. It matches
// ErrExpectTimeout.
type ExpectError struct {
	Step   int // index in the script
	Expect Expect
	// Seen are the sends made since the script's previous match.
	Seen []Sent
}

func (e *ExpectError) Error() string {
	seen := make([]string, len(e.Seen))
	for i, s := range e.Seen {
		seen[i] = fmt.Sprintf("%s to %s: %q", s.Kind, s.To, s.Content)
	}
	return simkit.ExpectTimeoutMessage(e.Step, ErrExpectTimeout, e.Expect.String(), e.Expect.Timeout, seen)
}

// Is matches ErrExpectTimeout.
func (e *ExpectError) Is(target error) bool { return target == ErrExpectTimeout }

// Play plays script in order. Expectations consume sends in order: each is
// met by the first matching send after the one that met the previous
// expectation (or, for the first, made after Play began); sends in between
// are skipped. It stops at the first step that fails: a callback that
// cannot be delivered, an *ExpectError, or the end of ctx. The script is
// checked before anything is played.
func (s *Sim) Play(ctx context.Context, script []Step) error {
	steps := make([]simkit.Step[Sent], len(script))
	for i, st := range script {
		steps[i].Wait = st.Wait
		if st.Say != nil {
			in := *st.Say
			steps[i].Say = func(ctx context.Context) error { return s.Say(ctx, in) }
		}
		if st.Post != nil {
			p := *st.Post
			steps[i].Post = func(ctx context.Context) error { return s.PostCallback(ctx, p.GUID, p.NotifyType, p.Data) }
		}
		if st.Expect != nil {
			e := *st.Expect
			steps[i].Expect = &simkit.Expectation[Sent]{Match: e.matches, Timeout: e.Timeout, Describe: e.String(),
				TimedOut: func(seen []Sent) error { return &ExpectError{Step: i, Expect: e, Seen: seen} }}
		}
	}
	return simkit.Play(ctx, &s.sent, steps, ErrInvalid)
}
