package sim

import (
	"errors"
	"fmt"
	"testing"
)

func TestInitContactPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	var contacts []Contact
	for i := range 60 {
		contacts = append(contacts, Contact{Person: Person{WxID: fmt.Sprintf("wxid_%03d", i)}})
	}
	guid, err := f.sim.Seed(Instance{Account: &alice, Contacts: contacts, Rooms: []Room{{Name: "a"}, {Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	first := f.ok(t, "/contact/init_contact", map[string]any{"guid": guid})
	if n := len(first["contact_username_list"].([]any)); n != 52 || num(first["continue_flag"]) != 1 || num(first["contact_seq"]) != 50 {
		t.Fatalf("first page: %d ids, %v", n, first)
	}
	second := f.ok(t, "/contact/init_contact", map[string]any{"guid": guid, "contact_seq": first["contact_seq"], "room_seq": first["room_seq"]})
	if n := len(second["contact_username_list"].([]any)); n != 10 || num(second["continue_flag"]) != 0 {
		t.Fatalf("second page: %d ids, %v", n, second)
	}
}

func TestContactDetails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	got := f.ok(t, "/contact/get_contact", map[string]any{"guid": guid,
		"username_list": []any{"wxid_bob", "gh_news", "100@chatroom", "wxid_dan", "wxid_nobody"}})
	list := got["contact_list"].([]any)
	want := []struct {
		id   string
		typ  int64
		name string
	}{{"wxid_bob", ContactFriend, "Bob"}, {"gh_news", ContactMp, "News"}, {"100@chatroom", ContactChatRoom, "产品群"},
		{"wxid_dan", ContactStranger, ""}, {"wxid_nobody", ContactStranger, ""}}
	for i, w := range want {
		c := list[i].(map[string]any)
		if c["user_name"] != w.id || num(c["contact_type"]) != w.typ || (w.name != "" && c["nick_name"] != w.name) {
			t.Errorf("contact %d: %v, want %+v", i, c, w)
		}
	}
	if labels := list[0].(map[string]any)["label_list"].([]any); len(labels) != 1 || labels[0].(map[string]any)["label_name"] != "客户" {
		t.Errorf("bob's labels %v", labels)
	}
	if members := list[2].(map[string]any)["member_list"].([]any); len(members) != 3 {
		t.Errorf("room members %v", members)
	}
	// A room member who is no friend is known within the room.
	got = f.ok(t, "/contact/get_contact", map[string]any{"guid": guid, "username_list": []any{"wxid_dan"}, "room_username": "100@chatroom"})
	if c := got["contact_list"].([]any)[0].(map[string]any); c["nick_name"] != "Dan" {
		t.Errorf("dan in the room: %v", c)
	}
	brief := f.ok(t, "/contact/batch_get_contact_brief_info", map[string]any{"guid": guid, "username_list": []any{"wxid_carol"}})
	if c := brief["contact_list"].([]any)[0].(map[string]any); c["nick_name"] != "Carol" || c["remark"] != nil {
		t.Errorf("brief %v", c)
	}

	f.ok(t, "/contact/modify_contact_top_flag", map[string]any{"guid": guid, "user_name": "wxid_bob", "is_top": true})
	f.ok(t, "/contact/modify_remark", map[string]any{"guid": guid, "user_name": "wxid_bob", "remark": "老鲍"})
	if c, _ := f.sim.Contact(guid, "wxid_bob"); !c.Top || c.Remark != "老鲍" {
		t.Errorf("bob %+v", c)
	}
	if d := f.recv.expectTypes(t, NotifyContactInfoChange)[0]["data"].(map[string]any); d["remark"] != "老鲍" {
		t.Errorf("1039 %v", d)
	}
	f.refused(t, "/contact/modify_remark", map[string]any{"guid": guid, "user_name": "wxid_nobody", "remark": "x"}, 200, CodeNotFound)
	f.ok(t, "/contact/del_friend", map[string]any{"guid": guid, "user_name": "wxid_carol"})
	f.recv.expectTypes(t, NotifyFriendDel)
	if _, err := f.sim.Contact(guid, "wxid_carol"); !errors.Is(err, ErrUnknownContact) {
		t.Errorf("carol after del_friend: %v", err)
	}
	f.refused(t, "/contact/del_friend", map[string]any{"guid": guid, "user_name": "wxid_carol"}, 200, CodeNotFound)
}

func TestFriendRequestsBothWays(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testContext(t)
	guid := f.loggedIn(t)
	erin := Person{WxID: "wxid_erin", Nickname: "Erin", Alias: "erin88", Mobile: "13800000001", QQ: "10001"}
	if err := f.sim.AddPerson(erin); err != nil {
		t.Fatal(err)
	}
	for _, kw := range []string{"13800000001", "erin88", "10001"} {
		found := f.ok(t, "/contact/search_contact", map[string]any{"guid": guid, "keyword": kw})
		if found["nick_name"] != "Erin" || found["user_name"] != v3("wxid_erin") {
			t.Errorf("search %s: %v", kw, found)
		}
	}
	f.refused(t, "/contact/search_contact", map[string]any{"guid": guid, "keyword": "nobody"}, 200, CodeNotFound)
	f.ok(t, "/contact/add_friend", map[string]any{"guid": guid, "v3": v3("wxid_erin"), "verify_content": "hi"})
	if err := f.sim.AcceptFriend(ctx, guid, "wxid_erin"); err != nil {
		t.Fatal(err)
	}
	if d := f.recv.expectTypes(t, NotifyFriendAdd)[0]["data"].(map[string]any); d["user_name"] != "wxid_erin" || num(d["contact_type"]) != ContactFriend {
		t.Errorf("1040 %v", d)
	}
	if err := f.sim.AcceptFriend(ctx, guid, "wxid_erin"); !errors.Is(err, ErrState) {
		t.Errorf("second accept: %v", err)
	}
	f.refused(t, "/contact/add_friend", map[string]any{"guid": guid, "v3": "wxid_erin"}, 200, CodeFailed)

	frank := Person{WxID: "wxid_frank", Nickname: "Frank & co"}
	v3t, v4t, err := f.sim.FriendRequest(ctx, guid, frank, "我是 <Frank>")
	if err != nil {
		t.Fatal(err)
	}
	d := f.recv.expectTypes(t, NotifyNewMsg)[0]["data"].(map[string]any)
	if num(d["msg_type"]) != MsgFriend || d["from_user_name"] != "fmessage" {
		t.Errorf("friend request %v", d)
	}
	f.refused(t, "/contact/verify_friend", map[string]any{"guid": guid, "v3": v3t, "v4": "wrong"}, 200, CodeNotFound)
	f.ok(t, "/contact/verify_friend", map[string]any{"guid": guid, "v3": v3t, "v4": v4t})
	f.recv.expectTypes(t, NotifyFriendAdd)
	if c, err := f.sim.Contact(guid, "wxid_frank"); err != nil || c.Type != ContactFriend {
		t.Errorf("frank %+v, %v", c, err)
	}
}
