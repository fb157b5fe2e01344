// Package simkit holds the machinery the vendor simulators share: the
// callback poster that delivers the quntool, wework and wechat simulators'
// webhook callbacks in order with retries (Poster), the record of accepted
// sends that WaitSent and scripted plays wait on (Sends), the player of
// those scripts (Play), and small helpers (Plain for recorded request
// arguments, ManualClock for controlled time, also used by the msgserver
// simulator's tests).
//
// Each simulator keeps its own exported types (Callback, Sent, Step,
// Expect...) and wraps these generic pieces; nothing here knows a vendor's
// body shapes or field names. Every type here is safe for concurrent use;
// the locks they take are leaves, so a simulator may call them while
// holding its own state lock.
package simkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

var (
	// ErrCallback: a callback could not be delivered after every retry.
	ErrCallback = errors.New("callback delivery failed")
	// ErrClosed: the poster (and so its simulator) was closed.
	ErrClosed = errors.New("simulator closed")
)

const (
	// RecordLimit bounds the callbacks a Poster keeps for Records.
	RecordLimit = 1000
	// DefaultCallbackTimeout bounds a POST when Config.Timeout is zero.
	DefaultCallbackTimeout = 5 * time.Second
	// DefaultCallbackRetries is Config.Retries when it is zero.
	DefaultCallbackRetries = 3
	// DefaultCallbackBackoff is Config.Backoff when it is zero.
	DefaultCallbackBackoff = 200 * time.Millisecond
)

// Status is what became of a callback: filled into its record by the
// Poster's fill function whenever Records copies it.
type Status struct {
	// Attempts is how many POSTs were made; 0 while queued or unposted.
	Attempts  int
	Delivered bool
	// Err says why the last attempt failed.
	Err string
}

// Item is one callback to queue.
type Item[R any] struct {
	// URL is where it is posted; "" records it without posting.
	URL string
	// Body is the JSON posted.
	Body []byte
	// Label names the callback in errors and logs ("text_msg", "notify
	// type 11010").
	Label string
	// Record is the simulator's description of it, as Records answers it.
	Record R
}

// Delivery is one queued callback. Its fields are owned by the Poster; wait
// for it with Poster.Wait.
type Delivery[R any] struct {
	item   Item[R]
	status Status
	done   chan struct{}
	err    error // set before done is closed
}

// Failed answers a delivery that already failed with err (a callback that
// could not even be built). It is not recorded.
func Failed[R any](label string, err error) *Delivery[R] {
	d := &Delivery[R]{item: Item[R]{Label: label}, done: make(chan struct{}), err: err}
	close(d.done)
	return d
}

// EncodeJSON encodes v as a callback body: HTML characters unescaped, as
// the vendors send them, and no trailing newline.
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Config configures a Poster.
type Config struct {
	// Client posts the callbacks (one with Timeout when nil).
	Client *http.Client
	// Timeout bounds each POST (DefaultCallbackTimeout when zero or less).
	Timeout time.Duration
	// Retries is how many times a retryable failure is retried
	// (DefaultCallbackRetries when zero; negative: never).
	Retries int
	// Backoff is the first pause between attempts, doubled for each further
	// one (DefaultCallbackBackoff when zero or less).
	Backoff time.Duration
	// Log receives delivery failures (discarded when nil).
	Log hclog.Logger
}

// Stats counts callbacks.
type Stats struct {
	Queued    int // waiting or being posted
	Delivered int // answered 2xx
	Failed    int // given up after every retry
}

// Poster posts callbacks one at a time, in the order they were queued, from
// one goroutine, and keeps the most recent RecordLimit of them for Records.
// Every method is safe for concurrent use. NewPoster starts its goroutine;
// Close stops it.
type Poster[R any] struct {
	cfg    Config
	fill   func(*R, Status)
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	queue     []*Delivery[R]
	pending   int           // queued or being posted
	idle      chan struct{} // closed while pending == 0
	wake      chan struct{}
	closed    bool
	record    []*Delivery[R]
	delivered int
	failed    int
}

