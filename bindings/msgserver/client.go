package msgserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// DefaultTimeout bounds one exchange when neither Config.Timeout nor the
// caller's context sets an earlier deadline.
const DefaultTimeout = 15 * time.Second

// DefaultBaseURL is where the vendor's document places the service.
const DefaultBaseURL = "http://localhost:9002/api/v1"

// Config configures a Client.
type Config struct {
	// BaseURL is the API's root, ending in /api/v1 (DefaultBaseURL when
	// empty).
	BaseURL string
	// Secret is the HMAC key every request is signed with.
	Secret string
	// Encoding selects the signature's form (EncodingURL when empty).
	Encoding Encoding
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// Timeout bounds one exchange when the context has no earlier deadline
	// (DefaultTimeout when zero).
	Timeout time.Duration
}

// Client is msg-server's bindings.Client: it signs every request (query
// string for GET, JSON body for POST), decodes the {code, message, data}
// envelope and maps the vendor's error codes to typed errors. Build it
// with NewClient; it is immutable and safe for concurrent use.
type Client struct {
	http *bindings.HTTPClient
	eps  map[string]*bindings.Endpoint
}

var _ bindings.Client = (*Client)(nil)

// NewClient returns a Client for cfg. It fails on a base URL that is not
// an absolute http(s) URL and on an unknown signature encoding.
func NewClient(cfg Config) (*Client, error) {
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("msgserver: base url %q is not an absolute http(s) url", cfg.BaseURL)
	}
	enc, err := ParseEncoding(string(cfg.Encoding))
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	secret := cfg.Secret
	c := &Client{
		http: &bindings.HTTPClient{
			Vendor:  Name,
			BaseURL: base,
			HTTP:    cfg.HTTP,
			Timeout: timeout,
			Prepare: func(req *http.Request, _ *bindings.Endpoint, query url.Values, body []byte) error {
				return sign(req, query, body, secret, enc)
			},
			Decode: decode,
		},
		eps: make(map[string]*bindings.Endpoint, len(Endpoints)),
	}
	for i := range Endpoints {
		c.eps[Endpoints[i].Name] = &Endpoints[i]
	}
	return c, nil
}

// Do implements bindings.Client. It answers the vendor's data, or:
// a *bindings.VendorError for an error answer, matching
// bindings.ErrAuth for a refused signature (whether the vendor says 401 or,
// as its sync example does, 400 with a signature message),
// bindings.ErrVendorThrottled for the request-rate limit and
// bindings.ErrTransport for the service's internal errors (500), which are
// worth retrying; an error matching bindings.ErrTransport when the vendor
// cannot be reached or answers something that is not its envelope. A
// "signature" argument is ignored: the Client signs every request itself.
func (c *Client) Do(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	clean := make(map[string]any, len(args))
	for k, v := range args {
		if k != SignatureParam && v != nil {
			clean[k] = v
		}
	}
	data, err := c.http.Do(ctx, ep, clean)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), refine(err))
	}
	return data, nil
}

// Call looks the endpoint up by its dotted name ("chatMsg.sessions") and
// calls it: a shortcut for Go callers such as the poller. Arguments are
// checked against the endpoint first.
func (c *Client) Call(ctx context.Context, method string, args map[string]any) (json.RawMessage, error) {
	ep, ok := c.eps[method]
	if !ok {
		return nil, fmt.Errorf("%w: %s.%s", bindings.ErrUnknownMethod, Name, method)
	}
	if err := ep.Check(args); err != nil {
		return nil, err
	}
	return c.Do(ctx, ep, args)
}

// Retryable reports whether a failed call is worth trying again later: the
// vendor was unreachable, failed internally or throttled the caller.
// Refusals (bad signature, unknown corp or staff, bad arguments) are not.
func Retryable(err error) bool {
	return bindings.Transient(err) || errors.Is(err, bindings.ErrVendorThrottled)
}

