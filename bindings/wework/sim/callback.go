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
	// URL is where it was posted: the instance's notify URL or
	// Options.CallbackURL; "" when neither was set (recorded only).
	URL  string
	Body json.RawMessage
	// Attempts is how many POSTs were made; 0 while queued or unposted.
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

// callbackBody is the vendor's callback, in its field order.
type callbackBody struct {
	GUID       string `json:"guid"`
	NotifyType int    `json:"notify_type"`
	Data       any    `json:"data"`
}

// queue builds the callback of instance in and queues it for posting to
// its notify URL. s.mu must be held, so callbacks are posted in the order
// the state changed.
func (s *Sim) queue(in *instance, notifyType int, data any) *delivery {
	url := in.notifyURL
	if url == "" {
		url = s.opts.CallbackURL
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	d := &delivery{done: make(chan struct{}),
		rec: &Callback{GUID: in.guid, NotifyType: notifyType, URL: url}}
	if err := enc.Encode(callbackBody{GUID: in.guid, NotifyType: notifyType, Data: data}); err != nil {
		d.err = fmt.Errorf("encode %d callback: %w", notifyType, err)
		close(d.done)
		return d
	}
	d.rec.Body = bytes.TrimRight(buf.Bytes(), "\n")
	s.cb.enqueue(d)
	return d
}

// PostCallback posts a callback of notifyType for instance guid with data
// (an object, or a list for 11013) and returns once it is delivered (or
// failed for good). Use it for the callbacks Say and the login flow do not
// cover.
func (s *Sim) PostCallback(ctx context.Context, guid string, notifyType int, data any) error {
	if notifyType <= 0 {
		return fmt.Errorf("post callback: %w: notify_type %d", ErrInvalid, notifyType)
	}
	s.mu.Lock()
	in := s.st.get(guid)
	var d *delivery
	if in != nil {
		d = s.queue(in, notifyType, data)
	}
	s.mu.Unlock()
	if d == nil {
		return fmt.Errorf("post %d callback: %w: %q", notifyType, ErrUnknownInstance, guid)
	}
	if err := s.cb.wait(ctx, d); err != nil {
		return fmt.Errorf("post %d callback: %w", notifyType, err)
	}
	return nil
}

// Incoming is a text message someone sends to an instance's user, for Say.
type Incoming struct {
	// GUID is the receiving instance; it must be online.
	GUID string
	// From is the sender: a contact for a private message, a member of the
	// room for a group one.
	From string
	// FromName is the sender's name (what the instance knows of From when
	// empty).
	FromName string
	// ConversationID is "R:" and the room id for a group message; empty (or
	// "S:" and From) for a private one.
	ConversationID string
	Text           string
	// AtList are the user ids mentioned ("0" for everyone).
	AtList []string
	// NotifyType is NotifyBatchSync (the default: data is a list of one
	// message, as the vendor's logs show) or NotifyNewMsg (data is the
	// message object).
	NotifyType int
}

// Say posts a received text message exactly like the vendor's callback for
// one (send_flag 0), puts its conversation on the session list, and returns
// once the callback is delivered.
func (s *Sim) Say(ctx context.Context, m Incoming) error {
	s.mu.Lock()
	d, err := s.incoming(m)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("say: %w", err)
	}
	if err := s.cb.wait(ctx, d); err != nil {
		return fmt.Errorf("say: %w", err)
	}
	return nil
}

// incoming validates m and queues its callback. s.mu must be held.
func (s *Sim) incoming(m Incoming) (*delivery, error) {
	in := s.st.get(m.GUID)
	switch {
	case in == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownInstance, m.GUID)
	case in.status != StatusOnline:
		return nil, fmt.Errorf("%w: instance %s is not online", ErrState, m.GUID)
	case strings.TrimSpace(m.From) == "":
		return nil, fmt.Errorf("%w: From is required", ErrInvalid)
	case m.From == in.user.UserID:
		return nil, fmt.Errorf("%w: From is the instance's own user; what it sends are sends", ErrInvalid)
	case m.NotifyType != 0 && m.NotifyType != NotifyBatchSync && m.NotifyType != NotifyNewMsg:
		return nil, fmt.Errorf("%w: notify type %d is not a message callback", ErrInvalid, m.NotifyType)
	}
	conv, room, receiver := m.ConversationID, "0", in.user.UserID
	switch {
	case conv == "" || conv == "S:"+m.From:
		if in.contacts[m.From] == nil {
			return nil, fmt.Errorf("%w: %s is not a contact of %s", ErrUnknownContact, m.From, m.GUID)
		}
		conv = "S:" + m.From
	case strings.HasPrefix(conv, "R:"):
		r := in.rooms[strings.TrimPrefix(conv, "R:")]
		switch {
		case r == nil:
			return nil, fmt.Errorf("%w: %s", ErrUnknownRoom, conv)
		case !in.member(r, m.From):
			return nil, fmt.Errorf("%w: %s is not a member of %s", ErrInvalid, m.From, conv)
		}
		room, receiver = r.ID, "0"
	default:
		return nil, fmt.Errorf(`%w: conversation id %q must be "S:%s" or start with "R:"`, ErrInvalid, conv, m.From)
	}
	name := m.FromName
	if name == "" {
		name = in.name(m.From)
	}
	in.addSession(conv)
	atList := m.AtList
	if atList == nil {
		atList = []string{}
	}
	msg := s.message(in, m.From, name, receiver, room, m.Text, atList, 0)
	if m.NotifyType == NotifyNewMsg {
		return s.queue(in, NotifyNewMsg, msg), nil
	}
	return s.queue(in, NotifyBatchSync, []any{msg}), nil
}

