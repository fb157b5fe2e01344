package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// BenchmarkSend compares a send through the outbox (stored with fsync on
// disk, sent, deleted) with the same call made directly, serially and
// from parallel callers on distinct accounts; against an in-process vendor
// (the outbox's own cost) and against the quntool simulator over HTTP.
// The "event" cases are sends made while handling a journaled event,
// stored without an fsync of their own (bindings.WithRedelivery).
func BenchmarkSend(b *testing.B) {
	w := newWorld(b)
	instant := bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) {
		return json.RawMessage(`{"msgId":"1"}`), nil
	})
	vendors := []struct {
		name string
		inv  bindings.Invoker
	}{{"instant", instant}, {"simulator", w.reg}}
	for _, v := range vendors {
		var seq atomic.Int64
		call := func() bindings.Call {
			n := seq.Add(1)
			// Distinct accounts would all be refused by the simulator
			// (it knows two): spread over its two accounts and customers.
			acct, cust := []string{acct1, acct2}[n%2], []string{cust1, cust2}[(n/2)%2]
			if v.name == "instant" {
				acct = fmt.Sprint(1688850000000000 + n%4096)
			}
			return text(acct, cust, "bench")
		}
		direct := v.inv
		b.Run(v.name+"/direct", func(b *testing.B) { benchInvoke(b, direct, call, false) })
		b.Run(v.name+"/direct-parallel", func(b *testing.B) { benchInvoke(b, direct, call, true) })
		for _, c := range []struct {
			name     string
			parallel bool
			ctx      context.Context
		}{
			{"outbox", false, context.Background()},
			{"outbox-parallel", true, context.Background()},
			{"outbox-event", false, bindings.WithRedelivery(context.Background(), "bench/ev1", false)},
			{"outbox-event-parallel", true, bindings.WithRedelivery(context.Background(), "bench/ev1", false)},
			// an event that may have been handled before: every send is
			// looked up (and not found)
			{"outbox-event-again", false, bindings.WithRedelivery(context.Background(), "bench/ev1", true)},
			// without send keys: the cost of remembering answers
			{"outbox-event-unkeyed", false, bindings.WithRedelivery(context.Background(), "", false)},
		} {
			b.Run(v.name+"/"+c.name, func(b *testing.B) {
				ob := start(b, openDB(b, b.TempDir()), Options{Next: direct, Registry: w.reg})
				benchInvokeCtx(b, c.ctx, ob, call, c.parallel)
				b.StopTimer()
				if st := mustStats(b, ob); st.Sent < uint64(b.N) {
					b.Fatalf("sent %d of %d", st.Sent, b.N)
				}
			})
		}
	}
}

func benchInvoke(b *testing.B, inv bindings.Invoker, call func() bindings.Call, parallel bool) {
	benchInvokeCtx(b, context.Background(), inv, call, parallel)
}

func benchInvokeCtx(b *testing.B, ctx context.Context, inv bindings.Invoker, call func() bindings.Call, parallel bool) {
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		for range b.N {
			if _, err := inv.Invoke(ctx, call()); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := inv.Invoke(ctx, call()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
