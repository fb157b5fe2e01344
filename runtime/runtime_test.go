package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	msgserversim "github.com/switchboard-dev/switchboard/bindings/msgserver/sim"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	quntoolsim "github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/bindings/simulator"
	weworksim "github.com/switchboard-dev/switchboard/bindings/wework/sim"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/storage"
)

// harness is one runtime on a temporary data and scripts dir, with the
// simulators pointed at it.
type harness struct {
	t       *testing.T
	cfg     *config.Config
	rt      *Runtime
	sims    *simulator.Cluster
	scripts string
	base    string // http://addr of the receiver
}

type harnessOptions struct {
	dataDir string            // reuse a data dir (restart tests)
	plugins map[string]string // file name -> source, written before start
	watch   bool
	config  func(*config.Config)
	// withSims runs once the simulators are up, before the runtime starts.
	withSims func(*simulator.Cluster, *config.Config)
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = o.dataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.ScriptsDir = t.TempDir()
	cfg.PluginsDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if o.config != nil {
		o.config(cfg)
	}
	for name, src := range o.plugins {
		writeFile(t, filepath.Join(cfg.ScriptsDir, name), src)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	sims, err := simulator.Start(simulator.Options{
		CallbackBase: base + "/callback",
		// The host's limiter paces sends; the simulator accepts them back
		// to back so that tests do not depend on its interval.
		Quntool: quntoolsim.Options{SendInterval: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sims.Close(context.Background()) })
	sims.Configure(cfg)
	if err := sims.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	if o.withSims != nil {
		o.withSims(sims, cfg)
	}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	rt, err := New(Options{Config: cfg, Logger: log, Listener: ln, NoWatch: !o.watch})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, rt: rt, sims: sims, scripts: cfg.ScriptsDir, base: base}
	t.Cleanup(func() { h.stop(5 * time.Second) })
	return h
}

// stop stops the runtime, allowing drain for events in flight.
func (h *harness) stop(drain time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	return h.rt.Stop(ctx)
}

// post sends a callback body to the receiver and returns the status.
func (h *harness) post(vendor string, body []byte) int {
	h.t.Helper()
	resp, err := http.Post(h.base+"/callback/"+vendor, "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatalf("post callback: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// counts reads a plugin's KV keys under prefix as integers.
func (h *harness) counts(plugin, prefix string) map[string]int64 {
	return countKeys(h.t, h.rt.KV(), plugin, prefix)
}

func countKeys(t *testing.T, store kv.Store, plugin, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	b := store.Bucket(plugin)
	cursor := ""
	for {
		items, next, err := b.List(prefix, kv.MaxListLimit, cursor)
		if err != nil {
			t.Fatalf("list %s: %v", plugin, err)
		}
		for _, it := range items {
			n, err := strconv.ParseInt(string(it.Value), 10, 64)
			if err != nil {
				t.Fatalf("key %s: value %s is not a count", it.Key, it.Value)
			}
			out[strings.TrimPrefix(it.Key, prefix)] = n
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// textMsg is a quntool text_msg callback from sender to the demo account.
func textMsg(msgID, serverID, sender, text string) []byte {
	conv := quntool.PrivateConversationID(simulator.DemoAccount, sender)
	b, _ := json.Marshal(map[string]any{
		"msgId": msgID, "source": "40c10a375784", "userId": "apps-1", "wxid": simulator.DemoAccount,
		"timestamp": time.Now().UnixMilli(), "type": "text_msg", "sendMsgId": nil,
		"data": map[string]any{
			"at_list": []string{}, "content": text, "content_type": 2, "conversation_id": conv,
			"receiver": simulator.DemoAccount, "send_time": strconv.FormatInt(time.Now().Unix(), 10),
			"sender": sender, "sender_name": "tester", "server_id": serverID,
		},
	})
	return b
}

const counterJS = `
on('*', (ev) => {
  kv.incr('seen:' + ev.id);
  kv.incr('version:' + VERSION);
});
`

func TestEchoRepliesThroughQuntool(t *testing.T) {
	t.Parallel()
	echo, err := os.ReadFile("../scripts/echo.js")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{plugins: map[string]string{"echo.js": string(echo)}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := h.sims.PlayDemo(ctx, &out, simulator.DemoConversation, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	sent := h.sims.Quntool.Sent()
	if len(sent) != 2 {
		t.Fatalf("sent %d messages, want 2: %+v", len(sent), sent)
	}
	wantConv := quntool.PrivateConversationID(simulator.DemoAccount, simulator.DemoContact)
	for i, want := range []string{"pong", "echo: hello from the simulator"} {
		s := sent[i]
		if s.Content != want || s.Kind != "text" || s.Account != simulator.DemoAccount || s.ConversationID != wantConv {
			t.Errorf("send %d = %+v, want text %q to %s from %s", i, s, want, wantConv, simulator.DemoAccount)
		}
	}
	// kv survives in the plugin's own namespace.
	waitFor(t, "echo's replies counter at 2", 5*time.Second, func() bool { return h.counts("echo", "replies")[""] == 2 })
}

// Every payload of seed 004 posted twice: each distinct callback is
// dispatched exactly once, including the seed's pairs of different
// callback types that share one msgId.
func TestDuplicatesDispatchedOnceDistinctKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{plugins: map[string]string{"counter.js": "const VERSION = 1;" + counterJS}})
	files, err := filepath.Glob("../bindings/quntool/testdata/callbacks/*.txt")
	if err != nil || len(files) < 24 {
		t.Fatalf("seed payloads: %d files, %v", len(files), err)
	}
	wantIDs := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		body, _, _ := strings.Cut(string(raw), "\n----------")
		evs, err := quntool.Normalize([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ev := range evs {
			wantIDs[ev.ID] = true
		}
		for range 2 {
			if st := h.post("quntool", []byte(body)); st != http.StatusOK {
				t.Fatalf("%s: status %d", f, st)
			}
		}
	}
	waitFor(t, "every distinct event handled", 10*time.Second, func() bool {
		return len(h.counts("counter", "seen:")) >= len(wantIDs)
	})
	// Give a duplicate dispatch time to show up before judging.
	time.Sleep(200 * time.Millisecond)
	seen := h.counts("counter", "seen:")
	if len(seen) != len(wantIDs) {
		t.Errorf("handled %d distinct events, want %d", len(seen), len(wantIDs))
	}
	for id := range wantIDs {
		if seen[id] != 1 {
			t.Errorf("event %s handled %d times, want once", id, seen[id])
		}
	}
	if len(wantIDs) < len(files) {
		t.Errorf("%d payloads gave only %d distinct ids: distinct callbacks were merged", len(files), len(wantIDs))
	}
}

func TestMalformedAndUnknownVendor(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	for _, tc := range []struct {
		name, vendor, body string
		want               int
	}{
		{"not JSON", "quntool", "not json at all", http.StatusBadRequest},
		{"JSON array", "wework", `[1,2,3]`, http.StatusBadRequest},
		{"unknown vendor", "nosuchvendor", `{}`, http.StatusNotFound},
	} {
		if st := h.post(tc.vendor, []byte(tc.body)); st != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, st, tc.want)
		}
	}
	rej, err := h.rt.Rejected(10)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]bool{}
	for _, r := range rej {
		bodies[r.Body] = true
	}
	if !bodies["not json at all"] || !bodies["[1,2,3]"] {
		t.Errorf("rejected store holds %+v, want both malformed bodies", rej)
	}
}

// A steady stream of callbacks while the plugin file is rewritten again and
// again, by plain writes and by an editor's save-by-rename: every event is
// handled exactly once, and more than one version handled some.
func TestHotReloadUnderStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{watch: true, plugins: map[string]string{"counter.js": "const VERSION = 1;" + counterJS}})
	// The stream runs until the last rewrite has been picked up.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var total int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ; ; total++ {
			select {
			case <-stop:
				return
			default:
			}
			sender := fmt.Sprintf("78813000000%05d", total%17)
			if st := h.post("quntool", textMsg(fmt.Sprintf("m-%d", total), strconv.Itoa(2000000+total), sender, "x")); st != http.StatusOK {
				t.Errorf("callback %d: status %d", total, st)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	path := filepath.Join(h.scripts, "counter.js")
	for v := 2; v <= 7; v++ {
		time.Sleep(250 * time.Millisecond)
		src := fmt.Sprintf("const VERSION = %d;%s", v, counterJS)
		if v%2 == 0 {
			writeFile(t, path, src)
			continue
		}
		tmp := filepath.Join(h.scripts, ".counter.js.swp")
		writeFile(t, tmp, src)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "version 7 to serve the stream", 5*time.Second, func() bool { return h.counts("counter", "version:")["7"] > 0 })
	close(stop)
	wg.Wait()
	waitFor(t, "all events handled", 20*time.Second, func() bool { return len(h.counts("counter", "seen:")) >= total })
	time.Sleep(200 * time.Millisecond)
	seen := h.counts("counter", "seen:")
	if len(seen) != total {
		t.Errorf("handled %d distinct events, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	versions := h.counts("counter", "version:")
	var sum int64
	for _, n := range versions {
		sum += n
	}
	if sum != int64(total) || len(versions) < 2 {
		t.Errorf("per version %v: sum %d (want %d) over %d versions (want several)", versions, sum, total, len(versions))
	}
	if len(versions) < 4 {
		t.Errorf("only versions %v served: the reloads did not happen under the stream", versions)
	}
}

// Events a plugin had not finished when the runtime stopped are delivered
// to it on the next start, and finished ones are not.
func TestRestartRedeliversUnfinished(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	const slow = `
on('message', async (ev) => {
  kv.incr('started:' + ev.id);
  if (config.hold) await new Promise((resolve) => setTimeout(resolve, 60000));
  kv.incr('done:' + ev.id);
});`
	settings := func(hold bool) func(*config.Config) {
		return func(c *config.Config) {
			c.Plugins["slow"] = plugin.Settings{TimeoutMS: 120000, Config: map[string]any{"hold": hold}}
		}
	}
	first := newHarness(t, harnessOptions{dataDir: dataDir, plugins: map[string]string{"slow.js": slow}, config: settings(false)})
	if st := first.post("quntool", textMsg("fast-1", "3000001", "7881300000000042", "a")); st != http.StatusOK {
		t.Fatalf("status %d", st)
	}
	waitFor(t, "the first event done", 5*time.Second, func() bool { return len(first.counts("slow", "done:")) == 1 })
	if err := first.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	second := newHarness(t, harnessOptions{dataDir: dataDir, plugins: map[string]string{"slow.js": slow}, config: settings(true)})
	const held = 4
	for i := range held {
		sender := fmt.Sprintf("788130000000010%d", i)
		if st := second.post("quntool", textMsg(fmt.Sprintf("held-%d", i), strconv.Itoa(3000100+i), sender, "b")); st != http.StatusOK {
			t.Fatalf("status %d", st)
		}
	}
	waitFor(t, "held events started", 5*time.Second, func() bool { return len(second.counts("slow", "started:")) == 1+held })
	// Stop with no time to drain: the held events stay unfinished.
	_ = second.stop(50 * time.Millisecond)

	third := newHarness(t, harnessOptions{dataDir: dataDir, plugins: map[string]string{"slow.js": slow}, config: settings(false)})
	waitFor(t, "held events finished after the restart", 10*time.Second, func() bool {
		return len(third.counts("slow", "done:")) == 1+held
	})
	started := third.counts("slow", "started:")
	for id, n := range started {
		want := int64(2) // held: started before the stop and again after
		if strings.Contains(id, "fast-1") {
			want = 1 // finished before the first stop: never again
		}
		if n != want {
			t.Errorf("event %s started %d times, want %d", id, n, want)
		}
	}
	for id, n := range third.counts("slow", "done:") {
		if n != 1 {
			t.Errorf("event %s done %d times, want once", id, n)
		}
	}
}

// TestWASMPluginRepliesThroughQuntool: the example Go WASM plugin, built
// from source and dropped into plugins_dir as a folder plugin, answers the
// demo conversation through the same bindings, limiter and outbox as JS.
func TestWASMPluginRepliesThroughQuntool(t *testing.T) {
	t.Parallel()
	wasm := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", wasm, "./examples/wasm-go")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example WASM plugin: %v\n%s", err, out)
	}
	manifest, err := os.ReadFile("../examples/wasm-go/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{config: func(cfg *config.Config) {
		writeFile(t, filepath.Join(cfg.PluginsDir, "echo", "manifest.json"), string(manifest))
		writeFile(t, filepath.Join(cfg.PluginsDir, "echo", "plugin.wasm"), string(module))
	}})
	var kinds []plugin.Kind
	for _, st := range h.rt.Plugins() {
		kinds = append(kinds, st.Kind)
	}
	if len(kinds) != 1 || kinds[0] != plugin.WASM {
		t.Fatalf("plugins loaded: %+v", h.rt.Plugins())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := h.sims.PlayDemo(ctx, &out, simulator.DemoConversation, 15*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var got []string
	for _, s := range h.sims.Quntool.Sent() {
		got = append(got, s.Content)
	}
	if strings.Join(got, "|") != "pong|echo: hello from the simulator" {
		t.Fatalf("sent %q", got)
	}
}

// TestQuntoolSendsOverMQTT: with vendors.quntool.transport mqtt, replies
// are published to the vendor's broker (the simulator's) and answered
// there, not posted over HTTP.
func TestQuntoolSendsOverMQTT(t *testing.T) {
	t.Parallel()
	echo, err := os.ReadFile("../scripts/echo.js")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{plugins: map[string]string{"echo.js": string(echo)},
		withSims: func(c *simulator.Cluster, cfg *config.Config) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = c.Quntool.ServeMQTT(ctx, ln) }()
			t.Cleanup(func() { cancel(); <-done })
			cfg.Vendors.Quntool.Transport = "mqtt"
			cfg.Vendors.Quntool.MQTTURL = "tcp://" + ln.Addr().String()
			// HTTP sends would fail: only MQTT can carry them.
			cfg.Vendors.Quntool.BaseURL = "http://127.0.0.1:1/gnapi/open"
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := h.sims.PlayDemo(ctx, &out, simulator.DemoConversation, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := len(h.sims.Quntool.Sent()); got != 2 {
		t.Fatalf("sent %d over MQTT, want 2", got)
	}
}

// TestMsgserverArchiveIsPolledIntoEvents: with vendors.msgserver.poll
// targets, archived messages become message events once each, and new
// ones keep arriving.
func TestMsgserverArchiveIsPolledIntoEvents(t *testing.T) {
	t.Parallel()
	const corp, staff = "ww-corp-1", "zhangsan"
	plugin := `on('message', (ev) => { if (ev.vendor === 'msgserver') kv.incr('seen:' + ev.message.text); });`
	h := newHarness(t, harnessOptions{plugins: map[string]string{"archive.js": plugin},
		withSims: func(c *simulator.Cluster, cfg *config.Config) {
			if err := c.Msgserver.AddStaff(corp, staff); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Msgserver.Seed(corp, staff,
				msgserversim.Message{MsgID: "m1", From: "wmcustomer1", Text: "first"},
				msgserversim.Message{MsgID: "m2", From: staff, ToList: []string{"wmcustomer1"}, Text: "second"}); err != nil {
				t.Fatal(err)
			}
			cfg.Vendors.Msgserver.Poll.IntervalMS = 50
			cfg.Vendors.Msgserver.Poll.Targets = []config.PollTarget{{CorpID: corp, Staff: []string{staff}}}
		}})
	waitFor(t, "the seeded archive", 15*time.Second, func() bool {
		c := h.counts("archive", "seen:")
		return c["first"] == 1 && c["second"] == 1
	})
	if _, err := h.sims.Msgserver.AddMessage(corp, staff, msgserversim.Message{MsgID: "m3", From: "wmcustomer1", Text: "third"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a message added later", 15*time.Second, func() bool { return h.counts("archive", "seen:")["third"] == 1 })
	time.Sleep(300 * time.Millisecond) // a few more poll rounds
	for text, n := range h.counts("archive", "seen:") {
		if n != 1 {
			t.Errorf("%q handled %d times", text, n)
		}
	}
}

// TestEchoRepliesThroughWework: the same echo plugin answers a wework
// message through wework's send_text, in the instance's conversation; its
// own send, echoed back by the vendor with send_flag, is not answered.
func TestEchoRepliesThroughWework(t *testing.T) {
	t.Parallel()
	echo, err := os.ReadFile("../scripts/echo.js")
	if err != nil {
		t.Fatal(err)
	}
	const guid, contact = "inst-1", "7881300000000042"
	h := newHarness(t, harnessOptions{plugins: map[string]string{"echo.js": string(echo)},
		withSims: func(c *simulator.Cluster, cfg *config.Config) {
			if _, err := c.Wework.Seed(weworksim.Instance{GUID: guid, User: &weworksim.User{UserID: "1688850000009999"},
				Contacts: []weworksim.Contact{{UserID: contact, Name: "Bob"}}}); err != nil {
				t.Fatal(err)
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sims.Wework.Say(ctx, weworksim.Incoming{GUID: guid, From: contact, Text: "ping"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the wework reply", 15*time.Second, func() bool { return len(h.sims.Wework.Sent()) >= 1 })
	time.Sleep(300 * time.Millisecond) // the self-sent echo callback must not be answered
	sent := h.sims.Wework.Sent()
	if len(sent) != 1 || sent[0].Content != "pong" || sent[0].GUID != guid || sent[0].ConversationID != "S:"+contact || sent[0].Kind != "text" {
		t.Fatalf("sent %+v, want one pong to S:%s from %s", sent, contact, guid)
	}
}

// TestNewFailsCleanly: a runtime that cannot be built says why and
// releases what it had opened, so the next one can open the same store.
func TestNewFailsCleanly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Vendors.Wework.AllowIPs = []string{"not-an-ip"}
	if _, err := New(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "vendors.wework.allow_ips") {
		t.Fatalf("bad allow_ips: err = %v", err)
	}
	cfg.Vendors.Wework.AllowIPs = nil
	first, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatalf("the store was left open by the failed New: %v", err)
	}
	if _, err := New(Options{Config: cfg}); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second runtime on one data_dir: err = %v, want storage.ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatalf("after Stop: %v", err)
	}
	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
