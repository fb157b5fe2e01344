package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestCallbackRetriesAndFailures(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch n := hits.Add(1); {
		case n == 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case r.URL.Path == "/refuse":
			http.Error(w, "no", http.StatusBadRequest)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	s := New(Options{CallbackURL: srv.URL, CallbackBackoff: time.Millisecond})
	defer s.Close()
	guid, _ := s.Seed(Instance{Account: &alice})
	ctx := testContext(t)
	if err := s.PostCallback(ctx, guid, 1047, map[string]any{"room_id": "1@chatroom"}); err != nil {
		t.Fatal(err)
	}
	cbs := s.Callbacks()
	if len(cbs) != 1 || cbs[0].Attempts != 2 || !cbs[0].Delivered || string(cbs[0].Body) != `{"guid":"`+guid+`","notify_type":1047,"data":{"room_id":"1@chatroom"}}` {
		t.Errorf("callbacks %+v", cbs)
	}
	refusing, _ := s.Seed(Instance{Account: &alice, NotifyURL: srv.URL + "/refuse"})
	if err := s.PostCallback(ctx, refusing, 1001, map[string]any{}); !errors.Is(err, ErrCallback) {
		t.Errorf("a refused callback: %v", err)
	}
	if st := s.CallbackStats(); st.Delivered != 1 || st.Failed != 1 || st.Queued != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := s.PostCallback(ctx, "nope", 1001, nil); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("unknown instance: %v", err)
	}
	if err := s.PostCallback(ctx, guid, 0, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("notify type 0: %v", err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.PostCallback(ctx, guid, 1001, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestCallbacksWithoutURLAreRecorded(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	defer s.Close()
	guid, _ := s.Seed(Instance{Account: &alice})
	if err := s.PostCallback(testContext(t), guid, 1005, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if cbs := s.Callbacks(); len(cbs) != 1 || cbs[0].URL != "" || cbs[0].Attempts != 0 || cbs[0].NotifyType != 1005 {
		t.Errorf("callbacks %+v", cbs)
	}
}

func TestCallbackWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	s := New(Options{CallbackURL: srv.URL})
	defer s.Close()
	guid, _ := s.Seed(Instance{Account: &alice})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.PostCallback(ctx, guid, 1001, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
}
