package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

const customer = "7881300000000001"

// simWorld is the quntool simulator with one account and one customer,
// limited to one send per interval, behind a limiter with the same
// interval.
type simWorld struct {
	sim *sim.Sim
	reg *bindings.Registry
	lim *Limiter
	inv bindings.Invoker
}

func newSimWorld(t testing.TB, interval time.Duration) *simWorld {
	t.Helper()
	s := sim.New(sim.Options{SendInterval: interval})
	t.Cleanup(s.Close)
	if _, err := s.Seed(sim.Account{WxID: acct1}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddContact(acct1, sim.Contact{UserID: customer}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	reg := bindings.NewRegistry()
	client := quntool.NewClient(quntool.Config{BaseURL: srv.URL + sim.APIPrefix, HTTP: srv.Client(), Timeout: 5 * time.Second})
	if err := reg.Add(quntool.Vendor(client)); err != nil {
		t.Fatal(err)
	}
	var lc config.Limits
	lc.Quntool.SendIntervalMS = int(interval / time.Millisecond)
	lc.Quntool.SendsPerHourPerCorp = 50000
	lc.MaxWaitMS = 60000
	lim, err := New(Options{Registry: reg, Rules: FromConfig(lc)})
	if err != nil {
		t.Fatal(err)
	}
	return &simWorld{sim: s, reg: reg, lim: lim, inv: lim.Wrap(reg)}
}

func simSend(plugin, content string) bindings.Call {
	return bindings.Call{Plugin: plugin, Vendor: "quntool", Method: "msg.text",
		Args: map[string]any{"wxId": acct1, "conversationId": "S:" + acct1 + "_" + customer, "content": content}}
}

// TestOversubscriptionAgainstSimulator: ten callers each sending as fast
// as they can through one account get every send accepted, with no
// -1000999 from the vendor.
func TestOversubscriptionAgainstSimulator(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const interval = 20 * time.Millisecond
	w := newSimWorld(t, interval)
	const callers, each = 10, 5
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := w.inv.Invoke(ctx, simSend("p", fmt.Sprintf("caller %d send %d", c, i))); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sent := w.sim.Sent()
	if v := w.sim.Violations(); v != 0 || len(sent) != callers*each {
		t.Fatalf("%d violations, %d sends accepted (want 0, %d)", v, len(sent), callers*each)
	}
	for i := 1; i < len(sent); i++ {
		if gap := sent[i].At.Sub(sent[i-1].At); gap < interval {
			t.Errorf("send %d only %s after the previous one", i, gap)
		}
	}
}

// TestThroughputAgainstSimulator: an oversubscribed account runs within
// 5% of its allowed rate (the limiter counts each slot from the vendor's
// answer, so a round trip per send is the price of never going over).
func TestThroughputAgainstSimulator(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	// The interval is long next to a loopback round trip even on a busy
	// machine (a few ms), which is what the 5% must absorb.
	const interval = 150 * time.Millisecond
	const span = 4500 * time.Millisecond
	w := newSimWorld(t, interval)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := 0; c < 10; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := w.inv.Invoke(ctx, simSend("p", fmt.Sprint(c, "/", i))); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(span) // the measurement window itself
	close(stop)
	wg.Wait()
	sent := w.sim.Sent()
	if failed.Load() != 0 || w.sim.Violations() != 0 {
		t.Fatalf("%d failed calls, %d violations", failed.Load(), w.sim.Violations())
	}
	if len(sent) < 2 {
		t.Fatalf("%d sends", len(sent))
	}
	elapsed := sent[len(sent)-1].At.Sub(sent[0].At)
	rate := float64(len(sent)-1) / elapsed.Seconds()
	allowed := float64(time.Second) / float64(interval)
	t.Logf("%d sends in %s: %.2f/s of %.0f/s allowed", len(sent), elapsed.Round(time.Millisecond), rate, allowed)
	if rate > allowed || rate < 0.95*allowed {
		t.Errorf("rate %.2f/s, want within 5%% below %.0f/s", rate, allowed)
	}
}

// TestTwoPluginsShareAnAccount: a plugin with eight busy callers and one
// with two share one account about evenly.
func TestTwoPluginsShareAnAccount(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const interval = 20 * time.Millisecond
	w := newSimWorld(t, interval)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var counts sync.Map
	for _, p := range []struct {
		name    string
		callers int
	}{{"busy", 8}, {"quiet", 2}} {
		n := new(atomic.Int64)
		counts.Store(p.name, n)
		for c := 0; c < p.callers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := w.inv.Invoke(ctx, simSend(p.name, p.name)); err == nil {
						n.Add(1)
					}
				}
			}()
		}
	}
	time.Sleep(2 * time.Second) // the measurement window itself
	close(stop)
	wg.Wait()
	busy, _ := counts.Load("busy")
	quiet, _ := counts.Load("quiet")
	b, q := busy.(*atomic.Int64).Load(), quiet.(*atomic.Int64).Load()
	share := float64(q) / float64(b+q)
	t.Logf("busy %d, quiet %d: quiet's share %.2f", b, q, share)
	if b+q < 50 || math.Abs(share-0.5) > 0.05 {
		t.Errorf("busy %d, quiet %d: want about half each", b, q)
	}
	if v := w.sim.Violations(); v != 0 {
		t.Errorf("%d violations", v)
	}
}

// BenchmarkLimiterOverhead compares a direct call of a trivial invoker
// with the same call through the limiter on an uncontended key (a rule
// generous enough never to make it wait).
func BenchmarkLimiterOverhead(b *testing.B) {
	reg := testRegistry(b)
	next := bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) { return nil, nil })
	call := send("p", acct1, 1)
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := next.Invoke(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("limited", func(b *testing.B) {
		rules := Rules{Rules: []Rule{
			{Name: "quntool/account", Vendor: "quntool", SendsOnly: true, Scope: ScopeAccount, Max: 1 << 20, Window: time.Nanosecond},
			{Name: "quntool/corp", Vendor: "quntool", SendsOnly: true, Scope: ScopeCorp, Max: 1 << 20, Window: time.Nanosecond},
		}}
		l, err := New(Options{Registry: reg, Rules: rules})
		if err != nil {
			b.Fatal(err)
		}
		inv := l.Wrap(next)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := inv.Invoke(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
	})
}
