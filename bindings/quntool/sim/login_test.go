package sim

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

const newcomer = "1688850000000042"

// createContainer starts a login and answers the container's hostname.
func createContainer(t *testing.T, e *env) string {
	t.Helper()
	return obj(t, e.ok(http.MethodPost, "/container/create", map[string]any{"userId": DefaultUserID}))["hostname"].(string)
}

// qrStatuses lists the status of every qrcode_status_msg received so far.
func qrStatuses(rx *receiver) []float64 {
	var out []float64
	for _, m := range rx.ofType("qrcode_status_msg") {
		out = append(out, m["data"].(map[string]any)["status"].(float64))
	}
	return out
}

func equalStatuses(got []float64, want ...float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestLoginWithVerificationCode plays the status-10 flow: a wrong code is
// answered errcode < 0 and logs nobody in; the right one posts status 2
// and user_login, and the account is online.
func TestLoginWithVerificationCode(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	e := newEnv(t, Options{})
	host := createContainer(t, e)

	login, err := e.sim.ScanQR(ctx, host, Scan{Account: Account{WxID: newcomer, Nickname: "Neo", CorpID: "1970325000000777"}, Verify: true})
	must(t, err)
	if login.Status != QRRequireVerify || len(login.VerifyCode) != 6 || login.QRCodeKey == "" {
		t.Fatalf("login %+v", login)
	}
	if got := qrStatuses(e.rx); !equalStatuses(got, QRNever, QRScanned, QRRequireVerify) {
		t.Fatalf("qr statuses %v, want 0 1 10", got)
	}
	ten := e.rx.ofType("qrcode_status_msg")[2]
	if d := ten["data"].(map[string]any); d["qrcode_key"] != login.QRCodeKey || d["vid"] != newcomer || d["corpid"] != "1970325000000777" {
		t.Errorf("status 10 data %v", d)
	}
	if ten["source"] != host || ten["wxid"] != "" || ten["userId"] != nil {
		t.Errorf("status 10 envelope %v", ten)
	}

	wrong := "000000"
	if login.VerifyCode == wrong {
		wrong = "111111"
	}
	for _, tc := range []struct {
		name string
		key  string
		code string
	}{
		{"wrong code", login.QRCodeKey, wrong},
		{"wrong key", "0123", login.VerifyCode},
	} {
		m := obj(t, e.ok(http.MethodPost, "/container/verify", map[string]any{"hostname": host, "key": tc.key, "code": tc.code}))
		if m["errcode"].(float64) >= 0 {
			t.Errorf("%s: errcode %v, want < 0", tc.name, m["errcode"])
		}
	}
	must(t, e.sim.Flush(ctx))
	if n := len(e.rx.ofType("user_login")); n != 0 {
		t.Fatalf("%d user_login after wrong codes", n)
	}

	m := obj(t, e.ok(http.MethodPost, "/container/verify", map[string]any{"Hostname": host, "KEY": login.QRCodeKey, "code": login.VerifyCode}))
	if m["errcode"] != 0.0 || m["errmsg"] != "ok" {
		t.Fatalf("right code answered %v", m)
	}
	loginCB := e.rx.waitFor(t, ctx, "user_login", 1)
	if got := qrStatuses(e.rx); !equalStatuses(got, QRNever, QRScanned, QRRequireVerify, QRSucceeded) {
		t.Errorf("qr statuses %v, want 0 1 10 2", got)
	}
	d := loginCB["data"].(map[string]any)
	if loginCB["wxid"] != newcomer || loginCB["source"] != host || loginCB["userId"] != DefaultUserID || d["user_id"] != newcomer || d["corp_id"] != "1970325000000777" {
		t.Errorf("user_login %v", loginCB)
	}
	sameKeys(t, "user_login", d, "account", "acctid", "avatar", "corp_id", "document_root", "email", "job_name",
		"mobile", "nickname", "pid", "position", "sex", "user_id", "username")

	l := list(t, e.ok(http.MethodGet, "/inner/user/wx/list", nil))
	if len(l) != 1 || l[0]["wxId"] != newcomer || l[0]["Status"] != 0.0 {
		t.Errorf("accounts after the login: %v", l)
	}
	again := obj(t, e.ok(http.MethodPost, "/container/verify", map[string]any{"hostname": host, "key": login.QRCodeKey, "code": login.VerifyCode}))
	if again["errcode"].(float64) >= 0 {
		t.Errorf("a second verification answered %v", again)
	}
}

func TestLoginOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		scan       Scan
		before     func(e *env, host string)
		wantErr    error
		wantStatus []float64
		wantState  float64
		loggedIn   bool
	}{
		{name: "plain scan", scan: Scan{Account: Account{WxID: newcomer}},
			wantStatus: []float64{QRNever, QRScanned, QRSucceeded}, wantState: StatusOnline, loggedIn: true},
		{name: "refused", scan: Scan{Account: Account{WxID: newcomer}, Refuse: true},
			wantStatus: []float64{QRNever, QRScanned, QRRefused}, wantState: StatusLoginFailed},
		{name: "expired", scan: Scan{Account: Account{WxID: newcomer}}, wantErr: ErrQRExpired,
			before:     func(e *env, _ string) { e.clock.Advance(qrKeepSeconds*time.Second + time.Second) },
			wantStatus: []float64{QRNever, QRFailed}, wantState: StatusLoginFailed},
		{name: "too many wrong codes", scan: Scan{Account: Account{WxID: newcomer}, Verify: true},
			wantStatus: []float64{QRNever, QRScanned, QRRequireVerify, QRFailed}, wantState: StatusLoginFailed},
		{name: "verify and refuse", scan: Scan{Account: Account{WxID: newcomer}, Verify: true, Refuse: true}, wantErr: ErrInvalid,
			wantStatus: []float64{QRNever}, wantState: StatusLoggingIn},
		{name: "no account", scan: Scan{}, wantErr: ErrInvalid, wantStatus: []float64{QRNever}, wantState: StatusLoggingIn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			e := newEnv(t, Options{})
			host := createContainer(t, e)
			if tc.before != nil {
				tc.before(e, host)
			}
			login, err := e.sim.ScanQR(ctx, host, tc.scan)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.scan.Verify && err == nil {
				for i := 0; i < maxVerifyAttempts; i++ {
					e.ok(http.MethodPost, "/container/verify", map[string]any{"hostname": host, "key": login.QRCodeKey, "code": "x"})
				}
			}
			must(t, e.sim.Flush(ctx))
			if got := qrStatuses(e.rx); !equalStatuses(got, tc.wantStatus...) {
				t.Errorf("qr statuses %v, want %v", got, tc.wantStatus)
			}
			l := list(t, e.ok(http.MethodGet, "/inner/user/wx/list", map[string]any{"isonline": "false"}))
			if len(l) != 1 || l[0]["Status"] != tc.wantState {
				t.Fatalf("containers %v, want status %v", l, tc.wantState)
			}
			if tc.wantState == StatusLoginFailed && l[0]["QrCode"] == nil {
				t.Error("a failed login lists no QrCode to scan again")
			}
			if got := len(e.rx.ofType("user_login")) > 0; got != tc.loggedIn {
				t.Errorf("logged in %v, want %v", got, tc.loggedIn)
			}
		})
	}
}

