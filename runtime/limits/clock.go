package limits

import "time"

// Clock is the time source of the limiter (and of the outbox's backoff).
// Implementations are safe for concurrent use; AfterFunc runs f on a
// goroutine of its own.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed, unless the returned stop is
	// called first; stop reports whether it prevented the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
