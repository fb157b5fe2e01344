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
		for _, parallel := range []bool{false, true} {
			name := v.name + "/outbox"
			if parallel {
				name += "-parallel"
			}
			b.Run(name, func(b *testing.B) {
				ob := start(b, openDB(b, b.TempDir()), Options{Next: direct, Registry: w.reg})
				benchInvoke(b, ob, call, parallel)
				b.StopTimer()
				if st := mustStats(b, ob); st.Sent < uint64(b.N) {
					b.Fatalf("sent %d of %d", st.Sent, b.N)
				}
			})
		}
	}
}

func benchInvoke(b *testing.B, inv bindings.Invoker, call func() bindings.Call, parallel bool) {
	ctx := context.Background()
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
