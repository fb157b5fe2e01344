package sim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{MaxInstances: 2})

	a := call(t, s, http.MethodGet, "/client/all_clients", nil)
	if a.Code != nil || a.HTTP != 200 {
		t.Errorf("all_clients answers data alone, as the vendor does; got error_code %v", a.Code)
	}
	if a.Data != nil {
		t.Errorf("a server without instances answers data %v, want null as the vendor does", a.Data)
	}
	g1 := ok(t, s, "/client/create_client", map[string]any{}).obj()["guid"].(string)
	g2 := ok(t, s, "/client/create_client", map[string]any{"client_type": 241}).obj()["guid"].(string)
	if len(g1) != 36 || g1 == g2 {
		t.Errorf("guids %q %q", g1, g2)
	}
	refused(t, s, "/client/create_client", nil, CodeInstanceLimit)
	a = call(t, s, http.MethodPost, "/client/all_clients", "{}")
	if list, _ := a.Data.([]any); !slices.Equal(list, []any{g1, g2}) {
		t.Errorf("all_clients %v, want [%s %s]", a.Data, g1, g2)
	}
	in, _ := s.Instance(g2)
	if in.ClientType != 241 || in.Status != StatusRunning {
		t.Errorf("instance %+v", in)
	}
	if st := ok(t, s, "/client/get_client_status", map[string]any{"guid": g1}).obj()["status"]; st != float64(StatusRunning) {
		t.Errorf("status %v, want running", st)
	}

	online := seedOnlineWithLimit(t, s, g2)
	ok(t, s, "/client/remove_client", map[string]any{"guid": online})
	if cb := rcv.next(t); cb.NotifyType != NotifyLogout || cb.GUID != online {
		t.Errorf("removing an online instance posted %+v, want 11004", cb)
	}
	ok(t, s, "/client/remove_client", map[string]any{"guid": g1})
	refused(t, s, "/client/get_client_status", map[string]any{"guid": g1}, CodeNotFound)
	if got := s.Instances(); len(got) != 0 {
		t.Errorf("instances after removal: %+v", got)
	}
	select {
	case cb := <-rcv.bodies:
		t.Errorf("removing an instance that was not online posted %+v", cb)
	default:
	}
}

