package sim

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings/wechat"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// normalized runs a callback through the binding's normalizer: the
// simulator's callbacks must read as the vendor's do.
func normalized(t *testing.T, cb map[string]any) *event.Event {
	t.Helper()
	b, err := json.Marshal(cb)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := wechat.Normalize(b)
	if err != nil || len(evs) != 1 {
		t.Fatalf("normalize %s: %d events, %v", b, len(evs), err)
	}
	return evs[0]
}

func TestSay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testContext(t)
	guid := f.loggedIn(t)
	if err := f.sim.Say(ctx, Incoming{GUID: guid, From: "wxid_bob", Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	ev := normalized(t, f.recv.next(t))
	if ev.Type != event.TypeMessage || ev.Message.Text != "ping" || ev.Message.From.ID != "wxid_bob" || ev.Message.Self ||
		ev.Conversation.ID != "S:wxid_bob" || ev.Account != guid || ev.Time != f.clock.Now().UnixMilli() {
		t.Errorf("private message %+v %+v", ev, ev.Message)
	}
	if err := f.sim.Say(ctx, Incoming{GUID: guid, From: "wxid_dan", Room: "100@chatroom", Text: "@Alice hi", AtList: []string{"wxid_alice"}}); err != nil {
		t.Fatal(err)
	}
	ev = normalized(t, f.recv.next(t))
	if ev.Conversation.ID != "R:100@chatroom" || ev.Message.From.ID != "wxid_dan" || ev.Message.Text != "@Alice hi" ||
		!slices.Equal(ev.Message.Mentions, []string{"wxid_alice"}) {
		t.Errorf("room message %+v %+v", ev.Conversation, ev.Message)
	}
	bad := []struct {
		name string
		in   Incoming
		want error
	}{
		{"unknown instance", Incoming{GUID: "nope", From: "wxid_bob", Text: "x"}, ErrUnknownInstance},
		{"no sender", Incoming{GUID: guid, Text: "x"}, ErrInvalid},
		{"from the account", Incoming{GUID: guid, From: "wxid_alice", Text: "x"}, ErrInvalid},
		{"no text", Incoming{GUID: guid, From: "wxid_bob"}, ErrInvalid},
		{"not a friend", Incoming{GUID: guid, From: "wxid_dan", Text: "x"}, ErrUnknownContact},
		{"unknown room", Incoming{GUID: guid, From: "wxid_dan", Room: "9@chatroom", Text: "x"}, ErrUnknownRoom},
		{"not a member", Incoming{GUID: guid, From: "wxid_carol", Room: "100@chatroom", Text: "x"}, ErrInvalid},
		{"mention in private", Incoming{GUID: guid, From: "wxid_bob", Text: "x", AtList: []string{"a"}}, ErrInvalid},
	}
	for _, b := range bad {
		if err := f.sim.Say(ctx, b.in); !errors.Is(err, b.want) {
			t.Errorf("%s: %v, want %v", b.name, err, b.want)
		}
	}
	// A broken sync stops messages until the instance is restored.
	if err := f.sim.SyncFailed(ctx, guid); err != nil {
		t.Fatal(err)
	}
	if ev := normalized(t, f.recv.next(t)); ev.Type != event.TypeSystemSyncFailed {
		t.Errorf("2006 became %s", ev.Type)
	}
	if err := f.sim.Say(ctx, Incoming{GUID: guid, From: "wxid_bob", Text: "x"}); !errors.Is(err, ErrState) {
		t.Errorf("a message while sync is broken: %v", err)
	}
	f.ok(t, "/client/restore_client", map[string]any{"guid": guid})
	f.recv.expectTypes(t, NotifyReady)
	if err := f.sim.Say(ctx, Incoming{GUID: guid, From: "wxid_bob", Text: "back"}); err != nil {
		t.Errorf("after restore: %v", err)
	}
}

func TestRoomChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testContext(t)
	guid := f.loggedIn(t)
	gina := Person{WxID: "wxid_gina", Nickname: "Gina"}
	if err := f.sim.AddMembers(ctx, guid, "100@chatroom", "wxid_bob", gina); err != nil {
		t.Fatal(err)
	}
	ev := normalized(t, f.recv.next(t))
	if ev.Type != event.TypeRoomMemberAdded || ev.Conversation.ID != "R:100@chatroom" || ev.Data["room_name"] != "产品群" {
		t.Errorf("member added %+v", ev)
	}
	if members, _ := f.sim.RoomMembers(guid, "100@chatroom"); !slices.Contains(members, "wxid_gina") || len(members) != 4 {
		t.Errorf("members %v", members)
	}
	if err := f.sim.AddMembers(ctx, guid, "100@chatroom", "", gina); !errors.Is(err, ErrInvalid) {
		t.Errorf("adding a member twice: %v", err)
	}
	if err := f.sim.RenameMember(ctx, guid, "100@chatroom", "wxid_gina", "Gina G"); err != nil {
		t.Fatal(err)
	}
	ev = normalized(t, f.recv.next(t))
	if members, _ := ev.Data["members"].([]any); ev.Type != event.TypeRoomMemberChanged || len(members) != 1 ||
		members[0].(map[string]any)["name"] != "Gina G" {
		t.Errorf("member changed %+v", ev)
	}
	if err := f.sim.RenameMember(ctx, guid, "100@chatroom", "wxid_nobody", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("renaming a stranger: %v", err)
	}
	if err := f.sim.RemoveMembers(ctx, guid, "100@chatroom", "", "wxid_gina"); err != nil {
		t.Fatal(err)
	}
	if ev := normalized(t, f.recv.next(t)); ev.Type != event.TypeRoomMemberRemoved {
		t.Errorf("member removed became %s", ev.Type)
	}
	if err := f.sim.RemoveMembers(ctx, guid, "100@chatroom", "", "wxid_alice"); !errors.Is(err, ErrInvalid) {
		t.Errorf("removing the account as a member: %v", err)
	}
	id, err := f.sim.JoinRoom(ctx, guid, Room{Name: "新群", Owner: "wxid_bob", Members: []Person{{WxID: "wxid_bob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ev := normalized(t, f.recv.next(t)); ev.Type != event.TypeRoomJoined || ev.Conversation.ID != "R:"+id {
		t.Errorf("joined %+v", ev)
	}
	if err := f.sim.RemoveMe(ctx, guid, id, false); err != nil {
		t.Fatal(err)
	}
	if ev := normalized(t, f.recv.next(t)); ev.Type != event.TypeRoomRemovedMe {
		t.Errorf("removed me became %s", ev.Type)
	}
	if err := f.sim.RemoveMe(ctx, guid, "100@chatroom", true); err != nil {
		t.Fatal(err)
	}
	if ev := normalized(t, f.recv.next(t)); ev.Type != event.TypeRoomDisbanded {
		t.Errorf("disbanded became %s", ev.Type)
	}
	if _, err := f.sim.RoomMembers(guid, "100@chatroom"); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("a disbanded room: %v", err)
	}
	f.refused(t, "/msg/send_text", map[string]any{"guid": guid, "to_username": "100@chatroom", "content": "x"}, 200, CodeNotFound)
}
