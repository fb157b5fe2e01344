package quntool

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// DefaultTimeout bounds one exchange when neither Config.Timeout nor the
// caller's context sets an earlier deadline.
const DefaultTimeout = 15 * time.Second

// MaxUploadBytes bounds what file.upload sends (100 MiB). The vendor's own
// limits are lower for media (50 MB videos, 5 MB GIFs).
const MaxUploadBytes = 100 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the openAPI's root, ending in /gnapi/open:
	// "http://127.0.0.1:9000/gnapi/open".
	BaseURL string
	// APIKey goes in the apikey header of every request.
	APIKey string
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// Timeout bounds one exchange when the context has no earlier deadline
	// (DefaultTimeout when zero).
	Timeout time.Duration
}

// Client is Quntool's bindings.Client: it sends a call described by an
// Endpoint with the apikey header, decodes the {code, msg, data} envelope,
// uploads files as multipart forms, and applies the vendor's request rules
// before anything is sent. Build it with NewClient; it is immutable and
// safe for concurrent use.
type Client struct {
	http    *bindings.HTTPClient
	timeout time.Duration
}

var _ bindings.Client = (*Client)(nil)

// NewClient returns a Client for cfg.
func NewClient(cfg Config) *Client {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	key := cfg.APIKey
	return &Client{
		timeout: timeout,
		http: &bindings.HTTPClient{
			Vendor:  Name,
			BaseURL: strings.TrimRight(cfg.BaseURL, "/"),
			HTTP:    cfg.HTTP,
			Timeout: timeout,
			Prepare: func(req *http.Request, _ *bindings.Endpoint, _ url.Values, _ []byte) error {
				if key != "" {
					req.Header.Set("apikey", key)
				}
				return nil
			},
			Decode: decode,
		},
	}
}

// Do implements bindings.Client. It answers the vendor's data, or:
// a *bindings.ArgumentError for arguments refused before sending (a field
// given twice in different cases, a send to a conversation id without an
// "S:"/"R:" prefix, a file it cannot read); a *bindings.VendorError for an
// error answer (errors.Is(err, bindings.ErrVendorThrottled) for the
// vendor's frequency limit, -1000999); an error matching
// bindings.ErrTransport when the vendor cannot be reached or answers
// something that is not its envelope.
func (c *Client) Do(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	args, err := prepareArgs(ep, args)
	if err != nil {
		return nil, err
	}
	var data json.RawMessage
	if formParams(ep) {
		data, err = c.upload(ctx, ep, args)
	} else {
		data, err = c.http.Do(ctx, ep, args)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
	}
	if ep.Path == "/container/verify" {
		if err := verifyOutcome(data); err != nil {
			return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
		}
	}
	return data, nil
}

// prepareArgs copies args and applies the vendor's request rules: field
// names are case-insensitive, so one field given twice in different cases
// is refused rather than sent ambiguously; a send's conversation id must
// start with "S:" or "R:", and a private id is put in the vendor's order.
func prepareArgs(ep *bindings.Endpoint, args map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(args))
	byFold := make(map[string]string, len(args))
	for k, v := range args {
		fold := strings.ToLower(k)
		if prev, dup := byFold[fold]; dup {
			pair := []string{prev, k}
			slices.Sort(pair)
			return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: pair[0],
				Reason: fmt.Sprintf("is given twice, as %q and %q; field names are case-insensitive", pair[0], pair[1])}
		}
		byFold[fold] = k
		out[k] = v
	}
	if ep.Class == bindings.Send {
		key, ok := byFold[strings.ToLower(conversationParam)]
		id, isString := out[key].(string)
		id = strings.TrimSpace(id)
		if !ok || !isString || !validConversationID(id) {
			return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: conversationParam,
				Reason: fmt.Sprintf(`%s must start with "S:" (private) or "R:" (group)`, describeValue(out[key], ok)),
				Err:    bindings.ErrInvalidConversation}
		}
		out[key] = CanonicalConversationID(id)
	}
	return out, nil
}

