package wework_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/wework"
	"github.com/switchboard-dev/switchboard/bindings/wework/sim"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// rig is a simulator, a registry whose wework client talks to it, and a
// callback receiver that normalizes what the simulator posts.
type rig struct {
	sim    *sim.Sim
	client *wework.Client
	reg    *bindings.Registry
	events chan *event.Event
	cbURL  string
}

func newRig(t *testing.T, interval time.Duration) *rig {
	t.Helper()
	r := &rig{events: make(chan *event.Event, 64)}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		evs, err := wework.Normalize(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, ev := range evs {
			r.events <- ev
		}
		_, _ = io.WriteString(w, `{"code":0}`)
	}))
	t.Cleanup(cb.Close)
	r.cbURL = cb.URL + "/callback/wework"
	r.sim = sim.New(sim.Options{CallbackURL: r.cbURL, SendInterval: interval})
	t.Cleanup(r.sim.Close)
	api := httptest.NewServer(r.sim.Handler())
	t.Cleanup(api.Close)
	r.client = wework.NewClient(wework.Config{BaseURL: api.URL})
	r.reg = bindings.NewRegistry()
	if err := r.reg.Add(wework.Vendor(r.client)); err != nil {
		t.Fatal(err)
	}
	return r
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (r *rig) call(t *testing.T, method string, args map[string]any) (json.RawMessage, error) {
	t.Helper()
	return r.reg.Invoke(ctxFor(t), bindings.Call{Vendor: wework.Name, Method: method, Args: args})
}

func (r *rig) must(t *testing.T, method string, args map[string]any, into any) {
	t.Helper()
	data, err := r.call(t, method, args)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			t.Fatalf("%s answered %s: %v", method, data, err)
		}
	}
}

// next waits for the next normalized event.
func (r *rig) next(t *testing.T) *event.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-ctxFor(t).Done():
		t.Fatal("no callback arrived")
		return nil
	}
}

func TestSimulatorServesEveryEndpoint(t *testing.T) {
	t.Parallel()
	var paths []string
	for _, ep := range wework.Endpoints {
		paths = append(paths, ep.Path)
	}
	slices.Sort(paths)
	served := sim.Paths()
	slices.Sort(served)
	if !slices.Equal(paths, served) {
		t.Errorf("the simulator serves %v, the binding describes %v", served, paths)
	}
}

