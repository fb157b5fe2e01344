package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func textMsg(wxID, conv, content string) map[string]any {
	return map[string]any{"wxId": wxID, "conversationId": conv, "content": content}
}

// TestSendInterval: two sends of one account closer than 500 ms get
// -1000999 and count as a violation; another account may send at once;
// 500 ms later the first may send again.
func TestSendInterval(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	must(t, w.sim.AddContact(acctB, Contact{UserID: customer1}))
	convB1 := "S:1688850000000002_7881300000000001"

	steps := []struct {
		name     string
		advance  time.Duration
		account  string
		conv     string
		wantCode int
	}{
		{"first send", 0, acctA, convA1, CodeOK},
		{"same account 499 ms later", 499 * time.Millisecond, acctA, convA1, CodeFrequency},
		{"another account at once", 0, acctB, convB1, CodeOK},
		{"same account 500 ms after its send", time.Millisecond, acctA, convA1, CodeOK},
		{"same account at once again", 0, acctA, convA1, CodeFrequency},
	}
	for i, st := range steps {
		w.clock.Advance(st.advance)
		a := w.call(http.MethodPost, "/msg/text", textMsg(st.account, st.conv, fmt.Sprint("message ", i)))
		if a.Code != st.wantCode {
			t.Fatalf("%s: code %d (%s), want %d", st.name, a.Code, a.Msg, st.wantCode)
		}
		if st.wantCode == CodeFrequency && (a.Msg != "Abnormal request frequency" || string(a.Data) != "null") {
			t.Errorf("%s: answered %s", st.name, a.raw)
		}
	}
	if v := w.sim.Violations(); v != 2 {
		t.Errorf("%d violations, want 2", v)
	}
	sent := w.sim.Sent()
	if len(sent) != 3 || sent[0].Content != "message 0" || sent[1].Account != acctB || sent[2].Content != "message 3" {
		t.Errorf("sent %+v", sent)
	}
	must(t, w.sim.Flush(testCtx(t)))
	if n := len(w.rx.ofType("text_msg")); n != 3 {
		t.Errorf("%d sent callbacks, want 3 (refused sends are not delivered)", n)
	}
}

// TestHourlyCorpCap: the company's sends in any hour are capped; accounts
// of another company are not affected.
func TestHourlyCorpCap(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{HourlyCorpCap: 3})
	other := "1688850000000077"
	_, err := w.sim.Seed(Account{WxID: other, CorpID: "1970325000000999"})
	must(t, err)
	must(t, w.sim.AddContact(other, Contact{UserID: customer1}))
	convOther := "S:1688850000000077_7881300000000001"

	for i := 0; i < 3; i++ {
		w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "x"))
		w.clock.Advance(time.Second)
	}
	if a := w.call(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "over")); a.Code != CodeFrequency {
		t.Fatalf("fourth send of the hour: code %d, want %d", a.Code, CodeFrequency)
	}
	w.clock.Advance(time.Second)
	w.ok(http.MethodPost, "/msg/text", textMsg(other, convOther, "other company"))
	w.clock.Advance(time.Hour - 5*time.Second) // 1 s before the first send is an hour old
	if a := w.call(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "still over")); a.Code != CodeFrequency {
		t.Fatalf("send while the first is within the hour: code %d", a.Code)
	}
	w.clock.Advance(time.Second)
	w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "an hour after the first"))
	if v := w.sim.Violations(); v != 2 {
		t.Errorf("%d violations, want 2", v)
	}
}

