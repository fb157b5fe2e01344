package wechat

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

func eventIn(conv string) *event.Event {
	return &event.Event{ID: "e1", Type: event.TypeMessage, Vendor: Name, Account: "g-1",
		Conversation: &event.Conversation{ID: conv, Kind: event.ConversationKind(conv)},
		Message:      &event.Message{ID: "m1", Kind: event.KindText, Text: "hi"}}
}

func TestReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		conv    string
		content map[string]any
		method  string
		args    map[string]any
	}{
		{"text in private", "S:wxid_a", map[string]any{"text": "pong"}, "msg.sendText",
			map[string]any{"content": "pong"}},
		{"text in a room", "R:123@chatroom", map[string]any{"text": "pong"}, "msg.sendText",
			map[string]any{"content": "pong"}},
		{"mentions", "R:123@chatroom", map[string]any{"text": "@Li hi", "mentions": []any{"wxid_li"}}, "msg.sendRoomAt",
			map[string]any{"content": "@Li hi", "at_list": []string{"wxid_li"}}},
		{"at everyone", "R:123@chatroom", map[string]any{"text": "all", "at": "notify@all"}, "msg.sendRoomAt",
			map[string]any{"content": "all", "at_list": []string{"notify@all"}}},
		{"image URL", "S:wxid_a", map[string]any{"image": "https://x/a.png"}, "msg.sendImage",
			map[string]any{"url": "https://x/a.png"}},
		{"video object", "S:wxid_a", map[string]any{"video": map[string]any{"url": "https://x/v.mp4", "thumb_url": "https://x/t.jpg"}},
			"msg.sendVideo", map[string]any{"url": "https://x/v.mp4", "thumb_url": "https://x/t.jpg"}},
		{"file named by its URL", "S:wxid_a", map[string]any{"file": "https://x/dir/report.pdf?sig=1"}, "msg.sendFile",
			map[string]any{"url": "https://x/dir/report.pdf?sig=1", "file_name": "report.pdf"}},
		{"file with a name", "S:wxid_a", map[string]any{"file": map[string]any{"url": "https://x/f", "name": "a.txt"}}, "msg.sendFile",
			map[string]any{"url": "https://x/f", "file_name": "a.txt"}},
		{"voice", "S:wxid_a", map[string]any{"voice": map[string]any{"url": "https://x/a.silk", "duration": 3000}}, "msg.sendVoice",
			map[string]any{"url": "https://x/a.silk", "duration": 3000}},
		{"emoticon", "S:wxid_a", map[string]any{"emoticon": "https://x/e.gif"}, "msg.sendEmojiUrl",
			map[string]any{"url": "https://x/e.gif"}},
		{"link", "S:wxid_a", map[string]any{"link": map[string]any{"title": "T", "url": "https://x", "desc": "D", "image_url": "https://x/i"}},
			"msg.sendLinkCard", map[string]any{"title": "T", "url": "https://x", "desc": "D", "thumb_url": "https://x/i"}},
		{"person card", "S:wxid_a", map[string]any{"person_card": map[string]any{"user_id": "wxid_b", "nickname": "B"}}, "msg.sendCard",
			map[string]any{"card_username": "wxid_b", "card_nickname": "B"}},
		{"location", "S:wxid_a", map[string]any{"location": map[string]any{"latitude": "31.23", "longitude": 121.47, "address": "上海", "title": "外滩"}},
			"msg.sendLocation", map[string]any{"latitude": 31.23, "longitude": 121.47, "label": "上海", "poi_name": "外滩"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			call, err := Reply(eventIn(c.conv), c.content)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"guid": "g-1", "to_username": strings.TrimPrefix(strings.TrimPrefix(c.conv, "S:"), "R:")}
			for k, v := range c.args {
				want[k] = v
			}
			if call.Vendor != Name || call.Method != c.method || !reflect.DeepEqual(call.Args, want) {
				t.Errorf("call %s.%s %v, want wechat.%s %v", call.Vendor, call.Method, call.Args, c.method, want)
			}
			if err := endpoint(t, c.method).Check(call.Args); err != nil {
				t.Errorf("the endpoint refuses the reply's arguments: %v", err)
			}
		})
	}
}