func TestRoundTripLoginWithVerifyCode(t *testing.T) {
	t.Parallel()
	r := newRig(t, -1)
	var created struct{ GUID string }
	r.must(t, "client.createClient", map[string]any{}, &created)
	if created.GUID == "" {
		t.Fatal("create_client answered no guid")
	}
	var all []string
	r.must(t, "client.allClients", nil, &all)
	if !slices.Equal(all, []string{created.GUID}) {
		t.Errorf("all_clients %v", all)
	}
	var st struct{ Status int }
	r.must(t, "client.getClientStatus", map[string]any{"guid": created.GUID}, &st)
	if st.Status != sim.StatusRunning {
		t.Errorf("status %d, want running", st.Status)
	}
	r.must(t, "client.setNotifyUrl", map[string]any{"guid": created.GUID, "notify_url": r.cbURL}, nil)
	var qr struct {
		Content string `json:"qrcode_content"`
		Key     string `json:"qrcode_key"`
	}
	r.must(t, "login.getLoginQrcode", map[string]any{"guid": created.GUID}, &qr)
	if ev := r.next(t); ev.Type != event.TypeLoginQRCode || ev.Data["qrcode"] != qr.Content || ev.Account != created.GUID {
		t.Fatalf("first event %s %v", ev.Type, ev.Data)
	}
	login, err := r.sim.ScanQR(ctxFor(t), created.GUID, sim.Scan{User: sim.User{UserID: "1688856214724417", Name: "郝永平"}, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scanned", "need_verify"} {
		if ev := r.next(t); ev.Data["state"] != want {
			t.Fatalf("state %v, want %s", ev.Data["state"], want)
		}
	}
	_, err = r.call(t, "login.verifyLoginQrcode", map[string]any{"guid": created.GUID, "code": "x" + login.VerifyCode, "qrcode_key": qr.Key})
	var ve *bindings.VendorError
	if !errors.As(err, &ve) || ve.Code != sim.CodeVerifyFailed {
		t.Fatalf("wrong code: error %v, want vendor code %d", err, sim.CodeVerifyFailed)
	}
	r.must(t, "login.verifyLoginQrcode", map[string]any{"guid": created.GUID, "code": login.VerifyCode, "qrcode_key": qr.Key}, nil)
	if ev := r.next(t); ev.Data["state"] != "confirmed" {
		t.Errorf("state %v, want confirmed", ev.Data["state"])
	}
	if ev := r.next(t); ev.Type != event.TypeLogin || ev.Data["user_id"] != "1688856214724417" || ev.Data["name"] != "郝永平" {
		t.Errorf("login event %s %v", ev.Type, ev.Data)
	}
	r.must(t, "client.getClientStatus", map[string]any{"guid": created.GUID}, &st)
	if st.Status != sim.StatusOnline {
		t.Errorf("status %d, want online", st.Status)
	}
	r.must(t, "client.removeClient", map[string]any{"guid": created.GUID}, nil)
	if ev := r.next(t); ev.Type != event.TypeLogout {
		t.Errorf("remove posted %s, want logout", ev.Type)
	}
	r.must(t, "client.allClients", nil, &all)
	if len(all) != 0 {
		t.Errorf("all_clients after remove: %v", all)
	}
}

func seedOnline(t *testing.T, r *rig) sim.Instance {
	t.Helper()
	in, err := r.sim.Seed(sim.Instance{
		User: &sim.User{UserID: "1688856214724417", Name: "郝永平"},
		Contacts: []sim.Contact{{UserID: "1688857160788209", Name: "李四"},
			{UserID: "7881300000000009", Name: "外部", NoExternalPermission: true}},
		Rooms: []sim.Room{{ID: "13102691282047519", Name: "项目群", Owner: "1688856214724417", Members: []string{"1688857160788209"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestRoundTripSessionsAndSends(t *testing.T) {
	t.Parallel()
	r := newRig(t, -1)
	in := seedOnline(t, r)

	var page struct {
		List  []string `json:"session_list"`
		Begin string   `json:"begin_seq"`
	}
	r.must(t, "session.getSessionList", map[string]any{"guid": in.GUID, "begin_seq": "0", "limit": 2}, &page)
	first := slices.Clone(page.List)
	r.must(t, "session.getSessionList", map[string]any{"guid": in.GUID, "begin_seq": page.Begin, "limit": 2}, &page)
	if all := append(first, page.List...); !slices.Equal(all, []string{"S:1688857160788209", "S:7881300000000009", "R:13102691282047519"}) {
		t.Errorf("sessions over two pages: %v", all)
	}

	var sent struct {
		MsgData map[string]any `json:"msg_data"`
	}
	r.must(t, "msg.sendText", map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": "测试一条消息"}, &sent)
	if sent.MsgData["receiver"] != "1688857160788209" || sent.MsgData["sender"] != "1688856214724417" {
		t.Errorf("msg_data %v", sent.MsgData)
	}
	ev := r.next(t)
	if ev.Type != event.TypeMessage || !ev.Message.Self || ev.Message.Text != "测试一条消息" ||
		ev.Conversation.ID != "S:1688857160788209" || ev.Message.ID != sent.MsgData["id"] {
		t.Errorf("self-sent sync: %+v %+v", ev.Message, ev.Conversation)
	}
	// The answer's record decodes to the same text through the normalizer.
	rec, _ := json.Marshal(map[string]any{"guid": in.GUID, "notify_type": 11010, "data": sent.MsgData})
	evs, err := wework.Normalize(rec)
	if err != nil || evs[0].Message.Text != "测试一条消息" || evs[0].Message.From.Name != "郝永平" {
		t.Errorf("msg_data normalizes to %+v, %v", evs[0].Message, err)
	}

	r.must(t, "msg.sendRoomAt", map[string]any{"guid": in.GUID, "conversation_id": "R:13102691282047519",
		"content": "{$@} 明天开会", "at_list": []any{"1688857160788209"}}, nil)
	ev = r.next(t)
	if ev.Message.Text != "@李四 明天开会" || !slices.Equal(ev.Message.Mentions, []string{"1688857160788209"}) || ev.Conversation.Kind != event.ConversationGroup {
		t.Errorf("room sync: %+v", ev.Message)
	}
	r.must(t, "msg.sendRoomAt", map[string]any{"guid": in.GUID, "conversation_id": "R:13102691282047519",
		"content": "全体注意", "at_list": []any{"all"}}, nil)
	if ev = r.next(t); ev.Data["mention_all"] != true {
		t.Errorf("mention everyone: data %v", ev.Data)
	}
	got := r.sim.Sent()
	if len(got) != 3 || got[1].Kind != "room_at" || !slices.Equal(got[2].AtList, []string{"0"}) {
		t.Errorf("recorded sends %+v", got)
	}

	for _, tc := range []struct {
		name string
		args map[string]any
		is   error
		code int
	}{
		{name: "no external permission", args: map[string]any{"conversation_id": "S:7881300000000009", "content": "hi"},
			is: bindings.ErrNoExternalPermission, code: -4017},
		{name: "not a conversation of the instance", args: map[string]any{"conversation_id": "S:999", "content": "hi"},
			is: bindings.ErrInvalidConversation, code: -2003},
		{name: "bare id refused before sending", args: map[string]any{"conversation_id": "1688857160788209", "content": "hi"},
			is: bindings.ErrInvalidConversation},
	} {
		args := tc.args
		args["guid"] = in.GUID
		_, err := r.call(t, "msg.sendText", args)
		if !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.is)
		}
		var ve *bindings.VendorError
		if tc.code != 0 && (!errors.As(err, &ve) || ve.Code != tc.code) {
			t.Errorf("%s: error %v, want vendor code %d", tc.name, err, tc.code)
		}
		if tc.code == 0 && errors.As(err, &ve) {
			t.Errorf("%s: reached the vendor: %v", tc.name, err)
		}
	}
	if n := len(r.sim.Sent()); n != 3 {
		t.Errorf("%d sends recorded after refusals, want 3", n)
	}
}

func TestRoundTripReplyToAReceivedMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t, -1)
	in := seedOnline(t, r)
	if err := r.sim.Say(ctxFor(t), sim.Incoming{GUID: in.GUID, From: "1688857160788209", Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	ev := r.next(t)
	if ev.Message.Self || ev.Message.Text != "ping" || ev.Conversation.ID != "S:1688857160788209" {
		t.Fatalf("received %+v in %+v", ev.Message, ev.Conversation)
	}
	c, err := r.reg.Reply(ev, map[string]any{"text": "pong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.reg.Invoke(ctxFor(t), c); err != nil {
		t.Fatal(err)
	}
	sent, err := r.sim.WaitSent(ctxFor(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := sent[0]; s.GUID != in.GUID || s.ConversationID != "S:1688857160788209" || s.Content != "pong" || s.Kind != "text" {
		t.Errorf("reply sent %+v", s)
	}
}

func TestRoundTripSendInterval(t *testing.T) {
	t.Parallel()
	r := newRig(t, time.Hour)
	in := seedOnline(t, r)
	args := map[string]any{"guid": in.GUID, "conversation_id": "S:1688857160788209", "content": "one"}
	r.must(t, "msg.sendText", args, nil)
	_, err := r.call(t, "msg.sendText", args)
	if !errors.Is(err, bindings.ErrVendorThrottled) || bindings.Transient(err) {
		t.Errorf("second send: %v, want the vendor's frequency limit (not transient)", err)
	}
	if r.sim.Violations() != 1 || len(r.sim.Sent()) != 1 {
		t.Errorf("violations %d, sends %d", r.sim.Violations(), len(r.sim.Sent()))
	}
}
