package sim

import (
	"errors"
	"testing"
	"time"
)

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	if st := f.ok(t, "/client/get_client_status", map[string]any{"guid": guid}); st["status"] != "running" || st["is_login"] != true || st["wxid"] != "wxid_alice" {
		t.Errorf("status %v", st)
	}
	if v := f.ok(t, "/client/get_client_version", map[string]any{"guid": guid}); v["version"] != DefaultVersion {
		t.Errorf("version %v", v)
	}
	if v := f.ok(t, "/client/update_client", map[string]any{"guid": guid}); v["version"] != "8.0.50" {
		t.Errorf("updated version %v", v)
	}
	f.ok(t, "/client/stop_client", map[string]any{"guid": guid})
	if st := f.ok(t, "/client/get_client_status", map[string]any{"guid": guid}); st["status"] != "stopped" {
		t.Errorf("status %v", st)
	}
	f.refused(t, "/user/get_profile", map[string]any{"guid": guid}, 200, CodeStopped)
	f.refused(t, "/msg/send_text", map[string]any{"guid": guid, "to_username": "wxid_bob", "content": "x"}, 200, CodeStopped)
	if err := f.sim.Say(testContext(t), Incoming{GUID: guid, From: "wxid_bob", Text: "hi"}); !errors.Is(err, ErrState) {
		t.Errorf("a message to a stopped instance: %v", err)
	}
	f.ok(t, "/client/restore_client", map[string]any{"guid": guid})
	f.recv.expectTypes(t, NotifyReady)
	f.ok(t, "/user/get_profile", map[string]any{"guid": guid})

	f.ok(t, "/client/set_bridge", map[string]any{"guid": guid, "bridge": "b-1"})
	f.ok(t, "/client/set_proxy", map[string]any{"guid": guid, "proxy": "socks5://u:p@127.0.0.1:1080"})
	st, err := f.sim.Status(guid)
	if err != nil || st.Bridge != "b-1" || st.Proxy != "socks5://u:p@127.0.0.1:1080" || st.Version != "8.0.50" {
		t.Errorf("status %+v, error %v", st, err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	cases := []struct {
		name  string
		path  string
		body  map[string]any
		field string
	}{
		{"no guid", "/client/get_client_status", map[string]any{}, "guid"},
		{"guid not a string", "/client/get_client_status", map[string]any{"guid": []any{"x"}}, "guid"},
		{"no notify url", "/client/set_notify_url", map[string]any{"guid": guid}, "notify_url"},
		{"notify url without scheme", "/client/set_notify_url", map[string]any{"guid": guid, "notify_url": "127.0.0.1/cb"}, "notify_url"},
		{"proxy without host", "/client/set_proxy", map[string]any{"guid": guid, "proxy": "socks5://"}, "proxy"},
		{"username list not a list", "/contact/get_contact", map[string]any{"guid": guid, "username_list": "wxid_bob"}, "username_list"},
		{"empty username list", "/contact/batch_get_contact_brief_info", map[string]any{"guid": guid, "username_list": []any{}}, "username_list"},
		{"seq not a number", "/contact/init_contact", map[string]any{"guid": guid, "contact_seq": "x"}, "contact_seq"},
		{"top flag not a bool", "/contact/modify_contact_top_flag", map[string]any{"guid": guid, "user_name": "wxid_bob", "is_top": "maybe"}, "is_top"},
		{"send without content", "/msg/send_text", map[string]any{"guid": guid, "to_username": "wxid_bob"}, "content"},
		{"image without a URL", "/msg/send_image", map[string]any{"guid": guid, "to_username": "wxid_bob", "url": "a.png"}, "url"},
		{"location off the globe", "/msg/send_location", map[string]any{"guid": guid, "to_username": "wxid_bob", "latitude": 95, "longitude": 1}, "latitude"},
		{"file name a path", "/msg/send_file", map[string]any{"guid": guid, "to_username": "wxid_bob", "url": "http://x/f", "file_name": "../f"}, "file_name"},
		{"voice too long", "/msg/send_voice", map[string]any{"guid": guid, "to_username": "wxid_bob", "url": "http://x/v", "duration": 61000}, "duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := f.refused(t, c.path, c.body, 422, CodeValidation)
			if a.Message != "Validation Error" || len(a.Errors) != 1 {
				t.Fatalf("answer %+v", a)
			}
			loc, _ := a.Errors[0].(map[string]any)["loc"].([]any)
			if len(loc) != 2 || loc[0] != "body" || loc[1] != c.field {
				t.Errorf("errors %v, want the location body.%s", a.Errors, c.field)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		t.Parallel()
		resp, err := f.srv.Client().Post(f.srv.URL+"/user/get_profile", "application/json", stringReader("{guid"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 422 {
			t.Errorf("HTTP %d", resp.StatusCode)
		}
	})
	t.Run("unknown instance", func(t *testing.T) {
		t.Parallel()
		f.refused(t, "/user/get_profile", map[string]any{"guid": "nope"}, 200, CodeNoInstance)
	})
}

func TestUnknownPathsAreRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid := f.loggedIn(t)
	body := map[string]any{"guid": guid, "room_username": "100@chatroom"}
	a := f.refused(t, "/room/get_chatroom_detail", body, 404, CodeNoRoute)
	if a.Message == "" {
		t.Error("no message")
	}
	f.refused(t, "/nowhere", map[string]any{}, 404, CodeNoRoute)
	got := f.sim.Unhandled()
	if len(got) != 2 || got[0].Path != "/room/get_chatroom_detail" || got[0].GUID != guid || got[0].Body["room_username"] != "100@chatroom" ||
		got[1].Path != "/nowhere" || got[1].GUID != "" {
		t.Errorf("unhandled %+v", got)
	}
	resp, err := f.srv.Client().Get(f.srv.URL + "/user/get_profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET answered HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestCallLimitBlocksTheInstance(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{CallsPerMinute: 5, BlockFor: 30 * time.Minute})
	guid := f.loggedIn(t)
	other := f.loggedIn(t)
	status := map[string]any{"guid": guid}
	for i := range 5 {
		f.ok(t, "/client/get_client_status", status)
		f.clock.Advance(time.Second)
		_ = i
	}
	a := f.refused(t, "/user/get_profile", status, 429, CodeBlocked)
	if a.Message == "" {
		t.Error("the block says nothing")
	}
	f.ok(t, "/user/get_profile", map[string]any{"guid": other})
	if st, _ := f.sim.Status(guid); !st.BlockedUntil.Equal(f.clock.Now().Add(30 * time.Minute)) {
		t.Errorf("blocked until %v", st.BlockedUntil)
	}
	f.clock.Advance(29 * time.Minute)
	f.refused(t, "/client/get_client_status", status, 429, CodeBlocked)
	f.refused(t, "/room/unknown", status, 429, CodeBlocked) // unknown paths count too
	f.clock.Advance(time.Minute)
	f.ok(t, "/client/get_client_status", status)

	// Calls spread over more than a minute never block.
	spread := f.loggedIn(t)
	for range 20 {
		f.ok(t, "/client/get_client_status", map[string]any{"guid": spread})
		f.clock.Advance(13 * time.Second)
	}
}

func TestCallLimitDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{CallsPerMinute: -1})
	guid := f.loggedIn(t)
	for range 150 {
		f.ok(t, "/client/get_client_status", map[string]any{"guid": guid})
	}
}

func TestSeedRefusesBadInstances(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   Instance
		want error
	}{
		{"account without wxid", Instance{Account: &Account{}}, ErrInvalid},
		{"contact without wxid", Instance{Contacts: []Contact{{}}}, ErrInvalid},
		{"room as a contact", Instance{Contacts: []Contact{{Person: Person{WxID: "1@chatroom"}}}}, ErrInvalid},
		{"contact twice", Instance{Contacts: []Contact{{Person: Person{WxID: "a"}}, {Person: Person{WxID: "a"}}}}, ErrExists},
		{"contact of type room", Instance{Contacts: []Contact{{Person: Person{WxID: "a"}, Type: ContactChatRoom}}}, ErrInvalid},
		{"unknown label", Instance{Contacts: []Contact{{Person: Person{WxID: "a"}, Labels: []int{7}}}}, ErrInvalid},
		{"label without name", Instance{Labels: []Label{{ID: 1}}}, ErrInvalid},
		{"room id", Instance{Rooms: []Room{{ID: "room-1"}}}, ErrInvalid},
	}
	s := New(Options{})
	defer s.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Seed(c.in); !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	if _, err := s.Seed(Instance{GUID: "g"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seed(Instance{GUID: "g"}); !errors.Is(err, ErrExists) {
		t.Errorf("seeding g twice: %v", err)
	}
	s.Reset()
	if got := s.Instances(); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}
}
