package wework

import (
	"errors"
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

func TestReply(t *testing.T) {
	t.Parallel()
	private := &event.Event{ID: "e1", Type: event.TypeMessage, Account: "g1",
		Conversation: &event.Conversation{ID: "S:7881", Kind: event.ConversationPrivate}}
	group := &event.Event{ID: "e2", Type: event.TypeMessage, Account: "g1",
		Conversation: &event.Conversation{ID: "R:131", Kind: event.ConversationGroup}}
	for _, tc := range []struct {
		name    string
		ev      *event.Event
		content map[string]any
		method  string
		args    map[string]any
		param   string // ArgumentError param
		is      error
	}{
		{name: "text", ev: private, content: map[string]any{"text": "pong"}, method: "msg.sendText",
			args: map[string]any{"guid": "g1", "conversation_id": "S:7881", "content": "pong"}},
		{name: "text in a group", ev: group, content: map[string]any{"text": "hi"}, method: "msg.sendText",
			args: map[string]any{"guid": "g1", "conversation_id": "R:131", "content": "hi"}},
		{name: "mentions", ev: group, content: map[string]any{"text": "{$@} hi", "at": []any{"1688"}}, method: "msg.sendRoomAt",
			args: map[string]any{"guid": "g1", "conversation_id": "R:131", "content": "{$@} hi", "at_list": []any{"1688"}}},
		{name: "everyone", ev: group, content: map[string]any{"text": "hi", "mentions": []any{"0"}}, method: "msg.sendRoomAt",
			args: map[string]any{"guid": "g1", "conversation_id": "R:131", "content": "hi", "at_list": []any{MentionAll}}},
		{name: "one mention as a string", ev: group, content: map[string]any{"text": "hi", "at": "1688"}, method: "msg.sendRoomAt",
			args: map[string]any{"guid": "g1", "conversation_id": "R:131", "content": "hi", "at_list": []any{"1688"}}},
		{name: "image", ev: private, content: map[string]any{"image": map[string]any{"url": "https://x/a.png"}}, method: "msg.sendImage",
			args: map[string]any{"guid": "g1", "conversation_id": "S:7881", "image_path": "https://x/a.png"}},
		{name: "mentions in private", ev: private, content: map[string]any{"text": "hi", "at": []any{"1"}}, param: "at"},
		{name: "bad mentions", ev: group, content: map[string]any{"text": "hi", "at": []any{}}, param: "at"},
		{name: "empty text", ev: private, content: map[string]any{"text": " "}, param: "text"},
		{name: "text not a string", ev: private, content: map[string]any{"text": 3}, param: "text"},
		{name: "nothing", ev: private, content: map[string]any{}, param: "content"},
		{name: "two things", ev: private, content: map[string]any{"text": "a", "image": "b"}, param: "content"},
		{name: "image with at", ev: group, content: map[string]any{"image": "b", "at": []any{"1"}}, param: "at"},
		{name: "bad image", ev: private, content: map[string]any{"image": 1}, param: "image"},
		{name: "unknown kind", ev: private, content: map[string]any{"video": "v"}, param: "video"},
		{name: "no account", ev: &event.Event{ID: "e3", Conversation: private.Conversation}, content: map[string]any{"text": "a"}, param: "guid"},
		{name: "bad conversation", ev: &event.Event{ID: "e4", Account: "g", Conversation: &event.Conversation{ID: "7881"}},
			content: map[string]any{"text": "a"}, param: "conversation_id", is: bindings.ErrInvalidConversation},
		{name: "no conversation", ev: &event.Event{ID: "e5", Type: event.TypeLogin, Account: "g"}, content: map[string]any{"text": "a"}, is: ErrNoConversation},
		{name: "nil event", content: map[string]any{"text": "a"}, is: ErrNoConversation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Reply(tc.ev, tc.content)
			if tc.method != "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Vendor != Name || c.Method != tc.method || !reflect.DeepEqual(c.Args, tc.args) {
					t.Errorf("call %s.%s %v, want %s %v", c.Vendor, c.Method, c.Args, tc.method, tc.args)
				}
				reg := bindings.NewRegistry()
				if err := reg.Add(Vendor(nil)); err != nil {
					t.Fatal(err)
				}
				ep, err := reg.Lookup(Name, c.Method)
				if err != nil {
					t.Fatalf("reply method is not an endpoint: %v", err)
				}
				if err := ep.Check(c.Args); err != nil {
					t.Errorf("reply args do not fit the endpoint: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; call %+v", c)
			}
			var ae *bindings.ArgumentError
			if tc.param != "" && (!errors.As(err, &ae) || ae.Param != tc.param) {
				t.Errorf("error %v, want an ArgumentError on %s", err, tc.param)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not match %v", err, tc.is)
			}
		})
	}
}
