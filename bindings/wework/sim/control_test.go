package sim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// controlCall sends a request to the control handler and decodes the answer.
func controlCall(t *testing.T, s *Sim, method, path, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Control().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	var out map[string]any
	if strings.HasPrefix(strings.TrimSpace(rec.Body.String()), "{") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s answered %q: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code, out
}

func TestControl(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{SendInterval: -1})
	code, out := controlCall(t, s, "POST", "/instances", `{"guid":"g1","user_id":"`+me+`","name":"郝永平",
		"contacts":[{"user_id":"7881","name":"张三"}],"rooms":[{"id":"1310","owner":"`+me+`","members":["7881"]}]}`)
	if code != 200 || out["GUID"] != "g1" || out["Status"] != float64(StatusOnline) {
		t.Fatalf("seed: %d %v", code, out)
	}
	if code, out = controlCall(t, s, "POST", "/instances", `{"guid":"g1"}`); code != http.StatusConflict || out["ok"] != false {
		t.Errorf("seeding a guid twice: %d %v", code, out)
	}
	if code, out = controlCall(t, s, "POST", "/say", `{"guid":"g1","from":"7881","text":"ping"}`); code != 200 || out["ok"] != true {
		t.Errorf("say: %d %v", code, out)
	}
	if cb := rcv.next(t); cb.NotifyType != NotifyBatchSync {
		t.Errorf("say posted %+v", cb)
	}
	if code, _ = controlCall(t, s, "POST", "/say", `{"guid":"nope","from":"7881","text":"ping"}`); code != http.StatusNotFound {
		t.Errorf("say to an unknown instance: %d", code)
	}
	if code, _ = controlCall(t, s, "POST", "/say", `not json`); code != http.StatusBadRequest {
		t.Errorf("a body that is not JSON: %d", code)
	}
	ok(t, s, "/msg/send_text", map[string]any{"guid": "g1", "conversation_id": "S:7881", "content": "pong"})
	rec := httptest.NewRecorder()
	s.Control().ServeHTTP(rec, httptest.NewRequest("GET", "/sent", nil))
	var sent []Sent
	if err := json.Unmarshal(rec.Body.Bytes(), &sent); err != nil || len(sent) != 1 || sent[0].Content != "pong" {
		t.Errorf("sent: %s, %v", rec.Body.String(), err)
	}
	if code, _ = controlCall(t, s, "POST", "/logout", `{"guid":"g1"}`); code != 200 {
		t.Errorf("logout: %d", code)
	}

	g := ok(t, s, "/client/create_client", nil).obj()["guid"].(string)
	ok(t, s, "/login/get_login_qrcode", map[string]any{"guid": g})
	code, out = controlCall(t, s, "POST", "/scan", `{"guid":"`+g+`","user_id":"1688000000000009","verify":true}`)
	vc, _ := out["verify_code"].(string)
	if code != 200 || out["status"] != float64(QRVerify) || len(vc) != 6 {
		t.Fatalf("scan: %d %v", code, out)
	}
	ok(t, s, VerifyPathForTest, map[string]any{"guid": g, "code": vc})
	if code, _ = controlCall(t, s, "POST", "/scan", `{"guid":"`+g+`","user_id":"1"}`); code != http.StatusConflict {
		t.Errorf("scanning without a QR code: %d", code)
	}
	rec = httptest.NewRecorder()
	s.Control().ServeHTTP(rec, httptest.NewRequest("GET", "/instances", nil))
	var all []Instance
	if err := json.Unmarshal(rec.Body.Bytes(), &all); err != nil || len(all) != 2 || all[1].Status != StatusOnline {
		t.Errorf("instances: %s, %v", rec.Body.String(), err)
	}
}

func TestAutoScan(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	s := newSim(t, rcv, Options{AutoScan: &Scan{User: User{UserID: me, Name: "自动"}}, AutoScanDelay: 10 * time.Millisecond})
	g, _ := qrLoginOf(t, s, rcv)
	if got := statuses(t, rcv, 3); strings.Join(got, ",") != "qr1,qr2,11003" {
		t.Errorf("callbacks %v", got)
	}
	if in, _ := s.Instance(g); in.Status != StatusOnline || in.User.Name != "自动" {
		t.Errorf("instance %+v", in)
	}
}
