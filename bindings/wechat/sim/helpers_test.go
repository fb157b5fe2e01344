package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// newClock is a settable clock for Options.Clock.
func newClock() *simkit.ManualClock {
	return simkit.NewManualClock(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
}

// receiver collects the callbacks posted to it.
type receiver struct {
	*httptest.Server
	got chan map[string]any
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{got: make(chan map[string]any, 256)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		dec := json.NewDecoder(req.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got <- body
		_, _ = io.WriteString(w, `{"code":0}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// next answers the next callback, failing the test after 5 s.
func (r *receiver) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case b := <-r.got:
		return b
	case <-time.After(5 * time.Second):
		t.Fatal("no callback arrived")
		return nil
	}
}

// expectTypes reads callbacks and checks their notify types, in order.
func (r *receiver) expectTypes(t *testing.T, types ...int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, want := range types {
		b := r.next(t)
		if got := num(b["notify_type"]); got != int64(want) {
			t.Fatalf("callback %v, want notify type %d", b, want)
		}
		out = append(out, b)
	}
	return out
}

func num(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return n
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	}
	return -1 << 62
}

// fixture is a running simulator with a callback receiver and a clock.
type fixture struct {
	sim   *Sim
	srv   *httptest.Server
	recv  *receiver
	clock *simkit.ManualClock
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{recv: newReceiver(t), clock: newClock()}
	opts.CallbackURL = f.recv.URL
	if opts.Clock == nil {
		opts.Clock = f.clock.Now
	}
	opts.CallbackBackoff = 5 * time.Millisecond
	f.sim = New(opts)
	t.Cleanup(f.sim.Close)
	f.srv = httptest.NewServer(f.sim.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// answer is a decoded API answer.
type answer struct {
	Status  int
	Code    int64
	Message string
	Data    map[string]any
	Errors  []any
}

// call posts body to path and decodes the answer.
func (f *fixture) call(t *testing.T, path string, body map[string]any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := f.srv.Client().Post(f.srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("%s answered no JSON: %v", path, err)
	}
	a := answer{Status: resp.StatusCode, Code: num(env["code"])}
	a.Message, _ = env["message"].(string)
	a.Data, _ = env["data"].(map[string]any)
	a.Errors, _ = env["errors"].([]any)
	return a
}

// ok posts and fails the test unless the answer is code 0.
func (f *fixture) ok(t *testing.T, path string, body map[string]any) map[string]any {
	t.Helper()
	a := f.call(t, path, body)
	if a.Status != 200 || a.Code != 0 {
		t.Fatalf("%s %v: HTTP %d code %d %q", path, body, a.Status, a.Code, a.Message)
	}
	return a.Data
}

// refused posts and checks the answer's code and HTTP status.
func (f *fixture) refused(t *testing.T, path string, body map[string]any, status int, code int64) answer {
	t.Helper()
	a := f.call(t, path, body)
	if a.Status != status || a.Code != code {
		t.Fatalf("%s %v: HTTP %d code %d %q, want HTTP %d code %d", path, body, a.Status, a.Code, a.Message, status, code)
	}
	return a
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var alice = Account{WxID: "wxid_alice", Nickname: "Alice", Alias: "alice_w", Mobile: "13900000000", Sex: 2}

// loggedIn seeds an instance with alice logged in, two friends, an
// official account, a label and a room.
func (f *fixture) loggedIn(t *testing.T) string {
	t.Helper()
	guid, err := f.sim.Seed(Instance{Account: &alice,
		Labels: []Label{{ID: 1, Name: "客户"}},
		Contacts: []Contact{
			{Person: Person{WxID: "wxid_bob", Nickname: "Bob"}, Labels: []int{1}},
			{Person: Person{WxID: "wxid_carol", Nickname: "Carol"}, Remark: "C"},
			{Person: Person{WxID: "gh_news", Nickname: "News"}, Type: ContactMp},
		},
		Rooms: []Room{{ID: "100@chatroom", Name: "产品群", Members: []Person{{WxID: "wxid_bob", Nickname: "Bob"}, {WxID: "wxid_dan", Nickname: "Dan"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return guid
}

func stringReader(s string) io.Reader { return bytes.NewReader([]byte(s)) }