// TestRescanAfterRefusal: a refused login shows a new code, which a
// second scan completes.
func TestRescanAfterRefusal(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	e := newEnv(t, Options{})
	host := createContainer(t, e)
	first, err := e.sim.ScanQR(ctx, host, Scan{Account: Account{WxID: newcomer}, Refuse: true})
	must(t, err)
	second, err := e.sim.ScanQR(ctx, host, Scan{Account: Account{WxID: newcomer}, SafeValidate: true})
	must(t, err)
	if second.Status != QRSucceeded || second.QRCodeKey == first.QRCodeKey {
		t.Errorf("second scan %+v after %+v", second, first)
	}
	sv := e.rx.waitFor(t, ctx, "safe_validate", 1)
	sameKeys(t, "safe_validate", sv["data"].(map[string]any), "Qrcode", "UserName")
	if _, err := e.sim.ScanQR(ctx, host, Scan{Account: Account{WxID: newcomer}}); !errors.Is(err, ErrState) {
		t.Errorf("scanning an online container: %v, want ErrState", err)
	}
	if _, err := e.sim.ScanQR(ctx, "nope", Scan{Account: Account{WxID: newcomer}}); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("scanning an unknown container: %v, want ErrUnknownContainer", err)
	}
}

// TestLoginElsewhere: an account that logs in to a new container leaves
// the old one (user_offline there), and its contacts stay.
func TestLoginElsewhere(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t, Options{})
	host := createContainer(t, w.env)
	_, err := w.sim.ScanQR(ctx, host, Scan{Account: Account{WxID: acctA}})
	must(t, err)
	off := w.rx.waitFor(t, ctx, "user_offline", 1)
	if off["source"] != w.hostA || off["wxid"] != acctA || off["data"] != nil {
		t.Errorf("user_offline %v", off)
	}
	statuses := map[string]float64{}
	for _, c := range list(t, w.ok(http.MethodGet, "/inner/user/wx/list", map[string]any{"IsOnline": false, "HostName": []string{w.hostA, host}})) {
		statuses[c["hostname"].(string)] = c["Status"].(float64)
	}
	if statuses[w.hostA] != StatusOffline || statuses[host] != StatusOnline || len(statuses) != 2 {
		t.Errorf("statuses %v", statuses)
	}
	if externalContact(t, w, customer1) == nil {
		t.Error("the account lost its contacts")
	}
	w.ok(http.MethodPost, "/msg/text", map[string]any{"wxId": acctA, "conversationId": convA1, "content": "from the new container"})
	if cb := w.rx.waitFor(t, ctx, "text_msg", 1); cb["source"] != host {
		t.Errorf("send from %v, want the new container %s", cb["source"], host)
	}
}

