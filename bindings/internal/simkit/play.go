package simkit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DefaultExpectTimeout is how long an expectation waits when its Timeout is
// zero.
const DefaultExpectTimeout = 5 * time.Second

// Step is one step of a scripted play, built by a simulator from its own
// exported Step. After Wait, it does at most one of Say, Post and Expect; a
// step with only Wait is a pause.
type Step[T any] struct {
	// Wait pauses before the step (real time).
	Wait time.Duration
	// Say posts a received message and waits for its delivery.
	Say func(ctx context.Context) error
	// Post posts any other callback and waits for its delivery.
	Post func(ctx context.Context) error
	// Expect waits for a send.
	Expect *Expectation[T]
}

// Expectation waits for a send.
type Expectation[T any] struct {
	// Match tells whether a send meets the expectation.
	Match func(T) bool
	// Timeout bounds the wait (DefaultExpectTimeout when zero or less).
	Timeout time.Duration
	// Describe names the sends Match accepts, for errors.
	Describe string
	// TimedOut is the error Play answers, unwrapped, when no send matched
	// in time; seen are the sends made since the previous match.
	TimedOut func(seen []T) error
}

// Play plays steps in order. Expectations consume sends in order: each is
// met by the first matching send after the one that met the previous
// expectation (or, for the first, made after Play began); sends in between
// are skipped. It stops at the first step that fails: a callback that
// cannot be delivered, the TimedOut error of an expectation, or the end of
// ctx. The steps are checked before anything is played; a malformed one is
// reported wrapping invalid. Play blocks; several plays may run at once.
func Play[T any](ctx context.Context, sends *Sends[T], steps []Step[T], invalid error) error {
	for i, st := range steps {
		n := 0
		for _, set := range []bool{st.Say != nil, st.Post != nil, st.Expect != nil} {
			if set {
				n++
			}
		}
		switch {
		case n > 1:
			return fmt.Errorf("play: step %d: %w: a step does one of Say, Post and Expect", i, invalid)
		case st.Wait < 0:
			return fmt.Errorf("play: step %d: %w: negative Wait", i, invalid)
		case n == 0 && st.Wait == 0:
			return fmt.Errorf("play: step %d: %w: an empty step", i, invalid)
		case st.Expect != nil && (st.Expect.Match == nil || st.Expect.TimedOut == nil):
			return fmt.Errorf("play: step %d: %w: an expectation without Match or TimedOut", i, invalid)
		}
	}
	cursor := sends.Len()
	for i, st := range steps {
		if err := Sleep(ctx, st.Wait); err != nil {
			return fmt.Errorf("play: step %d: %w", i, err)
		}
		var err error
		switch {
		case st.Say != nil:
			err = st.Say(ctx)
		case st.Post != nil:
			err = st.Post(ctx)
		case st.Expect != nil:
			var timedOut bool
			cursor, timedOut, err = expect(ctx, sends, st.Expect, cursor)
			if timedOut {
				return err
			}
		}
		if err != nil {
			return fmt.Errorf("play: step %d: %w", i, err)
		}
	}
	return nil
}

// expect waits for a send matching e at index from or later, and answers
// the index after it; timedOut says err is e's TimedOut error.
func expect[T any](ctx context.Context, sends *Sends[T], e *Expectation[T], from int) (next int, timedOut bool, err error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultExpectTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		var seen []T
		var wake <-chan struct{}
		from, seen, wake = sends.Since(from)
		for i, s := range seen {
			if e.Match(s) {
				return from + i + 1, false, nil
			}
		}
		select {
		case <-wake:
		case <-deadline.C:
			return from, true, e.TimedOut(seen)
		case <-ctx.Done():
			return from, false, fmt.Errorf("waiting for %s: %w", e.Describe, ctx.Err())
		}
	}
}

// Sleep pauses for d (not at all when d <= 0), or until ctx ends, answering
// the context's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DescribeSends names the sends an expectation accepts from its criteria,
// given as {name, value} pairs; empty values are left out:
// `a send with kind "text", containing "hi"`, or "any send".
func DescribeSends(criteria ...[2]string) string {
	var parts []string
	for _, c := range criteria {
		if c[1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", c[0], c[1]))
		}
	}
	if len(parts) == 0 {
		return "any send"
	}
	return "a send with " + strings.Join(parts, ", ")
}

// ExpectTimeoutMessage is the message of an expectation that timed out: its
// step, the sentinel its error matches, the sends it wanted (see
// DescribeSends), how long it waited (DefaultExpectTimeout for zero or
// less), and the sends it saw, each already described.
func ExpectTimeoutMessage(step int, sentinel error, want string, timeout time.Duration, seen []string) string {
	if timeout <= 0 {
		timeout = DefaultExpectTimeout
	}
	saw := "no sends"
	if len(seen) > 0 {
		saw = fmt.Sprintf("%d sends: %s", len(seen), strings.Join(seen, "; "))
	}
	return fmt.Sprintf("step %d: %s: expected %s within %s; saw %s", step, sentinel, want, timeout, saw)
}
