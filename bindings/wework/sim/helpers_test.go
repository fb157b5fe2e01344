package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/internal/simkit"
)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answer is a decoded API answer.
type answer struct {
	HTTP    int
	Code    *int   `json:"error_code"`
	Message string `json:"error_message"`
	Data    any    `json:"data"`
}

// code is the answer's error_code (0 when absent).
func (a answer) code() int {
	if a.Code == nil {
		return 0
	}
	return *a.Code
}

func (a answer) obj() map[string]any { m, _ := a.Data.(map[string]any); return m }

// call sends a request to the simulator's handler.
func call(t *testing.T, s *Sim, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("%s %s answered %q: %v", method, path, rec.Body.String(), err)
	}
	a.HTTP = rec.Code
	return a
}

func post(t *testing.T, s *Sim, path string, body any) answer {
	t.Helper()
	return call(t, s, http.MethodPost, path, body)
}

// ok posts and fails the test unless error_code is 0.
func ok(t *testing.T, s *Sim, path string, body any) answer {
	t.Helper()
	a := post(t, s, path, body)
	if a.code() != 0 || a.HTTP != http.StatusOK {
		t.Fatalf("%s: HTTP %d error_code %d %q", path, a.HTTP, a.code(), a.Message)
	}
	return a
}

// refused posts and fails the test unless error_code is code.
func refused(t *testing.T, s *Sim, path string, body any, code int) answer {
	t.Helper()
	a := post(t, s, path, body)
	if a.code() != code {
		t.Fatalf("%s: error_code %d %q, want %d", path, a.code(), a.Message, code)
	}
	return a
}

// receiver records the callbacks posted to it; statuses, when set, are
// answered in turn (200 after they run out).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   chan callbackBody
	paths    chan string
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	r := &receiver{statuses: statuses, bodies: make(chan callbackBody, 100), paths: make(chan string, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "no", status)
			return
		}
		var b callbackBody
		raw, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(raw, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.bodies <- b
		r.paths <- req.URL.Path
		_, _ = io.WriteString(w, `{"code":0}`)
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the next callback.
func (r *receiver) next(t *testing.T) callbackBody {
	t.Helper()
	select {
	case b := <-r.bodies:
		<-r.paths
		return b
	case <-ctxFor(t).Done():
		t.Fatal("no callback arrived")
		return callbackBody{}
	}
}

// dataOf is a callback's data object.
func dataOf(b callbackBody) map[string]any { m, _ := b.Data.(map[string]any); return m }

// newClock is a settable clock.
func newClock() *simkit.ManualClock {
	return simkit.NewManualClock(time.Date(2025, 7, 29, 10, 0, 0, 0, time.UTC))
}

// newSim builds a Sim posting to rcv (nil: no callbacks) and closes it
// when the test ends.
func newSim(t *testing.T, rcv *receiver, opts Options) *Sim {
	t.Helper()
	if rcv != nil {
		opts.CallbackURL = rcv.URL + "/callback/wework"
	}
	if opts.CallbackBackoff == 0 {
		opts.CallbackBackoff = time.Millisecond
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

const me = "1688856214724417"

// seedOnline seeds an online instance with a contact, a contact without
// external permission, and a room it owns.
func seedOnline(t *testing.T, s *Sim) Instance {
	t.Helper()
	in, err := s.Seed(Instance{User: &User{UserID: me, Name: "郝永平"},
		Contacts: []Contact{{UserID: "1688857160788209", Name: "李四"}, {UserID: "7881300000000009", NoExternalPermission: true}},
		Rooms: []Room{{ID: "13102691282047519", Name: "项目群", Owner: me, Members: []string{"1688857160788209", "7881302555910001"}},
			{ID: "13102691536807585", Owner: "7881302555910001", Members: []string{"1688857160788209"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(ctxFor(t), d)
}
