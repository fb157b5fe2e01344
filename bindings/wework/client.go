package wework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// DefaultTimeout bounds one exchange when neither Config.Timeout nor the
// caller's context sets an earlier deadline.
const DefaultTimeout = 15 * time.Second

// Errors callers act on.
var (
	// ErrServerFail: the vendor answered error_code 0 but flagged the send
	// as failed on its side (data.is_svr_fail). It also matches
	// bindings.ErrTransport: the send may be tried again later.
	ErrServerFail = errors.New("the vendor's server failed the send")
	// ErrNoConversation: Reply was asked to answer an event that happened in
	// no conversation (a login, a logout...), so there is nowhere to send.
	ErrNoConversation = errors.New("event has no conversation to reply in")
)

// Config configures a Client (the API's root is "http://127.0.0.1:8080"
// by default in switchboard.yaml).
type Config = bindings.ClientConfig

// Client is the vendor's bindings.Client: it sends a call described by an
// Endpoint as JSON, decodes the {error_code, error_message, data} envelope
// and applies the vendor's request rules before anything is sent. Build it
// with NewClient; it is immutable and safe for concurrent use.
type Client struct {
	http *bindings.HTTPClient
}

var _ bindings.Client = (*Client)(nil)

// NewClient returns a Client for cfg.
func NewClient(cfg Config) *Client {
	return &Client{http: cfg.NewHTTPClient(Name, DefaultTimeout, decode)}
}

// Do implements bindings.Client. It answers the vendor's data, or:
// a *bindings.ArgumentError for arguments refused before sending (a
// conversation id without "S:"/"R:", which matches
// bindings.ErrInvalidConversation and carries the vendor's code -2003; a
// mention send to a private conversation; a malformed at_list); a
// *bindings.VendorError for an error answer (errors.Is with
// bindings.ErrInvalidConversation for -2003, bindings.ErrNoExternalPermission
// for -4017, bindings.ErrVendorThrottled for a frequency limit); an error
// matching bindings.ErrTransport (bindings.Transient) when the vendor cannot
// be reached, answers 5xx or something that is not its envelope, or flags a
// send as failed on its side (ErrServerFail).
func (c *Client) Do(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	args, err := prepareArgs(ep, args)
	if err != nil {
		return nil, err
	}
	data, err := c.http.Do(ctx, ep, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
	}
	if ep.Class == bindings.Send && serverFailed(data) {
		return nil, fmt.Errorf("%s: %w: %w", ep.Permission(), bindings.ErrTransport, ErrServerFail)
	}
	return data, nil
}

// Call looks the endpoint of path up in Endpoints and calls it: the typed
// entry point for Go callers (the wework commands).
func (c *Client) Call(ctx context.Context, path string, args map[string]any) (json.RawMessage, error) {
	ep := endpointByPath(path)
	if ep == nil {
		return nil, fmt.Errorf("%w: wework %s", bindings.ErrUnknownMethod, path)
	}
	if err := ep.Check(args); err != nil {
		return nil, err
	}
	return c.Do(ctx, ep, args)
}

// prepareArgs copies args and applies the vendor's rules: the conversation
// id of a send must start with "S:" or "R:" (the vendor answers -2003
// otherwise), a mention send goes to a group, and at_list holds user ids
// as strings with 0 (the number) for everyone.
func prepareArgs(ep *bindings.Endpoint, args map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(args))
	for k, v := range args {
		out[k] = v
	}
	if _, ok := ep.Param(conversationParam); !ok {
		return out, nil
	}
	key, raw := argKey(out, conversationParam)
	id, _ := raw.(string)
	id = strings.TrimSpace(id)
	if !ValidConversationID(id) {
		return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: conversationParam,
			Reason: describeConversation(raw, key != "") + ` must start with "S:" (private) or "R:" (group)`,
			Err:    bindings.ErrInvalidConversation}
	}
	out[key] = id
	if _, ok := ep.Param(atListParam); !ok {
		return out, nil
	}
	if !strings.HasPrefix(id, GroupPrefix) {
		return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: conversationParam,
			Reason: fmt.Sprintf(`%q is a private conversation; mentions go to groups ("R:...")`, id),
			Err:    bindings.ErrInvalidConversation}
	}
	atKey, atRaw := argKey(out, atListParam)
	list, err := AtList(atRaw)
	if err != nil {
		return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: atListParam, Reason: err.Error()}
	}
	out[atKey] = list
	return out, nil
}

// argKey finds a field case-insensitively, answering the key it is under
// (name itself when absent) and its value.
func argKey(args map[string]any, name string) (string, any) {
	if v, ok := args[name]; ok {
		return name, v
	}
	for k, v := range args {
		if strings.EqualFold(k, name) {
			return k, v
		}
	}
	return name, nil
}

// ValidConversationID reports whether id has the form the send endpoints
// take: "S:" or "R:" and a non-empty id.
func ValidConversationID(id string) bool {
	return (strings.HasPrefix(id, PrivatePrefix) || strings.HasPrefix(id, GroupPrefix)) && len(strings.TrimSpace(id)) > 2
}

