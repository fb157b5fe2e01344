package sim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/msgserver"
)

// seedDigest is the vendor document's signature example (its sorted
// parameters under the key "secret_key"), computed once with
// `printf '%s' '...' | openssl dgst -sha256 -hmac secret_key`.
const seedDigest = "682081003cec34e1ef0d4703d53a362705446f6c730fad45503cc5255182863e"

func TestSyncMakesPendingVisible(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	added, err := h.sim.AddMessage(testCorp, testStaff, Message{From: "customer456", Text: "在吗"})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID != "" || added.Seq != 0 || added.MsgID == "" || added.SessionType != SessionExternal {
		t.Errorf("pending message = %+v", added)
	}
	var page messagePage
	h.mustCall(t, "chatMsg.sessionMsgs", msgArgs("customer456"), &page)
	if page.Total != 0 || len(page.Items) != 0 {
		t.Fatalf("pending message visible before sync: %+v", page)
	}
	if h.sim.Pending(testCorp) != 1 {
		t.Fatalf("Pending = %d", h.sim.Pending(testCorp))
	}
	if _, err := h.call(t, "chatMsg.sync", map[string]any{"ext_corp_id": testCorp}); err != nil {
		t.Fatal(err)
	}
	h.mustCall(t, "chatMsg.sessionMsgs", msgArgs("customer456"), &page)
	if page.Total != 1 || page.Items[0].ContentText != "在吗" || page.Items[0].Seq != 1 || page.Items[0].ID == "" {
		t.Fatalf("after sync: %+v", page)
	}
	if h.sim.Pending(testCorp) != 0 {
		t.Errorf("Pending after sync = %d", h.sim.Pending(testCorp))
	}
	if _, err := h.call(t, "chatMsg.sync", map[string]any{"ext_corp_id": "nope"}); vendorCode(err) != CodeInvalidCorp {
		t.Errorf("sync of an unknown corp: %v", err)
	}
}