// NewPoster starts a poster configured by cfg. fill copies a callback's
// status into a copy of its record for Records (nil leaves records as
// queued).
func NewPoster[R any](cfg Config, fill func(*R, Status)) *Poster[R] {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCallbackTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultCallbackRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultCallbackBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	cfg.Log, _ = Defaults(cfg.Log, nil)
	p := &Poster[R]{cfg: cfg, fill: fill, idle: make(chan struct{}), wake: make(chan struct{}, 1)}
	close(p.idle)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// Enqueue records it and queues it for posting. Without a URL, or after
// Close, the delivery is settled at once (failed with ErrClosed after
// Close). Callers that must keep callbacks in the order of their state
// changes enqueue while holding their state lock; Enqueue never blocks on
// the network.
func (p *Poster[R]) Enqueue(it Item[R]) *Delivery[R] {
	d := &Delivery[R]{item: it, done: make(chan struct{})}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = append(p.record, d)
	if n := len(p.record); n > RecordLimit {
		p.record = append(p.record[:0:0], p.record[n-RecordLimit:]...)
	}
	if p.closed || it.URL == "" {
		if p.closed {
			d.err, d.status.Err = ErrClosed, ErrClosed.Error()
		}
		close(d.done)
		return d
	}
	p.queue = append(p.queue, d)
	if p.pending == 0 {
		p.idle = make(chan struct{})
	}
	p.pending++
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return d
}

// next waits for the next delivery; nil once closed.
func (p *Poster[R]) next() *Delivery[R] {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil
		}
		if len(p.queue) > 0 {
			d := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			return d
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.ctx.Done():
		}
	}
}

func (p *Poster[R]) run() {
	for d := p.next(); d != nil; d = p.next() {
		attempts, err := p.deliver(d)
		p.mu.Lock()
		d.status.Attempts = attempts
		if err != nil {
			d.err, d.status.Err = err, err.Error()
			p.failed++
			p.cfg.Log.Error("callback not delivered", "callback", d.item.Label, "url", d.item.URL, "attempts", attempts, "error", err)
		} else {
			d.status.Delivered = true
			p.delivered++
			p.cfg.Log.Debug("callback delivered", "callback", d.item.Label)
		}
		close(d.done)
		p.settle()
		p.mu.Unlock()
	}
}

// settle counts one delivery off. p.mu must be held.
func (p *Poster[R]) settle() {
	if p.pending--; p.pending == 0 {
		close(p.idle)
	}
}

// deliver posts d, retrying transport errors, 5xx, 408 and 429 with
// doubling pauses. Other answers outside 2xx are final: the receiver
// refused the body and would refuse it again.
func (p *Poster[R]) deliver(d *Delivery[R]) (int, error) {
	pause := p.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := p.post(d.item.URL, d.item.Body)
		if err == nil {
			return attempt, nil
		}
		if !retry || attempt > p.cfg.Retries {
			return attempt, fmt.Errorf("%w: %s to %s (attempt %d): %w", ErrCallback, d.item.Label, d.item.URL, attempt, err)
		}
		p.cfg.Log.Warn("callback failed, retrying", "callback", d.item.Label, "attempt", attempt, "in", pause, "error", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("%w: %s: %w", ErrCallback, d.item.Label, ErrClosed)
		}
		pause *= 2
	}
}

func (p *Poster[R]) post(url string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return false, nil
	}
	retry = code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
	return retry, fmt.Errorf("answered HTTP %d: %s", code, strings.TrimSpace(string(answer)))
}

// Wait waits for the deliveries and answers their errors joined, or the
// context's error when ctx ends first. Call it without holding the lock the
// deliveries were enqueued under.
func (p *Poster[R]) Wait(ctx context.Context, ds ...*Delivery[R]) error {
	var errs []error
	for _, d := range ds {
		select {
		case <-d.done:
			if d.err != nil {
				errs = append(errs, d.err)
			}
		case <-ctx.Done():
			return fmt.Errorf("wait for the %s callback: %w", d.item.Label, ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// Flush waits until every queued callback has been delivered or given up.
func (p *Poster[R]) Flush(ctx context.Context) error {
	p.mu.Lock()
	idle, n := p.idle, p.pending
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush callbacks (%d pending): %w", n, ctx.Err())
	}
}

// Close stops the poster: callbacks still queued fail with ErrClosed, the
// one being posted is abandoned, and later ones are recorded but not
// posted. Close is idempotent.
func (p *Poster[R]) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.cancel()
	for _, d := range p.queue {
		d.err, d.status.Err = ErrClosed, ErrClosed.Error()
		close(d.done)
		p.settle()
	}
	p.queue = nil
}

// Records lists the recorded callbacks, oldest first, each with its status
// filled in.
func (p *Poster[R]) Records() []R {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]R, len(p.record))
	for i, d := range p.record {
		out[i] = d.item.Record
		if p.fill != nil {
			p.fill(&out[i], d.status)
		}
	}
	return out
}

// Stats counts the callbacks since NewPoster or ResetRecord.
func (p *Poster[R]) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Queued: p.pending, Delivered: p.delivered, Failed: p.failed}
}

// ResetRecord forgets the recorded callbacks and the delivered and failed
// counts; queued callbacks are still posted.
func (p *Poster[R]) ResetRecord() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = nil
	p.delivered, p.failed = 0, 0
}

// Defaults answers log and clock, or a silent logger and time.Now in place
// of nil ones.
func Defaults(log hclog.Logger, clock func() time.Time) (hclog.Logger, func() time.Time) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if clock == nil {
		clock = time.Now
	}
	return log, clock
}