// TestContainerLifecycle: stop, start, remove and restart, and what each
// allows afterwards.
func TestContainerLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{SendInterval: -1})
	host := map[string]any{"hostname": []string{w.hostA}}
	send := func() answer {
		return w.call(http.MethodPost, "/msg/text", map[string]any{"wxId": acctA, "conversationId": convA1, "content": "hi"})
	}
	steps := []struct {
		name     string
		path     string
		wantCode int
		wantSend int
	}{
		{"stop", "/container/stop", CodeOK, CodeOffline},
		{"stop again", "/container/stop", CodeOK, CodeOffline},
		{"start", "/container/start", CodeOK, CodeOK},
		{"restart", "/container/restart", CodeOK, CodeOK},
		{"remove", "/container/remove", CodeOK, CodeOffline},
		{"start after remove", "/container/start", CodeFailed, CodeOffline},
		{"restart after remove", "/container/restart", CodeFailed, CodeOffline},
	}
	for _, st := range steps {
		if a := w.call(http.MethodPost, st.path, host); a.Code != st.wantCode {
			t.Errorf("%s: code %d (%s), want %d", st.name, a.Code, a.Msg, st.wantCode)
		}
		if a := send(); a.Code != st.wantSend {
			t.Errorf("send after %s: code %d (%s), want %d", st.name, a.Code, a.Msg, st.wantSend)
		}
	}
	if a := w.call(http.MethodPost, "/container/stop", map[string]any{"hostname": []string{w.hostA, "ghost"}}); a.Code != CodeNotFound {
		t.Errorf("stop of an unknown container: code %d, want %d", a.Code, CodeNotFound)
	}
	if a := w.call(http.MethodPost, "/container/create", map[string]any{"userId": "apps-999"}); a.Code != CodeNotFound {
		t.Errorf("create for an unknown user: code %d, want %d", a.Code, CodeNotFound)
	}
}
