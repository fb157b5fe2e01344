package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// pongBot answers every received text with "pong: " and the text, through
// the API, as a plugin would.
func pongBot(t *testing.T, e *env) {
	e.rx.mu.Lock()
	defer e.rx.mu.Unlock()
	e.rx.onCallback = func(m map[string]any) {
		d, _ := m["data"].(map[string]any)
		if m["type"] != "text_msg" || d == nil || d["sender"] == m["wxid"] {
			return // not a received text
		}
		body, _ := json.Marshal(map[string]any{"wxId": m["wxid"], "conversationId": d["conversation_id"],
			"content": "pong: " + d["content"].(string)})
		resp, err := e.api.Client().Post(e.api.URL+APIPrefix+"/msg/text", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Errorf("bot: %v", err)
			return
		}
		resp.Body.Close()
	}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{SendInterval: -1})
	pongBot(t, w.env)
	script := []Step{
		{Say: &Incoming{Account: acctA, From: customer1, Text: "ping"}},
		{Expect: &Expect{Account: acctA, ConversationID: convA1, Kind: "text", Contains: "pong: ping"}},
		{Wait: 5 * time.Millisecond},
		{Say: &Incoming{Account: acctA, From: customer2, ConversationID: w.room, Text: "group ping"}},
		{Expect: &Expect{ConversationID: w.room, Contains: "pong: group ping"}},
		{Post: &Post{Type: "notify_type_room_member_quit", Account: acctA, Data: map[string]any{"op_user_id": customer2}}},
	}
	must(t, w.sim.Play(ctx, script))
	sent := w.sim.Sent()
	if len(sent) != 2 || sent[1].ConversationID != w.room {
		t.Errorf("sent %+v", sent)
	}
	w.rx.waitFor(t, ctx, "notify_type_room_member_quit", 1)

	// A pong sent before Play began does not meet a later expectation.
	err := w.sim.Play(ctx, []Step{{Expect: &Expect{Contains: "pong: ping", Timeout: 30 * time.Millisecond}}})
	var ee *ExpectError
	if !errors.As(err, &ee) || !errors.Is(err, ErrExpectTimeout) || ee.Step != 0 || len(ee.Seen) != 0 {
		t.Fatalf("stale expectation: %v", err)
	}

	err = w.sim.Play(ctx, []Step{
		{Say: &Incoming{Account: acctA, From: customer1, Text: "hello"}},
		{Expect: &Expect{Contains: "pong: hello"}},
		{Expect: &Expect{Contains: "never said", Timeout: 30 * time.Millisecond}},
	})
	if !errors.As(err, &ee) || ee.Step != 2 || len(ee.Seen) != 0 || !strings.Contains(err.Error(), `containing "never said"`) {
		t.Fatalf("unmet expectation: %v", err)
	}
	err = w.sim.Play(ctx, []Step{
		{Say: &Incoming{Account: acctA, From: customer1, Text: "one"}},
		{Expect: &Expect{Contains: "pong: two", Timeout: 50 * time.Millisecond}},
	})
	if !errors.As(err, &ee) || len(ee.Seen) != 1 || ee.Seen[0].Content != "pong: one" || !strings.Contains(err.Error(), "pong: one") {
		t.Errorf("unmet expectation after other sends: %v", err)
	}
}

func TestPlayRefusesBadScripts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	say := &Incoming{Account: acctA, From: customer1, Text: "x"}
	cases := []struct {
		name   string
		script []Step
		want   error
		step   string
	}{
		{"two actions", []Step{{Say: say, Expect: &Expect{}}}, ErrInvalid, "step 0"},
		{"empty step", []Step{{Say: say}, {}}, ErrInvalid, "step 1"},
		{"negative wait", []Step{{Wait: -time.Second, Say: say}}, ErrInvalid, "step 0"},
		{"a message from a stranger", []Step{{Say: &Incoming{Account: acctA, From: stranger, Text: "x"}}}, ErrUnknownContact, "step 0"},
		{"a callback for nobody", []Step{{Post: &Post{Type: "user_offline", Account: "nobody"}}}, ErrUnknownAccount, "step 0"},
	}
	for _, tc := range cases {
		err := w.sim.Play(testCtx(t), tc.script)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.step) {
			t.Errorf("%s: %v, want %v at %s", tc.name, err, tc.want, tc.step)
		}
	}
	if n := len(w.rx.all()); n != 0 {
		t.Errorf("refused scripts posted %d callbacks", n)
	}

	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := w.sim.Play(ctx, []Step{{Wait: time.Hour}}); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled play: %v", err)
	}
	ctx, cancel = context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	if err := w.sim.Play(ctx, []Step{{Expect: &Expect{Timeout: time.Hour}}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("an expectation past the context's end: %v", err)
	}
}
