// Package adminclient reaches the admin API of a running `switchboard run`
// process. Commands that act on the data directory (kv, outbox) use it when
// the store is locked by that process.
//
// A Client is immutable and safe for concurrent use.
package adminclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/config"
)

// ErrNotFound is returned when the admin API answers 404.
var ErrNotFound = errors.New("not found")

// Client calls one process's admin API.
type Client struct {
	// Base is the URL of the admin API, e.g. http://127.0.0.1:8080/admin.
	Base string
	// Token is sent as a bearer token when not empty.
	Token string
	// HTTP is the client used; nil means one with a 10 s timeout.
	HTTP *http.Client
}

// For returns a client for the process that runs with cfg.
func For(cfg *config.Config) *Client {
	return &Client{Base: "http://" + DialableAddr(cfg.Listen) + "/admin", Token: cfg.Admin.Token}
}

// Do sends body (may be nil) to Base+path and returns the answer's body when
// it is 200. A 404 wraps ErrNotFound; other statuses carry the API's error
// message.
func (c *Client) Do(method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the store is in use by a running process, and its admin API did not answer: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return data, nil
	}
	msg := resp.Status
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("admin API: %s: %w", msg, ErrNotFound)
	}
	return nil, fmt.Errorf("admin API: %s", msg)
}

// DialableAddr turns a listen address into one a client can dial: an
// unspecified or missing host becomes 127.0.0.1.
func DialableAddr(listen string) string {
	a, err := net.ResolveTCPAddr("tcp", listen)
	if err != nil {
		return listen
	}
	return Dialable(a)
}

// Dialable is DialableAddr for a resolved address.
func Dialable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
