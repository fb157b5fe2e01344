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

func (e *Expect) matches(s Sent) bool {
	return (e.Account == "" || e.Account == s.Account) &&
		(e.ConversationID == "" || e.ConversationID == s.ConversationID) &&
		(e.Kind == "" || e.Kind == s.Kind) &&
		strings.Contains(s.Content, e.Contains)
}

// String describes the sends e matches.
func (e *Expect) String() string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s %q", name, v))
		}
	}
	add("account", e.Account)
	add("conversation", e.ConversationID)
	add("kind", e.Kind)
	add("containing", e.Contains)
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
	timeout := e.Expect.Timeout
	if timeout <= 0 {
		timeout = DefaultExpectTimeout
	}
	var seen []string
	for _, s := range e.Seen {
		seen = append(seen, fmt.Sprintf("%s %s to %s: %q", s.Account, s.Kind, s.ConversationID, s.Content))
	}
	saw := "no sends"
	if len(seen) > 0 {
		saw = fmt.Sprintf("%d sends: %s", len(seen), strings.Join(seen, "; "))
	}
	return fmt.Sprintf("step %d: %s: expected %s within %s; saw %s", e.Step, ErrExpectTimeout, e.Expect.String(), timeout, saw)
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
		if st.Wait > 0 {
			t := time.NewTimer(st.Wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("play: step %d: %w", i, ctx.Err())
			}
		}
		var err error
		switch {
		case st.Say != nil:
			err = s.Say(ctx, *st.Say)
		case st.Post != nil:
			err = s.PostCallback(ctx, st.Post.Type, st.Post.Account, st.Post.Data)
		case st.Expect != nil:
			cursor, err = s.expect(ctx, i, *st.Expect, cursor)
		}
		if err != nil {
			var ee *ExpectError
			if errors.As(err, &ee) {
				return err
			}
			return fmt.Errorf("play: step %d: %w", i, err)
		}
	}
	return nil
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
