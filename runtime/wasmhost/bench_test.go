package wasmhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/jshost"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/wasmhost/wasmbin"
)

// benchEnv is the environment both hosts get in the benchmark: the
// quntool registry, an invoker that answers at once, an in-memory Badger
// bucket and a discarding logger, so what is measured is the host.
func benchEnv(b *testing.B, te *testEnv) plugin.Env {
	ok := json.RawMessage(`{"msgId":"m1"}`)
	env := te.env
	env.Log = hclog.NewNullLogger()
	env.Invoker = plugin.Guard(env.Spec.Name, env.Spec.Grants,
		bindings.InvokerFunc(func(context.Context, bindings.Call) (json.RawMessage, error) { return ok, nil }))
	env.KV = memStore(b).Bucket(env.Spec.Name)
	return env
}

// BenchmarkEcho is the per-event cost of the echo logic (reply, KV
// counter, log line) as the Go WASM example and the AssemblyScript
// example on each engine, and as scripts/echo.js under jshost, serially
// and from parallel goroutines (distinct conversations).
func BenchmarkEcho(b *testing.B) {
	root := repoRoot(b)
	cache := b.TempDir()
	type host struct {
		name  string
		entry string
		load  func(env plugin.Env) (plugin.Handler, error)
	}
	var hosts []host
	for _, g := range []struct{ name, entry string }{{"wasm-go", goWasm(b, "examples/wasm-go")}, {"wasm-as", asWasm(b)}} {
		for _, e := range testEngines {
			l := newLoader(b, Options{CacheDir: cache, engine: e.eng})
			hosts = append(hosts, host{g.name + "/" + e.name, g.entry, func(env plugin.Env) (plugin.Handler, error) {
				return l.Load(context.Background(), env)
			}})
		}
	}
	hosts = append(hosts, []host{
		{"js", filepath.Join(root, "scripts", "echo.js"), func(env plugin.Env) (plugin.Handler, error) {
			env.Spec.Kind, env.Spec.Entry = plugin.JS, filepath.Join(root, "scripts", "echo.js")
			return jshost.New(jshost.Options{}).Load(context.Background(), env)
		}},
	}...)
	for _, hc := range hosts {
		setup := func(b *testing.B) plugin.Handler {
			te := newTestEnv(b, "echo", hc.entry, echoManifest(b), echoAllow)
			h, err := hc.load(benchEnv(b, te))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Close() })
			return h
		}
		b.Run(hc.name+"/serial", func(b *testing.B) {
			h := setup(b)
			ev := textEvent("e", "S:wxid_alice", "ping")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.Handle(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(hc.name+"/parallel", func(b *testing.B) {
			h := setup(b)
			ctx := context.Background()
			var conv atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ev := textEvent("e", fmt.Sprintf("S:wxid_c%d", conv.Add(1)), "ping")
				for pb.Next() {
					if err := h.Handle(ctx, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStop is how soon a guest in an endless loop (testdata/loop.wat)
// is stopped once its event's deadline has passed: the stop-µs metric is
// the time from the deadline to Handle's return (the instance is thrown
// away, and the next event creates another), on each engine.
func BenchmarkStop(b *testing.B) {
	for _, e := range testEngines {
		b.Run(e.name, func(b *testing.B) {
			te := newTestEnv(b, "loop", wat(b, "loop"), manifestWith(`{"timeout_ms":5000}`), []string{"*"})
			h, err := newLoader(b, Options{engine: e.eng}).Load(context.Background(), benchEnv(b, te))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Close() })
			ev := textEvent("e", "S:wxid_alice", "ping")
			var late time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				deadline := time.Now().Add(2 * time.Millisecond)
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				err := h.Handle(ctx, ev)
				late += time.Since(deadline)
				cancel()
				if !errors.Is(err, plugin.ErrTimeout) {
					b.Fatalf("err = %v, want a timeout", err)
				}
			}
			b.ReportMetric(float64(late.Microseconds())/float64(b.N), "stop-µs")
		})
	}
}

// BenchmarkInsertCheckpoints is what the checkpoint rewrite adds to a
// plugin's load (before compiling, or finding the compiled code in the
// cache): the Go example, about 3 MB of WebAssembly.
func BenchmarkInsertCheckpoints(b *testing.B) {
	wasm, err := os.ReadFile(goWasm(b, "examples/wasm-go"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := wasmbin.InsertCheckpoints(wasm, checkInterval); err != nil {
			b.Fatal(err)
		}
	}
}