// seedOnlineWithLimit makes room by removing drop, then seeds an online
// instance and answers its guid.
func seedOnlineWithLimit(t *testing.T, s *Sim, drop string) string {
	t.Helper()
	ok(t, s, "/client/remove_client", map[string]any{"guid": drop})
	in, err := s.Seed(Instance{User: &User{UserID: me}})
	if err != nil {
		t.Fatal(err)
	}
	return in.GUID
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{})
	for _, tc := range []struct {
		name, method, path string
		body               any
		http, code         int
	}{
		{"not json", http.MethodPost, "/client/get_client_status", "{", 200, CodeBadRequest},
		{"json array", http.MethodPost, "/client/get_client_status", "[]", 200, CodeBadRequest},
		{"missing guid", http.MethodPost, "/client/get_client_status", "{}", 200, CodeBadRequest},
		{"guid not a string", http.MethodPost, "/client/get_client_status", `{"guid":{}}`, 200, CodeBadRequest},
		{"unknown guid", http.MethodPost, "/client/get_client_status", `{"guid":"x"}`, 200, CodeNotFound},
		{"bad client type", http.MethodPost, "/client/create_client", `{"client_type":"mac"}`, 200, CodeBadRequest},
		{"wrong method", http.MethodGet, "/msg/send_text", nil, 405, CodeBadRequest},
		{"unknown path", http.MethodPost, "/msg/send_video", "{}", 404, CodeBadRequest},
		{"body too large", http.MethodPost, "/client/create_client", `{"x":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 200, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := call(t, s, tc.method, tc.path, tc.body)
			if a.HTTP != tc.http || a.code() != tc.code || a.Message == "" {
				t.Errorf("HTTP %d error_code %d %q, want HTTP %d code %d with a message", a.HTTP, a.code(), a.Message, tc.http, tc.code)
			}
		})
	}
}

func TestNotifyURLAndBridge(t *testing.T) {
	t.Parallel()
	def, own := newReceiver(t), newReceiver(t)
	s := newSim(t, def, Options{})
	g := ok(t, s, "/client/create_client", nil).obj()["guid"].(string)
	for _, bad := range []string{"", "ftp://x/y", "no url", "http://"} {
		refused(t, s, "/client/set_notify_url", map[string]any{"guid": g, "notify_url": bad}, CodeBadRequest)
	}
	ok(t, s, "/login/get_login_qrcode", map[string]any{"guid": g})
	if cb := def.next(t); cb.NotifyType != NotifyQRCode {
		t.Errorf("before set_notify_url: %+v on the default URL", cb)
	}
	ok(t, s, "/client/set_notify_url", map[string]any{"guid": g, "notify_url": own.URL + "/mine"})
	ok(t, s, "/login/get_login_qrcode", map[string]any{"guid": g})
	if cb := own.next(t); cb.NotifyType != NotifyQRCode || cb.GUID != g {
		t.Errorf("after set_notify_url: %+v", cb)
	}
	refused(t, s, "/client/set_bridge", map[string]any{"guid": g}, CodeBadRequest)
	ok(t, s, "/client/set_bridge", map[string]any{"guid": g, "bridge": "proxy-1"})
	if in, _ := s.Instance(g); in.Bridge != "proxy-1" || in.NotifyURL != own.URL+"/mine" {
		t.Errorf("instance %+v", in)
	}
	if err := s.Flush(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if cbs := s.Callbacks(); len(cbs) != 2 || cbs[0].URL == cbs[1].URL || !cbs[1].Delivered {
		t.Errorf("callbacks %+v", cbs)
	}
}

// qrLoginOf creates an instance and issues its QR code; it answers the
// guid and the QR key, after the new-code callback.
func qrLoginOf(t *testing.T, s *Sim, rcv *receiver) (string, string) {
	t.Helper()
	g := ok(t, s, "/client/create_client", nil).obj()["guid"].(string)
	d := ok(t, s, "/login/get_login_qrcode", map[string]any{"guid": g}).obj()
	key, _ := d["qrcode_key"].(string)
	if content, _ := d["qrcode_content"].(string); key == "" || !strings.HasPrefix(content, "https://work.weixin.qq.com/") {
		t.Fatalf("qr code answer %v", d)
	}
	if cb := rcv.next(t); dataOf(cb)["qrcode_key"] != key || dataOf(cb)["status"] != nil {
		t.Fatalf("new qr code callback %+v", cb)
	}
	return g, key
}

// VerifyPathForTest is the verification endpoint.
const VerifyPathForTest = "/login/verify_login_qrcode"

// statuses reads n callbacks and names each: "qr" and the status for
// 11002, the notify type otherwise.
func statuses(t *testing.T, rcv *receiver, n int) []string {
	t.Helper()
	var out []string
	for range n {
		cb := rcv.next(t)
		if cb.NotifyType == NotifyQRCode {
			out = append(out, fmt.Sprintf("qr%v", dataOf(cb)["status"]))
			continue
		}
		out = append(out, fmt.Sprint(cb.NotifyType))
	}
	return out
}

func TestQRLogin(t *testing.T) {
	t.Parallel()
	user := User{UserID: me, Name: "郝永平", CorpID: "1970325084112345"}
	t.Run("plain scan", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		s := newSim(t, rcv, Options{})
		g, _ := qrLoginOf(t, s, rcv)
		login, err := s.ScanQR(ctxFor(t), g, Scan{User: user})
		if err != nil || login.Status != QRLoggedIn {
			t.Fatalf("scan: %+v, %v", login, err)
		}
		if got := statuses(t, rcv, 3); !slices.Equal(got, []string{"qr1", "qr2", "11003"}) {
			t.Errorf("callbacks %v", got)
		}
		in, _ := s.Instance(g)
		if in.Status != StatusOnline || in.User == nil || in.User.Name != "郝永平" || in.QRCodeKey != "" {
			t.Errorf("instance %+v", in)
		}
		refused(t, s, "/login/get_login_qrcode", map[string]any{"guid": g}, CodeState)
		if _, err := s.ScanQR(ctxFor(t), g, Scan{User: user}); !errors.Is(err, ErrState) {
			t.Errorf("second scan: %v", err)
		}
		if err := s.Logout(ctxFor(t), g); err != nil {
			t.Fatal(err)
		}
		if cb := rcv.next(t); cb.NotifyType != NotifyLogout {
			t.Errorf("logout posted %+v", cb)
		}
		if in, _ := s.Instance(g); in.Status != StatusRunning || in.User != nil {
			t.Errorf("after logout %+v", in)
		}
	})
	t.Run("verify code", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		s := newSim(t, rcv, Options{})
		g, key := qrLoginOf(t, s, rcv)
		refused(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": "1"}, CodeState)
		login, err := s.ScanQR(ctxFor(t), g, Scan{User: user, Verify: true})
		if err != nil || login.Status != QRVerify || len(login.VerifyCode) != 6 {
			t.Fatalf("scan: %+v, %v", login, err)
		}
		if got := statuses(t, rcv, 2); !slices.Equal(got, []string{"qr1", "qr10"}) {
			t.Errorf("callbacks %v", got)
		}
		refused(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": login.VerifyCode, "qrcode_key": "other"}, CodeBadRequest)
		refused(t, s, VerifyPathForTest, map[string]any{"guid": g}, CodeBadRequest)
		a := refused(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": "x"}, CodeVerifyFailed)
		if !strings.Contains(a.Message, "2 attempts left") {
			t.Errorf("message %q", a.Message)
		}
		ok(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": login.VerifyCode, "qrcode_key": key})
		if got := statuses(t, rcv, 2); !slices.Equal(got, []string{"qr2", "11003"}) {
			t.Errorf("callbacks %v", got)
		}
		if in, _ := s.Instance(g); in.Status != StatusOnline {
			t.Errorf("status %d", in.Status)
		}
	})
	t.Run("three wrong codes", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		s := newSim(t, rcv, Options{})
		g, _ := qrLoginOf(t, s, rcv)
		if _, err := s.ScanQR(ctxFor(t), g, Scan{User: user, Verify: true}); err != nil {
			t.Fatal(err)
		}
		statuses(t, rcv, 2)
		for i := range MaxVerifyAttempts {
			a := refused(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": "wrong"}, CodeVerifyFailed)
			if last := i == MaxVerifyAttempts-1; last != strings.Contains(a.Message, "login failed") {
				t.Errorf("attempt %d: %q", i+1, a.Message)
			}
		}
		if got := statuses(t, rcv, 1); !slices.Equal(got, []string{"qr3"}) {
			t.Errorf("callbacks %v", got)
		}
		if in, _ := s.Instance(g); in.Status != StatusRunning || in.QRCodeKey != "" {
			t.Errorf("instance %+v", in)
		}
		refused(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": "wrong"}, CodeState)
	})
	for _, tc := range []struct {
		name   string
		scan   Scan
		status int
		want   []string
	}{
		{"refused", Scan{User: user, Refuse: true}, QRRefused, []string{"qr1", "qr4"}},
		{"failed", Scan{User: user, Fail: true}, QRFailed, []string{"qr1", "qr3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t)
			s := newSim(t, rcv, Options{})
			g, _ := qrLoginOf(t, s, rcv)
			login, err := s.ScanQR(ctxFor(t), g, tc.scan)
			if err != nil || login.Status != tc.status {
				t.Fatalf("scan %+v, %v", login, err)
			}
			if got := statuses(t, rcv, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("callbacks %v", got)
			}
			if in, _ := s.Instance(g); in.Status != StatusRunning || in.QRCodeKey != "" {
				t.Errorf("instance %+v", in)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		rcv := newReceiver(t)
		clk := newClock()
		s := newSim(t, rcv, Options{Clock: clk.Now, QRLifetime: time.Minute})
		g, _ := qrLoginOf(t, s, rcv)
		clk.Advance(2 * time.Minute)
		if _, err := s.ScanQR(ctxFor(t), g, Scan{User: user}); !errors.Is(err, ErrQRExpired) {
			t.Errorf("scan of an old code: %v", err)
		}
		if got := statuses(t, rcv, 1); !slices.Equal(got, []string{"qr3"}) {
			t.Errorf("callbacks %v", got)
		}
	})
	t.Run("bad scans", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, nil, Options{})
		g := ok(t, s, "/client/create_client", nil).obj()["guid"].(string)
		for name, tc := range map[string]struct {
			guid string
			scan Scan
			is   error
		}{
			"no user":      {g, Scan{}, ErrInvalid},
			"two outcomes": {g, Scan{User: user, Verify: true, Fail: true}, ErrInvalid},
			"unknown":      {"nope", Scan{User: user}, ErrUnknownInstance},
			"no qr code":   {g, Scan{User: user}, ErrState},
		} {
			if _, err := s.ScanQR(ctxFor(t), tc.guid, tc.scan); !errors.Is(err, tc.is) {
				t.Errorf("%s: %v, want %v", name, err, tc.is)
			}
		}
		stopped, _ := s.Seed(Instance{Stopped: true})
		refused(t, s, "/login/get_login_qrcode", map[string]any{"guid": stopped.GUID}, CodeState)
		if err := s.Logout(ctxFor(t), g); !errors.Is(err, ErrState) {
			t.Errorf("logout of an instance not online: %v", err)
		}
	})
}

func TestSessionList(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{})
	in := seedOnline(t, s)
	want := []string{"S:1688857160788209", "S:7881300000000009", "R:13102691282047519", "R:13102691536807585"}
	if !slices.Equal(in.Sessions, want) {
		t.Fatalf("seeded sessions %v", in.Sessions)
	}
	var got []string
	cursor := "0"
	for range 10 {
		d := ok(t, s, "/session/get_session_list", map[string]any{"guid": in.GUID, "begin_seq": cursor, "limit": 3}).obj()
		list, _ := d["session_list"].([]any)
		for _, id := range list {
			got = append(got, id.(string))
		}
		next, _ := d["begin_seq"].(string)
		if len(list) == 0 {
			if next != cursor {
				t.Errorf("an empty page moved the cursor from %s to %s", cursor, next)
			}
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged sessions %v, want %v", got, want)
	}
	d := ok(t, s, "/session/get_session_list", map[string]any{"guid": in.GUID}).obj()
	if list, _ := d["session_list"].([]any); len(list) != 4 {
		t.Errorf("default page %v", d)
	}
	refused(t, s, "/session/get_session_list", map[string]any{"guid": in.GUID, "limit": 0}, CodeBadRequest)
	refused(t, s, "/session/get_session_list", map[string]any{"guid": in.GUID, "begin_seq": "x"}, CodeBadRequest)
	running, _ := s.Seed(Instance{})
	refused(t, s, "/session/get_session_list", map[string]any{"guid": running.GUID}, CodeState)
}

func TestSeedErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil, Options{})
	in, err := s.Seed(Instance{GUID: "g1"})
	if err != nil || in.GUID != "g1" {
		t.Fatal(in, err)
	}
	for name, tc := range map[string]struct {
		in Instance
		is error
	}{
		"guid in use":     {Instance{GUID: "g1"}, ErrExists},
		"user without id": {Instance{User: &User{Name: "x"}}, ErrInvalid},
		"bad session":     {Instance{Sessions: []string{"123"}}, ErrInvalid},
		"contact twice":   {Instance{Contacts: []Contact{{UserID: "1"}, {UserID: "S:1"}}}, ErrExists},
		"contact no id":   {Instance{Contacts: []Contact{{Name: "x"}}}, ErrInvalid},
		"room not digits": {Instance{Rooms: []Room{{ID: "R:abc"}}}, ErrInvalid},
	} {
		if _, err := s.Seed(tc.in); !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", name, err, tc.is)
		}
	}
	if err := s.AddContact("nope", Contact{UserID: "1"}); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("AddContact: %v", err)
	}
	r, err := s.AddRoom("g1", Room{})
	if err != nil || !strings.HasPrefix(r.ID, "1310269") {
		t.Errorf("AddRoom: %+v, %v", r, err)
	}
	if _, err := s.AddRoom("g1", Room{ID: r.ID}); !errors.Is(err, ErrExists) {
		t.Errorf("AddRoom twice: %v", err)
	}
}
