package runtime

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-dev/switchboard/runtime/config"
)

// benchPost posts b.N callbacks with parallel clients (64 connections) to
// addr, each body made by body(i), and fails on any status but 200.
func benchPost(b *testing.B, addr string, body func(i int64) []byte) {
	b.Helper()
	client := &fasthttp.HostClient{Addr: addr, MaxConns: 64}
	var n atomic.Int64
	b.SetParallelism(32) // 32 x GOMAXPROCS(2) = 64 concurrent clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + "/callback/quntool")
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		for pb.Next() {
			req.SetBody(body(n.Add(1)))
			if err := client.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
}

func benchBody(i int64) []byte {
	return textMsg("bench-"+strconv.FormatInt(i, 10), strconv.FormatInt(9000000+i, 10),
		fmt.Sprintf("78813000000%05d", i%64), "benchmark message")
}

// BenchmarkBareFasthttp is the baseline: a fasthttp server that answers
// 200 to the same callbacks, over the same loopback connections.
func BenchmarkBareFasthttp(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = ctx.PostBody()
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	benchPost(b, ln.Addr().String(), benchBody)
}

// BenchmarkReceiveToHandler is a callback's whole way: received over
// HTTP, normalized, synced into the Badger journal (group commit) and
// acknowledged, then dispatched to a JS handler that counts it in KV. The
// clock stops when the last event has been handled.
func BenchmarkReceiveToHandler(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.ScriptsDir = b.TempDir()
	cfg.PluginsDir = b.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if err := os.WriteFile(filepath.Join(cfg.ScriptsDir, "count.js"), []byte(`on('message', (ev) => { kv.incr('handled'); });`), 0o644); err != nil {
		b.Fatal(err)
	}
	rt, err := New(Options{Config: cfg, Logger: hclog.NewNullLogger(), NoWatch: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())
	progress, err := rt.journal.Consumer("count")
	if err != nil {
		b.Fatal(err)
	}
	benchPost(b, rt.Addr(), benchBody)
	head := rt.journal.Head()
	for deadline := time.Now().Add(time.Minute); progress.Start() <= head; {
		if time.Now().After(deadline) {
			b.Fatalf("handled up to %d of %d", progress.Start()-1, head)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	st := rt.journal.Stats()
	if st.Syncs > 0 {
		b.ReportMetric(float64(st.Stored)/float64(st.Syncs), "events/fsync")
	}
}
