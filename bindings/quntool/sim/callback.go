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
	MsgID    string
	Type     string
	Account  string // the wxid field; "" before a login completes
	Hostname string // the source field
	Body     json.RawMessage
	// Attempts is how many POSTs were made; 0 while queued, and always 0
	// without a CallbackURL.
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
	MsgID     string  `json:"msgId"`
	Source    string  `json:"source"`
	UserID    *string `json:"userId"`
	WxID      string  `json:"wxid"`
	Timestamp int64   `json:"timestamp"`
	Type      string  `json:"type"`
	Data      any     `json:"data"`
	SendMsgID *string `json:"sendMsgId"`
}

// queueCallback builds a callback and queues it for posting. s.mu must be
// held, so callbacks are posted in the order the state changed. userID and
// sendMsgID are null in the body when empty.
func (s *Sim) queueCallback(hostname, userID, wxid, typ string, data any, sendMsgID string) *delivery {
	body := callbackBody{MsgID: newUUID(), Source: hostname, WxID: wxid, Timestamp: s.now().UnixMilli(),
		Type: typ, Data: data}
	if userID != "" {
		body.UserID = &userID
	}
	if sendMsgID != "" {
		body.SendMsgID = &sendMsgID
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	d := &delivery{done: make(chan struct{})}
	if err := enc.Encode(body); err != nil {
		d.err = fmt.Errorf("encode %s callback: %w", typ, err)
		close(d.done)
		return d
	}
	d.body = bytes.TrimRight(buf.Bytes(), "\n")
	d.rec = &Callback{MsgID: body.MsgID, Type: typ, Account: wxid, Hostname: hostname, Body: d.body}
	s.cb.enqueue(d)
	return d
}

// accountCallback queues a callback about account a.
func (s *Sim) accountCallback(a *account, typ string, data any, sendMsgID string) *delivery {
	return s.queueCallback(a.host, a.userID, a.wxid, typ, data, sendMsgID)
}

// PostCallback posts a callback of type typ for account (a wxid, or a
// container's hostname) with data as its data object, shaped like the
// vendor's, and returns once it is delivered (or failed for good). Use it
// for the callback types Say does not cover: image_msg,
// notify_type_contact_add, batch_msg_confirm...
func (s *Sim) PostCallback(ctx context.Context, typ, account string, data any) error {
	if strings.TrimSpace(typ) == "" {
		return fmt.Errorf("post callback: %w: the type is required", ErrInvalid)
	}
	s.mu.Lock()
	a := s.st.accounts.get(account)
	var d *delivery
	switch c := s.st.containers.get(account); {
	case a != nil:
		d = s.accountCallback(a, typ, data, "")
	case c != nil:
		d = s.queueCallback(c.hostname, c.userID, c.wxid, typ, data, "")
	}
	s.mu.Unlock()
	if d == nil {
		return fmt.Errorf("post %s callback: %w: %q is neither an account nor a container", typ, ErrUnknownAccount, account)
	}
	if err := s.cb.wait(ctx, d); err != nil {
		return fmt.Errorf("post %s callback: %w", typ, err)
	}
	return nil
}

// Incoming is a text message someone sends to an account, for Say.
type Incoming struct {
	// Account is the receiving account's wxid; it must be online.
	Account string
	// From is the sender's user id: a contact of the account for a private
	// conversation, a member for a group.
	From string
	// FromName is the sender's display name (what the simulator knows of
	// From when empty).
	FromName string
	// ConversationID is "R:..." for a group; empty for the private
	// conversation of Account and From.
	ConversationID string
	Text           string
	// AtList are the user ids mentioned (group messages).
	AtList []string
}

// Say posts a received text_msg callback, exactly like the vendor's for a
// message the account received, and returns once it is delivered.
func (s *Sim) Say(ctx context.Context, in Incoming) error {
	s.mu.Lock()
	d, err := s.incoming(in)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("say: %w", err)
	}
	if err := s.cb.wait(ctx, d); err != nil {
		return fmt.Errorf("say: %w", err)
	}
	return nil
}

// incoming validates in and queues its callback. s.mu must be held.
func (s *Sim) incoming(in Incoming) (*delivery, error) {
	st := s.st
	a := st.accounts.get(in.Account)
	switch {
	case a == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownAccount, in.Account)
	case !st.online(a):
		return nil, fmt.Errorf("%w: account %s is not online", ErrState, in.Account)
	case strings.TrimSpace(in.From) == "":
		return nil, fmt.Errorf("%w: From is required", ErrInvalid)
	case in.From == in.Account:
		return nil, fmt.Errorf("%w: From is the receiving account itself; messages it sends are sends", ErrInvalid)
	}
	conv, receiver := in.ConversationID, in.Account
	switch {
	case conv == "" || strings.HasPrefix(conv, "S:"):
		want := privateConversation(in.Account, in.From)
		if conv != "" && conv != want {
			return nil, fmt.Errorf("%w: conversation %s is not the private conversation %s of %s and %s",
				ErrInvalid, conv, want, in.Account, in.From)
		}
		conv = want
		if a.activeContact(in.From) == nil {
			return nil, fmt.Errorf("%w: %s is not a contact of %s", ErrUnknownContact, in.From, in.Account)
		}
	case strings.HasPrefix(conv, "R:"):
		r := st.rooms.get(conv)
		switch {
		case r == nil:
			return nil, fmt.Errorf("%w: %s", ErrUnknownRoom, conv)
		case r.member(in.Account) == nil:
			return nil, fmt.Errorf("%w: %s is not a member of %s", ErrInvalid, in.Account, conv)
		case r.member(in.From) == nil:
			return nil, fmt.Errorf("%w: %s is not a member of %s", ErrInvalid, in.From, conv)
		}
		receiver = strings.TrimPrefix(conv, "R:")
	default:
		return nil, fmt.Errorf(`%w: conversation id %q must start with "S:" or "R:"`, ErrInvalid, conv)
	}
	name := in.FromName
	if name == "" {
		name = st.name(in.From)
	}
	atList := in.AtList
	if atList == nil {
		atList = []string{}
	}
	now := s.now()
	seq := st.nextSeq()
	st.lastChat[chatKey(a.wxid, conv)] = chatMark{at: now, text: in.Text}
	return s.accountCallback(a, "text_msg", map[string]any{
		"appinfo":         randomDigits("5", 18),
		"at_list":         atList,
		"content":         in.Text,
		"content_type":    2,
		"conversation_id": conv,
		"is_pc":           0,
		"local_id":        fmt.Sprint(seq - 1045000),
		"receiver":        receiver,
		"send_time":       fmt.Sprint(now.Unix()), // a string in received messages
		"sender":          in.From,
		"sender_name":     name,
		"server_id":       fmt.Sprint(seq),
	}, ""), nil
}

