package quntool

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

const (
	me      = "1688000000000001"
	private = "S:1688000000000001_7881000000000002"
	group   = "R:10696052100031234"
)

func messageEvent(conv string) *event.Event {
	return &event.Event{ID: "quntool:x", Type: event.TypeMessage, Vendor: Name, Account: me,
		Conversation: &event.Conversation{ID: conv, Kind: event.ConversationKind(conv)},
		Message: &event.Message{ID: "1012206", Kind: event.KindText, Text: "你好吗?",
			From: &event.Party{ID: "7881000000000002", Name: "安坚实"}}}
}

func TestReply(t *testing.T) {
	t.Parallel()
	base := func(conv string, extra map[string]any) map[string]any {
		out := map[string]any{"wxId": me, "conversationId": conv}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name       string
		conv       string
		content    map[string]any
		wantMethod string
		wantArgs   map[string]any
	}{
		{"text", private, map[string]any{"text": "pong"}, "msg.text", base(private, map[string]any{"content": "pong"})},
		{"text in a reversed private conversation", "S:7881000000000002_1688000000000001", map[string]any{"text": "pong"},
			"msg.text", base(private, map[string]any{"content": "pong"})},
		{"text with mentions", group, map[string]any{"text": "hi {$@}", "mentions": []any{"1688a", "1688b"}},
			"msg.roomAt", base(group, map[string]any{"content": "hi {$@}", "atList": []string{"1688a", "1688b"}})},
		{"text with at, everyone", group, map[string]any{"text": "all", "at": []string{"0"}},
			"msg.roomAt", base(group, map[string]any{"content": "all", "atList": []string{"0"}})},
		{"quote", group, map[string]any{"quote": "我很好"}, "msg.quote",
			base(group, map[string]any{"content": "我很好", "serverId": "1012206", "quote": "安坚实:\n你好吗?"})},
		{"image url", private, map[string]any{"image": "https://x/a.png"}, "msg.image", base(private, map[string]any{"fileUrl": "https://x/a.png"})},
		{"image object", private, map[string]any{"image": map[string]any{"url": "/gnapi/files/a.png"}}, "msg.image", base(private, map[string]any{"fileUrl": "/gnapi/files/a.png"})},
		{"file", private, map[string]any{"file": "/gnapi/Files/r.pdf"}, "msg.file", base(private, map[string]any{"fileUrl": "/gnapi/Files/r.pdf"})},
		{"video", private, map[string]any{"video": "https://x/v.mp4"}, "msg.video", base(private, map[string]any{"fileUrl": "https://x/v.mp4"})},
		{"voice", private, map[string]any{"voice": "https://x/v.aac"}, "msg.voice", base(private, map[string]any{"fileUrl": "https://x/v.aac"})},
		{"gif", private, map[string]any{"gif": "https://x/g.gif"}, "msg.gif", base(private, map[string]any{"fileUrl": "https://x/g.gif"})},
		{"link", private, map[string]any{"link": map[string]any{"title": "Docs", "url": "https://d", "desc": "read", "image_url": "https://i"}},
			"msg.link", base(private, map[string]any{"title": "Docs", "url": "https://d", "desc": "read", "imageUrl": "https://i"})},
		{"link, vendor spelling", private, map[string]any{"link": map[string]any{"title": "Docs", "url": "https://d", "imageUrl": "https://i"}},
			"msg.link", base(private, map[string]any{"title": "Docs", "url": "https://d", "imageUrl": "https://i"})},
		{"person card", private, map[string]any{"person_card": map[string]any{"user_id": "7881", "nickname": "C奕", "avatar": "http://a"}},
			"msg.personCard", base(private, map[string]any{"personCardUserId": "7881", "nickName": "C奕", "avatar": "http://a"})},
		{"saved mini program", private, map[string]any{"mini_program": map[string]any{"id": 7}},
			"miniProgram.send", base(private, map[string]any{"miniProgramId": int64(7)})},
		{"mini program fields", private, map[string]any{"mini_program": map[string]any{"username": "gh_1@app", "appid": "wx1", "title": "T", "extra": 1}},
			"msg.miniProgram", base(private, map[string]any{"username": "gh_1@app", "appid": "wx1", "title": "T"})},
		{"saved video", group, map[string]any{"video_num": map[string]any{"id": "20"}},
			"videonum.send", base(group, map[string]any{"videoNumId": int64(20)})},
		{"video fields", group, map[string]any{"video_num": map[string]any{"url": "https://channels", "nickname": "n", "feed_type": 4}},
			"msg.videoNum", base(group, map[string]any{"url": "https://channels", "nickname": "n", "feed_type": 4})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			call, err := Reply(messageEvent(c.conv), c.content)
			if err != nil {
				t.Fatalf("Reply: %v", err)
			}
			if call.Vendor != Name || call.Method != c.wantMethod {
				t.Errorf("call %s, want quntool.%s", call, c.wantMethod)
			}
			if !reflect.DeepEqual(call.Args, c.wantArgs) {
				t.Errorf("args = %#v\nwant %#v", call.Args, c.wantArgs)
			}
			// Every reply is a call the registry accepts as it is.
			ep := endpoint(t, call.Method)
			if err := ep.Check(call.Args); err != nil {
				t.Errorf("the endpoint refuses the reply's arguments: %v", err)
			}
			if ep.Class != bindings.Send {
				t.Errorf("%s is not a send", call)
			}
		})
	}
}

