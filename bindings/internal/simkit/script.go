package simkit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrExpectTimeout is what a simulator's expectation that timed out
// matches; each simulator exports it as its own ErrExpectTimeout.
var ErrExpectTimeout = errors.New("expected send did not arrive")

// Matcher is a simulator's expectation of a send S: which sends meet it,
// how long it waits, and a description for errors.
type Matcher[S any] interface {
	Match(S) bool
	// Within bounds the wait (DefaultExpectTimeout when zero or less).
	Within() time.Duration
	String() string
}

// ScriptStep is one step of a simulator's scripted conversation, with the
// simulator's own types: In for a received message, P for another
// callback, E for an expectation. After Wait, it does at most one of Say,
// Post and Expect; a step with only Wait is a pause. Simulators export it
// under their own name (type Step = simkit.ScriptStep[...]).
type ScriptStep[In, P, E any] struct {
	// Wait pauses before the step (real time).
	Wait time.Duration
	// Say posts a received message.
	Say *In
	// Post posts any other callback.
	Post *P
	// Expect waits for a send.
	Expect *E
}

// ExpectError is a scripted expectation that timed out. It matches
// ErrExpectTimeout. Simulators export it under their own name.
type ExpectError[E Matcher[S], S fmt.Stringer] struct {
	Step   int // index in the script
	Expect E
	// Seen are the sends made since the script's previous match.
	Seen []S
}

func (e *ExpectError[E, S]) Error() string {
	seen := make([]string, len(e.Seen))
	for i, s := range e.Seen {
		seen[i] = s.String()
	}
	return ExpectTimeoutMessage(e.Step, ErrExpectTimeout, e.Expect.String(), e.Expect.Within(), seen)
}

// Is matches ErrExpectTimeout.
func (e *ExpectError[E, S]) Is(target error) bool { return target == ErrExpectTimeout }

// PlayScript plays a simulator's script with Play: say and post deliver
// its Say and Post steps, and a timed-out expectation is an
// *ExpectError[E, S]. A malformed step is reported wrapping invalid.
func PlayScript[S fmt.Stringer, In, P any, E Matcher[S]](ctx context.Context, sends *Sends[S], script []ScriptStep[In, P, E],
	say func(context.Context, In) error, post func(context.Context, P) error, invalid error) error {
	steps := make([]Step[S], len(script))
	for i, st := range script {
		steps[i].Wait = st.Wait
		if st.Say != nil {
			in := *st.Say
			steps[i].Say = func(ctx context.Context) error { return say(ctx, in) }
		}
		if st.Post != nil {
			p := *st.Post
			steps[i].Post = func(ctx context.Context) error { return post(ctx, p) }
		}
		if st.Expect != nil {
			e := *st.Expect
			steps[i].Expect = &Expectation[S]{Match: e.Match, Timeout: e.Within(), Describe: e.String(),
				TimedOut: func(seen []S) error { return &ExpectError[E, S]{Step: i, Expect: e, Seen: seen} }}
		}
	}
	return Play(ctx, sends, steps, invalid)
}
