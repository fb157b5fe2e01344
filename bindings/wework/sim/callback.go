package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
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

// CallbackStats counts callbacks: queued (waiting or being posted),
// delivered (answered 2xx), failed (given up after every retry).
type CallbackStats = simkit.Stats

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
	label := fmt.Sprintf("notify type %d", notifyType)
	body, err := simkit.EncodeJSON(callbackBody{GUID: in.guid, NotifyType: notifyType, Data: data})
	if err != nil {
		return simkit.Failed[Callback](label, fmt.Errorf("encode %d callback: %w", notifyType, err))
	}
	return s.cb.Enqueue(simkit.Item[Callback]{URL: url, Body: body, Label: label,
		Record: Callback{GUID: in.guid, NotifyType: notifyType, URL: url, Body: body}})
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
	if err := s.cb.Wait(ctx, d); err != nil {
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
	if err := s.cb.Wait(ctx, d); err != nil {
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
