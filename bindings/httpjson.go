package bindings

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
)

// MaxResponseBytes bounds what a vendor answer may weigh (16 MiB).
const MaxResponseBytes = 16 << 20

// HTTPClient is the JSON-over-HTTP Client shared by the vendors: it builds
// the request from the endpoint descriptor (query string for GET, JSON body
// otherwise), lets the vendor add its auth, and lets the vendor decode its
// envelope. Safe for concurrent use once built.
type HTTPClient struct {
	Vendor  string
	BaseURL string // no trailing slash: "http://127.0.0.1:9000/gnapi/open"
	HTTP    *http.Client
	// Timeout bounds one exchange when ctx has no earlier deadline (default 15 s).
	Timeout time.Duration
	// Prepare may add headers or sign the request; query and body are
	// already filled. Optional.
	Prepare func(req *http.Request, ep *Endpoint, query url.Values, body []byte) error
	// Decode turns the vendor's answer into its data or a *VendorError.
	Decode func(status int, body []byte) (json.RawMessage, error)
}

// ClientConfig is what a vendor client built on HTTPClient is configured
// with.
type ClientConfig struct {
	// BaseURL is the API's root ("http://127.0.0.1:8081"); a trailing
	// slash is ignored.
	BaseURL string
	// HTTP sends the requests; http.DefaultClient when nil.
	HTTP *http.Client
	// Timeout bounds one exchange when the context has no earlier deadline
	// (the vendor's default when zero).
	Timeout time.Duration
}

// NewHTTPClient returns an HTTPClient for vendor from c, with def as the
// timeout when c sets none and decode for the vendor's answers.
func (c ClientConfig) NewHTTPClient(vendor string, def time.Duration, decode func(status int, body []byte) (json.RawMessage, error)) *HTTPClient {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = def
	}
	return &HTTPClient{Vendor: vendor, BaseURL: strings.TrimRight(c.BaseURL, "/"), HTTP: c.HTTP, Timeout: timeout, Decode: decode}
}

// Do implements Client.
func (c *HTTPClient) Do(ctx context.Context, ep *Endpoint, args map[string]any) (json.RawMessage, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	query := url.Values{}
	bodyArgs := map[string]any{}
	for k, v := range args {
		where := InBody
		if p, ok := ep.Param(k); ok {
			where = ep.Where(p)
		} else if ep.Method == http.MethodGet {
			where = InQuery
		}
		if where == InQuery {
			addQuery(query, k, v)
		} else {
			bodyArgs[k] = v
		}
	}
	var body []byte
	if ep.Method != http.MethodGet {
		var err error
		if body, err = json.Marshal(bodyArgs); err != nil {
			return nil, fmt.Errorf("%s: encode body: %w", ep.Permission(), err)
		}
	}
	u := strings.TrimRight(c.BaseURL, "/") + ep.Path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, ep.Method, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.Permission(), err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Prepare != nil {
		if err := c.Prepare(req, ep, query, body); err != nil {
			return nil, err
		}
	}
	return c.Exchange(req)
}

// Exchange sends a prepared request and decodes the answer. Vendors use it
// directly for requests Do cannot build (multipart uploads).
func (c *HTTPClient) Exchange(req *http.Request) (json.RawMessage, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(req.Context().Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s %s: %w: %w", req.Method, req.URL.Path, ErrTransport, context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%s %s: %w: %v", req.Method, req.URL.Path, ErrTransport, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: reading answer: %v", req.Method, req.URL.Path, ErrTransport, err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("%s %s: %w: answer over %d bytes", req.Method, req.URL.Path, ErrTransport, MaxResponseBytes)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, &VendorError{Vendor: c.Vendor, Code: resp.StatusCode, HTTPStatus: resp.StatusCode,
			Message: strings.TrimSpace(firstLine(data, http.StatusText(resp.StatusCode)))}
	}
	return c.Decode(resp.StatusCode, data)
}

// Transient reports whether err is worth retrying later: the vendor was
// unreachable, timed out or answered 5xx. Vendor refusals are not.
func Transient(err error) bool {
	if errors.Is(err, ErrTransport) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ve *VendorError
	return errors.As(err, &ve) && ve.HTTPStatus >= 500
}

func firstLine(b []byte, fallback string) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

func addQuery(q url.Values, k string, v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			addQuery(q, k, e)
		}
	case []string:
		for _, e := range x {
			q.Add(k, e)
		}
	case string:
		q.Add(k, x)
	case nil:
	default:
		b, _ := json.Marshal(x)
		q.Add(k, strings.Trim(string(b), `"`))
	}
}
