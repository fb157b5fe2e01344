package sim

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// The keys of the vendor's text_msg examples, received and sent variants.
var (
	receivedTextKeys = []string{"appinfo", "at_list", "content", "content_type", "conversation_id", "is_pc", "local_id",
		"receiver", "send_time", "sender", "sender_name", "server_id"}
	sentTextKeys = []string{"at_list", "content", "content_type", "conversation_id", "is_pc", "receiver", "send_time",
		"sender", "server_id", "sendUserId", "sendUserName", "isOpenApi", "error_code", "error_message"}
	envelopeOrder = []string{`"msgId"`, `"source"`, `"userId"`, `"wxid"`, `"timestamp"`, `"type"`, `"data"`, `"sendMsgId"`}
)

// inOrder reports whether the keys appear in raw in this order.
func inOrder(raw []byte, keys []string) bool {
	at := -1
	for _, k := range keys {
		i := bytes.Index(raw, []byte(k))
		if i <= at {
			return false
		}
		at = i
	}
	return true
}

// TestSayPostsTheVendorsCallback: Say posts a received text_msg shaped
// like the vendor's example, in private and group conversations.
func TestSayPostsTheVendorsCallback(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	must(t, w.sim.Say(ctx, Incoming{Account: acctA, From: customer1, Text: "呼啦"}))
	must(t, w.sim.Say(ctx, Incoming{Account: acctA, From: customer2, FromName: "小依", ConversationID: w.room,
		Text: "@Alice 在吗", AtList: []string{acctA}}))

	got := w.rx.all()
	if len(got) != 2 {
		t.Fatalf("%d callbacks, want 2", len(got))
	}
	w.rx.mu.Lock()
	raw := w.rx.raw[0]
	w.rx.mu.Unlock()
	if !inOrder(raw, envelopeOrder) {
		t.Errorf("fields out of the vendor's order: %s", raw)
	}
	private := got[0]
	sameKeys(t, "callback", private, "msgId", "source", "userId", "wxid", "timestamp", "type", "data", "sendMsgId")
	if private["type"] != "text_msg" || private["wxid"] != acctA || private["source"] != w.hostA || private["userId"] != DefaultUserID ||
		private["sendMsgId"] != nil || private["timestamp"] != float64(w.clock.Now().UnixMilli()) {
		t.Errorf("callback envelope %v", private)
	}
	d := private["data"].(map[string]any)
	sameKeys(t, "received text", d, receivedTextKeys...)
	if d["conversation_id"] != convA1 || d["sender"] != customer1 || d["sender_name"] != "左脚" || d["receiver"] != acctA ||
		d["content"] != "呼啦" || d["content_type"] != 2.0 || d["is_pc"] != 0.0 {
		t.Errorf("received text %v", d)
	}
	if _, isString := d["send_time"].(string); !isString {
		t.Errorf("send_time %v is not a string, as in received messages", d["send_time"])
	}
	group := got[1]["data"].(map[string]any)
	if group["conversation_id"] != w.room || group["sender_name"] != "小依" || len(group["at_list"].([]any)) != 1 {
		t.Errorf("group text %v", group)
	}

	cases := []struct {
		name string
		in   Incoming
		want error
	}{
		{"unknown account", Incoming{Account: "1", From: customer1, Text: "x"}, ErrUnknownAccount},
		{"no sender", Incoming{Account: acctA, Text: "x"}, ErrInvalid},
		{"the account itself", Incoming{Account: acctA, From: acctA, Text: "x"}, ErrInvalid},
		{"stranger", Incoming{Account: acctA, From: stranger, Text: "x"}, ErrUnknownContact},
		{"wrong private id", Incoming{Account: acctA, From: customer1, ConversationID: "S:1_2", Text: "x"}, ErrInvalid},
		{"bad prefix", Incoming{Account: acctA, From: customer1, ConversationID: "X:1", Text: "x"}, ErrInvalid},
		{"unknown room", Incoming{Account: acctA, From: customer1, ConversationID: "R:1", Text: "x"}, ErrUnknownRoom},
		{"sender not in the room", Incoming{Account: acctA, From: stranger, ConversationID: w.room, Text: "x"}, ErrInvalid},
		{"account not in the room", Incoming{Account: acctB, From: customer1, ConversationID: w.room, Text: "x"}, ErrInvalid},
	}
	for _, tc := range cases {
		if err := w.sim.Say(ctx, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	w.ok(http.MethodPost, "/container/stop", map[string]any{"hostname": w.hostA})
	if err := w.sim.Say(ctx, Incoming{Account: acctA, From: customer1, Text: "x"}); !errors.Is(err, ErrState) {
		t.Errorf("an offline account received a message: %v", err)
	}
}

// TestSentCallback: an accepted send posts the sent variant with
// sendMsgId = the answered msgId and isOpenApi true.
func TestSentCallback(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	msgID := obj(t, w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "早晨")))["msgId"]
	cb := w.rx.waitFor(t, testCtx(t), "text_msg", 1)
	if cb["sendMsgId"] != msgID || cb["wxid"] != acctA {
		t.Errorf("sent callback %v for msgId %v", cb, msgID)
	}
	d := cb["data"].(map[string]any)
	sameKeys(t, "sent text", d, sentTextKeys...)
	if d["receiver"] != customer1 || d["sender"] != acctA || d["is_pc"] != 1.0 || d["isOpenApi"] != true ||
		d["send_time"] != float64(w.clock.Now().Unix()) || d["server_id"] != w.sim.Sent()[0].ServerID {
		t.Errorf("sent text %v", d)
	}
}

