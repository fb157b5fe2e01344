package sim

import (
	"errors"
	"net/http"
	"slices"
	"testing"
)

func TestQuitAndDisband(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	must(t, w.sim.QuitRoom(ctx, w.room, customer2))
	quit := w.rx.waitFor(t, ctx, "notify_type_room_member_quit", 1)
	d := quit["data"].(map[string]any)
	sameKeys(t, "member quit", d, "op_user_id", "op_user_name", "room_conversation_id", "room_name")
	if d["op_user_id"] != customer2 || d["op_user_name"] != "依然" || d["room_conversation_id"] != w.room || quit["wxid"] != acctA {
		t.Errorf("member quit %v", quit)
	}
	if rm, _ := w.sim.Room(w.room); slices.Contains(rm.Members, customer2) {
		t.Errorf("members %v", rm.Members)
	}
	for _, tc := range []struct {
		name       string
		room, user string
		want       error
	}{
		{"not a member", w.room, customer2, ErrInvalid},
		{"unknown room", "R:1", customer1, ErrUnknownRoom},
	} {
		if err := w.sim.QuitRoom(ctx, tc.room, tc.user); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	must(t, w.sim.DisbandRoom(ctx, w.room))
	gray := w.rx.waitFor(t, ctx, "chat_gray_msg", 1)
	if gd := gray["data"].(map[string]any); gd["conversation_id"] != w.room {
		t.Errorf("disband notice %v", gd)
	}
	if _, ok := w.sim.Room(w.room); ok {
		t.Error("the disbanded room is still there")
	}
	if l := list(t, w.ok(http.MethodGet, "/group/list", map[string]any{"wxId": acctA})); len(l) != 0 {
		t.Errorf("groups after disbanding: %v", l)
	}
	if a := w.call(http.MethodPost, "/msg/text", textMsg(acctA, w.room, "x")); a.Code != CodeInvalidConversation {
		t.Errorf("send to a disbanded room: code %d", a.Code)
	}
	if err := w.sim.DisbandRoom(ctx, w.room); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("disbanding twice: %v", err)
	}
}

// TestGroupPrivileges: the vendor's quirks: plain members' removals and
// notices are answered success but change nothing; internal groups keep
// outsiders out quietly.
func TestGroupPrivileges(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	colleague := "1688850000000003"
	_, err := w.sim.Seed(Account{WxID: colleague, Nickname: "Cara"})
	must(t, err)
	theirs, err := w.sim.AddRoom(Room{Owner: customer1, Members: []string{acctA, customer2}})
	must(t, err)
	internal, err := w.sim.AddRoom(Room{Name: "内部群", Owner: acctA, Members: []string{acctB}})
	must(t, err)
	administered, err := w.sim.AddRoom(Room{Owner: customer1, Members: []string{acctA, customer2}, Admins: []string{acctA}})
	must(t, err)

	steps := []struct {
		name        string
		method      string
		path        string
		args        map[string]any
		room        string
		wantMembers []string
		wantNotice  string
	}{
		{"a plain member removes", http.MethodDelete, "/group/member",
			map[string]any{"wxId": acctA, "conversationId": theirs.ID, "memberWxIds": customer2},
			theirs.ID, []string{customer1, acctA, customer2}, ""},
		{"a plain member posts a notice", http.MethodPost, "/group/notice",
			map[string]any{"wxId": acctA, "conversationId": theirs.ID, "content": "hello"},
			theirs.ID, []string{customer1, acctA, customer2}, ""},
		{"an admin removes", http.MethodDelete, "/group/member",
			map[string]any{"wxId": acctA, "conversationId": administered.ID, "memberWxIds": []string{customer2, customer1}},
			administered.ID, []string{customer1, acctA}, ""},
		{"an outsider invited to an internal group", http.MethodPost, "/group/member",
			map[string]any{"wxId": acctA, "conversationId": internal.ID, "memberWxIds": customer1},
			internal.ID, []string{acctA, acctB}, ""},
		{"a colleague invited to an internal group", http.MethodPost, "/group/member",
			map[string]any{"wxId": acctA, "conversationId": internal.ID, "memberWxIds": colleague + "," + acctB},
			internal.ID, []string{acctA, acctB, colleague}, ""},
		{"the owner posts a notice", http.MethodPost, "/group/notice",
			map[string]any{"wxId": acctA, "conversationId": internal.ID, "content": "周会"},
			internal.ID, []string{acctA, acctB, colleague}, "周会"},
	}
	for _, st := range steps {
		a := w.call(st.method, st.path, st.args)
		if a.Code != CodeOK {
			t.Fatalf("%s: code %d %s", st.name, a.Code, a.Msg)
		}
		rm, _ := w.sim.Room(st.room)
		if !slices.Equal(rm.Members, st.wantMembers) || rm.Notice != st.wantNotice {
			t.Errorf("%s: members %v notice %q; want %v %q", st.name, rm.Members, rm.Notice, st.wantMembers, st.wantNotice)
		}
	}
	ctx := testCtx(t)
	must(t, w.sim.Flush(ctx))
	// The colleague's joining is told to the three accounts in the group.
	if n := len(w.rx.ofType("notify_type_room_add_member")); n != 3 {
		t.Errorf("%d add-member callbacks, want 3", n)
	}
	if l := list(t, w.ok(http.MethodGet, "/group/list", map[string]any{"wxId": acctB})); len(l) != 1 || l[0]["is_external"] != 0.0 || l[0]["nickname"] != "内部群" {
		t.Errorf("B's groups %v", l)
	}
}

