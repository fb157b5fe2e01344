package msgserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// recorded is one request as the test server saw it.
type recorded struct {
	method string
	path   string
	query  url.Values
	body   map[string]any
}

// fakeServer answers every request with status and body and hands what it
// received to the test.
func fakeServer(t *testing.T, status int, body string) (*httptest.Server, <-chan recorded) {
	t.Helper()
	got := make(chan recorded, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.Path, query: r.URL.Query()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body is not JSON: %v: %s", err, b)
			}
		}
		select {
		case got <- rec:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func newTestClient(t *testing.T, base string, enc Encoding) *Client {
	t.Helper()
	c, err := NewClient(Config{BaseURL: base + "/api/v1", Secret: "secret_key", Encoding: enc, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientSignsQuery(t *testing.T) {
	t.Parallel()
	srv, got := fakeServer(t, 200, `{"code":0,"message":"success","data":{"items":[],"total":0,"page":1,"page_size":20}}`)
	c := newTestClient(t, srv.URL, EncodingURL)
	data, err := c.Call(testContext(t), "chatMsg.sessions", map[string]any{
		"ext_staff_id": "staff123", "session_type": "external", "ext_corp_id": "corp123",
		"page": 1, "page_size": json.Number("20"), "signature": "caller's own, ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"page_size":20`) {
		t.Errorf("data = %s", data)
	}
	rec := <-got
	if rec.method != http.MethodGet || rec.path != "/api/v1/chat-msg/sessions" {
		t.Errorf("request = %s %s", rec.method, rec.path)
	}
	if sig := rec.query.Get("signature"); sig != seedDigest {
		t.Errorf("signature = %q, want the seed's %s", sig, seedDigest)
	}
	if n := len(rec.query["signature"]); n != 1 {
		t.Errorf("%d signatures sent", n)
	}
}

func TestClientSignsBody(t *testing.T) {
	t.Parallel()
	srv, got := fakeServer(t, 200, `{"code":0,"message":"同步任务已启动","data":null}`)
	c := newTestClient(t, srv.URL, EncodingRaw)
	data, err := c.Call(testContext(t), "chatMsg.sync", map[string]any{"ext_corp_id": "corp123"})
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "null" {
		t.Errorf("data = %s, want null", data)
	}
	rec := <-got
	if rec.method != http.MethodPost || rec.path != "/api/v1/chat-msg/sync" {
		t.Errorf("request = %s %s", rec.method, rec.path)
	}
	if rec.body["signature"] != syncDigest || rec.body["ext_corp_id"] != "corp123" || len(rec.body) != 2 {
		t.Errorf("body = %v, want ext_corp_id and signature %s", rec.body, syncDigest)
	}
	if len(rec.query) != 0 {
		t.Errorf("query = %v, want none for a POST", rec.query)
	}
}

func TestClientEncodings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		enc  Encoding
		want string
	}{
		{EncodingURL, searchURLDigest},
		{EncodingRaw, searchRawDigest},
	}
	for _, tt := range tests {
		t.Run(string(tt.enc), func(t *testing.T) {
			t.Parallel()
			srv, got := fakeServer(t, 200, `{"code":0,"message":"success","data":{"items":[],"total":0}}`)
			c := newTestClient(t, srv.URL, tt.enc)
			args := map[string]any{}
			for k, v := range searchParams() {
				args[k] = v[0]
			}
			if _, err := c.Call(testContext(t), "chatMsg.search", args); err != nil {
				t.Fatal(err)
			}
			if sig := (<-got).query.Get("signature"); sig != tt.want {
				t.Errorf("signature = %s, want %s", sig, tt.want)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		code      int // 0: no VendorError expected
		auth      bool
		throttled bool
		retryable bool
		contains  string
	}{
		{"signature refused with 401", 200, `{"code":401,"message":"签名验证失败","data":null}`, 401, true, false, false, "签名验证失败"},
		{"signature refused as in the sync example", 200, `{"code":400,"message":"签名验证失败","data":null}`, 400, true, false, false, "签名验证失败"},
		{"http 401 with the envelope", 401, `{"code":401,"message":"签名验证失败","data":null}`, 401, true, false, false, "签名验证失败"},
		{"http 403 without it", 403, `forbidden`, 403, true, false, false, "forbidden"},
		{"bad parameter", 200, `{"code":400,"message":"缺少参数 ext_staff_id","data":null}`, 400, false, false, false, "ext_staff_id"},
		{"unknown staff", 400, `{"code":1002,"message":"员工ID无效","data":null}`, 1002, false, false, false, "员工ID无效"},
		{"code as a string", 200, `{"code":"1006","message":"分页参数错误"}`, 1006, false, false, false, "分页参数错误"},
		{"rate limit", 429, `{"code":429,"message":"请求过于频繁","data":null}`, 429, false, true, true, "请求过于频繁"},
		{"rate limit without envelope", 429, `slow down`, 429, false, true, true, "slow down"},
		{"internal error", 200, `{"code":500,"message":"服务器内部错误","data":null}`, 500, false, false, true, "服务器内部错误"},
		{"proxy error page", 502, `<html>bad gateway</html>`, 502, false, false, true, "bad gateway"},
		{"wrong base url", 404, `404 page not found`, 404, false, false, false, "/api/v1"},
		{"not the envelope", 200, `{"ok":true}`, 0, false, false, true, "envelope"},
		{"empty answer", 200, ``, 0, false, false, true, "empty answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := fakeServer(t, tt.status, tt.body)
			c := newTestClient(t, srv.URL, EncodingURL)
			_, err := c.Call(testContext(t), "chatMsg.search", map[string]any{
				"keyword": "x", "ext_staff_id": "s", "ext_peer_id": "p", "ext_corp_id": "c"})
			if err == nil {
				t.Fatal("no error")
			}
			var ve *bindings.VendorError
			switch {
			case tt.code == 0 && errors.As(err, &ve):
				t.Errorf("unexpected VendorError %v", ve)
			case tt.code != 0 && !errors.As(err, &ve):
				t.Errorf("error %v is not a VendorError", err)
			case tt.code != 0 && (ve.Code != tt.code || ve.Vendor != Name):
				t.Errorf("VendorError = %s %d, want %s %d", ve.Vendor, ve.Code, Name, tt.code)
			}
			if got := errors.Is(err, bindings.ErrAuth); got != tt.auth {
				t.Errorf("errors.Is(ErrAuth) = %v for %v", got, err)
			}
			if got := errors.Is(err, bindings.ErrVendorThrottled); got != tt.throttled {
				t.Errorf("errors.Is(ErrVendorThrottled) = %v for %v", got, err)
			}
			if got := Retryable(err); got != tt.retryable {
				t.Errorf("Retryable = %v for %v", got, err)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.Contains(err.Error(), "msgserver.chatMsg.search") {
				t.Errorf("error %q does not name the call and %q", err, tt.contains)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := newTestClient(t, base, EncodingURL)
	_, err := c.Call(testContext(t), "chatMsg.sync", map[string]any{"ext_corp_id": "c"})
	if !errors.Is(err, bindings.ErrTransport) || !Retryable(err) {
		t.Fatalf("err = %v, want a retryable transport error", err)
	}
}

func TestClientRefusesBadCalls(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://127.0.0.1:1", EncodingURL)
	tests := []struct {
		name   string
		method string
		args   map[string]any
		want   error
	}{
		{"unknown method", "chatMsg.delete", nil, bindings.ErrUnknownMethod},
		{"missing required", "chatMsg.sessions", map[string]any{"ext_corp_id": "c", "session_type": "group"}, nil},
		{"empty required", "chatMsg.sync", map[string]any{"ext_corp_id": " "}, nil},
		{"page not a number", "chatMsg.sessions", map[string]any{"ext_corp_id": "c", "ext_staff_id": "s",
			"session_type": "group", "page": "first"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Call(testContext(t), tt.method, tt.args)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			var ae *bindings.ArgumentError
			if tt.want == nil && !errors.As(err, &ae) {
				t.Errorf("err = %v, want an ArgumentError", err)
			}
		})
	}
}

func TestNewClientConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string // "" for success
	}{
		{"defaults", Config{}, ""},
		{"raw", Config{BaseURL: "https://archive.example/api/v1/", Encoding: EncodingRaw}, ""},
		{"bad encoding", Config{Encoding: "hex"}, "encoding"},
		{"relative url", Config{BaseURL: "/api/v1"}, "absolute"},
		{"other scheme", Config{BaseURL: "ftp://h/api/v1"}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tt.cfg)
			if tt.want == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one about %q", err, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, "http://127.0.0.1:1", EncodingURL)
	r := bindings.NewRegistry()
	if err := r.Add(Vendor(c)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"chatMsg.sync":        "POST /chat-msg/sync",
		"chatMsg.sessions":    "GET /chat-msg/sessions",
		"chatMsg.sessionMsgs": "GET /chat-msg/session-msgs",
		"chatMsg.search":      "GET /chat-msg/search",
	}
	if len(Endpoints) != len(want) {
		t.Errorf("%d endpoints, want %d", len(Endpoints), len(want))
	}
	for name, route := range want {
		ep, err := r.Lookup(Name, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := ep.Method + " " + ep.Path; got != route {
			t.Errorf("%s = %s, want %s", name, got, route)
		}
		if ep.Permission() != "msgserver."+name || ep.Doc == "" {
			t.Errorf("%s: permission %q, doc %q", name, ep.Permission(), ep.Doc)
		}
		if _, ok := ep.Param("ext_corp_id"); !ok {
			t.Errorf("%s has no ext_corp_id", name)
		}
		if _, ok := ep.Param("signature"); ok {
			t.Errorf("%s lists signature: the client adds it", name)
		}
	}
	v, _ := r.Vendor(Name)
	if v.Reply != nil || v.Normalize != nil {
		t.Error("msgserver can neither reply nor normalize callbacks")
	}
}
