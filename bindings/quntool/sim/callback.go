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

// CallbackStats counts callbacks: queued (waiting or being posted),
// delivered (answered 2xx), failed (given up after every retry).
type CallbackStats = simkit.Stats

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
	b, err := simkit.EncodeJSON(body)
	if err != nil {
		return simkit.Failed[Callback](typ, fmt.Errorf("encode %s callback: %w", typ, err))
	}
	return s.cb.Enqueue(simkit.Item[Callback]{URL: s.opts.CallbackURL, Body: b, Label: typ,
		Record: Callback{MsgID: body.MsgID, Type: typ, Account: wxid, Hostname: hostname, Body: b}})
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
	if err := s.cb.Wait(ctx, d); err != nil {
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
	if err := s.cb.Wait(ctx, d); err != nil {
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