func TestReplyErrors(t *testing.T) {
	t.Parallel()
	noConv := eventIn("S:x")
	noConv.Conversation = nil
	noAccount := eventIn("S:x")
	noAccount.Account = ""
	cases := []struct {
		name    string
		ev      *event.Event
		content map[string]any
		param   string
		sent    error
	}{
		{"nil event", nil, map[string]any{"text": "x"}, "", ErrNoConversation},
		{"no conversation", noConv, map[string]any{"text": "x"}, "", ErrNoConversation},
		{"no account", noAccount, map[string]any{"text": "x"}, "guid", nil},
		{"bare prefix", eventIn("S:"), map[string]any{"text": "x"}, "conversation", nil},
		{"empty content", eventIn("S:x"), map[string]any{}, "content", nil},
		{"two things", eventIn("S:x"), map[string]any{"text": "x", "image": "y"}, "content", nil},
		{"unknown kind", eventIn("S:x"), map[string]any{"sticker": "x"}, "sticker", nil},
		{"blank text", eventIn("S:x"), map[string]any{"text": "  "}, "text", nil},
		{"text not a string", eventIn("S:x"), map[string]any{"text": 3}, "text", nil},
		{"mentions in private", eventIn("S:x"), map[string]any{"text": "x", "mentions": []any{"a"}}, "mentions", nil},
		{"empty mentions", eventIn("R:1@chatroom"), map[string]any{"text": "x", "mentions": []any{}}, "mentions", nil},
		{"bad mentions", eventIn("R:1@chatroom"), map[string]any{"text": "x", "mentions": map[string]any{}}, "mentions", nil},
		{"image without url", eventIn("S:x"), map[string]any{"image": map[string]any{"href": "y"}}, "image", nil},
		{"link without title", eventIn("S:x"), map[string]any{"link": map[string]any{"url": "y"}}, "link", nil},
		{"link not an object", eventIn("S:x"), map[string]any{"link": "y"}, "link", nil},
		{"card without id", eventIn("S:x"), map[string]any{"person_card": map[string]any{"nickname": "y"}}, "person_card", nil},
		{"location off the globe", eventIn("S:x"), map[string]any{"location": map[string]any{"latitude": 500, "longitude": 1}}, "location", nil},
		{"location as text", eventIn("S:x"), map[string]any{"location": "here"}, "location", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Reply(c.ev, c.content)
			if err == nil {
				t.Fatal("no error")
			}
			if c.sent != nil {
				if !errors.Is(err, c.sent) {
					t.Errorf("error %v, want %v", err, c.sent)
				}
				return
			}
			var ae *bindings.ArgumentError
			if !errors.As(err, &ae) || ae.Param != c.param || ae.Endpoint != "wechat.reply" {
				t.Errorf("error %v, want an ArgumentError of wechat.reply about %q", err, c.param)
			}
		})
	}
}

// TestReplyToSeedEvents replies to the events of the golden callbacks:
// every message event can be answered, in its own conversation.
func TestReplyToSeedEvents(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"1010_text_private.txt", "1010_text_room_mentions.txt", "1010_text_room_sent.txt", "1040_friend_add.txt"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile("testdata/callbacks/" + name)
			if err != nil {
				t.Fatal(err)
			}
			body, _, _ := strings.Cut(string(b), "\n----------")
			evs, err := Normalize([]byte(body))
			if err != nil || len(evs) != 1 {
				t.Fatalf("%d events, error %v", len(evs), err)
			}
			call, err := Reply(evs[0], map[string]any{"text": "ok"})
			if err != nil {
				t.Fatal(err)
			}
			to := call.Args["to_username"].(string)
			if call.Args["guid"] != evs[0].Account || !strings.HasSuffix(evs[0].Conversation.ID, ":"+to) {
				t.Errorf("reply %v to event in %s of %s", call.Args, evs[0].Conversation.ID, evs[0].Account)
			}
		})
	}
}

func TestReplyThroughRegistry(t *testing.T) {
	t.Parallel()
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(nil)); err != nil {
		t.Fatal(err)
	}
	call, err := reg.Reply(eventIn("R:9@chatroom"), map[string]any{"text": "hi"})
	if err != nil || call.Vendor != Name || call.Method != "msg.sendText" {
		t.Fatalf("call %+v, error %v", call, err)
	}
	if _, err := reg.Lookup(Name, call.Method); err != nil {
		t.Error(err)
	}
}
