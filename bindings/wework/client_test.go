package wework

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

// fakeVendor answers every request with status and body, and counts and
// keeps the requests.
type fakeVendor struct {
	*httptest.Server
	count atomic.Int32
	last  atomic.Value // recorded
}

type recorded struct {
	Method, Path string
	Body         map[string]any
}

func newFakeVendor(t *testing.T, status int, body string) *fakeVendor {
	t.Helper()
	f := &fakeVendor{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.count.Add(1)
		b, _ := io.ReadAll(r.Body)
		rec := recorded{Method: r.Method, Path: r.URL.Path}
		_ = json.Unmarshal(b, &rec.Body)
		f.last.Store(rec)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientDecodesTheEnvelope(t *testing.T) {
	t.Parallel()
	send := map[string]any{"guid": "g1", "conversation_id": "S:1688857160788209", "content": "测试一条消息"}
	for _, tc := range []struct {
		name      string
		path      string
		args      map[string]any
		status    int
		body      string
		want      string // data on success
		code      int    // VendorError code, 0 for none
		is        error
		transient bool
	}{
		{name: "status", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 200,
			body: `{"error_code":0,"data":{"status":2}}`, want: `{"status":2}`},
		{name: "all clients answer data alone", path: "/client/all_clients", status: 200,
			body: `{"data":["5b1eb388-a4df-3da5-a49a-507eea46632c"]}`, want: `["5b1eb388-a4df-3da5-a49a-507eea46632c"]`},
		{name: "no clients answer null", path: "/client/all_clients", status: 200, body: `{"data":null}`, want: `null`},
		{name: "send", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":0,"error_message":"ok","data":{"msg_data":{"id":"1000127"},"is_svr_fail":false}}`,
			want: `{"msg_data":{"id":"1000127"},"is_svr_fail":false}`},
		{name: "no data", path: "/client/set_bridge", args: map[string]any{"guid": "g1", "bridge": "b"}, status: 200,
			body: `{"error_code":0,"error_message":"ok"}`, want: `null`},
		{name: "-2003", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":-2003,"error_message":"参数错误","data":{}}`, code: -2003, is: bindings.ErrInvalidConversation},
		{name: "-4017", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":-4017,"error_message":"head rsp code error, error_msg: 对方无外部联系人权限，发送消息失败","data":{}}`,
			code: -4017, is: bindings.ErrNoExternalPermission},
		{name: "code as a string", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":"-4017","error_message":"x"}`, code: -4017, is: bindings.ErrNoExternalPermission},
		{name: "frequency", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":-1000999,"error_message":"Abnormal request frequency"}`, code: -1000999, is: bindings.ErrVendorThrottled},
		{name: "server flags the send failed", path: "/msg/send_text", args: send, status: 200,
			body: `{"error_code":0,"data":{"msg_data":{},"is_svr_fail":true}}`, is: ErrServerFail, transient: true},
		{name: "html 502", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 502,
			body: "<html>bad gateway</html>", code: 502, is: bindings.ErrTransport, transient: true},
		{name: "envelope with 500", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 500,
			body: `{"error_code":-9,"error_message":"internal"}`, code: -9, is: bindings.ErrTransport, transient: true},
		{name: "404 page", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 404,
			body: "404 page not found", code: 404},
		{name: "not the envelope", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 200,
			body: `{"hello":1}`, is: bindings.ErrTransport, transient: true},
		{name: "empty answer", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 200,
			body: ``, is: bindings.ErrTransport, transient: true},
		{name: "unparsable code", path: "/client/get_client_status", args: map[string]any{"guid": "g1"}, status: 200,
			body: `{"error_code":"abc"}`, is: bindings.ErrTransport, transient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, tc.status, tc.body)
			c := NewClient(Config{BaseURL: f.URL + "/"})
			data, err := c.Call(testCtx(t), tc.path, tc.args)
			if f.count.Load() != 1 {
				t.Fatalf("%d requests, want 1", f.count.Load())
			}
			rec := f.last.Load().(recorded)
			if rec.Path != tc.path {
				t.Errorf("path %s, want %s", rec.Path, tc.path)
			}
			if tc.want != "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if string(data) != tc.want {
					t.Errorf("data %s, want %s", data, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; data %s", data)
			}
			var ve *bindings.VendorError
			switch {
			case tc.code != 0 && !errors.As(err, &ve):
				t.Errorf("error %v is not a VendorError", err)
			case tc.code != 0 && ve.Code != tc.code:
				t.Errorf("code %d, want %d", ve.Code, tc.code)
			case tc.code != 0 && ve.Vendor != Name:
				t.Errorf("vendor %q", ve.Vendor)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
			if got := bindings.Transient(err); got != tc.transient {
				t.Errorf("Transient = %v, want %v (%v)", got, tc.transient, err)
			}
		})
	}
}

func TestClientRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path string
		args       map[string]any
		param      string
		invalidID  bool
	}{
		{name: "no prefix", path: "/msg/send_text", param: "conversation_id", invalidID: true,
			args: map[string]any{"guid": "g", "conversation_id": "1688857160788209", "content": "hi"}},
		{name: "prefix only", path: "/msg/send_image", param: "conversation_id", invalidID: true,
			args: map[string]any{"guid": "g", "conversation_id": "S:", "image_path": "/a.png"}},
		{name: "lower-case prefix", path: "/msg/send_text", param: "conversation_id", invalidID: true,
			args: map[string]any{"guid": "g", "conversation_id": "r:123", "content": "hi"}},
		{name: "mentions in a private chat", path: "/msg/send_room_at", param: "conversation_id", invalidID: true,
			args: map[string]any{"guid": "g", "conversation_id": "S:1", "content": "hi", "at_list": []any{"1"}}},
		{name: "empty at_list", path: "/msg/send_room_at", param: "at_list",
			args: map[string]any{"guid": "g", "conversation_id": "R:1", "content": "hi", "at_list": []any{}}},
		{name: "everyone mixed with ids", path: "/msg/send_room_at", param: "at_list",
			args: map[string]any{"guid": "g", "conversation_id": "R:1", "content": "hi", "at_list": []any{0, "168"}}},
		{name: "missing content", path: "/msg/send_text", param: "content",
			args: map[string]any{"guid": "g", "conversation_id": "S:1"}},
		{name: "missing guid", path: "/client/get_client_status", param: "guid", args: map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, 200, `{"error_code":0,"data":{}}`)
			_, err := NewClient(Config{BaseURL: f.URL}).Call(testCtx(t), tc.path, tc.args)
			var ae *bindings.ArgumentError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v, want an ArgumentError", err)
			}
			if ae.Param != tc.param {
				t.Errorf("param %q, want %q", ae.Param, tc.param)
			}
			if got := errors.Is(err, bindings.ErrInvalidConversation); got != tc.invalidID {
				t.Errorf("matches ErrInvalidConversation: %v, want %v", got, tc.invalidID)
			}
			if tc.invalidID {
				if info := bindings.Describe(Name, err); info.Code != bindings.CodeInvalidConversation {
					t.Errorf("plugins see code %v, want -2003", info.Code)
				}
			}
			if n := f.count.Load(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestClientSendsNormalizedArgs(t *testing.T) {
	t.Parallel()
	f := newFakeVendor(t, 200, `{"error_code":0,"data":{"is_svr_fail":false}}`)
	c := NewClient(Config{BaseURL: f.URL})
	_, err := c.Call(testCtx(t), "/msg/send_room_at", map[string]any{"guid": "g", "conversation_id": " R:131 ",
		"content": "{$@} 你好", "at_list": []any{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := f.last.Load().(recorded)
	want := map[string]any{"guid": "g", "conversation_id": "R:131", "content": "{$@} 你好", "at_list": []any{0.0}}
	if rec.Method != http.MethodPost || !reflect.DeepEqual(rec.Body, want) {
		t.Errorf("sent %s %v, want POST %v", rec.Method, rec.Body, want)
	}
}

func TestClientTransportErrors(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		f := newFakeVendor(t, 200, "{}")
		base := f.URL
		f.Close()
		_, err := NewClient(Config{BaseURL: base}).Call(testCtx(t), "/client/all_clients", nil)
		if !errors.Is(err, bindings.ErrTransport) || !bindings.Transient(err) {
			t.Errorf("error %v, want a transient transport error", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		_, err := NewClient(Config{BaseURL: srv.URL, Timeout: 50 * time.Millisecond}).Call(testCtx(t), "/client/all_clients", nil)
		if !errors.Is(err, context.DeadlineExceeded) || !bindings.Transient(err) {
			t.Errorf("error %v, want a transient deadline error", err)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		t.Parallel()
		_, err := NewClient(Config{BaseURL: "http://127.0.0.1:1"}).Call(testCtx(t), "/msg/send_video", nil)
		if !errors.Is(err, bindings.ErrUnknownMethod) {
			t.Errorf("error %v, want ErrUnknownMethod", err)
		}
	})
}

func TestAtList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   any
		want []any
		bad  bool
	}{
		{name: "ids", in: []any{"1688", json.Number("7881")}, want: []any{"1688", "7881"}},
		{name: "strings", in: []string{"a", "b"}, want: []any{"a", "b"}},
		{name: "everyone as number", in: []any{0.0}, want: []any{MentionAll}},
		{name: "everyone as int", in: []int{0}, want: []any{MentionAll}},
		{name: "everyone as all", in: []any{"ALL"}, want: []any{MentionAll}},
		{name: "nil", in: nil, bad: true},
		{name: "empty", in: []any{}, bad: true},
		{name: "not a list", in: "1688", bad: true},
		{name: "blank id", in: []any{" "}, bad: true},
		{name: "fraction", in: []any{1.5}, bad: true},
		{name: "negative", in: []int64{-1}, bad: true},
		{name: "object", in: []any{map[string]any{}}, bad: true},
		{name: "duplicate", in: []any{"a", "a"}, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := AtList(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("AtList(%v) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AtList(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}