// TestDrivers checks the driving methods refuse bad input.
func TestDrivers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	s := w.sim
	errOf := func(_ any, err error) error { return err }
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"seed without a wxid", errOf(s.Seed(Account{})), ErrInvalid},
		{"seed an online account", errOf(s.Seed(Account{WxID: acctA})), ErrExists},
		{"seed into a taken container", errOf(s.Seed(Account{WxID: "1688850000000099", Hostname: w.hostA})), ErrExists},
		{"contact without an id", s.AddContact(acctA, Contact{}), ErrInvalid},
		{"contact of nobody", s.AddContact("nobody", Contact{UserID: customer1}), ErrUnknownAccount},
		{"contact of oneself", s.AddContact(acctA, Contact{UserID: acctA}), ErrInvalid},
		{"person without a mobile", s.AddPerson(Contact{UserID: stranger}), ErrInvalid},
		{"room without an owner", errOf(s.AddRoom(Room{})), ErrInvalid},
		{"room id without R:", errOf(s.AddRoom(Room{ID: "123", Owner: acctA})), ErrInvalid},
		{"room twice", errOf(s.AddRoom(Room{ID: w.room, Owner: acctA})), ErrExists},
		{"admin not a member", errOf(s.AddRoom(Room{Owner: acctA, Admins: []string{stranger}})), ErrInvalid},
		{"label without a name", errOf(s.AddLabel(acctA, " ")), ErrInvalid},
		{"label of nobody", errOf(s.AddLabel("nobody", "x")), ErrUnknownAccount},
		{"label twice", errOf(s.AddLabel(acctA, "vip")), ErrExists},
		{"mini program without an app", errOf(s.AddMiniProgram(MiniProgram{Title: "x"})), ErrInvalid},
		{"mini program id taken", errOf(s.AddMiniProgram(MiniProgram{ID: 1, Username: "u", AppID: "a", Title: "t"})), ErrExists},
		{"video without a url", errOf(s.AddVideoNum(VideoNum{})), ErrInvalid},
		{"batch for nobody", s.PostBatchConfirm(ctx, "nobody", "x"), ErrUnknownAccount},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}

	id, err := s.AddMiniProgram(MiniProgram{Username: "gh_x@app", AppID: "wx9", Title: "Shop"})
	must(t, err)
	vid, err := s.AddVideoNum(VideoNum{URL: "https://channels.example.test/v"})
	must(t, err)
	if id != 2 || vid != 2 {
		t.Errorf("ids %d and %d, want 2 (after the samples)", id, vid)
	}
	w.ok(http.MethodPost, "/miniProgram/send", map[string]any{"wxId": acctA, "conversationId": convA1, "miniProgramId": id})
	if sent := s.Sent(); len(sent) != 1 || sent[0].Content != "Shop" || sent[0].Args["appid"] != "wx9" || sent[0].Args["miniprogramid"] != int64(2) {
		t.Errorf("sent %+v", sent)
	}
}
