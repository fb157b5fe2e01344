package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/metrics"
)

type fakeStore struct {
	mu       sync.Mutex
	ids      map[string]bool
	stored   []*event.Event
	rejected []string
	fail     error
}

func (s *fakeStore) Append(_ context.Context, evs []*event.Event) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	out := make([]bool, len(evs))
	for i, ev := range evs {
		if !s.ids[ev.ID] {
			s.ids[ev.ID] = true
			s.stored = append(s.stored, ev)
			out[i] = true
		}
	}
	return out, nil
}

func (s *fakeStore) Reject(vendor, remote string, body []byte, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected = append(s.rejected, vendor+": "+reason+": "+string(body[:min(len(body), 20)]))
	return nil
}

// normalize is a tiny normalizer: {"id": "...", "items": n} gives n events.
func normalize(body []byte) ([]*event.Event, error) {
	m, err := event.DecodeObject(body)
	if err != nil {
		return nil, err
	}
	n, ok := event.Int(m, "items")
	if !ok {
		n = 1
	}
	var out []*event.Event
	for i := int64(0); i < n; i++ {
		out = append(out, &event.Event{ID: fmt.Sprintf("t:%s:%d", event.Str(m, "id"), i), Type: event.TypeMessage, Vendor: "quntool", Raw: body})
	}
	return out, nil
}

func serve(t *testing.T, o Options) (*fasthttp.Client, *fakeStore) {
	t.Helper()
	st := &fakeStore{ids: map[string]bool{}}
	if o.Store == nil {
		o.Store = st
	}
	if o.Vendors == nil {
		o.Vendors = map[string]Vendor{"quntool": {Normalize: normalize}, "wework": {Normalize: normalize, Token: "s3cret"}}
	}
	r := New(o)
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: r.Handler, MaxRequestBodySize: r.ServerLimit()}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { _ = srv.Shutdown() })
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxResponseBodySize: 1 << 20}, st
}

func do(t *testing.T, c *fasthttp.Client, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://sb" + path)
	req.Header.SetMethod(method)
	req.SetBodyString(body)
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	_ = json.Unmarshal(resp.Body(), &m)
	return resp.StatusCode(), m
}

func TestCallbacks(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	c, st := serve(t, Options{MaxBodyBytes: 2048, Metrics: m})
	cases := []struct {
		name, method, path, body string
		status                   int
		msgHas                   string
	}{
		{"stored", "POST", "/callback/quntool", `{"id":"a"}`, 200, ""},
		{"redelivery", "POST", "/callback/quntool", `{"id":"a"}`, 200, ""},
		{"list of three", "POST", "/callback/quntool", `{"id":"b","items":3}`, 200, ""},
		{"not json", "POST", "/callback/quntool", `{"id":`, 400, "not valid JSON"},
		{"json array", "POST", "/callback/quntool", `[1]`, 400, "not an object"},
		{"oversized", "POST", "/callback/quntool", `{"id":"` + strings.Repeat("x", 3000) + `"}`, 413, "exceeds the limit"},
		{"unknown vendor", "POST", "/callback/nope", `{}`, 404, "unknown vendor"},
		{"msgserver pushes nothing", "POST", "/callback/msgserver", `{}`, 404, "unknown vendor"},
		{"token missing", "POST", "/callback/wework", `{"id":"w"}`, 401, "token"},
		{"token wrong", "POST", "/callback/wework/nope", `{"id":"w"}`, 401, "token"},
		{"token right", "POST", "/callback/wework/s3cret", `{"id":"w"}`, 200, ""},
		{"reachability", "GET", "/callback/quntool", ``, 200, "ok"},
		{"reachability with token", "GET", "/callback/wework/s3cret", ``, 200, "ok"},
		{"token where none is set", "POST", "/callback/quntool/x", `{"id":"z"}`, 404, "no callback token"},
		{"bad method", "PUT", "/callback/quntool", `{}`, 405, "POST"},
		{"health", "GET", "/healthz", ``, 200, ""},
		{"unknown path", "GET", "/nothing", ``, 404, "no such path"},
	}
	for _, tc := range cases { // in order: later cases depend on earlier state
		status, body := do(t, c, tc.method, tc.path, tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, status, tc.status, body)
		}
		if tc.msgHas != "" && !strings.Contains(fmt.Sprint(body["msg"]), tc.msgHas) {
			t.Errorf("%s: msg %q lacks %q", tc.name, body["msg"], tc.msgHas)
		}
		if tc.status == 200 && strings.HasPrefix(tc.path, "/callback/") && tc.method == "POST" && body["code"] != float64(0) {
			t.Errorf("%s: body %v, want code 0", tc.name, body)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.stored) != 5 { // a, b:0..2, w
		t.Errorf("stored %d events, want 5", len(st.stored))
	}
	if len(st.rejected) != 3 {
		t.Errorf("rejected %v, want 3 (two malformed, one oversized)", st.rejected)
	}
	for _, ev := range st.stored {
		if ev.Received == 0 {
			t.Errorf("event %s has no received time", ev.ID)
		}
	}
	status, _ := do(t, c, "GET", "/metrics", "")
	if status != 200 {
		t.Errorf("metrics status %d", status)
	}
}

func TestStoreFailureIsNotAcknowledged(t *testing.T) {
	t.Parallel()
	st := &fakeStore{ids: map[string]bool{}, fail: errors.New("disk full")}
	c, _ := serve(t, Options{Store: st})
	status, body := do(t, c, "POST", "/callback/quntool", `{"id":"a"}`)
	if status != 503 || !strings.Contains(fmt.Sprint(body["msg"]), "disk full") {
		t.Fatalf("status %d body %v, want 503 naming the cause", status, body)
	}
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	other, _ := ParseAllowList([]string{"10.1.2.3", "192.168.0.0/16"})
	// The in-memory listener reports 0.0.0.0 as the remote address.
	c, _ := serve(t, Options{Vendors: map[string]Vendor{"quntool": {Normalize: normalize, Allow: other}}})
	if status, _ := do(t, c, "POST", "/callback/quntool", `{"id":"a"}`); status != 403 {
		t.Fatalf("status %d, want 403", status)
	}
	self, _ := ParseAllowList([]string{"0.0.0.0/0"})
	c, _ = serve(t, Options{Vendors: map[string]Vendor{"quntool": {Normalize: normalize, Allow: self}}})
	if status, _ := do(t, c, "POST", "/callback/quntool", `{"id":"a"}`); status != 200 {
		t.Fatalf("status %d, want 200", status)
	}
	if _, err := ParseAllowList([]string{"nope"}); err == nil {
		t.Fatal("bad entry accepted")
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	ready := errors.New("plugins loading")
	var mu sync.Mutex
	c, _ := serve(t, Options{Ready: func() error { mu.Lock(); defer mu.Unlock(); return ready }})
	if status, body := do(t, c, "GET", "/readyz", ""); status != 503 || body["error"] != "plugins loading" {
		t.Fatalf("not ready: %d %v", status, body)
	}
	mu.Lock()
	ready = nil
	mu.Unlock()
	if status, _ := do(t, c, "GET", "/readyz", ""); status != 200 {
		t.Fatalf("ready: %d", status)
	}
}