// message is a message as the 11010/11013 callbacks carry it. s.mu must be
// held.
func (s *Sim) message(in *instance, sender, senderName, receiver, room, text string, atList []string, sendFlag int) map[string]any {
	return map[string]any{
		"seq":           s.st.nextSeq(),
		"id":            s.st.nextMsgID(),
		"appinfo":       digits("", 19),
		"sender":        sender,
		"receiver":      receiver,
		"roomid":        room,
		"sendtime":      s.now().Unix(),
		"sender_name":   senderName,
		"content_type":  2,
		"referid":       "0",
		"flag":          0,
		"asid":          "0",
		"extra_content": "",
		"content":       text,
		"at_list":       atList,
		"quote_content": "",
		"quote_appinfo": "",
		"send_flag":     sendFlag,
		"msg_type":      2,
	}
}

// Callbacks lists the most recent callbacks (up to 1000), oldest first.
func (s *Sim) Callbacks() []Callback { return s.cb.records() }

// CallbackStats counts the callbacks since New or Reset.
func (s *Sim) CallbackStats() CallbackStats { return s.cb.stats() }

// Flush waits until every queued callback has been delivered or given up.
func (s *Sim) Flush(ctx context.Context) error { return s.cb.flush(ctx) }

// delivery is one queued callback.
type delivery struct {
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
	pending   []*delivery   // queued, the first one being posted
	idle      chan struct{} // closed while nothing is pending
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

// enqueue records d and queues it; without a URL, or after close, d is
// settled at once.
func (p *poster) enqueue(d *delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = append(p.record, d.rec)
	if n := len(p.record); n > callbackRecordLimit {
		p.record = slicesClone(p.record[n-callbackRecordLimit:])
	}
	if p.closed || d.rec.URL == "" {
		if p.closed {
			d.err, d.rec.Err = ErrClosed, ErrClosed.Error()
		}
		close(d.done)
		return
	}
	if len(p.pending) == 0 {
		p.idle = make(chan struct{})
	}
	p.pending = append(p.pending, d)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func slicesClone(cs []*Callback) []*Callback { return append([]*Callback(nil), cs...) }

func (p *poster) run() {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		if len(p.pending) == 0 {
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.ctx.Done():
			}
			continue
		}
		d := p.pending[0]
		p.mu.Unlock()

		attempts, err := p.deliver(d)

		p.mu.Lock()
		if len(p.pending) == 0 || p.pending[0] != d { // close settled it meanwhile
			p.mu.Unlock()
			continue
		}
		p.pending = p.pending[1:]
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
		if len(p.pending) == 0 {
			close(p.idle)
		}
		p.mu.Unlock()
	}
}

// deliver posts d, retrying transport errors, 5xx, 408 and 429 with
// doubling pauses. Other 4xx answers are final.
func (p *poster) deliver(d *delivery) (int, error) {
	pause := p.backoff
	for attempt := 1; ; attempt++ {
		retry, err := p.post(d.rec.URL, d.rec.Body)
		if err == nil {
			return attempt, nil
		}
		if !retry || attempt > p.retries {
			return attempt, fmt.Errorf("%w: %d to %s (attempt %d): %w", ErrCallback, d.rec.NotifyType, d.rec.URL, attempt, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("%w: %d: %w", ErrCallback, d.rec.NotifyType, ErrClosed)
		}
		pause *= 2
	}
}

func (p *poster) post(url string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
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
	idle, n := p.idle, len(p.pending)
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
	for _, d := range p.pending {
		d.err, d.rec.Err = ErrClosed, ErrClosed.Error()
		close(d.done)
	}
	if len(p.pending) > 0 {
		close(p.idle)
	}
	p.pending = nil
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
	return CallbackStats{Queued: len(p.pending), Delivered: p.delivered, Failed: p.failed}
}

func (p *poster) resetRecord() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = nil
	p.delivered, p.failed = 0, 0
}
