package quntool

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

const testKey = "k-123"

// recorded is one request as the fake vendor saw it.
type recorded struct {
	Method, Path, APIKey, ContentType string
	Query                             url.Values
	Body                              []byte
	Form                              map[string]string // multipart fields
	Files                             map[string][2]string
}

// fakeVendor serves answer for every request under /gnapi/open and
// records the requests.
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
		rec := recorded{Method: r.Method, Path: r.URL.Path, APIKey: r.Header.Get("apikey"),
			ContentType: r.Header.Get("Content-Type"), Query: r.URL.Query()}
		if strings.HasPrefix(rec.ContentType, "multipart/form-data") {
			if err := r.ParseMultipartForm(1 << 20); err == nil {
				rec.Form, rec.Files = map[string]string{}, map[string][2]string{}
				for k, v := range r.MultipartForm.Value {
					rec.Form[k] = v[0]
				}
				for k, fhs := range r.MultipartForm.File {
					fh := fhs[0]
					file, _ := fh.Open()
					b, _ := io.ReadAll(file)
					_ = file.Close()
					rec.Files[k] = [2]string{fh.Filename, string(b)}
				}
			}
		} else {
			rec.Body, _ = io.ReadAll(r.Body)
		}
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
	return NewClient(Config{BaseURL: f.URL + "/gnapi/open/", APIKey: testKey, HTTP: f.Client(), Timeout: 5 * time.Second})
}

func (f *fakeVendor) last(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-f.reqs:
		return r
	default:
		t.Fatal("the vendor received no request")
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
		name      string
		method    string
		args      map[string]any
		wantHTTP  string
		wantPath  string
		wantQuery url.Values
		wantBody  map[string]any
	}{
		{"get with a query", "contact.external.list", map[string]any{"wxId": "1688000000000001"},
			"GET", "/gnapi/open/contact/external/list", url.Values{"wxId": {"1688000000000001"}}, nil},
		{"get with a bool and a list", "inner.user.wx.list", map[string]any{"isOnline": false, "hostName": []any{"h1", "h2"}},
			"GET", "/gnapi/open/inner/user/wx/list", url.Values{"isOnline": {"false"}, "hostName": {"h1", "h2"}}, nil},
		{"get with the vendor's own case", "contact.relation.get", map[string]any{"WxId": "1688", "ContactUserId": "7881"},
			"GET", "/gnapi/open/contact/relation", url.Values{"WxId": {"1688"}, "ContactUserId": {"7881"}}, nil},
		{"post", "msg.text", map[string]any{"wxId": "1688000000000001", "conversationId": "R:10696", "content": "hi"},
			"POST", "/gnapi/open/msg/text", url.Values{}, map[string]any{"wxId": "1688000000000001", "conversationId": "R:10696", "content": "hi"}},
		{"reversed private id put in order", "msg.image",
			map[string]any{"wxId": "1688000000000001", "ConversationId": " S:7881000000000002_1688000000000001", "fileUrl": "/gnapi/files/x.png"},
			"POST", "/gnapi/open/msg/image", url.Values{},
			map[string]any{"wxId": "1688000000000001", "ConversationId": "S:1688000000000001_7881000000000002", "fileUrl": "/gnapi/files/x.png"}},
		{"put", "contact.remark", map[string]any{"wxId": "1688", "contactId": "7881", "remark": "vip"},
			"PUT", "/gnapi/open/contact/remark", url.Values{}, map[string]any{"wxId": "1688", "contactId": "7881", "remark": "vip"}},
		{"delete with a body", "group.member.remove", map[string]any{"wxId": "1688", "conversationId": "R:1", "memberWxIds": "7881,7882"},
			"DELETE", "/gnapi/open/group/member", url.Values{}, map[string]any{"wxId": "1688", "conversationId": "R:1", "memberWxIds": "7881,7882"}},
		{"bare collection", "group.create", map[string]any{"wxId": "1688", "memberWxIds": "7881,7882"},
			"POST", "/gnapi/open/group", url.Values{}, map[string]any{"wxId": "1688", "memberWxIds": "7881,7882"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(200, `{"msg":"","code":0,"data":{"msgId":"ed1ba6c2"}}`))
			data, err := f.client().Do(testContext(t), endpoint(t, c.method), c.args)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if string(data) != `{"msgId":"ed1ba6c2"}` {
				t.Errorf("data = %s", data)
			}
			r := f.last(t)
			if r.Method != c.wantHTTP || r.Path != c.wantPath {
				t.Errorf("request %s %s, want %s %s", r.Method, r.Path, c.wantHTTP, c.wantPath)
			}
			if r.APIKey != testKey {
				t.Errorf("apikey header = %q", r.APIKey)
			}
			if !reflect.DeepEqual(r.Query, c.wantQuery) {
				t.Errorf("query = %v, want %v", r.Query, c.wantQuery)
			}
			if c.wantBody == nil {
				if len(r.Body) != 0 {
					t.Errorf("GET carried a body: %s", r.Body)
				}
				return
			}
			if r.ContentType != "application/json" {
				t.Errorf("content type = %q", r.ContentType)
			}
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("body %s: %v", r.Body, err)
			}
			if !reflect.DeepEqual(body, c.wantBody) {
				t.Errorf("body = %v, want %v", body, c.wantBody)
			}
		})
	}
}