func describeConversation(v any, present bool) string {
	if !present || v == nil {
		return "is missing; it"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// AtList normalizes the mentions of a room message to what the vendor
// takes: a list of user ids as strings, with MentionAll (the number 0) for
// everyone, which must then be the only entry. It accepts strings, numbers
// and "0" or "all" for everyone, and refuses an empty list, empty ids and
// duplicates.
func AtList(v any) ([]any, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case []string:
		for _, s := range x {
			items = append(items, s)
		}
	case []int:
		for _, n := range x {
			items = append(items, n)
		}
	case []int64:
		for _, n := range x {
			items = append(items, n)
		}
	case nil:
		return nil, errors.New("is required: user ids, or [0] for everyone")
	default:
		return nil, fmt.Errorf("must be a list of user ids, or [0] for everyone, not %T", v)
	}
	if len(items) == 0 {
		return nil, errors.New("is empty: give user ids, or [0] for everyone")
	}
	out := make([]any, 0, len(items))
	seen := map[string]bool{}
	all := false
	for i, it := range items {
		id, err := mentionID(it)
		if err != nil {
			return nil, fmt.Errorf("entry %d %w", i, err)
		}
		if id == "0" {
			all = true
			continue
		}
		if seen[id] {
			return nil, fmt.Errorf("names %s twice", id)
		}
		seen[id] = true
		out = append(out, id)
	}
	if all {
		if len(out) > 0 {
			return nil, errors.New("mixes everyone (0) with user ids; mention everyone alone")
		}
		return []any{MentionAll}, nil
	}
	return out, nil
}

// mentionID reads one at_list entry as a user id, "0" for everyone.
func mentionID(v any) (string, error) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		switch {
		case s == "":
			return "", errors.New("is empty")
		case strings.EqualFold(s, "all"):
			return "0", nil
		}
		return s, nil
	case json.Number:
		return mentionID(x.String())
	case float64:
		if x != float64(int64(x)) || x < 0 {
			return "", fmt.Errorf("is %v, not a user id", x)
		}
		return strconv.FormatInt(int64(x), 10), nil
	case int:
		return mentionID(int64(x))
	case int64:
		if x < 0 {
			return "", fmt.Errorf("is %d, not a user id", x)
		}
		return strconv.FormatInt(x, 10), nil
	}
	return "", fmt.Errorf("is %T, not a user id", v)
}

// decode reads the vendor's envelope {error_code, error_message, data}.
// error_code 0, or no error_code with a data field (/client/all_clients
// answers {"data": [...]} alone), answers data; any other code is a
// *bindings.VendorError. An answer that is not the envelope is a transport
// error (bindings.ErrTransport), or for an HTTP 4xx a *bindings.VendorError
// carrying the status.
func decode(status int, body []byte) (json.RawMessage, error) {
	var env struct {
		Code *json.Number    `json:"error_code"` // a number, or a number in a string
		Msg  any             `json:"error_message"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &env) != nil || (env.Code == nil && env.Data == nil) {
		return nil, notEnvelope(status, body)
	}
	code := int64(0)
	if env.Code != nil {
		n, err := env.Code.Int64()
		if err != nil {
			return nil, notEnvelope(status, body)
		}
		code = n
	}
	msg := ""
	if env.Msg != nil {
		msg = fmt.Sprint(env.Msg)
	}
	switch {
	case code != 0 && status >= 500:
		return nil, fmt.Errorf("%w: %w", bindings.ErrTransport,
			&bindings.VendorError{Vendor: Name, Code: int(code), Message: msg, HTTPStatus: status})
	case code != 0 && status >= 300:
		return nil, &bindings.VendorError{Vendor: Name, Code: int(code), Message: msg, HTTPStatus: status}
	case code != 0:
		return nil, &bindings.VendorError{Vendor: Name, Code: int(code), Message: msg}
	case status >= 300:
		return nil, notEnvelope(status, body)
	case len(env.Data) == 0:
		return json.RawMessage("null"), nil
	}
	return env.Data, nil
}

// notEnvelope is the error for an answer that is not the vendor's
// envelope (an HTML error page, an empty body, a proxy's complaint) or an
// HTTP error status: 5xx is transient, 4xx a *bindings.VendorError with
// the status as its code.
func notEnvelope(status int, body []byte) error {
	text := bindings.Snippet(body)
	if err := bindings.StatusError(Name, status, text); err != nil {
		return err
	}
	return fmt.Errorf("%w: HTTP %d answer is not the {error_code, error_message, data} envelope: %s",
		bindings.ErrTransport, status, text)
}

// serverFailed reports a send answer flagged is_svr_fail.
func serverFailed(data json.RawMessage) bool {
	var d struct {
		Fail bool `json:"is_svr_fail"`
	}
	return json.Unmarshal(data, &d) == nil && d.Fail
}
