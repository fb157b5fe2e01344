package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// binary is the switchboard binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "switchboard")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build switchboard: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one `switchboard` process.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

// waitExit waits for the process to end and returns its exit code.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("process did not exit within %s", d)
	}
	return p.cmd.ProcessState.ExitCode()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("process exited early: %v", p.err)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("switchboard never became ready")
}

// kvItems lists a plugin's keys under prefix, with their JSON values,
// through the admin API.
func kvItems(t *testing.T, base, plugin, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		resp, err := http.Get(fmt.Sprintf("%s/admin/kv/%s?prefix=%s&limit=1000&cursor=%s", base, plugin, prefix, cursor))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			} `json:"items"`
			Cursor string `json:"cursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out[strings.TrimPrefix(it.Key, prefix)] = string(it.Value)
		}
		if page.Cursor == "" {
			return out
		}
		cursor = page.Cursor
	}
}

func callback(i int) (body []byte, id string) {
	body, _ = json.Marshal(map[string]any{
		"msgId": fmt.Sprintf("kill-%d", i), "source": "40c10a375784", "userId": "apps-1", "wxid": "1688850000000001",
		"timestamp": time.Now().UnixMilli(), "type": "text_msg",
		"data": map[string]any{
			"content": "hi", "content_type": 2, "conversation_id": fmt.Sprintf("S:1688850000000001_78813000000%05d", i%23),
			"receiver": "1688850000000001", "send_time": time.Now().Unix(), "sender": fmt.Sprintf("78813000000%05d", i%23),
			"server_id": strconv.Itoa(5000000 + i),
		},
	})
	evs, err := quntool.Normalize(body)
	if err != nil || len(evs) != 1 {
		panic(fmt.Sprintf("test callback does not normalize: %v", err))
	}
	return body, evs[0].ID
}

// kill -9 while callbacks flow, then a restart: every acknowledged callback
// is handled by the plugin; then SIGTERM stops the process cleanly.
func TestKill9ThenRestartDeliversEveryAcknowledgedCallback(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := fmt.Sprintf("listen: %q\ndata_dir: ./data\nscripts_dir: ./scripts\nplugins_dir: ./plugins\nlog: {level: info}\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "switchboard.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The handler takes a while, so that plenty of events are in flight or
	// queued when the process is killed.
	plugin := `on('message', async (ev) => {
  kv.incr('start:' + ev.id);
  await new Promise((resolve) => setTimeout(resolve, 50));
  kv.set('done:' + ev.id, true);
});`
	writeScript(t, dir, "rec.js", plugin)

	first := start(t, dir, "run")
	waitReady(t, base, first)

	var mu sync.Mutex
	acked := map[string]bool{}
	var n atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += 8 {
				body, id := callback(i)
				resp, err := client.Post(base+"/callback/quntool", "application/json", bytes.NewReader(body))
				if err != nil {
					return // the process is gone
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
					n.Add(1)
				}
			}
		}()
	}
	for n.Load() < 400 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.waitExit(t, 10*time.Second)
	cancel()
	wg.Wait()

	second := start(t, dir, "run")
	waitReady(t, base, second)
	deadline := time.Now().Add(60 * time.Second)
	var missing []string
	for {
		done := kvItems(t, base, "rec", "done:")
		missing = missing[:0]
		for id := range acked {
			if _, ok := done[id]; !ok {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged callbacks never handled, e.g. %v", len(missing), len(acked), missing[:min(3, len(missing))])
	}
	// Some were started before the kill and again after it: the restart
	// really redelivered unfinished events.
	redelivered := 0
	for _, n := range kvItems(t, base, "rec", "start:") {
		if n == "2" {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Errorf("no event was started twice: the kill caught nothing in flight")
	}
	t.Logf("%d callbacks acknowledged before kill -9, all handled after the restart; %d were in flight and redelivered", len(acked), redelivered)

	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(second.stderr.String(), "switchboard stopped") {
		t.Errorf("no clean stop logged:\n%s", second.stderr)
	}
	// Badger was closed cleanly: a third start opens the store at once.
	third := start(t, dir, "run")
	waitReady(t, base, third)
	if err := third.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := third.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestCheckReportsBrokenPlugins(t *testing.T) {
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	files := map[string]string{
		"good.js":          "on('message.text', async (ev) => { await ev.reply('hi'); });",
		"syntax.js":        "on('message', (ev) => {\n  let x = ;\n});",
		"throws.js":        "throw new Error('boom at init');",
		"badmanifest.js":   "on('*', () => {});",
		"badmanifest.json": `{"permisions": ["kv"]}`,
		"folder/index.js":  "const u = require('./lib/u.js'); on('*', () => u());",
		"folder/lib/u.js":  "module.exports = () => 1;",
		"escape/index.js":  "require('../good.js');",
		"badpattern.js":    "on('message..text', () => {});",
	}
	for name, src := range files {
		p := filepath.Join(scripts, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := start(t, dir, "check", "scripts")
	if code := p.waitExit(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1\n%s%s", code, p.stdout, p.stderr)
	}
	out := p.stdout.String()
	for _, want := range []string{
		"ok   good ", "ok   folder ",
		"FAIL syntax ", "syntax.js: Line 2:11",
		"FAIL throws ", "boom at init",
		"FAIL badmanifest ", "permisions",
		"FAIL escape ",
		"FAIL badpattern ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	good := start(t, dir, "check", filepath.Join("scripts", "good.js"))
	if code := good.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("checking the good plugin alone: exit %d\n%s", code, good.stdout)
	}
}

// runOut runs a short command to its end and returns stdout and the exit code.
func runOut(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	p := start(t, dir, args...)
	code := p.waitExit(t, 30*time.Second)
	if code != 0 {
		t.Logf("%v: exit %d\n%s%s", args, code, p.stdout, p.stderr)
	}
	return p.stdout.String(), code
}

func TestKVOnStoppedStoreAndThroughRunningProcess(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("listen: %q\ndata_dir: ./data\nscripts_dir: ./scripts\nplugins_dir: ./plugins\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "switchboard.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := func(where string) {
		if _, code := runOut(t, dir, "kv", "set", "--plugin", "bot", "greeting", `{"text":"hi `+where+`"}`); code != 0 {
			t.Fatalf("%s: set failed", where)
		}
		out, code := runOut(t, dir, "kv", "get", "--plugin", "bot", "greeting")
		if code != 0 || strings.TrimSpace(out) != `{"text":"hi `+where+`"}` {
			t.Errorf("%s: get = %q (exit %d)", where, out, code)
		}
		out, _ = runOut(t, dir, "kv", "ls", "--plugin", "bot", "--prefix", "gree")
		if !strings.HasPrefix(out, "greeting\t") {
			t.Errorf("%s: ls = %q", where, out)
		}
		if _, code := runOut(t, dir, "kv", "del", "--plugin", "bot", "greeting"); code != 0 {
			t.Errorf("%s: del failed", where)
		}
		if _, code := runOut(t, dir, "kv", "get", "--plugin", "bot", "greeting"); code == 0 {
			t.Errorf("%s: get after del succeeded", where)
		}
	}
	steps("stopped")
	if _, code := runOut(t, dir, "kv", "set", "--plugin", "bot", "n", "not json"); code == 0 {
		t.Error("a value that is not JSON was accepted")
	}
	p := start(t, dir, "run")
	waitReady(t, "http://"+addr, p)
	steps("running") // the store is locked: the admin API serves it
}

func TestNewJSScaffoldsAPluginThatChecks(t *testing.T) {
	dir := t.TempDir()
	if out, code := runOut(t, dir, "new", "js", "greeter"); code != 0 || !strings.Contains(out, "greeter.js") {
		t.Fatalf("new js: exit %d, %q", code, out)
	}
	if out, code := runOut(t, dir, "check", "scripts"); code != 0 || !strings.Contains(out, "ok   greeter") {
		t.Errorf("the scaffold does not pass check: %q", out)
	}
	if _, code := runOut(t, dir, "new", "js", "greeter"); code == 0 {
		t.Error("a second scaffold over the first succeeded")
	}
	if _, code := runOut(t, dir, "new", "js", "../evil"); code == 0 {
		t.Error("a bad name was accepted")
	}
}

func TestReplayPrintsWhatPluginsDid(t *testing.T) {
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	echo, err := os.ReadFile("../../scripts/echo.js")
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{
		"echo.js":    string(echo),
		"nosy.js":    "on('message.text', async () => { try { await quntool.group.create({wxId: 'x', roomName: 'y', userIds: []}); } catch (e) { if (e.code !== 'permission_denied') throw e; } });",
		"nosy.json":  `{"permissions": ["kv"]}`,
		"thrower.js": "on('login', () => { throw new Error('no logins please'); });",
	} {
		if err := os.MkdirAll(scripts, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile("../../bindings/quntool/testdata/callbacks/text_msg.received.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(raw), "\n----------")
	if err := os.WriteFile(filepath.Join(dir, "raw.jsonl"), []byte("# a seed callback\n"+body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runOut(t, dir, "replay", "--vendor", "quntool", "raw.jsonl")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"message.text -> echo: ok",
		`quntool.msg.text {"content":"echo: 呼啦","conversationId":"S:168885056393XXXX_788130083907XXXX","wxId":"168885056393XXXX"}`,
		"message.text -> nosy: ok",
		"quntool.group.create",
		"refused: ",
		"1 events replayed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	events := `{"id":"e1","type":"login","vendor":"quntool","account":"1688850000000001","time":1,"received":1,"raw":{}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runOut(t, dir, "replay", "--plugin", "thrower", "events.jsonl")
	if code != 1 || !strings.Contains(out, "e1 login -> thrower: FAILED") || !strings.Contains(out, "no logins please") {
		t.Errorf("a failing handler: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{\"type\":\"message\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runOut(t, dir, "replay", "bad.jsonl"); code == 0 {
		t.Errorf("an event without vendor was accepted:\n%s", out)
	}
}

// TestRunSimPlaysTheDemoAndAnswersTheUser runs the README's first command
// in an empty folder: the demo conversation is answered by the shipped
// echo plugin, paced by the host limiter, a message said through the
// simulator's control API is answered too, and SIGTERM exits 0.
func TestRunSimPlaysTheDemoAndAnswersTheUser(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	if err := os.WriteFile(filepath.Join(dir, "switchboard.yaml"), []byte(fmt.Sprintf("listen: %q\n", addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, dir, "run", "--sim")
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(p.stdout.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("stdout never showed %q", what)
			}
			select {
			case <-p.done:
				t.Fatalf("process exited early: %v", p.err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitFor("Switchboard Demo -> Alice: pong")
	waitFor("Switchboard Demo -> Alice: echo: hello from the simulator")
	waitFor("Ctrl-C stops.")
	if _, err := os.Stat(filepath.Join(dir, "scripts", "echo.js")); err != nil {
		t.Fatalf("the demo plugin was not installed: %v", err)
	}

	// The printed curl command reaches the simulator's control API.
	var sayURL string
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "curl" && strings.HasSuffix(f[len(f)-1], "/say") {
			sayURL = f[len(f)-1]
		}
	}
	if sayURL == "" {
		t.Fatal("no say command printed")
	}
	resp, err := http.Post(sayURL, "application/json", strings.NewReader(`{"from":"7881300000000001","text":"are you there"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("say: %s", resp.Status)
	}
	sentURL := strings.TrimSuffix(sayURL, "say") + "sent"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(sentURL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var sent []struct{ Content string }
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("sent: %v: %s", err, body)
		}
		count := map[string]int{}
		for _, s := range sent {
			count[s.Content]++
		}
		if count["echo: are you there"] > 0 {
			for _, want := range []string{"pong", "echo: hello from the simulator", "echo: are you there"} {
				if count[want] != 1 {
					t.Fatalf("%q was sent %d times: %s", want, count[want], body)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer to the user's message; sent: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(p.stderr.String(), "-1000999") {
		t.Fatalf("the vendor's send limit was hit:\n%s", p.stderr)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t, 40*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(p.stderr.String(), "switchboard stopped") {
		t.Fatalf("no clean stop logged:\n%s", p.stderr)
	}
}

func TestNewWASMScaffoldsAPluginFolder(t *testing.T) {
	dir := t.TempDir()
	out, code := runOut(t, dir, "new", "wasm", "greeter")
	if code != 0 || !strings.Contains(out, "make") {
		t.Fatalf("new wasm: exit %d, %q", code, out)
	}
	for _, f := range []string{"main.go", "manifest.json", "go.mod", "Makefile", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, "plugins", "greeter", f)); err != nil {
			t.Errorf("scaffold lacks %s: %v", f, err)
		}
	}
	m, err := os.ReadFile(filepath.Join(dir, "plugins", "greeter", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plugin.ParseManifest(m); err != nil {
		t.Errorf("the scaffold's manifest: %v", err)
	}
	if _, code := runOut(t, dir, "new", "wasm", "greeter"); code == 0 {
		t.Error("a second scaffold over the first succeeded")
	}
	if _, code := runOut(t, dir, "new", "wasm", "../evil"); code == 0 {
		t.Error("a bad name was accepted")
	}
}

// writeScript puts a JS plugin into dir's scripts folder.
func writeScript(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}