func TestClientDoesNotModifyArgs(t *testing.T) {
	t.Parallel()
	f := newFakeVendor(t, answerJSON(200, `{"code":0,"data":null}`))
	args := map[string]any{"wxId": "1688000000000001", "conversationId": "S:7881000000000002_1688000000000001", "content": "x"}
	data, err := f.client().Do(testContext(t), endpoint(t, "msg.text"), args)
	if err != nil || string(data) != "null" {
		t.Fatalf("Do = %s, %v", data, err)
	}
	if args["conversationId"] != "S:7881000000000002_1688000000000001" {
		t.Errorf("caller's args changed: %v", args)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		status     int
		body       string
		wantData   string
		wantCode   int // VendorError code; 0 for none
		wantHTTP   int
		transport  bool
		throttled  bool
		msgContain string
	}{
		{"data", 200, `{"msg":"","code":0,"data":[{"id":7}]}`, `[{"id":7}]`, 0, 0, false, false, ""},
		{"no data", 200, `{"code":0}`, `null`, 0, 0, false, false, ""},
		{"code as a string", 200, `{"code":"0","data":"/gnapi/Files/a.txt"}`, `"/gnapi/Files/a.txt"`, 0, 0, false, false, ""},
		{"capitalised fields", 200, `{"Code":0,"Data":{"a":1}}`, `{"a":1}`, 0, 0, false, false, ""},
		{"frequency limit", 200, `{"code":-1000999,"msg":"Abnormal request frequency","data":null}`, "", -1000999, 0, false, true, "Abnormal request frequency"},
		{"frequency limit as a string", 200, `{"code":"-1000999","msg":"Abnormal request frequency"}`, "", -1000999, 0, false, true, ""},
		{"other vendor error", 200, `{"code":500,"msg":"企微不在线"}`, "", 500, 0, false, false, "企微不在线"},
		{"error with a status", 400, `{"code":-1,"msg":"bad"}`, "", -1, 400, false, false, "bad"},
		{"status with code 0", 400, `{"code":0,"msg":""}`, "", 400, 400, false, false, "Bad Request"},
		{"not json", 200, `<html>hello</html>`, "", 0, 0, true, false, "envelope"},
		{"empty", 200, ``, "", 0, 0, true, false, "empty answer"},
		{"json without code", 200, `{"data":1}`, "", 0, 0, true, false, ""},
		{"fractional code", 200, `{"code":1.5}`, "", 0, 0, true, false, ""},
		{"bad gateway page", 502, "<html>502 Bad Gateway</html>\n<body/>", "", 502, 502, true, false, "502 Bad Gateway"},
		{"missing /open", 404, `Not Found`, "", 404, 404, false, false, "/gnapi/open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			data, err := decode(c.status, []byte(c.body))
			if c.wantData != "" {
				if err != nil || string(data) != c.wantData {
					t.Fatalf("decode = %s, %v; want %s", data, err, c.wantData)
				}
				return
			}
			if err == nil {
				t.Fatalf("decode = %s, want an error", data)
			}
			if got := errors.Is(err, bindings.ErrTransport); got != c.transport {
				t.Errorf("ErrTransport = %v, want %v (%v)", got, c.transport, err)
			}
			if got := errors.Is(err, bindings.ErrVendorThrottled); got != c.throttled {
				t.Errorf("ErrVendorThrottled = %v, want %v", got, c.throttled)
			}
			var ve *bindings.VendorError
			if errors.As(err, &ve) != (c.wantCode != 0) {
				t.Fatalf("VendorError = %v, want code %d", err, c.wantCode)
			}
			if ve != nil && (ve.Code != c.wantCode || ve.HTTPStatus != c.wantHTTP || ve.Vendor != Name) {
				t.Errorf("VendorError = %+v, want code %d status %d", ve, c.wantCode, c.wantHTTP)
			}
			if !strings.Contains(err.Error(), c.msgContain) {
				t.Errorf("error %q lacks %q", err, c.msgContain)
			}
			if c.status >= 500 && !bindings.Transient(err) {
				t.Errorf("a %d answer is not transient: %v", c.status, err)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	args := map[string]any{"wxId": "1688", "conversationId": "R:1", "content": "x"}

	t.Run("frequency limit", func(t *testing.T) {
		t.Parallel()
		f := newFakeVendor(t, answerJSON(200, `{"code":-1000999,"msg":"Abnormal request frequency"}`))
		_, err := f.client().Do(testContext(t), endpoint(t, "msg.text"), args)
		if !errors.Is(err, bindings.ErrVendorThrottled) {
			t.Fatalf("error = %v, want ErrVendorThrottled", err)
		}
		info := bindings.Describe(Name, err)
		if info.Vendor != Name || info.Code != bindings.CodeFrequencyLimit || info.Message != "Abnormal request frequency" {
			t.Errorf("Describe = %+v", info)
		}
		if !strings.HasPrefix(err.Error(), "quntool.msg.text: ") {
			t.Errorf("error %q does not name the endpoint", err)
		}
	})
	t.Run("bad apikey", func(t *testing.T) {
		t.Parallel()
		f := newFakeVendor(t, answerJSON(401, `apikey invalid`))
		_, err := f.client().Do(testContext(t), endpoint(t, "group.list"), map[string]any{"wxId": "1688"})
		if !errors.Is(err, bindings.ErrAuth) {
			t.Fatalf("error = %v, want ErrAuth", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		f := newFakeVendor(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		t.Cleanup(func() { close(release) })
		ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
		defer cancel()
		_, err := f.client().Do(ctx, endpoint(t, "msg.text"), args)
		if !errors.Is(err, context.DeadlineExceeded) || !bindings.Transient(err) {
			t.Fatalf("error = %v, want a transient deadline error", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		f := newFakeVendor(t, answerJSON(200, `{}`))
		c := f.client()
		f.Close()
		_, err := c.Do(testContext(t), endpoint(t, "msg.text"), args)
		if !errors.Is(err, bindings.ErrTransport) {
			t.Fatalf("error = %v, want ErrTransport", err)
		}
	})
	t.Run("no apikey configured", func(t *testing.T) {
		t.Parallel()
		f := newFakeVendor(t, answerJSON(200, `{"code":0,"data":[]}`))
		c := NewClient(Config{BaseURL: f.URL + "/gnapi/open", HTTP: f.Client()})
		if _, err := c.Do(testContext(t), endpoint(t, "inner.user.list"), nil); err != nil {
			t.Fatal(err)
		}
		if r := f.last(t); r.APIKey != "" || r.Query.Has("apikey") {
			t.Errorf("an apikey was sent without one configured: header %q, query %v", r.APIKey, r.Query)
		}
	})
}

func TestClientRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		method       string
		args         map[string]any
		param        string
		conversation bool
	}{
		{"field twice in two cases", "msg.text", map[string]any{"wxId": "1", "WXID": "2", "conversationId": "R:1", "content": "x"}, "WXID", false},
		{"conversation without a prefix", "msg.text", map[string]any{"wxId": "1", "conversationId": "1688_7881", "content": "x"}, conversationParam, true},
		{"conversation with an unknown prefix", "msg.image", map[string]any{"wxId": "1", "conversationId": "G:1", "fileUrl": "u"}, conversationParam, true},
		{"only a prefix", "msg.text", map[string]any{"wxId": "1", "conversationId": "S:", "content": "x"}, conversationParam, true},
		{"conversation missing", "msg.link", map[string]any{"wxId": "1", "title": "t", "url": "u"}, conversationParam, true},
		{"conversation not a string", "videonum.send", map[string]any{"wxId": "1", "conversationId": 12, "videoNumId": 20}, conversationParam, true},
		{"upload without a file", "file.upload", map[string]any{}, "file", false},
		{"upload of a bare string", "file.upload", map[string]any{"file": "/etc/passwd"}, "file", false},
		{"upload of bad base64", "file.upload", map[string]any{"file": map[string]any{"name": "a.txt", "data": "%%%"}}, "file", false},
		{"upload without data", "file.upload", map[string]any{"file": map[string]any{"name": "a.txt"}}, "file", false},
		{"upload of a number", "file.upload", map[string]any{"file": 5}, "file", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(200, `{"code":0}`))
			_, err := f.client().Do(testContext(t), endpoint(t, c.method), c.args)
			var ae *bindings.ArgumentError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want an ArgumentError", err)
			}
			if ae.Param != c.param || ae.Endpoint != "quntool."+c.method {
				t.Errorf("ArgumentError %+v, want param %s", ae, c.param)
			}
			if got := errors.Is(err, bindings.ErrInvalidConversation); got != c.conversation {
				t.Errorf("ErrInvalidConversation = %v, want %v", got, c.conversation)
			}
			if n := f.count.Load(); n != 0 {
				t.Errorf("%d requests sent for refused arguments", n)
			}
		})
	}
}

func TestClientUpload(t *testing.T) {
	t.Parallel()
	content := "hello, 世界\x00\x01"
	cases := []struct {
		name     string
		file     any
		wantName string
	}{
		{"base64 object", map[string]any{"name": "report.txt", "data": base64.StdEncoding.EncodeToString([]byte(content))}, "report.txt"},
		{"unpadded url-safe base64", map[string]any{"name": "b.bin", "data": base64.RawURLEncoding.EncodeToString([]byte(content))}, "b.bin"},
		{"bytes in an object", map[string]any{"name": "c.bin", "data": []byte(content)}, "c.bin"},
		{"raw bytes", []byte(content), "file"},
		{"a name with a path and control characters", map[string]any{"name": "../../etc/evil\r\nX-Bad: 1.txt", "data": base64.StdEncoding.EncodeToString([]byte(content))}, "evilX-Bad: 1.txt"},
		{"a name that is only a path", map[string]any{"name": "../", "data": base64.StdEncoding.EncodeToString([]byte(content))}, "file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(200, `{"msg":"","code":0,"data":"/gnapi/Files/20211009/e0f/report.txt"}`))
			data, err := f.client().Do(testContext(t), endpoint(t, "file.upload"), map[string]any{"file": c.file, "purpose": "demo"})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if string(data) != `"/gnapi/Files/20211009/e0f/report.txt"` {
				t.Errorf("data = %s", data)
			}
			r := f.last(t)
			if r.Method != "POST" || r.Path != "/gnapi/open/file/upload" || r.APIKey != testKey {
				t.Errorf("request %s %s apikey %q", r.Method, r.Path, r.APIKey)
			}
			if !strings.HasPrefix(r.ContentType, "multipart/form-data; boundary=") {
				t.Fatalf("content type %q", r.ContentType)
			}
			got, ok := r.Files["file"]
			if !ok || got[0] != c.wantName || got[1] != content {
				t.Errorf("file part = %q, want name %q and the content", got, c.wantName)
			}
			if r.Form["purpose"] != "demo" {
				t.Errorf("form fields = %v", r.Form)
			}
		})
	}
}

func TestClientUploadTooLarge(t *testing.T) {
	t.Parallel()
	if _, _, err := fileArg([]byte(strings.Repeat("x", MaxUploadBytes+1))); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("oversized bytes: %v", err)
	}
	big := strings.Repeat("A", base64.StdEncoding.EncodedLen(MaxUploadBytes)+8)
	if _, _, err := fileArg(map[string]any{"data": big}); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("oversized base64: %v", err)
	}
}

