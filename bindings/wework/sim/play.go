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

// Step is one step of a scripted conversation. After Wait, it does at most
// one of Say, Post and Expect; a step with only Wait is a pause.
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
	GUID           string
	ConversationID string
	Kind           string
	// Contains must be part of the send's Content.
	Contains string
	// Timeout bounds the wait (DefaultExpectTimeout when zero).
	Timeout time.Duration
}

func (e *Expect) matches(s Sent) bool {
	return (e.GUID == "" || e.GUID == s.GUID) &&
		(e.ConversationID == "" || e.ConversationID == s.ConversationID) &&
		(e.Kind == "" || e.Kind == s.Kind) &&
		strings.Contains(s.Content, e.Contains)
}

func (e *Expect) timeout() time.Duration {
	if e.Timeout <= 0 {
		return DefaultExpectTimeout
	}
	return e.Timeout
}

// String describes the sends e matches.
func (e *Expect) String() string {
	var parts []string
	for _, f := range [][2]string{{"instance", e.GUID}, {"conversation", e.ConversationID}, {"kind", e.Kind}, {"containing", e.Contains}} {
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
	saw := "no sends"
	if len(e.Seen) > 0 {
		var seen []string
		for _, s := range e.Seen {
			seen = append(seen, fmt.Sprintf("%s %s to %s: %q", s.GUID, s.Kind, s.ConversationID, s.Content))
		}
		saw = fmt.Sprintf("%d sends: %s", len(seen), strings.Join(seen, "; "))
	}
	return fmt.Sprintf("step %d: %s: expected %s within %s; saw %s", e.Step, ErrExpectTimeout, e.Expect.String(), e.Expect.timeout(), saw)
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
		switch {
		case n > 1:
			return fmt.Errorf("play: step %d: %w: a step does one of Say, Post and Expect", i, ErrInvalid)
		case st.Wait < 0:
			return fmt.Errorf("play: step %d: %w: negative Wait", i, ErrInvalid)
		case n == 0 && st.Wait == 0:
			return fmt.Errorf("play: step %d: %w: an empty step", i, ErrInvalid)
		}
	}
	s.mu.Lock()
	cursor := len(s.st.sent)
	s.mu.Unlock()
	for i, st := range script {
		if err := pause(ctx, st.Wait); err != nil {
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
		switch {
		case errors.As(err, &ee):
			return err
		case err != nil:
			return fmt.Errorf("play: step %d: %w", i, err)
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) error {
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
	deadline := time.NewTimer(e.timeout())
	defer deadline.Stop()
	for {
		s.mu.Lock()
		sent, wake := s.st.sent, s.sentSignal
		if from > len(sent) { // a Reset emptied the record
			from = 0
		}
		for i := from; i < len(sent); i++ {
			if e.matches(sent[i]) {
				s.mu.Unlock()
				return i + 1, nil
			}
		}
		seen := append([]Sent(nil), sent[from:]...)
		s.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			return from, &ExpectError{Step: step, Expect: e, Seen: seen}
		case <-ctx.Done():
			return from, fmt.Errorf("waiting for %s: %w", e.String(), ctx.Err())
		}
	}
}