// sign adds the signature: to the query string of a GET, to the JSON body
// otherwise. What is signed is exactly what is sent.
func sign(req *http.Request, query url.Values, body []byte, secret string, enc Encoding) error {
	params := url.Values{}
	for k, vs := range query {
		params[k] = append([]string(nil), vs...)
	}
	var fields map[string]json.RawMessage
	if len(body) > 0 {
		if err := json.Unmarshal(body, &fields); err != nil {
			return fmt.Errorf("sign request: body is not a JSON object: %w", err)
		}
		delete(fields, SignatureParam)
		for k, raw := range fields {
			v, ok := paramValue(raw)
			if !ok {
				delete(fields, k)
				continue
			}
			params.Add(k, v)
		}
	}
	sig := Sign(params, secret, enc)
	if req.Method == http.MethodGet || fields == nil {
		query.Del(SignatureParam)
		query.Set(SignatureParam, sig)
		req.URL.RawQuery = query.Encode()
		return nil
	}
	quoted, _ := json.Marshal(sig)
	fields[SignatureParam] = quoted
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// paramValue is the text a JSON body field is signed as: a string as it
// is, a number or boolean as written, anything else as its compact JSON.
// null is not a parameter: ok is false and the field is left out.
func paramValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", false
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
	case raw[0] == '{' || raw[0] == '[':
		var buf bytes.Buffer
		if json.Compact(&buf, raw) == nil {
			return buf.String(), true
		}
	}
	return string(raw), true
}

// envelope is the vendor's answer.
type envelope struct {
	Code    json.RawMessage `json:"code"`
	Message json.RawMessage `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// parseEnvelope reads body as the envelope; ok is false when it is not one.
func parseEnvelope(body []byte) (code int64, msg string, data json.RawMessage, ok bool) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Code == nil {
		return 0, "", nil, false
	}
	code, ok = bindings.EnvelopeCode(env.Code)
	if !ok {
		return 0, "", nil, false
	}
	var s string
	if json.Unmarshal(env.Message, &s) != nil && len(env.Message) > 0 && string(env.Message) != "null" {
		s = string(env.Message)
	}
	return code, s, env.Data, true
}

// decode turns the vendor's answer into its data or an error (see Do).
func decode(status int, body []byte) (json.RawMessage, error) {
	code, msg, data, ok := parseEnvelope(body)
	if !ok {
		return nil, notEnvelope(status, body)
	}
	httpStatus := 0
	if status >= 300 {
		httpStatus = status
	}
	switch {
	case code != CodeOK:
		return nil, classify(&bindings.VendorError{Vendor: Name, Code: int(code), Message: msg, HTTPStatus: httpStatus})
	case httpStatus != 0:
		if msg == "" {
			msg = http.StatusText(status)
		}
		return nil, classify(&bindings.VendorError{Vendor: Name, Code: status, Message: msg, HTTPStatus: status})
	}
	if len(data) == 0 {
		return json.RawMessage("null"), nil
	}
	return data, nil
}

// classify adds the sentinel a vendor error means where VendorError.Is
// does not know the vendor's code.
func classify(ve *bindings.VendorError) error {
	switch {
	case ve.Code == CodeTooManyRequests || ve.HTTPStatus == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %w", bindings.ErrVendorThrottled, ve)
	case ve.Code >= 500 && ve.Code < 600 || ve.HTTPStatus >= 500:
		return fmt.Errorf("%w: %w", bindings.ErrTransport, ve)
	case !errors.Is(ve, bindings.ErrAuth) && signatureMessage(ve.Message):
		return fmt.Errorf("%w: %w", bindings.ErrAuth, ve)
	}
	return ve
}

// signatureMessage recognizes the vendor's "signature verification failed",
// which its sync example answers with code 400 rather than 401.
func signatureMessage(msg string) bool {
	return strings.Contains(msg, "签名") || strings.Contains(strings.ToLower(msg), "signature")
}

// refine rereads an HTTP 401/403 answer, which the shared client reports
// with the body's first line as its message, as the vendor's envelope.
func refine(err error) error {
	var ve *bindings.VendorError
	if !errors.As(err, &ve) || (ve.HTTPStatus != http.StatusUnauthorized && ve.HTTPStatus != http.StatusForbidden) {
		return err
	}
	if code, msg, _, ok := parseEnvelope([]byte(ve.Message)); ok && code != CodeOK {
		return &bindings.VendorError{Vendor: Name, Code: int(code), Message: msg, HTTPStatus: ve.HTTPStatus}
	}
	return err
}

// notEnvelope is the error for an answer that is not the vendor's
// envelope: an HTML error page, an empty body, a proxy's complaint.
func notEnvelope(status int, body []byte) error {
	text := bindings.Snippet(body)
	switch status {
	case http.StatusNotFound:
		text += " (the base URL must end in /api/v1)"
	case http.StatusTooManyRequests:
		return classify(&bindings.VendorError{Vendor: Name, Code: status, Message: text, HTTPStatus: status})
	}
	if err := bindings.StatusError(Name, status, text); err != nil {
		return err
	}
	return fmt.Errorf("%w: msgserver answered HTTP %d without its {code, message, data} envelope: %s",
		bindings.ErrTransport, status, text)
}