func TestSeedAssignsIncreasingIDsAndSeqs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	if _, err := h.sim.AddMessage(testCorp, "other", Message{From: "p", Text: "pending elsewhere"}); err != nil {
		t.Fatal(err)
	}
	msgs, err := h.sim.Seed(testCorp, testStaff,
		Message{From: testStaff, ToList: []string{"p1"}, Text: "a"},
		Message{From: "p1", Text: "b"},
		Message{From: "p2", Text: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("Seed answered %d messages", len(msgs))
	}
	for i, m := range msgs {
		if m.Seq != int64(i+2) || m.ID == "" {
			t.Errorf("message %d: seq %d id %q (the other staff's pending message was synced first)", i, m.Seq, m.ID)
		}
		if i > 0 && m.ID <= msgs[i-1].ID {
			t.Errorf("ids not increasing: %q then %q", msgs[i-1].ID, m.ID)
		}
	}
	if got := h.sim.Messages(testCorp, testStaff); len(got) != 3 || got[2].Text != "c" {
		t.Errorf("Messages = %+v", got)
	}
	if _, err := h.sim.Seed(testCorp, testStaff, Message{From: "p", Text: "ok"}, Message{Text: "no sender"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Seed with an invalid message: %v", err)
	}
	if got := h.sim.Messages(testCorp, testStaff); len(got) != 3 {
		t.Errorf("a refused Seed added %d messages", len(got)-3)
	}
}

func TestAddMessageRefuses(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		corp, staff string
		m           Message
	}{
		{"no corp", "", "s", Message{From: "a"}},
		{"no staff", "c", "", Message{From: "a"}},
		{"no sender", "c", "s", Message{Text: "x"}},
		{"sent to nobody", "c", "s", Message{From: "s"}},
		{"not in the staff's archive", "c", "s", Message{From: "a", ToList: []string{"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.AddMessage(tt.corp, tt.staff, tt.m); !errors.Is(err, ErrInvalid) {
				t.Errorf("AddMessage = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := New(Options{Encoding: "base64"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("New with a bad encoding: %v", err)
	}
}

// seedSessions gives staff123 three external sessions, one internal and
// one group, ten minutes apart.
func seedSessions(t *testing.T, h *harness) {
	t.Helper()
	if err := h.sim.AddStaff(testCorp, "staff456"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []Person{{ID: "c1", Name: "张三"}, {ID: "c2", Name: "李四", Type: PeerWeCom}, {ID: "c3", Name: "张小明"},
		{ID: "room1", Name: "产品交流群"}} {
		if err := h.sim.AddPerson(testCorp, p); err != nil {
			t.Fatal(err)
		}
	}
	base := h.clock.Now()
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	if _, err := h.sim.Seed(testCorp, testStaff,
		Message{From: "c1", Text: "c1 first", Time: at(0)},
		Message{From: testStaff, ToList: []string{"c2"}, Text: "to c2", Time: at(10)},
		Message{From: "c3", Text: "c3 hello", Time: at(20)},
		Message{From: testStaff, ToList: []string{"c1"}, Text: "c1 latest", Time: at(30)},
		Message{From: "staff456", Text: "colleague", Time: at(40)},
		Message{From: "c1", RoomID: "room1", ToList: []string{testStaff, "c1"}, Text: "group hi", Time: at(50)},
	); err != nil {
		t.Fatal(err)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	seedSessions(t, h)
	tests := []struct {
		name  string
		args  map[string]any
		peers []string
		total int
		code  int
	}{
		{"external, newest first", sessionArgs("external"), []string{"c1", "c3", "c2"}, 3, 0},
		{"internal", sessionArgs("internal"), []string{"staff456"}, 1, 0},
		{"group", sessionArgs("group"), []string{"room1"}, 1, 0},
		{"paged", sessionArgs("external", "page", 2, "page_size", 2), []string{"c2"}, 3, 0},
		{"past the end", sessionArgs("external", "page", 9), []string{}, 3, 0},
		{"name filter", sessionArgs("external", "name", "张"), []string{"c1", "c3"}, 2, 0},
		{"bad session type", sessionArgs("private"), nil, 0, CodeInvalidSessionType},
		{"page size over 100", sessionArgs("external", "page_size", 101), nil, 0, CodeInvalidPaging},
		{"page 0", sessionArgs("external", "page", 0), nil, 0, CodeInvalidPaging},
		{"unknown staff", sessionArgs("external", "ext_staff_id", "ghost"), nil, 0, CodeInvalidStaff},
		{"unknown corp", sessionArgs("external", "ext_corp_id", "ghost"), nil, 0, CodeInvalidCorp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var page sessionPage
			if !h.answer(t, "chatMsg.sessions", tt.args, tt.code, &page) {
				return
			}
			peers := []string{}
			for _, it := range page.Items {
				peers = append(peers, it.PeerExtID)
			}
			if !slices.Equal(peers, tt.peers) || page.Total != tt.total {
				t.Errorf("peers %v total %d, want %v %d", peers, page.Total, tt.peers, tt.total)
			}
		})
	}

	t.Run("item fields", func(t *testing.T) {
		t.Parallel()
		var ext, grp, in sessionPage
		h.mustCall(t, "chatMsg.sessions", sessionArgs("external"), &ext)
		h.mustCall(t, "chatMsg.sessions", sessionArgs("group"), &grp)
		h.mustCall(t, "chatMsg.sessions", sessionArgs("internal"), &in)
		c1 := ext.Items[0]
		if c1.ContentText != "c1 latest" || c1.PeerName != "张三" || c1.PeerType != PeerWeChat || c1.ID == "" || c1.SessionID == "" {
			t.Errorf("external item = %+v", c1)
		}
		if ext.Items[2].PeerType != PeerWeCom {
			t.Errorf("peer type given with AddPerson not kept: %+v", ext.Items[2])
		}
		if g := grp.Items[0]; g.GroupChatName != "产品交流群" || g.SessionType != SessionGroup {
			t.Errorf("group item = %+v", g)
		}
		if i := in.Items[0]; i.PeerType != PeerWeCom || i.PeerName != "staff456" {
			t.Errorf("internal item = %+v", i)
		}
		if ext.Page != 1 || ext.PageSize != DefaultPageSize {
			t.Errorf("page %d size %d", ext.Page, ext.PageSize)
		}
	})
}

func TestSessionMsgs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	day := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	var msgs []Message
	for i := range 6 {
		m := Message{From: "c1", Text: fmt.Sprintf("m%d", i), Time: day.AddDate(0, 0, i)}
		if i%2 == 1 {
			m.From, m.ToList = testStaff, []string{"c1"}
		}
		if i == 4 {
			m.Type, m.Text = "image", ""
			m.Attachments = map[string]any{"md5sum": "abc", "sdkfileid": "f1", "filesize": 1024}
			m.FileURL, m.FileName = "https://files.example/f1.jpg", "f1.jpg"
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, Message{From: "c2", Text: "other session", Time: day})
	seeded, err := h.sim.Seed(testCorp, testStaff, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	id := func(i int) string { return seeded[i].ID }
	tests := []struct {
		name  string
		args  map[string]any
		texts []string
		total int
		code  int
	}{
		{"newest first by default", msgArgs("c1"), []string{"m5", "", "m3", "m2", "m1", "m0"}, 6, 0},
		{"ascending", msgArgs("c1", "sort_type", "asc"), []string{"m0", "m1", "m2", "m3", "", "m5"}, 6, 0},
		{"by seq", msgArgs("c1", "sort_field", "seq", "sort_type", "asc", "page_size", 2), []string{"m0", "m1"}, 6, 0},
		{"second page", msgArgs("c1", "page", 2, "page_size", 4), []string{"m1", "m0"}, 6, 0},
		{"date range inclusive", msgArgs("c1", "send_at_start", "2024-01-11", "send_at_end", "2024-01-12"), []string{"m2", "m1"}, 2, 0},
		{"one type", msgArgs("c1", "msg_type", "image"), []string{""}, 1, 0},
		{"after max_id", msgArgs("c1", "max_id", id(3), "sort_type", "asc"), []string{"", "m5"}, 2, 0},
		{"before min_id", msgArgs("c1", "min_id", id(2)), []string{"m1", "m0"}, 2, 0},
		{"other receiver", msgArgs("c2"), []string{"other session"}, 1, 0},
		{"nobody", msgArgs("c9"), []string{}, 0, 0},
		{"bad msg type", msgArgs("c1", "msg_type", "fax"), nil, 0, CodeInvalidMsgType},
		{"bad date", msgArgs("c1", "send_at_start", "2024/01/11"), nil, 0, CodeInvalidTime},
		{"reversed range", msgArgs("c1", "send_at_start", "2024-01-12", "send_at_end", "2024-01-11"), nil, 0, CodeInvalidTime},
		{"bad max_id", msgArgs("c1", "max_id", "abc"), nil, 0, CodeBadRequest},
		{"bad sort field", msgArgs("c1", "sort_field", "random"), nil, 0, CodeBadRequest},
		{"bad sort type", msgArgs("c1", "sort_type", "up"), nil, 0, CodeBadRequest},
		{"bad page size", msgArgs("c1", "page_size", 500), nil, 0, CodeInvalidPaging},
		{"unknown staff", msgArgs("c1", "ext_staff_id", "ghost"), nil, 0, CodeInvalidStaff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var page messagePage
			if !h.answer(t, "chatMsg.sessionMsgs", tt.args, tt.code, &page) {
				return
			}
			if !slices.Equal(page.texts(), tt.texts) || page.Total != tt.total {
				t.Errorf("texts %q total %d, want %q %d", page.texts(), page.Total, tt.texts, tt.total)
			}
		})
	}

	t.Run("wire format", func(t *testing.T) {
		t.Parallel()
		var page messagePage
		h.mustCall(t, "chatMsg.sessionMsgs", msgArgs("c1", "msg_type", "image"), &page)
		img := page.Items[0]
		if img.ChatMsgContent["file_url"] != "https://files.example/f1.jpg" || img.ChatMsgContent["content_type"] != "image" ||
			!strings.Contains(img.ChatMsgContent["content"].(string), `"sdkfileid":"f1"`) || !strings.Contains(string(img.Attachments), `"filesize":1024`) {
			t.Errorf("image = %+v", img)
		}
		h.mustCall(t, "chatMsg.sessionMsgs", msgArgs("c1", "page_size", 1), &page)
		txt := page.Items[0]
		if string(txt.Attachments) != "null" || txt.ChatMsgContent["content"] != `{"content":"m5"}` ||
			txt.MsgTime != day.AddDate(0, 0, 5).UnixMilli() || !slices.Equal(txt.ToList, []string{"c1"}) {
			t.Errorf("text = %+v", txt)
		}
	})
}

func TestSearch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	var msgs []Message
	for i := range 25 {
		msgs = append(msgs, Message{From: testStaff, ToList: []string{"customer456"},
			Text: fmt.Sprintf("第%d期产品介绍，请您查看", i), Time: h.clock.Now().Add(time.Duration(i) * time.Minute)})
	}
	msgs = append(msgs,
		Message{From: "customer456", Text: "价格多少"},
		Message{From: "customer456", Type: "file", FileName: "产品介绍.pdf", Attachments: map[string]any{"filename": "产品介绍.pdf"}},
		Message{From: "other", Text: "产品介绍 for someone else"})
	if _, err := h.sim.Seed(testCorp, testStaff, msgs...); err != nil {
		t.Fatal(err)
	}
	args := func(keyword string, extra ...any) map[string]any {
		a := map[string]any{"keyword": keyword, "ext_staff_id": testStaff, "ext_peer_id": "customer456", "ext_corp_id": testCorp}
		for i := 0; i+1 < len(extra); i += 2 {
			a[extra[i].(string)] = extra[i+1]
		}
		return a
	}
	tests := []struct {
		name  string
		args  map[string]any
		total int
		first string
		n     int
		code  int
	}{
		{"first page", args("产品介绍"), 26, "第24期产品介绍，请您查看", 20, 0},
		{"last page", args("产品介绍", "page", 2), 26, "第4期产品介绍，请您查看", 6, 0},
		{"every word", args("第3期 查看"), 1, "第3期产品介绍，请您查看", 1, 0},
		{"file name", args("pdf"), 1, "", 1, 0},
		{"no match", args("退款"), 0, "", 0, 0},
		{"page size over 100", args("产品", "page_size", 1000), 0, "", 0, CodeInvalidPaging},
		{"unknown corp", args("产品", "ext_corp_id", "x"), 0, "", 0, CodeInvalidCorp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var page messagePage
			if !h.answer(t, "chatMsg.search", tt.args, tt.code, &page) {
				return
			}
			if page.Total != tt.total || len(page.Items) != tt.n || (tt.n > 0 && page.Items[0].ContentText != tt.first) {
				t.Errorf("total %d, %d items, first %q; want %d, %d, %q", page.Total, len(page.Items), firstText(page), tt.total, tt.n, tt.first)
			}
		})
	}
}

func firstText(p messagePage) string {
	if len(p.Items) == 0 {
		return ""
	}
	return p.Items[0].ContentText
}

func TestSignatureChecking(t *testing.T) {
	t.Parallel()
	seedQuery := url.Values{"ext_staff_id": {"staff123"}, "session_type": {"external"}, "ext_corp_id": {"corp123"},
		"page": {"1"}, "page_size": {"20"}}
	withSig := func(sig string) url.Values {
		q := url.Values{}
		for k, v := range seedQuery {
			q[k] = v
		}
		if sig != "" {
			q.Set("signature", sig)
		}
		return q
	}
	chinese := url.Values{"keyword": {"产品 介绍"}, "ext_staff_id": {"staff123"}, "ext_peer_id": {"c"}, "ext_corp_id": {"corp123"}}
	tests := []struct {
		name     string
		encoding string
		method   string
		path     string
		query    url.Values
		body     string
		code     int
	}{
		{"seed's example signature, python form", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sessions", withSig(seedDigest), "", CodeOK},
		{"seed's example signature, javascript form", EncodingRaw, http.MethodGet, "/api/v1/chat-msg/sessions", withSig(seedDigest), "", CodeOK},
		{"upper-case hex", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sessions", withSig(strings.ToUpper(seedDigest)), "", CodeOK},
		{"wrong signature", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sessions", withSig(strings.Repeat("0", 64)), "", CodeUnauthorized},
		{"missing signature", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sessions", withSig(""), "", CodeUnauthorized},
		{"tampered parameter", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sessions",
			func() url.Values { q := withSig(seedDigest); q.Set("page", "2"); return q }(), "", CodeUnauthorized},
		{"python form accepted when configured", EncodingURL, http.MethodGet, "/api/v1/chat-msg/search",
			signed(chinese, msgserver.EncodingURL), "", CodeOK},
		{"javascript form refused when python is configured", EncodingURL, http.MethodGet, "/api/v1/chat-msg/search",
			signed(chinese, msgserver.EncodingRaw), "", CodeUnauthorized},
		{"javascript form accepted when configured", EncodingRaw, http.MethodGet, "/api/v1/chat-msg/search",
			signed(chinese, msgserver.EncodingRaw), "", CodeOK},
		{"sync signed in the body", EncodingURL, http.MethodPost, "/api/v1/chat-msg/sync", nil,
			`{"ext_corp_id":"corp123","signature":"72ed0443dfb61fab170ff196334d7ef8fb0605db64c47f54ef217cb7fb1cf794"}`, CodeOK},
		{"sync with a bad signature answers 400 as the seed shows", EncodingURL, http.MethodPost, "/api/v1/chat-msg/sync", nil,
			`{"ext_corp_id":"corp123","signature":"bad"}`, CodeBadRequest},
		{"sync body not json", EncodingURL, http.MethodPost, "/api/v1/chat-msg/sync", nil, `ext_corp_id=corp123`, CodeBadRequest},
		{"unknown path", EncodingURL, http.MethodGet, "/api/v1/chat-msg/delete", nil, "", CodeNotFound},
		{"wrong method", EncodingURL, http.MethodGet, "/api/v1/chat-msg/sync", nil, "", CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{Encoding: tt.encoding})
			if err := h.sim.AddStaff(testCorp, testStaff); err != nil {
				t.Fatal(err)
			}
			a := h.raw(t, tt.method, tt.path, tt.query, tt.body)
			if a.Code != tt.code {
				t.Fatalf("code %d (%s), want %d", a.Code, a.Message, tt.code)
			}
			wantStatus := http.StatusOK
			if tt.code != CodeOK {
				wantStatus = tt.code
			}
			if a.status != wantStatus {
				t.Errorf("HTTP %d, want %d", a.status, wantStatus)
			}
			if tt.code == CodeUnauthorized || (tt.code == CodeBadRequest && strings.Contains(tt.body, "bad")) {
				if a.Message != "签名验证失败" {
					t.Errorf("message %q", a.Message)
				}
			}
		})
	}

	t.Run("binding sees ErrAuth", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Options{})
		if err := h.sim.AddStaff(testCorp, testStaff); err != nil {
			t.Fatal(err)
		}
		other, err := msgserver.NewClient(msgserver.Config{BaseURL: h.url + APIPrefix, Secret: "not the secret"})
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []struct {
			method string
			args   map[string]any
		}{{"chatMsg.sessions", sessionArgs("external")}, {"chatMsg.sync", map[string]any{"ext_corp_id": testCorp}}} {
			if _, err := other.Call(testContext(t), call.method, call.args); !errors.Is(err, bindings.ErrAuth) {
				t.Errorf("%s with the wrong secret: %v, want ErrAuth", call.method, err)
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{RequestsPerSecond: 3})
	if err := h.sim.AddStaff(testCorp, testStaff); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := h.call(t, "chatMsg.sessions", sessionArgs("external")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := h.call(t, "chatMsg.sessions", sessionArgs("external"))
	if !errors.Is(err, bindings.ErrVendorThrottled) || vendorCode(err) != CodeTooManyRequests || !msgserver.Retryable(err) {
		t.Fatalf("4th request in a second: %v", err)
	}
	h.clock.Advance(999 * time.Millisecond)
	if _, err := h.call(t, "chatMsg.sessions", sessionArgs("external")); !errors.Is(err, bindings.ErrVendorThrottled) {
		t.Fatalf("still within the second: %v", err)
	}
	h.clock.Advance(time.Millisecond)
	if _, err := h.call(t, "chatMsg.sessions", sessionArgs("external")); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if got := h.sim.Requests(APIPrefix + "/chat-msg/sessions"); got != 6 {
		t.Errorf("Requests = %d, want 6", got)
	}
}

func TestDefaultRateIsTheVendors(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, err := New(Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	admitted := 0
	for range DefaultRequestsPerSecond + 5 {
		s.mu.Lock()
		if s.admit() {
			admitted++
		}
		s.mu.Unlock()
	}
	if admitted != DefaultRequestsPerSecond {
		t.Errorf("admitted %d in one second, want %d", admitted, DefaultRequestsPerSecond)
	}
}

func TestFailNextCloseAndReset(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	if _, err := h.sim.Seed(testCorp, testStaff, Message{From: "c1", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	h.sim.FailNext(2, CodeInternal, "数据库繁忙")
	for i := range 2 {
		_, err := h.call(t, "chatMsg.sessions", sessionArgs("external"))
		if vendorCode(err) != CodeInternal || !msgserver.Retryable(err) || !strings.Contains(err.Error(), "数据库繁忙") {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := h.call(t, "chatMsg.sessions", sessionArgs("external")); err != nil {
		t.Fatalf("after the queued failures: %v", err)
	}

	h.sim.FailNext(1, CodeInternal, "x")
	h.sim.Reset()
	if _, err := h.call(t, "chatMsg.sessions", sessionArgs("external")); vendorCode(err) != CodeInvalidCorp {
		t.Fatalf("after Reset: %v, want an unknown corp", err)
	}
	if h.sim.Requests(APIPrefix+"/chat-msg/sessions") != 1 || h.sim.Messages(testCorp, testStaff) != nil {
		t.Error("Reset kept counters or messages")
	}

	if err := h.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := h.call(t, "chatMsg.sync", map[string]any{"ext_corp_id": testCorp})
	if vendorCode(err) != CodeInternal {
		t.Fatalf("after Close: %v", err)
	}
}
