package sim

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

// Callback is a callback the simulator produced, as Callbacks reports it.
type Callback struct {
	GUID       string
	NotifyType int
	// URL is where it was posted; "" when the instance had nowhere to post.
	URL  string
	Body json.RawMessage
	// Attempts is how many POSTs were made; 0 while queued or without a URL.
	Attempts  int
	Delivered bool
	// Err says why the last attempt failed.
	Err string
}

// CallbackStats counts callbacks.
type CallbackStats struct {
	Queued    int // waiting or being posted
	Delivered int // answered 2xx
	Failed    int // given up after every retry
}

// queueCallback builds the callback {guid, notify_type, data} of inst and
// queues it for its notify URL (Options.CallbackURL when it has none).
// s.mu must be held, so callbacks are posted in the order the state
// changed.
func (s *Sim) queueCallback(inst *instance, notifyType int, data any) *delivery {
	url := inst.notifyURL
	if url == "" {
		url = s.opts.CallbackURL
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	d := &delivery{url: url, done: make(chan struct{})}
	err := enc.Encode(struct {
		GUID       string `json:"guid"`
		NotifyType int    `json:"notify_type"`
		Data       any    `json:"data"`
	}{inst.guid, notifyType, data})
	if err != nil {
		d.err = fmt.Errorf("encode %d callback: %w", notifyType, err)
		close(d.done)
		return d
	}
	d.body = bytes.TrimRight(buf.Bytes(), "\n")
	d.rec = &Callback{GUID: inst.guid, NotifyType: notifyType, URL: url, Body: d.body}
	s.cb.enqueue(d)
	return d
}

// PostCallback posts a callback of notifyType for the instance guid with
// data as its data, and returns once it is delivered (or failed for good).
// Use it for the notify types no other method produces: 1011 batches,
// 1047 member updates, 1200–1204, messages of kinds Say does not make...
func (s *Sim) PostCallback(ctx context.Context, guid string, notifyType int, data any) error {
	if notifyType <= 0 {
		return fmt.Errorf("post callback: %w: notify type %d", ErrInvalid, notifyType)
	}
	s.mu.Lock()
	inst := s.st.instances[guid]
	var d *delivery
	if inst != nil {
		d = s.queueCallback(inst, notifyType, data)
	}
	s.mu.Unlock()
	if d == nil {
		return fmt.Errorf("post %d callback: %w: %q", notifyType, ErrUnknownInstance, guid)
	}
	return s.await(ctx, fmt.Sprintf("post %d callback", notifyType), d)
}

// await waits for the deliveries of a driving method named what.
func (s *Sim) await(ctx context.Context, what string, ds ...*delivery) error {
	if err := s.cb.wait(ctx, ds...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Callbacks lists the most recent callbacks (up to 1000), oldest first.
func (s *Sim) Callbacks() []Callback { return s.cb.records() }

// CallbackStats counts the callbacks since New or Reset.
func (s *Sim) CallbackStats() CallbackStats { return s.cb.stats() }

// Flush waits until every queued callback has been delivered or given up.
func (s *Sim) Flush(ctx context.Context) error { return s.cb.flush(ctx) }

// delivery is one queued callback.
type delivery struct {
	url  string
	body []byte
	rec  *Callback
	done chan struct{}
	err  error // set before done is closed
}

// poster posts callbacks one at a time, in order, from one goroutine.
type poster struct {
	client  *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
	log     hclog.Logger
	ctx     context.Context // canceled by close
	cancel  context.CancelFunc

	mu        sync.Mutex
	queue     []*delivery
	pending   int
	idle      chan struct{} // closed while pending == 0
	wake      chan struct{}
	closed    bool
	record    []*Callback
	delivered int
	failed    int
}

func newPoster(opts Options, log hclog.Logger) *poster {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: opts.CallbackTimeout}
	}
	p := &poster{client: client, timeout: opts.CallbackTimeout, retries: opts.CallbackRetries,
		backoff: opts.CallbackBackoff, log: log.Named("callbacks"),
		idle: make(chan struct{}), wake: make(chan struct{}, 1)}
	close(p.idle)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// enqueue records d and queues it; without a URL or once closed it is
// settled at once.
func (p *poster) enqueue(d *delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = append(p.record, d.rec)
	if n := len(p.record); n > callbackRecordLimit {
		p.record = slicesTail(p.record, callbackRecordLimit)
	}
	if p.closed || d.url == "" {
		if p.closed {
			d.err = ErrClosed
			d.rec.Err = ErrClosed.Error()
		}
		close(d.done)
		return
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
}

func slicesTail[T any](s []T, n int) []T { return append(s[:0:0], s[len(s)-n:]...) }

// next waits for the next delivery; nil once closed.
func (p *poster) next() *delivery {
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

func (p *poster) run() {
	for d := p.next(); d != nil; d = p.next() {
		attempts, err := p.deliver(d)
		p.mu.Lock()
		d.rec.Attempts = attempts
		if err != nil {
			d.err, d.rec.Err = err, err.Error()
			p.failed++
			p.log.Error("callback not delivered", "guid", d.rec.GUID, "notify_type", d.rec.NotifyType, "attempts", attempts, "error", err)
		} else {
			d.rec.Delivered = true
			p.delivered++
		}
		close(d.done)
		p.settle()
		p.mu.Unlock()
	}
}

// settle counts one delivery off. p.mu must be held.
func (p *poster) settle() {
	if p.pending--; p.pending == 0 {
		close(p.idle)
	}
}

// deliver posts d, retrying transport errors, 5xx, 408 and 429 with
// doubling pauses; other answers outside 2xx are final.
func (p *poster) deliver(d *delivery) (int, error) {
	pause := p.backoff
	for attempt := 1; ; attempt++ {
		retry, err := p.post(d)
		if err == nil {
			return attempt, nil
		}
		if !retry || attempt > p.retries {
			return attempt, fmt.Errorf("%w: notify type %d to %s (attempt %d): %w", ErrCallback, d.rec.NotifyType, d.url, attempt, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("%w: notify type %d: %w", ErrCallback, d.rec.NotifyType, ErrClosed)
		}
		pause *= 2
	}
}

func (p *poster) post(d *delivery) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
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

// wait waits for the deliveries, answering their errors joined.
func (p *poster) wait(ctx context.Context, ds ...*delivery) error {
	var errs []error
	for _, d := range ds {
		select {
		case <-d.done:
			if d.err != nil {
				errs = append(errs, d.err)
			}
		case <-ctx.Done():
			return fmt.Errorf("wait for the %d callback: %w", d.rec.NotifyType, ctx.Err())
		}
	}
	return errors.Join(errs...)
}

func (p *poster) flush(ctx context.Context) error {
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

func (p *poster) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.cancel()
	for _, d := range p.queue {
		d.err, d.rec.Err = ErrClosed, ErrClosed.Error()
		close(d.done)
		p.settle()
	}
	p.queue = nil
}

func (p *poster) records() []Callback {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Callback, len(p.record))
	for i, r := range p.record {
		out[i] = *r
	}
	return out
}

func (p *poster) stats() CallbackStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return CallbackStats{Queued: p.pending, Delivered: p.delivered, Failed: p.failed}
}

func (p *poster) resetRecord() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = nil
	p.delivered, p.failed = 0, 0
}
