package jshost

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dop251/goja"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// benchPlugin loads js with an invoker that answers at once and an
// in-memory bucket.
func benchPlugin(b *testing.B, js string) *host {
	b.Helper()
	src := writePlugin(b, "bench", js)
	reg := testRegistry(b)
	spec := &plugin.Spec{Source: src, Events: []string{"*"}, Accounts: []string{"*"},
		Timeout: plugin.DefaultTimeout, MaxPending: plugin.DefaultMaxPending}
	ok := json.RawMessage(`{"msgId":"1"}`)
	env := plugin.Env{Spec: spec, Log: hclog.NewNullLogger(), Registry: reg, KV: newMemBucket(),
		Invoker: bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) { return ok, nil })}
	h, err := New(Options{}).Load(context.Background(), env)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	return h.(*host)
}

const (
	trivialJS = `on('message.text', (ev) => {});`
	kvSendJS  = `on('message.text', async (ev) => {
  if (ev.message.self) return;
  const n = kv.incr('pings');
  await ev.reply('pong ' + n);
});`
)

// BenchmarkHandle measures Handle end to end, one event at a time and from
// many goroutines (distinct conversations), against a baseline of calling
// the same handler directly in a bare goja runtime with a Go map.
func BenchmarkHandle(b *testing.B) {
	for _, bc := range []struct{ name, js string }{{"trivial", trivialJS}, {"kv+send", kvSendJS}} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			h := benchPlugin(b, bc.js)
			ev := textEvent("e", "S:a_b", "ping")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.Handle(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			h := benchPlugin(b, bc.js)
			ctx := context.Background()
			var conv atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ev := textEvent("e", fmt.Sprintf("S:c%d_b", conv.Add(1)), "ping")
				for pb.Next() {
					if err := h.Handle(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("baseline/goja-call-with-map", func(b *testing.B) {
		rt := goja.New()
		v, err := rt.RunString(`(ev) => { if (ev.message.self) return; }`)
		if err != nil {
			b.Fatal(err)
		}
		fn, _ := goja.AssertFunction(v)
		ev := textEvent("e", "S:a_b", "ping")
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m := map[string]any{"id": ev.ID, "type": ev.Type, "vendor": ev.Vendor, "account": ev.Account,
				"message": map[string]any{"id": ev.Message.ID, "kind": ev.Message.Kind, "text": ev.Message.Text, "self": ev.Message.Self}}
			if _, err := fn(goja.Undefined(), rt.ToValue(m)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
