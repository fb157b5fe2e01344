package sim

import (
	"errors"
	"testing"
	"time"
)

func TestLoginFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	guid, err := f.sim.Seed(Instance{})
	if err != nil {
		t.Fatal(err)
	}
	f.ok(t, "/client/set_notify_url", map[string]any{"guid": guid, "notify_url": f.recv.URL + "/own"})
	qr := f.ok(t, "/login/get_login_qrcode", map[string]any{"guid": guid})
	uuid, _ := qr["uuid"].(string)
	if uuid == "" || qr["qrcode_content"] != "http://weixin.qq.com/x/"+uuid {
		t.Fatalf("qr code %v", qr)
	}
	cb := f.recv.expectTypes(t, NotifyQRCodeChange)[0]
	if d := cb["data"].(map[string]any); num(d["status"]) != QRWaiting || d["uuid"] != uuid || cb["guid"] != guid {
		t.Errorf("1002 %v", cb)
	}
	if st := f.ok(t, "/login/check_login_qrcode", map[string]any{"guid": guid}); num(st["status"]) != QRWaiting {
		t.Errorf("status %v", st)
	}
	f.refused(t, "/user/get_profile", map[string]any{"guid": guid}, 200, CodeNotLoggedIn)

	ctx := testContext(t)
	if err := f.sim.ConfirmLogin(ctx, guid); !errors.Is(err, ErrState) {
		t.Errorf("confirm before a scan: %v", err)
	}
	if err := f.sim.ScanQR(ctx, guid, alice); err != nil {
		t.Fatal(err)
	}
	if d := f.recv.next(t)["data"].(map[string]any); num(d["status"]) != QRScanned || d["nick_name"] != "Alice" {
		t.Errorf("scanned %v", d)
	}
	if st := f.ok(t, "/login/check_login_qrcode", map[string]any{"guid": guid, "uuid": uuid}); num(st["status"]) != QRScanned {
		t.Errorf("status %v", st)
	}
	f.refused(t, "/login/check_login_qrcode", map[string]any{"guid": guid, "uuid": "other"}, 200, CodeNotFound)
	if err := f.sim.ConfirmLogin(ctx, guid); err != nil {
		t.Fatal(err)
	}
	cbs := f.recv.expectTypes(t, NotifyQRCodeChange, NotifyUserLogin, NotifyInitFinish, NotifyContactSyncFinish)
	if d := cbs[0]["data"].(map[string]any); num(d["status"]) != QRConfirmed {
		t.Errorf("confirmed %v", d)
	}
	if d := cbs[1]["data"].(map[string]any); d["user_name"] != "wxid_alice" || d["nick_name"] != "Alice" {
		t.Errorf("login %v", d)
	}
	if p := f.ok(t, "/user/get_profile", map[string]any{"guid": guid}); p["user_name"] != "wxid_alice" || p["alias"] != "alice_w" {
		t.Errorf("profile %v", p)
	}
	f.refused(t, "/login/get_login_qrcode", map[string]any{"guid": guid}, 200, CodeLoggedIn)
	for _, cb := range f.sim.Callbacks() {
		if cb.URL != f.recv.URL+"/own" || !cb.Delivered {
			t.Errorf("callback %d went to %s (delivered %v), not the notify URL", cb.NotifyType, cb.URL, cb.Delivered)
		}
	}

	// Logout, then back in by a push to the phone.
	f.ok(t, "/user/logout", map[string]any{"guid": guid})
	f.recv.expectTypes(t, NotifyUserLogout)
	if got := f.ok(t, "/login/push_login_url", map[string]any{"guid": guid}); got["wxid"] != "wxid_alice" {
		t.Errorf("push %v", got)
	}
	f.recv.expectTypes(t, NotifyQRCodeChange)
	if err := f.sim.ConfirmLogin(ctx, guid); err != nil {
		t.Fatal(err)
	}
	f.recv.expectTypes(t, NotifyQRCodeChange, NotifyUserLogin, NotifyInitFinish, NotifyContactSyncFinish)
}

func TestLoginVerifyAndRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{})
	ctx := testContext(t)
	guid, _ := f.sim.Seed(Instance{})
	f.ok(t, "/login/get_login_qrcode", map[string]any{"guid": guid})
	if err := f.sim.ScanQR(ctx, guid, alice); err != nil {
		t.Fatal(err)
	}
	code, err := f.sim.RequireVerify(ctx, guid)
	if err != nil || len(code) != 6 {
		t.Fatalf("code %q, error %v", code, err)
	}
	cbs := f.recv.expectTypes(t, NotifyQRCodeChange, NotifyQRCodeChange, NotifyQRCodeChange)
	if d := cbs[2]["data"].(map[string]any); num(d["status"]) != QRNeedVerify {
		t.Errorf("need verify %v", d)
	}
	f.refused(t, "/login/verify_login_url", map[string]any{"guid": guid}, 422, CodeValidation)
	f.refused(t, "/login/verify_login_url", map[string]any{"guid": guid, "code": "000000x"}, 200, CodeFailed)
	f.ok(t, "/login/verify_login_url", map[string]any{"guid": guid, "code": code})
	f.recv.expectTypes(t, NotifyQRCodeChange, NotifyUserLogin, NotifyInitFinish, NotifyContactSyncFinish)
	if st, _ := f.sim.Status(guid); !st.LoggedIn || st.WxID != "wxid_alice" {
		t.Errorf("status %+v", st)
	}

	other, _ := f.sim.Seed(Instance{})
	f.refused(t, "/login/push_login_url", map[string]any{"guid": other}, 200, CodeFailed)
	f.ok(t, "/login/get_login_qrcode", map[string]any{"guid": other})
	if err := f.sim.ScanQR(ctx, other, Account{WxID: "wxid_x"}); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.RefuseLogin(ctx, other); err != nil {
		t.Fatal(err)
	}
	cbs = f.recv.expectTypes(t, NotifyQRCodeChange, NotifyQRCodeChange, NotifyQRCodeChange, NotifyLoginFailed)
	if d := cbs[2]["data"].(map[string]any); num(d["status"]) != QRRefused {
		t.Errorf("refused %v", d)
	}
	f.refused(t, "/login/check_login_qrcode", map[string]any{"guid": other}, 200, CodeNotFound)
}

func TestLoginQRCodeExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{QRCodeTTL: time.Minute})
	guid, _ := f.sim.Seed(Instance{})
	f.ok(t, "/login/get_login_qrcode", map[string]any{"guid": guid})
	f.clock.Advance(time.Minute)
	if st := f.ok(t, "/login/check_login_qrcode", map[string]any{"guid": guid}); num(st["status"]) != QRFailed || st["expired"] != true {
		t.Errorf("expired QR code: %v", st)
	}
	if err := f.sim.ScanQR(testContext(t), guid, alice); !errors.Is(err, ErrState) {
		t.Errorf("scan of an expired code: %v", err)
	}
	f.ok(t, "/login/get_login_qrcode", map[string]any{"guid": guid})
	if err := f.sim.ScanQR(testContext(t), guid, alice); err != nil {
		t.Errorf("scan of a new code: %v", err)
	}
}

func TestDisconnect(t *testing.T) {
	t.Parallel()
	for _, typ := range []int{NotifyUserLogout, NotifyHeartBeatError, NotifySessionTimeout} {
		f := newFixture(t, Options{})
		guid := f.loggedIn(t)
		if err := f.sim.Disconnect(testContext(t), guid, typ); err != nil {
			t.Fatal(err)
		}
		f.recv.expectTypes(t, typ)
		f.refused(t, "/user/get_profile", map[string]any{"guid": guid}, 200, CodeNotLoggedIn)
		if err := f.sim.Disconnect(testContext(t), guid, typ); !errors.Is(err, ErrState) {
			t.Errorf("second disconnect: %v", err)
		}
	}
	f := newFixture(t, Options{})
	if err := f.sim.Disconnect(testContext(t), f.loggedIn(t), NotifyNewMsg); !errors.Is(err, ErrInvalid) {
		t.Errorf("disconnect with 1010: %v", err)
	}
}