func TestCallbackDelivery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		failures      int
		status        int
		retries       int
		wantErr       bool
		wantAttempts  int
		wantDelivered int
	}{
		{"delivered at once", 0, 0, 3, false, 1, 1},
		{"retried after 503s", 2, http.StatusServiceUnavailable, 3, false, 3, 1},
		{"retried after 429", 1, http.StatusTooManyRequests, 3, false, 2, 1},
		{"given up after every retry", 10, http.StatusInternalServerError, 2, true, 3, 0},
		{"no retry of a refusal", 10, http.StatusBadRequest, 3, true, 1, 0},
		{"retries off", 10, http.StatusBadGateway, -1, true, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, Options{CallbackRetries: tc.retries})
			w.rx.mu.Lock()
			w.rx.failures, w.rx.failStatus = tc.failures, tc.status
			w.rx.mu.Unlock()
			err := w.sim.PostCallback(testCtx(t), "user_offline", acctA, nil)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrCallback)) {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			stats := w.sim.CallbackStats()
			if stats.Delivered != tc.wantDelivered || stats.Failed != 1-tc.wantDelivered || stats.Queued != 0 {
				t.Errorf("stats %+v", stats)
			}
			recs := w.sim.Callbacks()
			if len(recs) != 1 || recs[0].Attempts != tc.wantAttempts || recs[0].Delivered != !tc.wantErr || (recs[0].Err != "") != tc.wantErr {
				t.Errorf("records %+v, want %d attempts", recs, tc.wantAttempts)
			}
			w.rx.mu.Lock()
			attempts := w.rx.attempts
			w.rx.mu.Unlock()
			if attempts != tc.wantAttempts {
				t.Errorf("the receiver saw %d attempts, want %d", attempts, tc.wantAttempts)
			}
		})
	}
}

// TestCallbacksWithoutURL: without a CallbackURL nothing is posted, but
// callbacks are recorded and nothing waits.
func TestCallbacksWithoutURL(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	_, err := s.Seed(Account{WxID: acctA})
	must(t, err)
	must(t, s.AddContact(acctA, Contact{UserID: customer1}))
	must(t, s.Say(testCtx(t), Incoming{Account: acctA, From: customer1, Text: "hi"}))
	recs := s.Callbacks()
	if len(recs) != 1 || recs[0].Type != "text_msg" || recs[0].Delivered || recs[0].Attempts != 0 || !bytes.Contains(recs[0].Body, []byte(`"hi"`)) {
		t.Errorf("records %+v", recs)
	}
	must(t, s.Flush(testCtx(t)))
}

