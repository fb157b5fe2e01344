package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

// Ids of the standard test world.
const (
	acctA     = "1688850000000001" // online, owns room
	acctB     = "1688850000000002" // online, same company as A
	customer1 = "7881300000000001" // external contact of A, labeled
	customer2 = "7881300000000002" // external contact of A
	stranger  = "7881300000000009" // findable by mobile, nobody's contact
	strangerM = "13800000009"
	testKey   = "secret-key"
)

// testCtx bounds a test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClock() *simkit.ManualClock {
	return simkit.NewManualClock(time.Date(2024, 3, 6, 10, 0, 0, 0, time.UTC))
}

// receiver is an httptest callback receiver. Its first failures answers
// are failStatus.
type receiver struct {
	srv *httptest.Server

	mu         sync.Mutex
	got        []map[string]any
	raw        [][]byte
	failures   int
	failStatus int
	attempts   int
	signal     chan struct{}
	onCallback func(map[string]any)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rx := &receiver{signal: make(chan struct{}), failStatus: http.StatusServiceUnavailable}
	rx.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad callback", http.StatusBadRequest)
			return
		}
		rx.mu.Lock()
		rx.attempts++
		if rx.failures > 0 {
			rx.failures--
			rx.mu.Unlock()
			http.Error(w, "not now", rx.failStatus)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			rx.mu.Unlock()
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		rx.got = append(rx.got, m)
		rx.raw = append(rx.raw, body)
		close(rx.signal)
		rx.signal = make(chan struct{})
		hook := rx.onCallback
		rx.mu.Unlock()
		_, _ = w.Write([]byte(`{"code":0}`))
		if hook != nil {
			hook(m)
		}
	}))
	t.Cleanup(rx.srv.Close)
	return rx
}

// all answers every callback received.
func (rx *receiver) all() []map[string]any {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return append([]map[string]any(nil), rx.got...)
}

// ofType answers the received callbacks of type typ.
func (rx *receiver) ofType(typ string) []map[string]any {
	var out []map[string]any
	for _, m := range rx.all() {
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

// waitFor waits for the n-th callback of type typ (1-based).
func (rx *receiver) waitFor(t *testing.T, ctx context.Context, typ string, n int) map[string]any {
	t.Helper()
	for {
		rx.mu.Lock()
		wake := rx.signal
		var hits []map[string]any
		for _, m := range rx.got {
			if m["type"] == typ {
				hits = append(hits, m)
			}
		}
		rx.mu.Unlock()
		if len(hits) >= n {
			return hits[n-1]
		}
		select {
		case <-wake:
		case <-ctx.Done():
			t.Fatalf("callback %d of type %s never came; got %v", n, typ, types(rx.all()))
		}
	}
}

func types(ms []map[string]any) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m["type"].(string))
	}
	return out
}

// env is a Sim behind an httptest server, with a fake clock and a
// callback receiver.
type env struct {
	t     *testing.T
	sim   *Sim
	clock *simkit.ManualClock
	api   *httptest.Server
	rx    *receiver
	key   string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), rx: newReceiver(t), key: opts.APIKey}
	if opts.Clock == nil {
		opts.Clock = e.clock.Now
	}
	if opts.CallbackURL == "" {
		opts.CallbackURL = e.rx.srv.URL + "/callback/quntool"
	}
	if opts.CallbackBackoff == 0 {
		opts.CallbackBackoff = time.Millisecond
	}
	e.sim = New(opts)
	t.Cleanup(e.sim.Close)
	e.api = httptest.NewServer(e.sim.Handler())
	t.Cleanup(e.api.Close)
	return e
}

// answer is a decoded API answer.
type answer struct {
	Status int
	Msg    string          `json:"msg"`
	Code   int             `json:"code"`
	Data   json.RawMessage `json:"data"`
	raw    []byte
}

