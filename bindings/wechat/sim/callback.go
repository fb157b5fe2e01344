package sim

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
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

// CallbackStats counts callbacks: queued (waiting or being posted),
// delivered (answered 2xx), failed (given up after every retry).
type CallbackStats = simkit.Stats

// queueCallback builds the callback {guid, notify_type, data} of inst and
// queues it for its notify URL (Options.CallbackURL when it has none).
// s.mu must be held, so callbacks are posted in the order the state
// changed.
func (s *Sim) queueCallback(inst *instance, notifyType int, data any) *delivery {
	url := inst.notifyURL
	if url == "" {
		url = s.opts.CallbackURL
	}
	label := fmt.Sprintf("notify type %d", notifyType)
	body, err := simkit.EncodeJSON(struct {
		GUID       string `json:"guid"`
		NotifyType int    `json:"notify_type"`
		Data       any    `json:"data"`
	}{inst.guid, notifyType, data})
	if err != nil {
		return simkit.Failed[Callback](label, fmt.Errorf("encode %d callback: %w", notifyType, err))
	}
	return s.cb.Enqueue(simkit.Item[Callback]{URL: url, Body: body, Label: label,
		Record: Callback{GUID: inst.guid, NotifyType: notifyType, URL: url, Body: body}})
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
	if err := s.cb.Wait(ctx, ds...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Callbacks lists the most recent callbacks (up to 1000), oldest first.
func (s *Sim) Callbacks() []Callback { return s.cb.Records() }

// CallbackStats counts the callbacks since New or Reset.
func (s *Sim) CallbackStats() CallbackStats { return s.cb.Stats() }

// Flush waits until every queued callback has been delivered or given up.
func (s *Sim) Flush(ctx context.Context) error { return s.cb.Flush(ctx) }

// delivery is one queued callback.
type delivery = simkit.Delivery[Callback]

// newPoster starts the callback poster configured by opts.
func newPoster(opts Options, log hclog.Logger) *simkit.Poster[Callback] {
	return simkit.NewPoster(simkit.Config{Client: opts.HTTPClient, Timeout: opts.CallbackTimeout,
		Retries: opts.CallbackRetries, Backoff: opts.CallbackBackoff, Log: log.Named("callbacks")},
		func(c *Callback, st simkit.Status) {
			c.Attempts, c.Delivered, c.Err = st.Attempts, st.Delivered, st.Err
		})
}