func TestReplyFromSeedEvents(t *testing.T) {
	t.Parallel()
	// A card received can be sent on as it came.
	for _, c := range []struct{ payload, key, method string }{
		{"mini_program_msg.received", "mini_program", "msg.miniProgram"},
		{"video_num_msg.received", "video_num", "msg.videoNum"},
		{"link_card_msg.received", "link", "msg.link"},
	} {
		ev := one(t, string(goldenInput(t, c.payload)))
		call, err := Reply(ev, map[string]any{c.key: ev.Data[c.key]})
		if err != nil {
			t.Errorf("%s: %v", c.payload, err)
			continue
		}
		if call.Method != c.method {
			t.Errorf("%s: method %s, want %s", c.payload, call.Method, c.method)
		}
		if err := endpoint(t, call.Method).Check(call.Args); err != nil {
			t.Errorf("%s: %v", c.payload, err)
		}
	}
	// A new contact can be greeted in the conversation the callback names.
	ev := one(t, string(goldenInput(t, "notify_type_contact_add")))
	call, err := Reply(ev, map[string]any{"text": "welcome"})
	if err != nil || call.Args["conversationId"] != "S:168885435526XXXX_788130083907XXXX" {
		t.Errorf("reply to contact.added = %+v, %v", call, err)
	}
}

func TestReplyErrors(t *testing.T) {
	t.Parallel()
	login := &event.Event{ID: "quntool:l", Type: event.TypeLogin, Vendor: Name, Account: me}
	noAccount := messageEvent(private)
	noAccount.Account = ""
	roomEvent := &event.Event{ID: "quntool:r", Type: event.TypeRoomRenamed, Vendor: Name, Account: me,
		Conversation: &event.Conversation{ID: group, Kind: event.ConversationGroup}}
	cases := []struct {
		name      string
		ev        *event.Event
		content   map[string]any
		noConv    bool
		param     string
		reasonHas string
	}{
		{"no event", nil, map[string]any{"text": "x"}, true, "", ""},
		{"no conversation", login, map[string]any{"text": "x"}, true, "", ""},
		{"no account", noAccount, map[string]any{"text": "x"}, false, "wxId", "no account"},
		{"unknown key", messageEvent(private), map[string]any{"sticker": "x"}, false, "sticker", "text"},
		{"empty content", messageEvent(private), map[string]any{}, false, "content", "empty"},
		{"only mentions", messageEvent(group), map[string]any{"mentions": []any{"1"}}, false, "content", "empty"},
		{"two things", messageEvent(private), map[string]any{"text": "x", "image": "u"}, false, "content", "image and text"},
		{"empty text", messageEvent(private), map[string]any{"text": "  "}, false, "text", "non-empty"},
		{"text not a string", messageEvent(private), map[string]any{"text": 5}, false, "text", "non-empty"},
		{"mentions in a private conversation", messageEvent(private), map[string]any{"text": "x", "mentions": []any{"1"}}, false, "mentions", "group"},
		{"empty mentions", messageEvent(group), map[string]any{"text": "x", "mentions": []any{}}, false, "mentions", "empty"},
		{"mentions not ids", messageEvent(group), map[string]any{"text": "x", "at": []any{map[string]any{}}}, false, "at", "user ids"},
		{"mentions of a wrong type", messageEvent(group), map[string]any{"text": "x", "at": 5}, false, "at", "user ids"},
		{"quote without a message", roomEvent, map[string]any{"quote": "x"}, false, "quote", "no"},
		{"image not a url", messageEvent(private), map[string]any{"image": map[string]any{"size": 1}}, false, "image", "URL"},
		{"link without title", messageEvent(private), map[string]any{"link": map[string]any{"title": " ", "url": "u"}}, false, "link", "title"},
		{"link not an object", messageEvent(private), map[string]any{"link": "https://x"}, false, "link", "object"},
		{"person card without id", messageEvent(private), map[string]any{"person_card": map[string]any{"nickname": "n"}}, false, "person_card", "user_id"},
		{"mini program id not a number", messageEvent(private), map[string]any{"mini_program": map[string]any{"id": "seven"}}, false, "mini_program", "number"},
		{"mini program without fields", messageEvent(private), map[string]any{"mini_program": map[string]any{"x": 1}}, false, "mini_program", "none"},
		{"video not an object", messageEvent(private), map[string]any{"video_num": "x"}, false, "video_num", "object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			call, err := Reply(c.ev, c.content)
			if err == nil {
				t.Fatalf("Reply = %+v, want an error", call)
			}
			if got := errors.Is(err, ErrNoConversation); got != c.noConv {
				t.Fatalf("ErrNoConversation = %v, want %v (%v)", got, c.noConv, err)
			}
			if c.noConv {
				return
			}
			var ae *bindings.ArgumentError
			if !errors.As(err, &ae) || ae.Param != c.param || ae.Endpoint != "quntool.reply" {
				t.Fatalf("error = %#v, want an ArgumentError on %s", err, c.param)
			}
			if !strings.Contains(ae.Reason, c.reasonHas) {
				t.Errorf("reason %q lacks %q", ae.Reason, c.reasonHas)
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
	call, err := reg.Reply(messageEvent(group), map[string]any{"text": "hi"})
	if err != nil || call.String() != "quntool.msg.text" {
		t.Fatalf("registry reply = %v, %v", call, err)
	}
}
