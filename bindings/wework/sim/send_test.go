package sim

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSendText(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{SendInterval: -1})
	in := seedOnline(t, s)
	d := ok(t, s, "/msg/send_text", map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": "测试一条消息"}).obj()
	rec, _ := d["msg_data"].(map[string]any)
	if d["is_svr_fail"] != false || rec["sender"] != me || rec["receiver"] != "1688857160788209" || rec["roomid"] != "0" {
		t.Errorf("answer %v", d)
	}
	// The record's content is the vendor's protobuf, as in its logs.
	raw, err := base64.StdEncoding.DecodeString(rec["content"].(string))
	if err != nil || string(raw[:6]) != "\x0a\x18\x08\x00\x12\x14" || !strings.HasSuffix(string(raw), "测试一条消息") {
		t.Errorf("content record % x, %v", raw, err)
	}
	if name, _ := base64.StdEncoding.DecodeString(rec["sendername"].(string)); string(name) != "郝永平" {
		t.Errorf("sendername %q", name)
	}
	cb := rcv.next(t)
	items, _ := cb.Data.([]any)
	if cb.NotifyType != NotifyBatchSync || len(items) != 1 {
		t.Fatalf("sync callback %+v", cb)
	}
	item := items[0].(map[string]any)
	if item["send_flag"] != 1.0 || item["content"] != "测试一条消息" || item["id"] != rec["id"] || item["seq"] != rec["seq"] ||
		item["sender_name"] != "郝永平" || item["msg_type"] != 2.0 || item["content_type"] != 2.0 {
		t.Errorf("sync item %v", item)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].Kind != "text" || sent[0].MsgID != rec["id"] || sent[0].ConversationID != "S:1688857160788209" {
		t.Errorf("recorded %+v", sent)
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{SendInterval: -1})
	in := seedOnline(t, s)
	running, _ := s.Seed(Instance{})
	for _, tc := range []struct {
		name string
		path string
		body map[string]any
		code int
	}{
		{"no prefix", "/msg/send_text", map[string]any{"conversation_id": "1688857160788209", "content": "x"}, CodeInvalidConversation},
		{"prefix only", "/msg/send_text", map[string]any{"conversation_id": "S:", "content": "x"}, CodeInvalidConversation},
		{"unknown contact", "/msg/send_text", map[string]any{"conversation_id": "S:1", "content": "x"}, CodeInvalidConversation},
		{"unknown room", "/msg/send_text", map[string]any{"conversation_id": "R:1", "content": "x"}, CodeInvalidConversation},
		{"no external permission", "/msg/send_text", map[string]any{"conversation_id": "S:7881300000000009", "content": "x"}, CodeNoExternalPermission},
		{"no content", "/msg/send_text", map[string]any{"conversation_id": "S:1688857160788209"}, CodeBadRequest},
		{"not online", "/msg/send_text", map[string]any{"guid": running.GUID, "conversation_id": "S:1", "content": "x"}, CodeState},
		{"room_at to a private chat", "/msg/send_room_at", map[string]any{"conversation_id": "S:1688857160788209", "content": "x", "at_list": []any{"1"}}, CodeInvalidConversation},
		{"room_at without at_list", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691282047519", "content": "x"}, CodeBadRequest},
		{"room_at with an empty at_list", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691282047519", "content": "x", "at_list": []any{}}, CodeBadRequest},
		{"room_at of a stranger", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691282047519", "content": "x", "at_list": []any{"999"}}, CodeBadRequest},
		{"everyone with others", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691282047519", "content": "x", "at_list": []any{0, "1688857160788209"}}, CodeBadRequest},
		{"everyone without being owner", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691536807585", "content": "x", "at_list": []any{0}}, CodeNoPermission},
		{"placeholders do not match", "/msg/send_room_at", map[string]any{"conversation_id": "R:13102691282047519", "content": "{$@}{$@} x", "at_list": []any{"1688857160788209"}}, CodeBadRequest},
		{"image without a path", "/msg/send_image", map[string]any{"conversation_id": "S:1688857160788209"}, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, set := tc.body["guid"]; !set {
				tc.body["guid"] = in.GUID
			}
			a := refused(t, s, tc.path, tc.body, tc.code)
			if tc.code == CodeNoExternalPermission && !strings.Contains(a.Message, "对方无外部联系人权限") {
				t.Errorf("message %q", a.Message)
			}
		})
	}
	if n := len(s.Sent()); n != 0 {
		t.Errorf("%d sends recorded", n)
	}
}

func TestSendRoomAt(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{SendInterval: -1})
	in := seedOnline(t, s)
	for _, tc := range []struct {
		name, content string
		at            []any
		shown         string
		recorded      []string
	}{
		{"placeholders", "{$@} 和 {$@} 明天开会", []any{"1688857160788209", 7881302555910001}, "@李四 和 @7881302555910001 明天开会",
			[]string{"1688857160788209", "7881302555910001"}},
		{"no placeholder", "明天开会", []any{"1688857160788209"}, "@李四 明天开会", []string{"1688857160788209"}},
		{"everyone", "{$@} 通知", []any{0}, "@所有人 通知", []string{"0"}},
	} {
		ok(t, s, "/msg/send_room_at", map[string]any{"guid": in.GUID, "conversation_id": "R:13102691282047519", "content": tc.content, "at_list": tc.at})
		item := rcv.next(t).Data.([]any)[0].(map[string]any)
		var at []string
		for _, v := range item["at_list"].([]any) {
			at = append(at, v.(string))
		}
		if item["content"] != tc.shown || item["roomid"] != "13102691282047519" || item["receiver"] != "0" || !slices.Equal(at, tc.recorded) {
			t.Errorf("%s: sync item %v", tc.name, item)
		}
		last := s.Sent()[len(s.Sent())-1]
		if last.Kind != "room_at" || last.Content != tc.content || !slices.Equal(last.AtList, tc.recorded) {
			t.Errorf("%s: recorded %+v", tc.name, last)
		}
	}
}

func TestSendImageHasNoSync(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{SendInterval: -1})
	in := seedOnline(t, s)
	ok(t, s, "/msg/send_image", map[string]any{"guid": in.GUID, "conversation_id": "R:13102691282047519", "image_path": "/tmp/a.png"})
	if err := s.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Callbacks()); n != 0 {
		t.Errorf("%d callbacks after an image send", n)
	}
	if sent := s.Sent(); len(sent) != 1 || sent[0].Kind != "image" || sent[0].Content != "/tmp/a.png" {
		t.Errorf("recorded %+v", sent)
	}
}

func TestSendInterval(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newSim(t, nil, Options{Clock: clk.Now})
	in := seedOnline(t, s)
	other, _ := s.Seed(Instance{User: &User{UserID: "1688000000000002"}, Contacts: []Contact{{UserID: "7881"}}})
	send := func(guid, conv string) answer {
		return post(t, s, "/msg/send_text", map[string]any{"guid": guid, "conversation_id": conv, "content": "x"})
	}
	if a := send(in.GUID, "S:1688857160788209"); a.code() != 0 {
		t.Fatalf("first send: %d", a.code())
	}
	clk.Advance(DefaultSendInterval - time.Millisecond)
	if a := send(in.GUID, "R:13102691282047519"); a.code() != CodeFrequency || !strings.Contains(a.Message, "frequency") {
		t.Errorf("send 499 ms later: %d %q", a.code(), a.Message)
	}
	if a := send(other.GUID, "S:7881"); a.code() != 0 {
		t.Errorf("another instance is paced on its own: %d", a.code())
	}
	clk.Advance(time.Millisecond)
	if a := send(in.GUID, "S:1688857160788209"); a.code() != 0 {
		t.Errorf("send 500 ms later: %d", a.code())
	}
	if s.Violations() != 1 || len(s.Sent()) != 3 {
		t.Errorf("violations %d, sends %d", s.Violations(), len(s.Sent()))
	}
}

func TestWaitSent(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{SendInterval: -1})
	in := seedOnline(t, s)
	got := make(chan []Sent, 1)
	go func() {
		sent, _ := s.WaitSent(ctxFor(t), 2)
		got <- sent
	}()
	for _, c := range []string{"a", "b"} {
		ok(t, s, "/msg/send_text", map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": c})
	}
	select {
	case sent := <-got:
		if len(sent) != 2 || sent[1].Content != "b" {
			t.Errorf("WaitSent answered %+v", sent)
		}
	case <-ctxFor(t).Done():
		t.Fatal("WaitSent did not return")
	}
	ctx, cancel := contextWithTimeout(t, 20*time.Millisecond)
	defer cancel()
	if _, err := s.WaitSent(ctx, 3); err == nil {
		t.Error("WaitSent for a send that never comes returned no error")
	}
}