func describeValue(v any, present bool) string {
	if !present || v == nil {
		return "is missing; it"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func formParams(ep *bindings.Endpoint) bool {
	for _, p := range ep.Params {
		if p.In == bindings.InForm {
			return true
		}
	}
	return false
}

// upload sends a multipart form: File parameters as file parts, every
// other argument as a field.
func (c *Client) upload(ctx context.Context, ep *bindings.Endpoint, args map[string]any) (json.RawMessage, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	files := map[string]bool{}
	for _, p := range ep.Params {
		if p.Type != bindings.File {
			continue
		}
		v, ok := bindings.Arg(args, p.Name)
		if !ok || v == nil {
			if p.Required {
				return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: p.Name, Reason: "is required"}
			}
			continue
		}
		for k := range args {
			if strings.EqualFold(k, p.Name) {
				files[k] = true
			}
		}
		name, data, err := fileArg(v)
		if err != nil {
			return nil, &bindings.ArgumentError{Endpoint: ep.Permission(), Param: p.Name, Reason: err.Error()}
		}
		part, err := w.CreateFormFile(p.Name, name)
		if err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
		if _, err := part.Write(data); err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		if !files[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.WriteField(k, formValue(args[k])); err != nil {
			return nil, fmt.Errorf("build upload: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("build upload: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, ep.Method, c.http.BaseURL+ep.Path, &body)
	if err != nil {
		return nil, fmt.Errorf("build upload: %w", err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	if err := c.http.Prepare(req, ep, nil, nil); err != nil {
		return nil, err
	}
	return c.http.Exchange(req)
}

// fileArg reads a File parameter: raw bytes, or {name, data} with data in
// base64 (or bytes).
func fileArg(v any) (name string, data []byte, err error) {
	name = "file"
	switch x := v.(type) {
	case []byte:
		data = x
	case map[string]any:
		if n := str(x, "name"); n != "" {
			name = n
		}
		switch d := lookup(x, "data").(type) {
		case []byte:
			data = d
		case string:
			if base64.StdEncoding.DecodedLen(len(d)) > MaxUploadBytes+3 {
				return "", nil, fmt.Errorf("is over %d bytes", MaxUploadBytes)
			}
			if data, err = decodeBase64(d); err != nil {
				return "", nil, fmt.Errorf("data is not base64: %w", err)
			}
		case nil:
			return "", nil, errors.New("has no data; pass {name, data} with data in base64")
		default:
			return "", nil, errors.New("data must be a base64 string")
		}
	case string:
		return "", nil, errors.New("must be {name, data} with data in base64 (a bare string is neither a file nor its content)")
	default:
		return "", nil, fmt.Errorf("must be {name, data} with data in base64, not %T", v)
	}
	if len(data) > MaxUploadBytes {
		return "", nil, fmt.Errorf("is over %d bytes", MaxUploadBytes)
	}
	return cleanFileName(name), data, nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// cleanFileName keeps the last element of name and drops control
// characters, so a name cannot smuggle a path or a header into the form.
func cleanFileName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "." || name == "/" || name == ".." || name == "" {
		return "file"
	}
	return name
}

func formValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	if s := scalar(v); s != "" {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// decode reads the vendor's envelope {code, msg, data}: code 0 answers
// data, any other code is a *bindings.VendorError. An answer that is not
// the envelope is a transport error (bindings.ErrTransport), or for an
// HTTP error status a *bindings.VendorError carrying the status.
func decode(status int, body []byte) (json.RawMessage, error) {
	var env struct {
		Code json.RawMessage `json:"code"`
		Msg  json.RawMessage `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	code, ok := int64(0), false
	if err := json.Unmarshal(body, &env); err == nil && env.Code != nil {
		code, ok = bindings.EnvelopeCode(env.Code)
	}
	if !ok {
		return nil, notEnvelope(status, body)
	}
	msg := envelopeText(env.Msg)
	httpStatus := 0
	if status >= 300 {
		httpStatus = status
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
	if len(env.Data) == 0 {
		return json.RawMessage("null"), nil
	}
	return env.Data, nil
}

func envelopeText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// notEnvelope is the error for an answer that is not the vendor's
// envelope: an HTML error page, an empty body, a proxy's complaint.
func notEnvelope(status int, body []byte) error {
	text := bindings.Snippet(body)
	if status == http.StatusNotFound {
		text += " (the base URL must end in /gnapi/open)"
	}
	if err := bindings.StatusError(Name, status, text); err != nil {
		return err
	}
	return fmt.Errorf("%w: quntool answered HTTP %d without its {code, msg, data} envelope: %s", bindings.ErrTransport, status, text)
}

// verifyOutcome turns a refused verification code into an error: the
// vendor answers code 0 with data.errcode below 0 when the code was wrong.
func verifyOutcome(data json.RawMessage) error {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	code, ok := event.Int(m, "errcode")
	if !ok || code >= 0 {
		return nil
	}
	msg := str(m, "errmsg")
	if msg == "" || msg == "ok" {
		msg = "wrong verification code"
	}
	return &bindings.VendorError{Vendor: Name, Code: int(code), Message: msg}
}
