package wasmhost

import (
	"context"
	"testing"
)

// BenchmarkFloor is the cost of the ABI itself, on each engine: a module
// whose `handle` returns at once, and a Go guest that only decodes the
// event.
func BenchmarkFloor(b *testing.B) {
	for _, g := range []struct {
		name string
		wasm func(testing.TB) string
	}{
		{"wat-noop", func(t testing.TB) string { return wat(t, "noop") }},
		{"go-noop", func(t testing.TB) string { return goWasm(t, "runtime/wasmhost/testdata/gonoop") }},
	} {
		forEngines(b, g.name, func(b *testing.B, eng engine) {
			l := newLoader(b, Options{engine: eng})
			te := newTestEnv(b, "floor", g.wasm(b), "", []string{"*"})
			h, err := l.Load(context.Background(), benchEnv(b, te))
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			ev := textEvent("e", "S:wxid_alice", "ping")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.Handle(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