// call sends a request: for GET, args become the query; otherwise the
// JSON body (a string is sent as it is).
func (e *env) call(method, path string, args any) answer {
	e.t.Helper()
	u := e.api.URL + APIPrefix + path
	var body io.Reader
	if method == http.MethodGet {
		if m, ok := args.(map[string]any); ok {
			q := url.Values{}
			for k, v := range m {
				switch x := v.(type) {
				case []string:
					q[k] = x
				default:
					q.Set(k, text(jsonNumberOf(v)))
				}
			}
			u += "?" + q.Encode()
		}
	} else if args != nil {
		raw, ok := args.(string)
		if !ok {
			b, err := json.Marshal(args)
			if err != nil {
				e.t.Fatal(err)
			}
			raw = string(b)
		}
		body = strings.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(testCtx(e.t), method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.key != "" {
		req.Header.Set("apikey", e.key)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	resp, err := e.api.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	a := answer{Status: resp.StatusCode, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a); err != nil {
			e.t.Fatalf("%s %s: answer is not JSON: %v: %s", req.Method, req.URL.Path, err, raw)
		}
	}
	return a
}

// jsonNumberOf turns numbers into json.Number so text formats them.
func jsonNumberOf(v any) any {
	switch v.(type) {
	case int, int64, float64, bool:
		b, _ := json.Marshal(v)
		return json.Number(b)
	}
	return v
}

// ok asserts a code 0 answer and answers its data.
func (e *env) ok(method, path string, args any) json.RawMessage {
	e.t.Helper()
	a := e.call(method, path, args)
	if a.Status != http.StatusOK || a.Code != 0 {
		e.t.Fatalf("%s %s: HTTP %d code %d msg %q", method, path, a.Status, a.Code, a.Msg)
	}
	return a.Data
}

// world seeds the standard test world: accounts A and B of one company,
// A's customers 1 and 2 (1 labeled "vip", with phones), a group of A and
// both customers owned by A, and a stranger findable by mobile.
type world struct {
	*env
	room  string
	label string
	hostA string
}

func newWorld(t *testing.T, opts Options) *world {
	t.Helper()
	w := &world{env: newEnv(t, opts)}
	s := w.sim
	a, err := s.Seed(Account{WxID: acctA, Nickname: "Alice", Mobile: "13900000001", AcctID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	w.hostA = a.Hostname
	if _, err := s.Seed(Account{WxID: acctB, Nickname: "Bob"}); err != nil {
		t.Fatal(err)
	}
	must(t, s.AddContact(acctA, Contact{UserID: customer1, Name: "左脚", Phones: []string{"235"}, Sex: 1}))
	must(t, s.AddContact(acctA, Contact{UserID: customer2, Name: "依然", Sex: 2}))
	must(t, s.AddPerson(Contact{UserID: stranger, Name: "我不知道", Mobile: strangerM}))
	rm, err := s.AddRoom(Room{Owner: acctA, Members: []string{customer1, customer2}})
	if err != nil {
		t.Fatal(err)
	}
	w.room = rm.ID
	if w.label, err = s.AddLabel(acctA, "vip"); err != nil {
		t.Fatal(err)
	}
	w.ok(http.MethodPost, "/label/contact/setlabel", map[string]any{"wxId": acctA, "contactUserId": customer1, "labelIds": []string{w.label}})
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// obj decodes an object.
func obj(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %v: %s", err, raw)
	}
	return m
}

// list decodes a list of objects.
func list(t *testing.T, raw json.RawMessage) []map[string]any {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("not a list of objects: %v: %s", err, raw)
	}
	return l
}

// hasKeys asserts m has every key.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	var missing []string
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s lacks %v; has %v", what, missing, sortedKeys(m))
	}
}

// sameKeys asserts m has exactly keys.
func sameKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	want := slices.Clone(keys)
	sort.Strings(want)
	if got := sortedKeys(m); !slices.Equal(got, want) {
		t.Errorf("%s keys\n got %v\nwant %v", what, got, want)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// postJSON posts a raw body with extra headers.
func (e *env) postJSON(path string, body []byte, header http.Header) answer {
	e.t.Helper()
	req, err := http.NewRequestWithContext(testCtx(e.t), http.MethodPost, e.api.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}