// TestAPIKey: without the configured key every API call is HTTP 401 with
// the JSON envelope; files stay public.
func TestAPIKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{APIKey: testKey})
	cases := []struct {
		name       string
		key        string
		wantStatus int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"wrong key", "nope", http.StatusUnauthorized},
		{"key with a different case", strings.ToUpper(testKey), http.StatusUnauthorized},
		{"right key", testKey, http.StatusOK},
	}
	for _, tc := range cases {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, w.api.URL+APIPrefix+"/inner/user/list", nil)
		must(t, err)
		if tc.key != "" {
			req.Header.Set("apikey", tc.key)
		}
		a := w.do(req)
		if a.Status != tc.wantStatus {
			t.Errorf("%s: HTTP %d, want %d", tc.name, a.Status, tc.wantStatus)
		}
		if tc.wantStatus == http.StatusUnauthorized && (a.Code != CodeUnauthorized || a.Msg == "") {
			t.Errorf("%s: answered %s, want the envelope with code 401", tc.name, a.raw)
		}
	}
	// The vendor's file URLs (QR codes, uploads) need no key.
	created := obj(t, w.ok(http.MethodPost, "/container/create", map[string]any{"userId": DefaultUserID}))
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, w.api.URL+created["qrcode"].(string), nil)
	must(t, err)
	resp, err := w.api.Client().Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("QR code without the key: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestCaseInsensitiveFields: field names in any case, in bodies, nested
// objects and queries, and paths in any case.
func TestCaseInsensitiveFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		path   string
		args   any
	}{
		{"upper-case body", http.MethodPost, "/msg/text", map[string]any{"WXID": acctA, "CONVERSATIONID": convA1, "CONTENT": "a"}},
		{"mixed-case body", http.MethodPost, "/msg/text", map[string]any{"WxId": acctA, "ConversationId": convA1, "Content": "b"}},
		{"the document's Wxid", http.MethodPost, "/msg/text", map[string]any{"Wxid": acctA, "conversationid": convA1, "content": "c"}},
		{"nested objects", http.MethodPost, "/contact/external/query", map[string]any{"contactinfos": []any{map[string]any{"wxid": acctA, "CONTACTUSERID": customer1}}}},
		{"query", http.MethodGet, "/contact/external/list", map[string]any{"WXID": acctA}},
		{"path in another case", http.MethodPost, "/MSG/Text", map[string]any{"wxId": acctA, "conversationId": convA1, "content": "d"}},
		{"path as the vendor spells it", http.MethodPost, "/group/roomid", map[string]any{"WxId": acctA, "ExternalRoomId": "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, Options{})
			a := w.call(tc.method, tc.path, tc.args)
			if a.Status != http.StatusOK || (a.Code != 0 && a.Code != CodeNotFound) {
				t.Fatalf("HTTP %d code %d: %s", a.Status, a.Code, a.Msg)
			}
			if strings.HasPrefix(strings.ToLower(tc.path), "/msg/") && len(w.sim.Sent()) != 1 {
				t.Errorf("%d sends recorded, want 1", len(w.sim.Sent()))
			}
			if tc.path == "/group/roomid" && a.Code != CodeNotFound {
				t.Errorf("an unknown room id converted: %s", a.raw)
			}
		})
	}
	t.Run("one field twice", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, Options{})
		a := w.call(http.MethodPost, "/msg/text", `{"wxId":"`+acctA+`","WxId":"`+acctB+`","conversationId":"`+convA1+`","content":"x"}`)
		if a.Code != CodeBadRequest || !strings.Contains(a.Msg, "twice") {
			t.Errorf("answered %s", a.raw)
		}
	})
}

