package simkit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type rec struct {
	Name string
	Status
}

func fillRec(r *rec, st Status) { r.Status = st }

// receiver answers the codes in order (the last one for ever) and records
// the bodies it saw.
type receiver struct {
	mu     sync.Mutex
	codes  []int
	bodies []string
}

func (rx *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rx.mu.Lock()
	rx.bodies = append(rx.bodies, string(b))
	code := rx.codes[0]
	if len(rx.codes) > 1 {
		rx.codes = rx.codes[1:]
	}
	rx.mu.Unlock()
	w.WriteHeader(code)
}

func (rx *receiver) seen() []string {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return append([]string(nil), rx.bodies...)
}

// blockingServer answers no request until the test ends or the client
// gives up.
func blockingServer(t *testing.T) *httptest.Server {
	t.Helper()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(block)
		srv.Close()
	})
	return srv
}

func TestPosterDeliver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		codes        []int
		retries      int
		wantErr      error
		wantAttempts int
	}{
		{"accepted", []int{http.StatusOK}, 2, nil, 1},
		{"retried 5xx then accepted", []int{500, 503, http.StatusNoContent}, 2, nil, 3},
		{"429 retried until the retries run out", []int{http.StatusTooManyRequests}, 2, ErrCallback, 3},
		{"4xx is final", []int{http.StatusBadRequest}, 5, ErrCallback, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rx := &receiver{codes: tc.codes}
			srv := httptest.NewServer(rx)
			defer srv.Close()
			p := NewPoster(Config{Timeout: time.Second, Retries: tc.retries, Backoff: time.Millisecond}, fillRec)
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d := p.Enqueue(Item[rec]{URL: srv.URL, Body: []byte(`{"a":1}`), Label: "t", Record: rec{Name: "one"}})
			err := p.Wait(ctx, d)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
			}
			if got := len(rx.seen()); got != tc.wantAttempts {
				t.Errorf("receiver saw %d posts, want %d", got, tc.wantAttempts)
			}
			recs := p.Records()
			if len(recs) != 1 || recs[0].Name != "one" || recs[0].Attempts != tc.wantAttempts || recs[0].Delivered != (tc.wantErr == nil) {
				t.Errorf("records %+v", recs)
			}
			if (recs[0].Err != "") != (tc.wantErr != nil) {
				t.Errorf("record error %q, want one: %v", recs[0].Err, tc.wantErr != nil)
			}
			st := p.Stats()
			if st.Queued != 0 || st.Delivered+st.Failed != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestPosterOrderFlushAndReset(t *testing.T) {
	t.Parallel()
	rx := &receiver{codes: []int{http.StatusOK}}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	p := NewPoster[rec](Config{Timeout: time.Second, Backoff: time.Millisecond}, nil)
	defer p.Close()
	want := []string{"1", "2", "3", "4", "5"}
	for _, b := range want {
		p.Enqueue(Item[rec]{URL: srv.URL, Body: []byte(b), Label: b})
	}
	p.Enqueue(Item[rec]{Body: []byte("unposted"), Label: "recorded only"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := rx.seen()
	if len(got) != len(want) {
		t.Fatalf("posted %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("posted %q, want %q in order", got, want)
		}
	}
	if n := len(p.Records()); n != 6 {
		t.Errorf("%d records, want 6", n)
	}
	if st := p.Stats(); st.Delivered != 5 {
		t.Errorf("stats %+v, want 5 delivered", st)
	}
	p.ResetRecord()
	if n, st := len(p.Records()), p.Stats(); n != 0 || st != (Stats{}) {
		t.Errorf("after reset: %d records, stats %+v", n, st)
	}
}

func TestPosterRecordLimit(t *testing.T) {
	t.Parallel()
	p := NewPoster(Config{}, fillRec)
	defer p.Close()
	for i := 0; i < RecordLimit+5; i++ {
		p.Enqueue(Item[rec]{Label: "x", Record: rec{Name: string(rune('a' + i%26))}})
	}
	recs := p.Records()
	if len(recs) != RecordLimit {
		t.Fatalf("%d records, want %d", len(recs), RecordLimit)
	}
	if recs[0].Name != string(rune('a'+5%26)) {
		t.Errorf("oldest kept is %q, want the sixth", recs[0].Name)
	}
}

func TestPosterClose(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	p := NewPoster(Config{Timeout: 30 * time.Second, Backoff: time.Millisecond}, fillRec)
	first := p.Enqueue(Item[rec]{URL: srv.URL, Label: "in flight"})
	queued := p.Enqueue(Item[rec]{URL: srv.URL, Label: "queued"})
	p.Close()
	p.Close() // idempotent
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range []*Delivery[rec]{first, queued} {
		if err := p.Wait(ctx, d); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Wait = %v, want ErrClosed", d.item.Label, err)
		}
	}
	if err := p.Wait(ctx, p.Enqueue(Item[rec]{URL: srv.URL, Label: "late"})); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: Wait = %v, want ErrClosed", err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestPosterWaitDeadline(t *testing.T) {
	t.Parallel()
	srv := blockingServer(t)
	p := NewPoster[rec](Config{Timeout: 30 * time.Second}, nil)
	defer p.Close()
	d := p.Enqueue(Item[rec]{URL: srv.URL, Label: "slow"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx, d); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	if err := p.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush = %v, want context.Canceled", err)
	}
}

func TestFailedAndEncodeJSON(t *testing.T) {
	t.Parallel()
	p := NewPoster[rec](Config{}, nil)
	defer p.Close()
	boom := errors.New("boom")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Wait(ctx, Failed[rec]("x", boom)); !errors.Is(err, boom) {
		t.Errorf("Wait(Failed) = %v, want boom", err)
	}
	if n := len(p.Records()); n != 0 {
		t.Errorf("a failed delivery was recorded (%d records)", n)
	}
	b, err := EncodeJSON(map[string]string{"a": "<&>"})
	if err != nil || string(b) != `{"a":"<&>"}` {
		t.Errorf("EncodeJSON = %s, %v", b, err)
	}
	if _, err := EncodeJSON(func() {}); err == nil {
		t.Error("EncodeJSON of a func did not fail")
	}
}
