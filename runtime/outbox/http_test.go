package outbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// TestHandler drives the admin API: list both states, stats, retry and
// drop, and its refusals.
func TestHandler(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	w := newWorld(t)
	f := newFlaky(w.reg, 1, &bindings.VendorError{Vendor: "quntool", Code: 4001, Message: "refused once"})
	ob := start(t, openDB(t, ""), Options{Next: f, Registry: w.reg, MaxAttempts: 1})
	var ids []string
	for _, content := range []string{"a", "b"} {
		_, err := ob.Invoke(ctx, text(acct1, cust1, content))
		var de *DeadError
		if !errors.As(err, &de) {
			t.Fatalf("err %v, want a DeadError", err)
		}
		ids = append(ids, de.ID)
	}
	waitFor(t, ctx, "two dead letters", func() bool { return mustStats(t, ob).Dead == 2 })
	srv := httptest.NewServer(http.StripPrefix(MountPath, Handler(ob)))
	t.Cleanup(srv.Close)

	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	list := func(query string) []Entry {
		t.Helper()
		code, body := do(http.MethodGet, MountPath+query)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", query, code, body)
		}
		var page ListPage
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		return page.Entries
	}

	if dead := list("?state=dead"); len(dead) != 2 || dead[0].ID != ids[0] || dead[0].LastError == nil {
		t.Errorf("dead list %+v: want both dead letters with their errors", dead)
	}
	if dead := list("/?state=dead&limit=1"); len(dead) != 1 {
		t.Errorf("limit 1 listed %d", len(dead))
	}
	if pending := list(""); len(pending) != 0 {
		t.Errorf("pending list %+v: want empty", pending)
	}
	code, body := do(http.MethodGet, MountPath+"/stats")
	var st Stats
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Dead != 2 || st.DeadLettered != 2 {
		t.Errorf("stats: %d %s", code, body)
	}
	code, body = do(http.MethodPost, MountPath+"/retry/"+ids[0])
	var e Entry
	if code != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil || e.ID != ids[0] || e.State != Pending {
		t.Errorf("retry: %d %s", code, body)
	}
	if _, err := w.sim.WaitSent(ctx, 1); err != nil {
		t.Fatalf("the retried entry was not sent: %v", err)
	}
	if code, body := do(http.MethodPost, MountPath+"/drop/"+ids[1]); code != http.StatusOK || !strings.Contains(body, ids[1]) {
		t.Errorf("drop: %d %s", code, body)
	}
	waitFor(t, ctx, "an empty outbox", func() bool {
		s := mustStats(t, ob)
		return s.Dead == 0 && s.Pending == 0
	})

	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"unknown id", http.MethodPost, "/drop/" + ids[1], http.StatusNotFound},
		{"bad id", http.MethodPost, "/retry/zzzz", http.StatusBadRequest},
		{"bad state", http.MethodGet, "?state=gone", http.StatusBadRequest},
		{"bad limit", http.MethodGet, "?limit=-1", http.StatusBadRequest},
		{"list by POST", http.MethodPost, "", http.StatusMethodNotAllowed},
		{"retry by GET", http.MethodGet, "/retry/" + ids[0], http.StatusMethodNotAllowed},
		{"unknown path", http.MethodGet, "/nothing", http.StatusNotFound},
		{"nested id", http.MethodPost, "/drop/a/b", http.StatusNotFound},
	} {
		code, body := do(tc.method, MountPath+tc.path)
		if code != tc.want || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error", tc.name, code, body, tc.want)
		}
	}
}