// TestBadRequests: bad input gets a clear error in the vendor's style and
// nothing is sent.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	const convA2 = "S:1688850000000001_7881300000000002"
	cases := []struct {
		name       string
		method     string
		path       string
		args       func(w *world) any
		wantStatus int
		wantCode   int
		wantMsg    string
	}{
		{"not JSON", http.MethodPost, "/msg/text", func(*world) any { return `{"wxId":` }, 200, CodeBadRequest, "not valid JSON"},
		{"not an object", http.MethodPost, "/msg/text", func(*world) any { return `["x"]` }, 200, CodeBadRequest, "JSON object"},
		{"trailing data", http.MethodPost, "/msg/text", func(*world) any { return `{} {}` }, 200, CodeBadRequest, "after"},
		{"missing content", http.MethodPost, "/msg/text", func(*world) any { return map[string]any{"wxId": acctA, "conversationId": convA1} }, 200, CodeBadRequest, "content is required"},
		{"blank content", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, convA1, "  ") }, 200, CodeBadRequest, "content is required"},
		{"empty content", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, convA1, "") }, 200, CodeBadRequest, "content is required"},
		{"content an object", http.MethodPost, "/msg/text", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA1, "content": map[string]any{"a": 1}}
		}, 200, CodeBadRequest, "must be a string"},
		{"content not a string", http.MethodPost, "/msg/text", func(*world) any { return map[string]any{"wxId": acctA, "conversationId": convA1, "content": []int{1}} }, 200, CodeBadRequest, "must be a string"},
		{"unknown account", http.MethodPost, "/msg/text", func(*world) any { return textMsg("1688859999999999", convA1, "x") }, 200, CodeNotFound, "not a WeCom account"},
		{"no conversation prefix", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, "1688850000000001_7881300000000001", "x") }, 200, CodeInvalidConversation, `"S:"`},
		{"private id in the wrong order", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, "S:7881300000000001_1688850000000001", "x") }, 200, CodeInvalidConversation, "smaller id first"},
		{"someone else's conversation", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, "S:1688850000000002_7881300000000001", "x") }, 200, CodeInvalidConversation, "not a conversation of"},
		{"not a contact", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, "S:1688850000000001_7881300000000009", "x") }, 200, CodeInvalidConversation, "not a contact"},
		{"unknown group", http.MethodPost, "/msg/text", func(*world) any { return textMsg(acctA, "R:10800000000000000", "x") }, 200, CodeInvalidConversation, "not a group"},
		{"group of others", http.MethodPost, "/msg/text", func(w *world) any { return textMsg(acctB, w.room, "x") }, 200, CodeInvalidConversation, "not a group"},
		{"roomAt to a private conversation", http.MethodPost, "/msg/roomAt", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA2, "content": "x", "atList": []string{"0"}}
		}, 200, CodeFailed, "only to groups"},
		{"roomAt without atList", http.MethodPost, "/msg/roomAt", func(w *world) any { return textMsg(acctA, w.room, "x") }, 200, CodeBadRequest, "atList is required"},
		{"roomAt of a non-member", http.MethodPost, "/msg/roomAt", func(w *world) any {
			return map[string]any{"wxId": acctA, "conversationId": w.room, "content": "x", "atList": []string{stranger}}
		}, 200, CodeFailed, "not a member"},
		{"link with a blank title", http.MethodPost, "/msg/link", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA1, "title": " ", "url": "https://x.test"}
		}, 200, CodeBadRequest, "title is required"},
		{"file url that is neither", http.MethodPost, "/msg/image", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA1, "fileUrl": "ftp://x/y.jpg"}
		}, 200, CodeBadRequest, "http(s) URL"},
		{"mini program id not a number", http.MethodPost, "/miniProgram/send", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA1, "miniProgramId": "seven"}
		}, 200, CodeBadRequest, "whole number"},
		{"unknown mini program", http.MethodPost, "/miniProgram/send", func(*world) any {
			return map[string]any{"wxId": acctA, "conversationId": convA1, "miniProgramId": 99}
		}, 200, CodeNotFound, "not in /miniprogram/list"},
		{"group of one contact", http.MethodPost, "/group", func(*world) any { return map[string]any{"wxId": acctA, "memberWxIds": customer1} }, 200, CodeBadRequest, "at least two"},
		{"group with a stranger", http.MethodPost, "/group", func(*world) any {
			return map[string]any{"wxId": acctA, "memberWxIds": customer1 + "," + stranger}
		}, 200, CodeFailed, "not contacts"},
		{"unknown label", http.MethodPost, "/label/contact/setlabel", func(*world) any {
			return map[string]any{"wxId": acctA, "contactUserId": customer1, "labelIds": []string{"1"}}
		}, 200, CodeNotFound, "not a label"},
		{"setlabel without labelIds", http.MethodPost, "/label/contact/setlabel", func(*world) any {
			return map[string]any{"wxId": acctA, "contactUserId": customer1}
		}, 200, CodeBadRequest, "labelIds is required"},
		{"relation without ids", http.MethodGet, "/contact/relation", func(*world) any { return map[string]any{"wxId": acctA} }, 200, CodeBadRequest, "is required"},
		{"IsOnline not a boolean", http.MethodGet, "/inner/user/wx/list", func(*world) any { return map[string]any{"IsOnline": "maybe"} }, 200, CodeBadRequest, "true or false"},
		{"search without a number", http.MethodGet, "/contact/search", func(*world) any { return map[string]any{"wxId": acctA, "keyword": "abc"} }, 200, CodeBadRequest, "mobile number"},
		{"search of nobody", http.MethodGet, "/contact/search", func(*world) any { return map[string]any{"wxId": acctA, "keyword": "13000000000"} }, 200, CodeNotFound, "no WeChat"},
		{"search add with a wrong openid", http.MethodPost, "/contact/search/add", func(*world) any {
			return map[string]any{"wxId": acctA, "contactUserId": stranger, "openid": "o-wrong"}
		}, 200, CodeFailed, "openid"},
		{"wrong method", http.MethodGet, "/msg/text", func(*world) any { return nil }, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, "POST"},
		{"body over 1 MiB", http.MethodPost, "/msg/text", func(*world) any {
			return `{"content":"` + strings.Repeat("x", maxBodyBytes) + `"}`
		}, http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, Options{})
			a := w.call(tc.method, tc.path, tc.args(w))
			if a.Status != tc.wantStatus || a.Code != tc.wantCode || !strings.Contains(a.Msg, tc.wantMsg) {
				t.Errorf("HTTP %d code %d msg %q; want HTTP %d code %d msg containing %q",
					a.Status, a.Code, a.Msg, tc.wantStatus, tc.wantCode, tc.wantMsg)
			}
			if n := len(w.sim.Sent()); n != 0 {
				t.Errorf("%d sends recorded", n)
			}
		})
	}
}