// Callbacks lists the most recent callbacks (up to 1000), oldest first.
func (s *Sim) Callbacks() []Callback { return s.cb.records() }

// CallbackStats counts the callbacks since New or Reset.
func (s *Sim) CallbackStats() CallbackStats { return s.cb.stats() }

// Flush waits until every queued callback has been delivered or given up.
func (s *Sim) Flush(ctx context.Context) error { return s.cb.flush(ctx) }

// delivery is one queued callback.
type delivery struct {
	body []byte
	rec  *Callback
	done chan struct{}
	err  error // set before done is closed
}

// poster posts callbacks one at a time, in order, from one goroutine.
type poster struct {
	url     string
	client  *http.Client
	timeout time.Duration
	retries int
	backoff time.Duration
	log     hclog.Logger

	ctx    context.Context // canceled by close
	cancel context.CancelFunc

	mu        sync.Mutex
	queue     []*delivery
	pending   int           // queued or being posted
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
	p := &poster{url: opts.CallbackURL, client: client, timeout: opts.CallbackTimeout,
		retries: opts.CallbackRetries, backoff: opts.CallbackBackoff, log: log.Named("callbacks"),
		idle: make(chan struct{}), wake: make(chan struct{}, 1)}
	close(p.idle)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

func (p *poster) enqueue(d *delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.record = append(p.record, d.rec)
	if len(p.record) > callbackRecordLimit {
		p.record = append(p.record[:0:0], p.record[len(p.record)-callbackRecordLimit:]...)
	}
	switch {
	case p.closed:
		d.err = ErrClosed
		d.rec.Err = ErrClosed.Error()
		close(d.done)
		return
	case p.url == "":
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

func (p *poster) run() {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		if len(p.queue) == 0 {
			p.mu.Unlock()
			select {
			case <-p.wake:
			case <-p.ctx.Done():
			}
			continue
		}
		d := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()

		attempts, err := p.deliver(d)

		p.mu.Lock()
		d.rec.Attempts = attempts
		if err != nil {
			d.err = err
			d.rec.Err = err.Error()
			p.failed++
			p.log.Error("callback not delivered", "type", d.rec.Type, "msg_id", d.rec.MsgID, "attempts", attempts, "error", err)
		} else {
			d.rec.Delivered = true
			p.delivered++
			p.log.Debug("callback delivered", "type", d.rec.Type, "msg_id", d.rec.MsgID)
		}
		close(d.done)
		p.settle()
		p.mu.Unlock()
	}
}

// settle counts one delivery off. p.mu must be held.
func (p *poster) settle() {
	p.pending--
	if p.pending == 0 {
		close(p.idle)
	}
}

// deliver posts d, retrying transport errors, 5xx, 408 and 429 with
// doubling pauses. Other 4xx answers are final: the receiver refused the
// body and would refuse it again.
func (p *poster) deliver(d *delivery) (int, error) {
	pause := p.backoff
	for attempt := 1; ; attempt++ {
		retry, err := p.post(d.body)
		if err == nil {
			return attempt, nil
		}
		if !retry || attempt > p.retries {
			return attempt, fmt.Errorf("%w: %s to %s (attempt %d): %w", ErrCallback, d.rec.Type, p.url, attempt, err)
		}
		p.log.Warn("callback failed, retrying", "type", d.rec.Type, "attempt", attempt, "in", pause, "error", err)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
			return attempt, fmt.Errorf("%w: %s: %w", ErrCallback, d.rec.Type, ErrClosed)
		}
		pause *= 2
	}
}

func (p *poster) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
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
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, nil
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return true, fmt.Errorf("answered HTTP %d: %s", code, strings.TrimSpace(string(answer)))
	default:
		return false, fmt.Errorf("answered HTTP %d: %s", code, strings.TrimSpace(string(answer)))
	}
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
			return fmt.Errorf("wait for the %s callback: %w", d.rec.Type, ctx.Err())
		}
	}
	return errors.Join(errs...)
}

func (p *poster) flush(ctx context.Context) error {
	p.mu.Lock()
	idle := p.idle
	n := p.pending
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
		d.err = ErrClosed
		d.rec.Err = ErrClosed.Error()
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
