package simkit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSendsWait(t *testing.T) {
	t.Parallel()
	var l Sends[string]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan []string, 1)
	go func() {
		s, err := l.Wait(ctx, 2)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	l.Add("a")
	l.Add("b")
	select {
	case s := <-got:
		if strings.Join(s, ",") != "a,b" {
			t.Errorf("Wait answered %q, want a,b", s)
		}
	case <-ctx.Done():
		t.Fatal("Wait did not return")
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	s, err := l.Wait(short, 3)
	if !errors.Is(err, context.Canceled) || len(s) != 2 {
		t.Errorf("Wait past its context = %q, %v; want the 2 sends and context.Canceled", s, err)
	}
	if l.Len() != 2 {
		t.Errorf("Len = %d, want 2", l.Len())
	}
	l.Reset()
	if n := len(l.All()); n != 0 {
		t.Errorf("%d sends after Reset", n)
	}
}

func TestSendsSinceAfterReset(t *testing.T) {
	t.Parallel()
	var l Sends[int]
	l.Add(1)
	l.Add(2)
	from, seen, wake := l.Since(1)
	if from != 1 || len(seen) != 1 || seen[0] != 2 {
		t.Fatalf("Since(1) = %d, %v", from, seen)
	}
	l.Reset()
	select {
	case <-wake:
	default:
		t.Fatal("Reset did not wake the waiter")
	}
	if from, seen, _ := l.Since(5); from != 0 || len(seen) != 0 {
		t.Errorf("Since past the end after Reset = %d, %v; want 0 and none", from, seen)
	}
}

var errInvalid = errors.New("invalid")

type timeoutError struct{ seen []string }

func (e *timeoutError) Error() string { return "timed out" }

func expectation(want string, timeout time.Duration) *Expectation[string] {
	return &Expectation[string]{Match: func(s string) bool { return s == want }, Timeout: timeout,
		Describe: want, TimedOut: func(seen []string) error { return &timeoutError{seen} }}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		steps   func(l *Sends[string]) []Step[string]
		wantErr error
		wantIn  string // part of the error message
		// timesOut: the play ends in the TimedOut error of an expectation
		// that saw no send.
		timesOut bool
	}{
		{"say then expect", func(l *Sends[string]) []Step[string] {
			return []Step[string]{
				{Say: func(context.Context) error { l.Add("skipped"); l.Add("reply"); return nil }},
				{Expect: expectation("reply", time.Second)},
			}
		}, nil, "", false},
		{"expectations consume sends in order", func(l *Sends[string]) []Step[string] {
			return []Step[string]{
				{Post: func(context.Context) error { l.Add("x"); return nil }},
				{Expect: expectation("x", time.Second)},
				{Expect: expectation("x", 20*time.Millisecond)},
			}
		}, nil, "", true},
		{"failing post", func(*Sends[string]) []Step[string] {
			return []Step[string]{{Post: func(context.Context) error { return errCallbackForTest }}}
		}, errCallbackForTest, "step 0", false},
		{"two actions", func(*Sends[string]) []Step[string] {
			f := func(context.Context) error { return nil }
			return []Step[string]{{Say: f, Post: f}}
		}, errInvalid, "one of", false},
		{"negative wait", func(*Sends[string]) []Step[string] {
			return []Step[string]{{Wait: -1}}
		}, errInvalid, "negative", false},
		{"empty step", func(*Sends[string]) []Step[string] {
			return []Step[string]{{Wait: time.Millisecond}, {}}
		}, errInvalid, "step 1", false},
		{"expectation without TimedOut", func(*Sends[string]) []Step[string] {
			return []Step[string]{{Expect: &Expectation[string]{Match: func(string) bool { return true }}}}
		}, errInvalid, "TimedOut", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var l Sends[string]
			l.Add("before the play")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Play(ctx, &l, tc.steps(&l), errInvalid)
			if tc.timesOut {
				var te *timeoutError
				if !errors.As(err, &te) || len(te.seen) != 0 || err != error(te) {
					t.Fatalf("Play = %v, want the unwrapped TimedOut error of an expectation that saw nothing", err)
				}
				return
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Play = %v", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("Play = %v, want %v mentioning %q", err, tc.wantErr, tc.wantIn)
			}
		})
	}
}

var errCallbackForTest = errors.New("not delivered")

func TestPlayContext(t *testing.T) {
	t.Parallel()
	var l Sends[string]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, steps := range [][]Step[string]{
		{{Wait: time.Hour}},
		{{Expect: expectation("never", time.Hour)}},
	} {
		if err := Play(ctx, &l, steps, errInvalid); !errors.Is(err, context.Canceled) {
			t.Errorf("Play = %v, want context.Canceled", err)
		}
	}
}

func TestDescribeSends(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		criteria [][2]string
		want     string
	}{
		{"none", nil, "any send"},
		{"all empty", [][2]string{{"kind", ""}, {"to", ""}}, "any send"},
		{"some", [][2]string{{"kind", "text"}, {"to", ""}, {"containing", `a "b"`}}, `a send with kind "text", containing "a \"b\""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := DescribeSends(tc.criteria...); got != tc.want {
				t.Errorf("DescribeSends = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestExpectTimeoutMessage(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("expected send did not arrive")
	tests := []struct {
		name    string
		timeout time.Duration
		seen    []string
		want    string
	}{
		{"default timeout, nothing seen", 0, nil,
			"step 2: expected send did not arrive: expected any send within 5s; saw no sends"},
		{"sends seen", time.Second, []string{"a", "b"},
			"step 2: expected send did not arrive: expected any send within 1s; saw 2 sends: a; b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ExpectTimeoutMessage(2, sentinel, "any send", tc.timeout, tc.seen); got != tc.want {
				t.Errorf("message %q, want %q", got, tc.want)
			}
		})
	}
}
