package wechat

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/wechat/sim"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// simRegistry is a registry whose wechat client talks to a simulator, and
// a receiver that normalizes the simulator's callbacks into events.
func simRegistry(t *testing.T, opts sim.Options) (*bindings.Registry, *sim.Sim, chan *event.Event) {
	t.Helper()
	events := make(chan *event.Event, 64)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		evs, err := Normalize(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, ev := range evs {
			events <- ev
		}
		_, _ = io.WriteString(w, `{"code":0}`)
	}))
	t.Cleanup(recv.Close)
	opts.CallbackURL = recv.URL
	s := sim.New(opts)
	t.Cleanup(s.Close)
	api := httptest.NewServer(s.Handler())
	t.Cleanup(api.Close)
	reg := bindings.NewRegistry()
	if err := reg.Add(Vendor(NewClient(Config{BaseURL: api.URL, HTTP: api.Client(), Timeout: 5 * time.Second}))); err != nil {
		t.Fatal(err)
	}
	return reg, s, events
}

func nextEvent(t *testing.T, events chan *event.Event) *event.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func TestRoundTripWithSimulator(t *testing.T) {
	t.Parallel()
	reg, s, events := simRegistry(t, sim.Options{})
	ctx := testContext(t)
	guid, err := s.Seed(sim.Instance{})
	if err != nil {
		t.Fatal(err)
	}
	invoke := func(method string, args map[string]any) map[string]any {
		t.Helper()
		data, err := reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: method, Args: args})
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s answered %s", method, data)
		}
		return m
	}

	// Log in by QR code; every step arrives as an event.
	qr := invoke("login.getLoginQrcode", map[string]any{"guid": guid})
	if ev := nextEvent(t, events); ev.Type != event.TypeLoginQRCode || ev.Data["state"] != "waiting" || ev.Data["uuid"] != qr["uuid"] {
		t.Fatalf("qr event %+v", ev)
	}
	if err := s.ScanQR(ctx, guid, sim.Account{WxID: "wxid_me", Nickname: "Me"}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, events); ev.Data["state"] != "scanned" || ev.Data["nickname"] != "Me" {
		t.Fatalf("scanned event %+v", ev)
	}
	code, err := s.RequireVerify(ctx, guid)
	if err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, events)
	verify, _ := ev.Data["verify"].(map[string]any)
	if ev.Data["state"] != "need_verify" || verify["path"] != VerifyPath {
		t.Fatalf("verify event %+v", ev)
	}
	verifyEP, _ := reg.Lookup(Name, NameOf(VerifyPath))
	if verifyEP == nil {
		t.Fatalf("the endpoint %s the event names is not bound", VerifyPath)
	}
	invoke(verifyEP.Name, map[string]any{"guid": guid, "code": code})
	wantTypes := []string{event.TypeLoginQRCode, event.TypeLogin, event.TypeSystemInitFinished, event.TypeSystemContactsSync}
	for _, want := range wantTypes {
		if ev := nextEvent(t, events); ev.Type != want || ev.Account != guid {
			t.Fatalf("event %s of %s, want %s", ev.Type, ev.Account, want)
		}
	}
	if p := invoke("user.getProfile", map[string]any{"guid": guid}); p["user_name"] != "wxid_me" {
		t.Errorf("profile %v", p)
	}

	// A friend request, accepted; a message from the new friend, answered
	// through ev.reply's mapping.
	v3, v4, err := s.FriendRequest(ctx, guid, sim.Person{WxID: "wxid_bob", Nickname: "Bob"}, "hi")
	if err != nil {
		t.Fatal(err)
	}
	req := nextEvent(t, events)
	if req.Type != event.TypeFriendRequest || req.Data["encrypt_user_name"] != v3 || req.Data["ticket"] != v4 {
		t.Fatalf("friend request %+v", req)
	}
	invoke("contact.verifyFriend", map[string]any{"guid": guid, "v3": req.Data["encrypt_user_name"], "v4": req.Data["ticket"]})
	if ev := nextEvent(t, events); ev.Type != event.TypeContactAdded || ev.Conversation.ID != "S:wxid_bob" {
		t.Fatalf("contact added %+v", ev)
	}
	if err := s.Say(ctx, sim.Incoming{GUID: guid, From: "wxid_bob", Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	msg := nextEvent(t, events)
	for _, content := range []map[string]any{
		{"text": "pong"},
		{"image": "https://example.com/a.png"},
		{"file": "https://example.com/r.pdf"},
		{"link": map[string]any{"title": "T", "url": "https://example.com"}},
		{"location": map[string]any{"latitude": 31.2, "longitude": 121.4}},
	} {
		call, err := reg.Reply(msg, content)
		if err != nil {
			t.Fatal(err)
		}
		if ep, _ := reg.Lookup(Name, call.Method); ep.Class != bindings.Send {
			t.Errorf("%s is not a send", call.Method)
		}
		if _, err := reg.Invoke(ctx, call); err != nil {
			t.Fatalf("reply %v: %v", content, err)
		}
	}
	sent, err := s.WaitSent(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{"text", "image", "file", "link_card", "location"}
	for i, k := range kinds {
		if sent[i].Kind != k || sent[i].To != "wxid_bob" || sent[i].GUID != guid {
			t.Errorf("send %d: %+v, want %s to wxid_bob", i, sent[i], k)
		}
	}
	if sent[0].Content != "pong" {
		t.Errorf("the text reply sent %q", sent[0].Content)
	}

	// call reaches a path without its own endpoint: the simulator answers
	// as an API without that route would, and records it.
	_, err = reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: "call",
		Args: map[string]any{"path": "/room/get_chatroom_detail", "body": map[string]any{"guid": guid, "room_username": "1@chatroom"}}})
	var ve *bindings.VendorError
	if !errors.As(err, &ve) || ve.Code != sim.CodeNoRoute || ve.HTTPStatus != 404 {
		t.Errorf("call to an unimplemented path: %v", err)
	}
	un := s.Unhandled()
	if len(un) != 1 || un[0].Path != "/room/get_chatroom_detail" || un[0].GUID != guid || un[0].Body["room_username"] != "1@chatroom" {
		t.Errorf("unhandled %+v", un)
	}
	// and a documented path too, the same as its own endpoint.
	data, err := reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: "call",
		Args: map[string]any{"path": "/client/get_client_version", "body": map[string]any{"guid": guid}}})
	if err != nil || string(data) != `{"version":"`+sim.DefaultVersion+`"}` {
		t.Errorf("call to a documented path: %s, %v", data, err)
	}
	// The simulator's refusals come back as typed errors.
	_, err = reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: "msg.sendText",
		Args: map[string]any{"guid": guid, "to_username": "wxid_stranger", "content": "x"}})
	if !errors.As(err, &ve) || ve.Code != sim.CodeFailed {
		t.Errorf("a send to a stranger: %v", err)
	}
	_, err = reg.Invoke(ctx, bindings.Call{Vendor: Name, Method: "call",
		Args: map[string]any{"path": "/client/set_notify_url", "body": map[string]any{"guid": guid}}})
	if !errors.As(err, &ve) || ve.Code != CodeValidation || ve.HTTPStatus != 422 {
		t.Errorf("a call the vendor does not validate: %v", err)
	}
}

func TestRoundTripBlock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := make(chan time.Time, 1)
	clock <- now
	tick := func() time.Time { t := <-clock; clock <- t; return t }
	reg, s, _ := simRegistry(t, sim.Options{CallsPerMinute: 3, Clock: tick})
	ctx := testContext(t)
	guid, _ := s.Seed(sim.Instance{Account: &sim.Account{WxID: "wxid_me"}})
	status := bindings.Call{Vendor: Name, Method: "client.getClientStatus", Args: map[string]any{"guid": guid}}
	for range 3 {
		if _, err := reg.Invoke(ctx, status); err != nil {
			t.Fatal(err)
		}
	}
	_, err := reg.Invoke(ctx, status)
	if !errors.Is(err, bindings.ErrVendorThrottled) {
		t.Fatalf("the fourth call in a minute: %v", err)
	}
	if info := bindings.Describe(Name, err); info.Code != CodeBlocked || info.Vendor != Name {
		t.Errorf("plugins see %+v", info)
	}
	<-clock
	clock <- now.Add(sim.DefaultBlockFor)
	if _, err := reg.Invoke(ctx, status); err != nil {
		t.Errorf("after the block: %v", err)
	}
}
