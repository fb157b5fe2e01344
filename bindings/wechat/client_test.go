package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// recorded is one request as the fake vendor saw it.
type recorded struct {
	Method, Path, ContentType string
	Body                      map[string]any
}

// fakeVendor answers every request with answer and records it.
type fakeVendor struct {
	*httptest.Server
	reqs  chan recorded
	count atomic.Int32
}

func newFakeVendor(t *testing.T, answer http.HandlerFunc) *fakeVendor {
	t.Helper()
	f := &fakeVendor{reqs: make(chan recorded, 16)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.count.Add(1)
		rec := recorded{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &rec.Body)
		select {
		case f.reqs <- rec:
		default:
		}
		answer(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVendor) client() *Client {
	return NewClient(Config{BaseURL: f.URL + "/", HTTP: f.Client()})
}

func (f *fakeVendor) last(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-f.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the vendor saw no request")
		return recorded{}
	}
}

func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func endpoint(t *testing.T, name string) *bindings.Endpoint {
	t.Helper()
	for i := range Endpoints {
		if Endpoints[i].Name == name {
			return &Endpoints[i]
		}
	}
	t.Fatalf("no endpoint %s", name)
	return nil
}

func TestClientRequests(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		method   string
		args     map[string]any
		wantPath string
		wantBody map[string]any
	}{
		{"documented endpoint", "client.setNotifyUrl",
			map[string]any{"guid": "g-1", "notify_url": "http://127.0.0.1/callback/wechat"},
			"/client/set_notify_url", map[string]any{"guid": "g-1", "notify_url": "http://127.0.0.1/callback/wechat"}},
		{"send", "msg.sendText", map[string]any{"guid": "g-1", "to_username": "wxid_a", "content": "hi"},
			"/msg/send_text", map[string]any{"guid": "g-1", "to_username": "wxid_a", "content": "hi"}},
		{"call posts its body to its path", "call",
			map[string]any{"path": "/room/get_chatroom_detail", "body": map[string]any{"guid": "g-1", "room_username": "1@chatroom"}},
			"/room/get_chatroom_detail", map[string]any{"guid": "g-1", "room_username": "1@chatroom"}},
		{"call without a body posts an empty object", "call", map[string]any{"path": "/label/get_label_list"},
			"/label/get_label_list", map[string]any{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(200, `{"code":0,"message":"success","data":{"ok":true,"n":12345678901234567}}`))
			data, err := f.client().Do(testContext(t), endpoint(t, c.method), c.args)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != `{"ok":true,"n":12345678901234567}` {
				t.Errorf("data %s", data)
			}
			r := f.last(t)
			if r.Method != "POST" || r.Path != c.wantPath || !strings.HasPrefix(r.ContentType, "application/json") {
				t.Errorf("request %s %s (%s), want POST %s JSON", r.Method, r.Path, r.ContentType, c.wantPath)
			}
			gb, _ := json.Marshal(r.Body)
			wb, _ := json.Marshal(c.wantBody)
			if string(gb) != string(wb) {
				t.Errorf("body %s, want %s", gb, wb)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		body      string
		code      int
		contains  string
		throttled bool
		transport bool
		auth      bool
	}{
		{"vendor code", 200, `{"code":-3,"message":"实例未登录","data":null}`, -3, "实例未登录", false, false, false},
		{"code as a string", 200, `{"code":"-7","message":"bad"}`, -7, "bad", false, false, false},
		{"validation error", 422, `{"code":422,"message":"Validation Error","errors":[{"loc":["body","guid"],"msg":"field required"}]}`,
			422, "body.guid: field required", false, false, false},
		{"blocked instance", 429, `{"code":429,"message":"调用过于频繁，已限制调用"}`, CodeBlocked, "频繁", true, false, false},
		{"bare 429", 429, `Too Many Requests`, CodeBlocked, "Too Many", true, false, false},
		{"unknown path", 404, `{"code":404,"message":"Not Found"}`, 404, "Not Found", false, false, false},
		{"HTML error page", 502, `<html>bad gateway</html>`, 502, "bad gateway", false, true, false},
		{"success status without envelope", 200, `hello`, 0, "without its {code, message, data} envelope", false, true, false},
		{"forbidden", 403, `forbidden`, 403, "forbidden", false, false, true},
		{"http error with code 0", 500, `{"code":0,"message":""}`, 500, "Internal Server Error", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(c.status, c.body))
			_, err := f.client().Do(testContext(t), endpoint(t, "user.getProfile"), map[string]any{"guid": "g"})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.contains) || !strings.Contains(err.Error(), "wechat.user.getProfile") {
				t.Errorf("error %q does not say %q and the endpoint", err, c.contains)
			}
			if errors.Is(err, bindings.ErrVendorThrottled) != c.throttled {
				t.Errorf("throttled = %v, want %v (%v)", !c.throttled, c.throttled, err)
			}
			if errors.Is(err, bindings.ErrTransport) != c.transport {
				t.Errorf("transport = %v, want %v (%v)", !c.transport, c.transport, err)
			}
			if errors.Is(err, bindings.ErrAuth) != c.auth {
				t.Errorf("auth = %v, want %v (%v)", !c.auth, c.auth, err)
			}
			var ve *bindings.VendorError
			if c.code != 0 && (!errors.As(err, &ve) || ve.Code != c.code || ve.Vendor != Name) {
				t.Errorf("error %#v, want a wechat VendorError with code %d", err, c.code)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewClient(Config{BaseURL: url, Timeout: time.Second}).Do(testContext(t), endpoint(t, "user.getProfile"), map[string]any{"guid": "g"})
	if !errors.Is(err, bindings.ErrTransport) || !bindings.Transient(err) {
		t.Errorf("error %v, want a transient transport error", err)
	}
}

func TestCallRefusesBadPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args map[string]any
		why  string
	}{
		{"missing path", map[string]any{"body": map[string]any{}}, "must be a string"},
		{"path not a string", map[string]any{"path": 3}, "must be a string"},
		{"empty", map[string]any{"path": ""}, "is empty"},
		{"relative", map[string]any{"path": "room/get_chatroom_detail"}, `must start with "/"`},
		{"dot dot", map[string]any{"path": "/room/../../admin"}, `".."`},
		{"dot", map[string]any{"path": "/room/./x"}, `"."`},
		{"scheme", map[string]any{"path": "/http://evil.example/x"}, "scheme or host"},
		{"host", map[string]any{"path": "//evil.example/x"}, "scheme or host"},
		{"query", map[string]any{"path": "/room/x?y=1"}, "query"},
		{"percent escape", map[string]any{"path": "/room/%2e%2e/x"}, "percent"},
		{"space", map[string]any{"path": "/room/a b"}, "printable"},
		{"control", map[string]any{"path": "/room/a\nb"}, "printable"},
		{"empty segment", map[string]any{"path": "/room//x"}, "empty segments"},
		{"body not an object", map[string]any{"path": "/room/x", "body": "guid=1"}, "JSON object"},
	}
	f := newFakeVendor(t, answerJSON(200, `{"code":0,"data":{}}`))
	c := f.client()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Do(testContext(t), endpoint(t, "call"), tc.args)
			var ae *bindings.ArgumentError
			if !errors.As(err, &ae) || ae.Endpoint != "wechat.call" || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %v, want an ArgumentError of wechat.call saying %q", err, tc.why)
			}
		})
	}
	t.Cleanup(func() {
		if n := f.count.Load(); n != 0 {
			t.Errorf("%d refused calls reached the vendor", n)
		}
	})
}

func TestRegistryRoundTripWithFake(t *testing.T) {
	t.Parallel()
	f := newFakeVendor(t, answerJSON(200, `{"code":0,"message":"success","data":{"status":1}}`))
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(f.client())); err != nil {
		t.Fatal(err)
	}
	data, err := reg.Invoke(testContext(t), bindings.Call{Vendor: Name, Method: "client.getClientStatus", Args: map[string]any{"guid": "g"}})
	if err != nil || string(data) != `{"status":1}` {
		t.Fatalf("data %s, error %v", data, err)
	}
	_, err = reg.Invoke(testContext(t), bindings.Call{Vendor: Name, Method: "client.setNotifyUrl", Args: map[string]any{"guid": "g"}})
	var ae *bindings.ArgumentError
	if !errors.As(err, &ae) || ae.Param != "notify_url" {
		t.Errorf("a call without notify_url: %v", err)
	}
}
