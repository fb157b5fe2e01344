package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// DefaultTimeout bounds one exchange when neither Config.Timeout nor the
// caller's context sets an earlier deadline.
const DefaultTimeout = 15 * time.Second

// CodeValidation is the code (and HTTP status) of the vendor's answer to a
// request whose fields do not validate: {"code": 422, "message":
// "Validation Error", "errors": [...]}.
const CodeValidation = 422

// CodeBlocked is the code (and HTTP status) with which an instance that
// made more than 100 calls in a minute is refused for the next 30 minutes.
// The vendor documents the block but not its code; this is what the
// simulator answers, and errors.Is(err, bindings.ErrVendorThrottled)
// holds for it.
const CodeBlocked = bindings.CodeWechatBlocked

// Config configures a Client (the API's root is "http://127.0.0.1:8081"
// by default in switchboard.yaml).
type Config = bindings.ClientConfig

// Client is WeChat's bindings.Client: it posts a call described by an
// Endpoint as JSON, decodes the {code, message, data} envelope, and sends
// call's body to its path. Build it with NewClient; it is immutable and
// safe for concurrent use.
type Client struct {
	http *bindings.HTTPClient
}

var _ bindings.Client = (*Client)(nil)

// NewClient returns a Client for cfg.
func NewClient(cfg Config) *Client {
	return &Client{http: cfg.NewHTTPClient(Name, DefaultTimeout, decode)}
}

// Do implements bindings.Client. It answers the vendor's data, or: a
// *bindings.ArgumentError for a call refused before sending (call with a
// path that is not one of the API's); a *bindings.VendorError for an error
// answer (errors.Is(err, bindings.ErrVendorThrottled) while the instance is
// blocked for over-calling, CodeValidation for fields that do not
// validate); an error matching bindings.ErrTransport when the vendor cannot
// be reached or answers something that is not its envelope.
func (c *Client) Do(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	if ep.Name == callName {
		target, body, err := callArgs(ep, args)
		if err != nil {
			return nil, err
		}
		dyn := *ep
		dyn.Path = target
		dyn.Params = nil
		data, err := c.http.Do(ctx, &dyn, body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", ep.Permission(), target, err)
		}
		return data, nil
	}
	data, err := c.http.Do(ctx, ep, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
	}
	return data, nil
}

// callArgs reads call's path and body: the path checked by CheckPath, the
// body an object (empty when absent).
func callArgs(ep *bindings.Endpoint, args map[string]any) (string, map[string]any, error) {
	raw, _ := bindings.Arg(args, callPathParam)
	p, ok := raw.(string)
	if !ok {
		return "", nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: callPathParam,
			Reason: `must be a string: the endpoint's path, like "/room/get_chatroom_detail"`}
	}
	if err := CheckPath(p); err != nil {
		return "", nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: callPathParam, Reason: err.Error()}
	}
	body := map[string]any{}
	switch b, _ := bindings.Arg(args, callBodyParam); x := b.(type) {
	case nil:
	case map[string]any:
		body = x
	default:
		return "", nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: callBodyParam,
			Reason: fmt.Sprintf("must be a JSON object, not %T", b)}
	}
	return p, body, nil
}

// CheckPath reports why p cannot be the path of a call, or nil: it must
// start with "/", name no scheme, host, query or fragment, hold no ".."
// or "." segment, no empty segment, and only printable characters without
// spaces, so a call reaches the configured API and nothing else.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf(`is empty; give the endpoint's path, like "/room/get_chatroom_detail"`)
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must start with \"/\"", p)
	case strings.HasPrefix(p, "//") || strings.Contains(p, "://"):
		return fmt.Errorf("%q must be a path on the configured API, not a URL with a scheme or host", p)
	case strings.ContainsAny(p, "?#"):
		return fmt.Errorf("%q must be a bare path, without a query or a fragment", p)
	case strings.ContainsRune(p, '\\') || strings.ContainsRune(p, '%'):
		return fmt.Errorf("%q must not hold backslashes or percent escapes", p)
	}
	for _, r := range p {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r > unicode.MaxASCII {
			return fmt.Errorf("%q must hold only printable ASCII characters without spaces", p)
		}
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "..", ".":
			return fmt.Errorf("%q must not hold %q segments", p, seg)
		case "":
			return fmt.Errorf("%q must not hold empty segments", p)
		}
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return fmt.Errorf("%q is not a valid path: %w", p, err)
	}
	return nil
}

// decode reads the vendor's envelope, {code, message, data}, or on a
// validation error {code: 422, message, errors}: code 0 answers data, any
// other code is a *bindings.VendorError (with the details of a validation
// error in its message). An HTTP error status without the envelope is a
// *bindings.VendorError carrying the status; 5xx and answers that are not
// the envelope also match bindings.ErrTransport.
func decode(status int, body []byte) (json.RawMessage, error) {
	env, err := event.DecodeObject(body)
	code, ok := int64(0), false
	if err == nil {
		code, ok = event.Int(env, "code")
	}
	if !ok {
		return nil, notEnvelope(status, body)
	}
	httpStatus := 0
	if status >= 300 {
		httpStatus = status
	}
	msg := event.Str(env, "message")
	if details := validationDetails(env["errors"]); details != "" {
		msg = strings.TrimSpace(msg + ": " + details)
	}
	switch {
	case code != 0:
		return nil, &bindings.VendorError{Vendor: Name, Code: int(code), Message: msg, HTTPStatus: httpStatus}
	case httpStatus != 0:
		if msg == "" {
			msg = http.StatusText(status)
		}
		return nil, &bindings.VendorError{Vendor: Name, Code: status, Message: msg, HTTPStatus: status}
	}
	var raw struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Data) == 0 {
		return json.RawMessage("null"), nil
	}
	return raw.Data, nil
}

// validationDetails renders the errors list of a validation error: each
// entry's location and message ("body.guid: field required"), or the entry
// itself when it has another shape.
func validationDetails(v any) string {
	if v == nil {
		return ""
	}
	list, ok := v.([]any)
	if !ok {
		b, _ := json.Marshal(v)
		return string(b)
	}
	parts := make([]string, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			b, _ := json.Marshal(e)
			parts = append(parts, string(b))
			continue
		}
		var loc []string
		if l, ok := m["loc"].([]any); ok {
			for _, x := range l {
				loc = append(loc, fmt.Sprint(x))
			}
		}
		text, _ := m["msg"].(string)
		if text == "" {
			b, _ := json.Marshal(m)
			text = string(b)
		}
		if len(loc) > 0 {
			text = strings.Join(loc, ".") + ": " + text
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "; ")
}

// notEnvelope is the error for an answer that is not the vendor's
// envelope: an HTML error page, an empty body, a proxy's complaint.
func notEnvelope(status int, body []byte) error {
	text := bindings.Snippet(body)
	if err := bindings.StatusError(Name, status, text); err != nil {
		return err
	}
	return fmt.Errorf("%w: wechat answered HTTP %d without its {code, message, data} envelope: %s", bindings.ErrTransport, status, text)
}