// TestPostCallback posts any type, for an account or a container, and
// refuses what it cannot address.
func TestPostCallback(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	data := map[string]any{"address": "杭州", "latitude": 30.3, "content_type": 6}
	must(t, w.sim.PostCallback(ctx, "location_msg", acctA, data))
	must(t, w.sim.PostCallback(ctx, "safe_validate", w.hostA, map[string]any{"Qrcode": "/gnapi/files/x.jpg", "UserName": "Alice"}))
	loc := w.rx.waitFor(t, ctx, "location_msg", 1)
	if d := loc["data"].(map[string]any); d["address"] != "杭州" || loc["wxid"] != acctA {
		t.Errorf("location callback %v", loc)
	}
	if sv := w.rx.waitFor(t, ctx, "safe_validate", 1); sv["wxid"] != acctA || sv["source"] != w.hostA {
		t.Errorf("safe_validate %v", sv)
	}
	if err := w.sim.PostCallback(ctx, "text_msg", "nobody", nil); !errors.Is(err, ErrUnknownAccount) {
		t.Errorf("unknown account: %v", err)
	}
	if err := w.sim.PostCallback(ctx, " ", acctA, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("no type: %v", err)
	}
	if err := w.sim.PostCallback(ctx, "x", acctA, func() {}); err == nil {
		t.Error("data that cannot be encoded was posted")
	}
}

// TestCallbackOrder: callbacks arrive in the order they were made even
// when the receiver is slow to accept them.
func TestCallbackOrder(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{SendInterval: -1})
	w.rx.mu.Lock()
	w.rx.failures = 3
	w.rx.mu.Unlock()
	for _, c := range []string{"1", "2", "3", "4"} {
		w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, c))
	}
	must(t, w.sim.Flush(ctx))
	var order []string
	for _, m := range w.rx.ofType("text_msg") {
		order = append(order, m["data"].(map[string]any)["content"].(string))
	}
	if len(order) != 4 || order[0] != "1" || order[1] != "2" || order[2] != "3" || order[3] != "4" {
		t.Errorf("order %v", order)
	}
}

// TestClose: after Close callbacks are refused with ErrClosed and a
// waiting caller is released; the API still answers.
func TestClose(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	block := make(chan struct{})
	slow := newReceiver(t)
	slow.onCallback = func(map[string]any) { <-block }
	w := newWorld(t, Options{CallbackURL: slow.srv.URL})
	defer close(block)

	first := make(chan error, 1)
	go func() { first <- w.sim.PostCallback(ctx, "user_offline", acctA, nil) }()
	slow.waitFor(t, ctx, "user_offline", 1) // the receiver holds it
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := w.sim.Flush(waitCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("flush with a stuck receiver: %v", err)
	}
	w.sim.Close()
	w.sim.Close()
	if err := <-first; !errors.Is(err, ErrClosed) {
		t.Errorf("the waiting callback: %v, want ErrClosed", err)
	}
	if err := w.sim.PostCallback(ctx, "user_offline", acctA, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	w.ok(http.MethodGet, "/inner/user/list", nil)
}

// TestReset forgets the state and restores the defaults.
func TestReset(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	w.ok(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "x"))
	w.call(http.MethodPost, "/msg/text", textMsg(acctA, convA1, "too soon"))
	must(t, w.sim.Flush(testCtx(t)))
	w.sim.Reset()
	if n, v, c := len(w.sim.Sent()), w.sim.Violations(), len(w.sim.Callbacks()); n+v+c != 0 {
		t.Errorf("after Reset: %d sent, %d violations, %d callbacks", n, v, c)
	}
	if l := list(t, w.ok(http.MethodGet, "/inner/user/wx/list", map[string]any{"IsOnline": false})); len(l) != 0 {
		t.Errorf("accounts after Reset: %v", l)
	}
	if l := list(t, w.ok(http.MethodGet, "/miniprogram/list", nil)); len(l) != 1 {
		t.Errorf("mini programs after Reset: %v", l)
	}
	if _, err := w.sim.Seed(Account{WxID: acctA}); err != nil {
		t.Errorf("seeding again after Reset: %v", err)
	}
}
