// Command bench measures Switchboard on this machine, each figure next to
// a baseline from the same run:
//
//   - ack: callbacks per second and latency (p50, p99) of a bare fasthttp
//     server answering 200, of the least a durable receiver can do (append
//     the body to a file, fsync shared by the bodies waiting, then 200),
//     then of Switchboard's receiver answering 200 only after the callback
//     is synced into the journal; same payloads, same client, 64
//     connections; and the ratios.
//   - e2e: events per second through the whole runtime: receiver, journal,
//     dispatcher, a JS handler that writes KV and sends a reply through the
//     bindings (limiter and outbox) to the quntool simulator, until the
//     simulator has every reply; with the process's peak RSS.
//
// Run it with `go run ./bench` (see bench/README.md for the figures).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	quntoolsim "github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/bindings/simulator"
	sb "github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long each load runs")
	conns := flag.Int("conns", 64, "concurrent connections")
	events := flag.Int("events", 100000, "events for the end-to-end run")
	accounts := flag.Int("accounts", 200, "accounts the end-to-end events are spread over")
	mode := flag.String("mode", "all", "ack, e2e or all")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("bench: %s, GOMAXPROCS %d, %d connections\n\n", time.Now().Format(time.RFC3339), runtime.GOMAXPROCS(0), *conns)
	if *mode == "all" || *mode == "ack" {
		if err := ackBench(*duration, *conns); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	switch *mode {
	case "e2e":
		if err := e2eBench(*events, *accounts, *conns); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	case "all":
		// In a process of its own, so that its peak RSS is its own.
		if err := rerun("-mode", "e2e", "-events", strconv.Itoa(*events), "-accounts", strconv.Itoa(*accounts), "-conns", strconv.Itoa(*conns)); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// rerun runs this program again with args, its output going to ours.
func rerun(args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// result is one load's outcome.
type result struct {
	n       int
	errs    int
	elapsed time.Duration
	lat     []time.Duration
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

func (r result) String() string {
	return fmt.Sprintf("%9.0f req/s   p50 %8s   p99 %8s   (%d requests, %d errors)",
		r.rate(), r.pct(0.50).Round(time.Microsecond), r.pct(0.99).Round(time.Microsecond), r.n, r.errs)
}

// load posts callbacks to addr from conns workers, for d or until count
// requests were made (count > 0), and measures every request.
func load(addr string, conns int, d time.Duration, count int, body func(i int64) []byte) result {
	client := &fasthttp.HostClient{Addr: addr, MaxConns: conns, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	var next atomic.Int64
	var mu sync.Mutex
	var all result
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + "/callback/quntool")
			req.Header.SetMethod("POST")
			req.Header.SetContentType("application/json")
			// Sized for this connection's share: the client's memory counts
			// in the e2e run's peak RSS.
			share := 4096
			if count > 0 {
				share = count/conns + 1
			}
			lat := make([]time.Duration, 0, share)
			errs := 0
			for {
				i := next.Add(1)
				if (count > 0 && i > int64(count)) || (count == 0 && time.Now().After(deadline)) {
					break
				}
				req.SetBody(body(i))
				t0 := time.Now()
				err := client.Do(req, resp)
				if err != nil || resp.StatusCode() != 200 {
					errs++
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all.lat = append(all.lat, lat...)
			all.errs += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.n = len(all.lat)
	slices.Sort(all.lat)
	return all
}

// contactsPerAccount is how many contacts talk to each account.
const contactsPerAccount = 8

// callback is a quntool text_msg from one of accounts' contacts.
func callback(i int64, accounts int) []byte {
	acct := 1688850000000000 + i%int64(accounts)
	sender := 7881300000000000 + (i/int64(accounts))%contactsPerAccount
	return []byte(`{"msgId":"bench-` + strconv.FormatInt(i, 10) + `","source":"40c10a375784","userId":"apps-1","wxid":"` +
		strconv.FormatInt(acct, 10) + `","timestamp":1686708147954,"type":"text_msg","data":{"at_list":[],"content":"ping","content_type":2,` +
		`"conversation_id":"S:` + strconv.FormatInt(acct, 10) + `_` + strconv.FormatInt(sender, 10) + `","is_pc":0,"receiver":"` +
		strconv.FormatInt(acct, 10) + `","send_time":"1686708146","sender":"` + strconv.FormatInt(sender, 10) +
		`","sender_name":"bench","server_id":"` + strconv.FormatInt(1000000+i, 10) + `"},"sendMsgId":null}`)
}

func ackBench(d time.Duration, conns int) error {
	body := func(i int64) []byte { return callback(i, 64) }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		_ = ctx.PostBody()
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"code":0,"msg":"ok"}`)
	}}
	go bare.Serve(ln)
	base := load(ln.Addr().String(), conns, d, 0, body)
	_ = bare.Shutdown()

	floor, err := floorBench(d, conns, body)
	if err != nil {
		return err
	}

	cfg, cleanup, err := benchConfig()
	if err != nil {
		return err
	}
	defer cleanup()
	rt, err := sb.New(sb.Options{Config: cfg, Logger: hclog.NewNullLogger(), NoWatch: true})
	if err != nil {
		return err
	}
	if err := rt.Start(context.Background()); err != nil {
		return err
	}
	durable := load(rt.Addr(), conns, d, 0, body)
	if err := rt.Stop(context.Background()); err != nil {
		return err
	}

	fmt.Printf("ack: %s per load\n", d)
	fmt.Printf("  bare fasthttp        %s\n", base)
	fmt.Printf("  append + fsync floor %s\n", floor)
	fmt.Printf("  switchboard receiver %s\n", durable)
	fmt.Printf("  ratio                %.2fx bare fasthttp throughput (target >= 0.60); the floor reaches %.2fx\n\n",
		durable.rate()/base.rate(), floor.rate()/base.rate())
	return nil
}

// floorBench loads the least a durable receiver can do: a fasthttp server
// that checks the body is JSON, appends it to a file with the other
// bodies waiting, fsyncs the file once for all of them and only then
// answers 200. No parsing into fields, no index, no dedupe: whatever it
// reaches bounds any receiver that answers after an fsync on this disk.
func floorBench(d time.Duration, conns int, body func(i int64) []byte) (result, error) {
	f, err := os.CreateTemp("", "switchboard-bench-floor-")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	type req struct {
		body []byte
		done chan error
	}
	reqs := make(chan req, conns)
	go func() {
		var batch []req
		var buf []byte
		for first := range reqs {
			batch = append(batch[:0], first)
		gather:
			for {
				select {
				case r := <-reqs:
					batch = append(batch, r)
				default:
					break gather
				}
			}
			buf = buf[:0]
			for _, r := range batch {
				buf = append(append(buf, r.body...), '\n')
			}
			_, err := f.Write(buf)
			if err == nil {
				err = f.Sync()
			}
			for _, r := range batch {
				r.done <- err
			}
		}
	}()
	defer close(reqs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		b := ctx.PostBody()
		if !json.Valid(b) {
			ctx.SetStatusCode(fasthttp.StatusBadRequest)
			return
		}
		r := req{body: b, done: make(chan error, 1)}
		reqs <- r
		if err := <-r.done; err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"code":0}`)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	return load(ln.Addr().String(), conns, d, 0, body), nil
}

func benchConfig() (*config.Config, func(), error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, nil, err
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.ScriptsDir = filepath.Join(dir, "scripts")
	cfg.PluginsDir = filepath.Join(dir, "plugins")
	cfg.Listen = "127.0.0.1:0"
	cfg.Log.Level = "error"
	return cfg, func() { os.RemoveAll(dir) }, nil
}

// e2eHandler writes KV and replies through the bindings.
const e2eHandler = `on('message.text', async (ev) => {
  kv.incr('seen:' + ev.conversation.id);
  await ev.reply('pong');
});`

func e2eBench(events, accounts, conns int) error {
	cfg, cleanup, err := benchConfig()
	if err != nil {
		return err
	}
	defer cleanup()
	if err := os.MkdirAll(cfg.ScriptsDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.ScriptsDir, "bench.js"), []byte(e2eHandler), 0o644); err != nil {
		return err
	}
	// The simulator enforces no interval; the host's limits are set so that
	// pacing is not what is measured (each account may send every 1 ms).
	sims, err := simulator.Start(simulator.Options{Quntool: quntoolsim.Options{SendInterval: -1, HourlyCorpCap: -1}})
	if err != nil {
		return err
	}
	defer sims.Close(context.Background())
	for a := range accounts {
		wxid := strconv.FormatInt(1688850000000000+int64(a), 10)
		if _, err := sims.Quntool.Seed(quntoolsim.Account{WxID: wxid, CorpID: fmt.Sprintf("19703250%08d", a)}); err != nil {
			return err
		}
		for c := range contactsPerAccount {
			if err := sims.Quntool.AddContact(wxid, quntoolsim.Contact{UserID: strconv.Itoa(7881300000000000 + c)}); err != nil {
				return err
			}
		}
	}
	sims.Configure(cfg)
	cfg.Limits.Quntool.SendIntervalMS = 1
	cfg.Limits.Quntool.SendsPerHourPerCorp = 1 << 30
	rt, err := sb.New(sb.Options{Config: cfg, Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}), NoWatch: true})
	if err != nil {
		return err
	}
	if err := rt.Start(context.Background()); err != nil {
		return err
	}
	defer rt.Stop(context.Background())

	peak := watchRSS()
	start := time.Now()
	acked := load(rt.Addr(), conns, 0, events, func(i int64) []byte { return callback(i, accounts) })
	fmt.Fprintf(os.Stderr, "e2e: %d callbacks acknowledged (%d errors) in %s; waiting for the replies\n", acked.n, acked.errs, time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(5 * time.Second)
			fmt.Fprintf(os.Stderr, "e2e: %d of %d replies\n", len(sims.Quntool.Sent()), acked.n)
		}
	}()
	if _, err := sims.Quntool.WaitSent(ctx, acked.n); err != nil {
		return fmt.Errorf("replies: %d of %d arrived: %w", len(sims.Quntool.Sent()), acked.n, err)
	}
	elapsed := time.Since(start)
	fmt.Printf("e2e: %d callbacks over %d accounts, JS handler kv.incr + ev.reply through the outbox to the simulator\n", acked.n, accounts)
	fmt.Printf("  acknowledged         %s\n", acked)
	fmt.Printf("  end to end           %9.0f events/s (every reply received by the simulator after %s; target >= 20000)\n",
		float64(acked.n)/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	fmt.Printf("  peak RSS             %s (target <= 200 MB)\n", peak())
	return nil
}

// rss is a sample of the process's resident set, in bytes: in all, and
// the part of it that is anonymous memory (the Go heap and stacks, cgo)
// and the part that maps files (Badger's memory-mapped tables and logs,
// the binary).
type rss struct{ total, anon, file int64 }

func (r rss) String() string {
	return fmt.Sprintf("%9.1f MB (anonymous %.1f MB, mapped files %.1f MB)",
		float64(r.total)/(1<<20), float64(r.anon)/(1<<20), float64(r.file)/(1<<20))
}

// watchRSS samples the process's resident set every 50 ms; the returned
// function stops sampling and reports the peak sample (written by the
// sampler only, read once it has exited).
func watchRSS() func() rss {
	var peak rss
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if r := currentRSS(); r.total > peak.total {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() rss {
		close(stop)
		<-done
		return peak
	}
}

// currentRSS reads VmRSS, RssAnon and RssFile from /proc/self/status
// (Linux).
func currentRSS() rss {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return rss{}
	}
	var r rss
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch name {
		case "VmRSS":
			r.total = kb << 10
		case "RssAnon":
			r.anon = kb << 10
		case "RssFile":
			r.file = kb << 10
		}
	}
	return r
}