// TestSendToDeletedContact: WeCom accepts the send, then shows the gray
// "not a contact" notice.
func TestSendToDeletedContact(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	w.ok(http.MethodPost, "/contact/remove", map[string]any{"wxId": acctA, "ContactUserId": customer1})
	w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "still there?"))
	gray := w.rx.waitFor(t, ctx, "chat_gray_msg", 1)
	d := gray["data"].(map[string]any)
	if d["conversation_id"] != convA1 || d["content_type"] != 1011.0 || !strings.Contains(d["content"].(string), "左脚") {
		t.Errorf("gray message %v", d)
	}
	if err := w.sim.Say(ctx, Incoming{Account: acctA, From: customer1, Text: "hi"}); !errors.Is(err, ErrUnknownContact) {
		t.Errorf("a deleted contact said something: %v", err)
	}
}

// TestWaitSent: WaitSent returns as soon as n sends exist, and with the
// context's error and what there is when it ends first.
func TestWaitSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{SendInterval: -1})
	done := make(chan []Sent, 1)
	go func() {
		sent, err := w.sim.WaitSent(testCtx(t), 2)
		if err != nil {
			t.Error(err)
		}
		done <- sent
	}()
	w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "one"))
	w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "two"))
	select {
	case sent := <-done:
		if len(sent) != 2 || sent[1].Content != "two" {
			t.Errorf("sent %+v", sent)
		}
	case <-testCtx(t).Done():
		t.Fatal("WaitSent did not return")
	}

	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	sent, err := w.sim.WaitSent(ctx, 3)
	if !errors.Is(err, context.DeadlineExceeded) || len(sent) != 2 {
		t.Errorf("WaitSent(3) = %d sends, %v", len(sent), err)
	}
}

// TestConcurrentSends: many accounts sending at once; each account's
// sends are paced, every accepted send is recorded once.
func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	const accounts, tries = 8, 5
	for i := 0; i < accounts; i++ {
		id := fmt.Sprintf("16888500000001%02d", i)
		_, err := e.sim.Seed(Account{WxID: id, CorpID: fmt.Sprint("corp-", i)})
		must(t, err)
		must(t, e.sim.AddContact(id, Contact{UserID: customer1}))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < accounts; i++ {
		id := fmt.Sprintf("16888500000001%02d", i)
		for j := 0; j < tries; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := e.call(http.MethodPost, "/msg/text", textMsg(id, privateConversation(id, customer1), "x"))
				mu.Lock()
				codes[a.Code]++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	// The clock stands still: one send per account gets through.
	if codes[CodeOK] != accounts || codes[CodeFrequency] != accounts*(tries-1) {
		t.Errorf("answers %v", codes)
	}
	if n, v := len(e.sim.Sent()), e.sim.Violations(); n != accounts || v != accounts*(tries-1) {
		t.Errorf("%d sent, %d violations", n, v)
	}
	must(t, e.sim.Flush(testCtx(t)))
	if n := len(e.rx.ofType("text_msg")); n != accounts {
		t.Errorf("%d sent callbacks, want %d", n, accounts)
	}
}