func TestContainerVerify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, answer string
		wantCode     int
	}{
		{"accepted", `{"data":{"errcode":0,"errmsg":"ok"},"code":0}`, 0},
		{"wrong code", `{"data":{"errcode":-3,"errmsg":"ok"},"code":0}`, -3},
		{"wrong code with a message", `{"data":{"errcode":"-1","errmsg":"验证码错误"},"code":0}`, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVendor(t, answerJSON(200, c.answer))
			data, err := f.client().Do(testContext(t), endpoint(t, "container.verify"),
				map[string]any{"hostname": "17eeb4b5a466", "key": "6E16C7042D0A4E832114E839EB1694CE", "code": "386317"})
			if c.wantCode == 0 {
				if err != nil || !strings.Contains(string(data), `"errcode":0`) {
					t.Fatalf("Do = %s, %v", data, err)
				}
				return
			}
			var ve *bindings.VendorError
			if !errors.As(err, &ve) || ve.Code != c.wantCode || ve.Message == "" || ve.Message == "ok" {
				t.Fatalf("error = %v, want vendor code %d with a message", err, c.wantCode)
			}
		})
	}
}

// TestRegistryRoundTrip goes the way a plugin's call goes: the registry
// checks the arguments and hands them to the client; a reply to an event
// becomes a call through the same path.
func TestRegistryRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFakeVendor(t, answerJSON(200, `{"msg":"","code":0,"data":{"msgId":"98f10652"}}`))
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(f.client())); err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	if _, err := reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: "msg.text", Args: map[string]any{"wxId": "1688"}}); err == nil {
		t.Fatal("a call without its required arguments was accepted")
	}
	if n := f.count.Load(); n != 0 {
		t.Fatalf("%d requests sent for a refused call", n)
	}

	evs, err := Normalize(goldenInput(t, "text_msg.received"))
	if err != nil {
		t.Fatal(err)
	}
	call, err := reg.Reply(evs[0], map[string]any{"text": "pong"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := reg.Invoke(ctx, call)
	if err != nil || string(data) != `{"msgId":"98f10652"}` {
		t.Fatalf("Invoke = %s, %v", data, err)
	}
	r := f.last(t)
	var body map[string]any
	_ = json.Unmarshal(r.Body, &body)
	want := map[string]any{"wxId": "168885056393XXXX", "conversationId": "S:168885056393XXXX_788130083907XXXX", "content": "pong"}
	if r.Path != "/gnapi/open/msg/text" || !reflect.DeepEqual(body, want) {
		t.Errorf("sent %s %v, want /gnapi/open/msg/text %v", r.Path, body, want)
	}
	if ep, _ := reg.Lookup(Name, call.Method); ep.Account(call.Args) != evs[0].Account || ep.Class != bindings.Send {
		t.Errorf("reply call account %q class %v", ep.Account(call.Args), ep.Class)
	}
}
