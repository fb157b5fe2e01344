package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
	"github.com/switchboard-dev/switchboard/bindings/msgserver"
)

const (
	testSecret = "secret_key"
	testCorp   = "corp123"
	testStaff  = "staff123"
)

// newFakeClock is a settable clock for the rate limit and message times.
func newFakeClock() *simkit.ManualClock {
	return simkit.NewManualClock(time.Date(2024, 1, 15, 8, 0, 0, 0, time.UTC))
}

// harness is a Sim behind a loopback server and a client signing with
// the same secret and encoding.
type harness struct {
	sim    *Sim
	url    string
	client *msgserver.Client
	clock  *simkit.ManualClock
}

func newHarness(t *testing.T, o Options) *harness {
	t.Helper()
	clock := newFakeClock()
	if o.Clock == nil {
		o.Clock = clock.Now
	}
	if o.Secret == "" {
		o.Secret = testSecret
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = -1
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	c, err := msgserver.NewClient(msgserver.Config{BaseURL: srv.URL + APIPrefix, Secret: o.Secret,
		Encoding: msgserver.Encoding(o.Encoding), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{sim: s, url: srv.URL, client: c, clock: clock}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call calls an endpoint through the binding's client.
func (h *harness) call(t *testing.T, method string, args map[string]any) (json.RawMessage, error) {
	t.Helper()
	return h.client.Call(testContext(t), method, args)
}

// mustCall calls and decodes the data into out.
func (h *harness) mustCall(t *testing.T, method string, args map[string]any, out any) {
	t.Helper()
	data, err := h.call(t, method, args)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: %v: %s", method, err, data)
	}
}

// vendorCode is the vendor's code of err, or 0.
func vendorCode(err error) int {
	var ve *bindings.VendorError
	if errors.As(err, &ve) {
		return ve.Code
	}
	return 0
}

// rawAnswer is an envelope as the wire carries it.
type rawAnswer struct {
	status  int
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// raw sends a request by hand: the query of a GET or the JSON body of a
// POST, exactly as given.
func (h *harness) raw(t *testing.T, method, path string, query url.Values, body string) rawAnswer {
	t.Helper()
	u := h.url + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(testContext(t), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a rawAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer is not the envelope: %v: %s", err, b)
	}
	a.status = resp.StatusCode
	return a
}

// signed adds the signature the binding computes.
func signed(q url.Values, enc msgserver.Encoding) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("signature", msgserver.Sign(q, testSecret, enc))
	return out
}

type sessionPage struct {
	Items []struct {
		ID            string `json:"id"`
		SessionID     string `json:"session_id"`
		SessionType   string `json:"session_type"`
		PeerExtID     string `json:"peer_ext_id"`
		PeerName      string `json:"peer_name"`
		PeerType      string `json:"peer_type"`
		GroupChatName string `json:"group_chat_name"`
		ContentText   string `json:"content_text"`
		Seq           int64  `json:"seq"`
	} `json:"items"`
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
}

type messagePage struct {
	Items []struct {
		ID             string          `json:"id"`
		MsgID          string          `json:"msgid"`
		From           string          `json:"from"`
		ToList         []string        `json:"tolist"`
		MsgTime        int64           `json:"msg_time"`
		MsgType        string          `json:"msg_type"`
		ContentText    string          `json:"content_text"`
		Seq            int64           `json:"seq"`
		SessionType    string          `json:"session_type"`
		SenderName     string          `json:"sender_name"`
		ChatMsgContent map[string]any  `json:"chat_msg_content"`
		Attachments    json.RawMessage `json:"attachments"`
	} `json:"items"`
	Total int `json:"total"`
}

func (p messagePage) texts() []string {
	out := make([]string, len(p.Items))
	for i, m := range p.Items {
		out[i] = m.ContentText
	}
	return out
}

func sessionArgs(kind string, extra ...any) map[string]any {
	args := map[string]any{"ext_corp_id": testCorp, "ext_staff_id": testStaff, "session_type": kind}
	for i := 0; i+1 < len(extra); i += 2 {
		args[extra[i].(string)] = extra[i+1]
	}
	return args
}

func msgArgs(receiver string, extra ...any) map[string]any {
	args := map[string]any{"ext_corp_id": testCorp, "ext_staff_id": testStaff, "receiver_id": receiver}
	for i := 0; i+1 < len(extra); i += 2 {
		args[extra[i].(string)] = extra[i+1]
	}
	return args
}

// answer calls method; when code is not 0 it checks the call failed with
// that vendor code and answers false, else it decodes the data into out
// and answers true.
func (h *harness) answer(t *testing.T, method string, args map[string]any, code int, out any) bool {
	t.Helper()
	if code == 0 {
		h.mustCall(t, method, args, out)
		return true
	}
	if _, err := h.call(t, method, args); vendorCode(err) != code {
		t.Fatalf("%s: err = %v, want code %d", method, err, code)
	}
	return false
}
