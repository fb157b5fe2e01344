package sim

import (
	"testing"
)

func TestSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	to := func(id string, extra map[string]any) map[string]any {
		b := map[string]any{"guid": guid, "to_username": id}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	cases := []struct {
		path, kind, content string
		body                map[string]any
	}{
		{"/msg/send_text", "text", "hello", to("wxid_bob", map[string]any{"content": "hello"})},
		{"/msg/send_text", "text", "to the room", to("100@chatroom", map[string]any{"content": "to the room"})},
		{"/msg/send_text", "text", "to news", to("gh_news", map[string]any{"content": "to news"})},
		{"/msg/send_room_at", "room_at", "@Dan hi", to("100@chatroom", map[string]any{"content": "@Dan hi", "at_list": []any{"wxid_dan"}})},
		{"/msg/send_room_at", "room_at", "all", to("100@chatroom", map[string]any{"content": "all", "at_list": []any{MentionAll}})},
		{"/msg/send_image", "image", "https://x/a.png", to("wxid_bob", map[string]any{"url": "https://x/a.png"})},
		{"/msg/send_video", "video", "https://x/v.mp4", to("wxid_bob", map[string]any{"url": "https://x/v.mp4", "thumb_url": "https://x/t.jpg"})},
		{"/msg/send_file", "file", "https://x/r.pdf", to("wxid_bob", map[string]any{"url": "https://x/r.pdf", "file_name": "r.pdf"})},
		{"/msg/send_voice", "voice", "https://x/v.silk", to("wxid_bob", map[string]any{"url": "https://x/v.silk", "duration": 3000})},
		{"/msg/send_emoji_url", "emoji_url", "https://x/e.gif", to("wxid_bob", map[string]any{"url": "https://x/e.gif"})},
		{"/msg/send_location", "location", "31.23,121.47", to("wxid_bob", map[string]any{"latitude": "31.23", "longitude": 121.47, "poi_name": "外滩"})},
		{"/msg/send_card", "card", "wxid_carol", to("wxid_bob", map[string]any{"card_username": "wxid_carol", "card_nickname": "Carol"})},
		{"/msg/send_link_card", "link_card", "https://x", to("wxid_bob", map[string]any{"title": "T", "url": "https://x", "desc": "D"})},
	}
	for i, c := range cases {
		got := f.ok(t, c.path, c.body)
		if num(got["msg_id"]) <= 0 || num(got["new_msg_id"]) <= 0 || got["to_username"] != c.body["to_username"] {
			t.Errorf("%s answered %v", c.path, got)
		}
		sent := f.sim.Sent()
		if len(sent) != i+1 {
			t.Fatalf("%d sends recorded after %d", len(sent), i+1)
		}
		s := sent[i]
		if s.Kind != c.kind || s.Content != c.content || s.To != c.body["to_username"] || s.From != "wxid_alice" || s.GUID != guid ||
			s.MsgID != num(got["msg_id"]) || !s.At.Equal(f.clock.Now()) {
			t.Errorf("%s recorded %+v", c.path, s)
		}
	}
	if got, err := f.sim.WaitSent(testContext(t), len(cases)); err != nil || len(got) != len(cases) {
		t.Errorf("WaitSent: %d, %v", len(got), err)
	}
	if sent := f.sim.Sent(); sent[7].Args["file_name"] != "r.pdf" || sent[8].Args["duration"] != int64(3000) {
		t.Errorf("args %v %v", sent[7].Args, sent[8].Args)
	}

	refusals := []struct {
		name string
		path string
		body map[string]any
		code int64
	}{
		{"not a friend", "/msg/send_text", to("wxid_dan", map[string]any{"content": "x"}), CodeFailed},
		{"unknown room", "/msg/send_text", to("999@chatroom", map[string]any{"content": "x"}), CodeNotFound},
		{"mention outside the room", "/msg/send_room_at", to("100@chatroom", map[string]any{"content": "x", "at_list": []any{"wxid_carol"}}), CodeNotFound},
		{"room_at to a person", "/msg/send_room_at", to("wxid_bob", map[string]any{"content": "x", "at_list": []any{"wxid_bob"}}), CodeFailed},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			f.refused(t, r.path, r.body, 200, r.code)
		})
	}
	if n := len(f.sim.Sent()); n != len(cases) {
		t.Errorf("refused sends were recorded: %d", n)
	}
}

func TestMentionAllNeedsTheOwner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid, err := f.sim.Seed(Instance{Account: &alice, Rooms: []Room{{ID: "7@chatroom", Owner: "wxid_dan"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.refused(t, "/msg/send_room_at", map[string]any{"guid": guid, "to_username": "7@chatroom", "content": "x", "at_list": []any{MentionAll}}, 200, CodeFailed)
	f.ok(t, "/msg/send_room_at", map[string]any{"guid": guid, "to_username": "7@chatroom", "content": "x", "at_list": []any{"wxid_dan"}})
}
