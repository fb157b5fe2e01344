package sim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultExpectTimeout is how long an Expect step waits when its Timeout
// is zero.
const DefaultExpectTimeout = 5 * time.Second

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
	var parts []string
	for _, f := range [][2]string{{"guid", e.GUID}, {"to", e.To}, {"kind", e.Kind}, {"containing", e.Contains}} {
		if f[1] != "" {
			parts = append(parts, fmt.Sprintf("%s %q", f[0], f[1]))
		}
	}
	if len(parts) == 0 {
		return "any send"
	}
	return "a send with " + strings.Join(parts, ", ")
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
	saw := make([]string, 0, len(e.Seen))
	for _, s := range e.Seen {
		saw = append(saw, fmt.Sprintf("%s to %s: %q", s.Kind, s.To, s.Content))
	}
	return fmt.Sprintf("step %d: %s: expected %s; saw %d sends [%s]", e.Step, ErrExpectTimeout, e.Expect.String(),
		len(e.Seen), strings.Join(saw, "; "))
}

// Is matches ErrExpectTimeout.
func (e *ExpectError) Is(target error) bool { return target == ErrExpectTimeout }

// Play plays script in order. Expectations consume sends in order: each is
// met by the first matching send after the one that met the previous
// expectation (or, for the first, made after Play began). It stops at the
// first step that fails: a callback that cannot be delivered, an
// *ExpectError, or the end of ctx. The script is checked before anything
// is played.
func (s *Sim) Play(ctx context.Context, script []Step) error {
	for i, st := range script {
		n := 0
		for _, set := range []bool{st.Say != nil, st.Post != nil, st.Expect != nil} {
			if set {
				n++
			}
		}
		if n > 1 || st.Wait < 0 || (n == 0 && st.Wait == 0) {
			return fmt.Errorf("play: step %d: %w: a step waits a non-negative time, then does at most one of Say, Post and Expect", i, ErrInvalid)
		}
	}
	cursor := len(s.Sent())
	for i, st := range script {
		if err := sleep(ctx, st.Wait); err != nil {
			return fmt.Errorf("play: step %d: %w", i, err)
		}
		var err error
		switch {
		case st.Say != nil:
			err = s.Say(ctx, *st.Say)
		case st.Post != nil:
			err = s.PostCallback(ctx, st.Post.GUID, st.Post.NotifyType, st.Post.Data)
		case st.Expect != nil:
			cursor, err = s.expect(ctx, i, *st.Expect, cursor)
		}
		var ee *ExpectError
		if errors.As(err, &ee) {
			return err
		}
		if err != nil {
			return fmt.Errorf("play: step %d: %w", i, err)
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
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

// expect waits for a send matching e at index from or later, and answers
// the index after it.
func (s *Sim) expect(ctx context.Context, step int, e Expect, from int) (int, error) {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultExpectTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		var seen []Sent
		var wake chan struct{}
		from, seen, wake = s.sentSince(from)
		for i, sent := range seen {
			if e.matches(sent) {
				return from + i + 1, nil
			}
		}
		select {
		case <-wake:
		case <-deadline.C:
			return from, &ExpectError{Step: step, Expect: e, Seen: seen}
		case <-ctx.Done():
			return from, fmt.Errorf("waiting for %s: %w", e.String(), ctx.Err())
		}
	}
}
