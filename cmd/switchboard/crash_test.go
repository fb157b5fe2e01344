package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/runtime/outbox"
)

// The conversations of TestKill9WhileSendingThenRestart: every account
// talks with every contact, so sends of different accounts flow in
// parallel and each account's sends are paced by the host limiter.
const (
	crashAccounts = 6
	crashContacts = 4
	crashWorkers  = 12
)

func crashAccount(a int) string { return fmt.Sprintf("16888500000000%02d", a+1) }
func crashContact(c int) string { return fmt.Sprintf("78813000000000%02d", c+1) }

// crashConversation is the private conversation of account a with contact
// c, smaller id first as WeCom writes it.
func crashConversation(a, c int) string {
	return "S:" + crashAccount(a) + "_" + crashContact(c)
}

// crashCallback is callback i of the stream: a text message from contact
// i/accounts%contacts to account i%accounts (in container host), and the
// id of its event.
func crashCallback(i int, hosts []string) (body []byte, id string, conv string) {
	a, c := i%crashAccounts, (i/crashAccounts)%crashContacts
	conv = crashConversation(a, c)
	body, _ = json.Marshal(map[string]any{
		"msgId": fmt.Sprintf("send-kill-%d", i), "source": hosts[a], "userId": sim.DefaultUserID, "wxid": crashAccount(a),
		"timestamp": time.Now().UnixMilli(), "type": "text_msg",
		"data": map[string]any{
			"content": fmt.Sprintf("message %d", i), "content_type": 2, "conversation_id": conv,
			"receiver": crashAccount(a), "send_time": time.Now().Unix(), "sender": crashContact(c),
			"server_id": strconv.Itoa(7000000 + i),
		},
	})
	evs, err := quntool.Normalize(body)
	if err != nil || len(evs) != 1 {
		panic(fmt.Sprintf("test callback does not normalize: %v", err))
	}
	return body, evs[0].ID, conv
}

// replyText is what the plugin below answers to event id.
func replyText(id string) string { return "re " + id }

// countingHandler counts the requests being served, so the test can tell
// when a killed process's last request has been answered.
type countingHandler struct {
	next   http.Handler
	active atomic.Int64
}

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.active.Add(1)
	defer h.active.Add(-1)
	h.next.ServeHTTP(w, r)
}

// outboxStats reads the outbox's counters through the admin API.
func outboxStats(t *testing.T, base string) (st outbox.Stats) {
	t.Helper()
	resp, err := http.Get(base + outbox.MountPath + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("outbox stats: %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("outbox stats: %v", err)
	}
	return st
}

// metricValue reads the sample of name whose labels include every one of
// labels (`key="value"` form) from the Prometheus text exposition at
// base/metrics; found is false when there is none.
func metricValue(t *testing.T, base, name string, labels ...string) (v float64, found bool) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		set, value, ok := strings.Cut(strings.TrimPrefix(line, name), " ")
		if !ok {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(set, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			t.Fatalf("metric %s%s: %v", name, set, err)
		}
		return v, true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return 0, false
}

// kill -9 while callbacks arrive and the plugin's replies go out through
// the outbox, restart on the same data_dir, go on a little, SIGTERM. Every
// acknowledged callback is handled; every reply the outbox accepted
// reaches the vendor; a reply reaches it more than once only when it was
// in flight at the kill, at most one per conversation; the outbox's count
// of re-sent entries matches what the restart resumed.
func TestKill9WhileSendingThenRestart(t *testing.T) {
	began := time.Now()
	ctx, cancelAll := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelAll()

	// The vendor, paced below the host's limiter so the host's pacing is
	// what keeps the accounts in their limits.
	vendor := sim.New(sim.Options{SendInterval: time.Millisecond})
	t.Cleanup(vendor.Close)
	hosts := make([]string, crashAccounts)
	for a := range crashAccounts {
		acct, err := vendor.Seed(sim.Account{WxID: crashAccount(a)})
		if err != nil {
			t.Fatal(err)
		}
		hosts[a] = acct.Hostname
		for c := range crashContacts {
			if err := vendor.AddContact(acct.WxID, sim.Contact{UserID: crashContact(c)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	api := &countingHandler{next: vendor.Handler()}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := fmt.Sprintf(`listen: %q
data_dir: ./data
scripts_dir: ./scripts
plugins_dir: ./plugins
log: {level: info}
vendors:
  quntool: {base_url: %q}
limits:
  quntool: {send_interval_ms: 5}
outbox: {backoff_ms: 50, max_backoff_ms: 500}
`, addr, srv.URL+"/gnapi/open")
	if err := os.WriteFile(filepath.Join(dir, "switchboard.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The plugin dedupes by ev.id, as SPEC §5 asks of handlers: an event
	// finished before the kill whose progress mark was not yet written is
	// delivered again and skipped. start counts deliveries.
	plugin := `on('message', async (ev) => {
  kv.incr('start:' + ev.id);
  if (kv.get('done:' + ev.id)) {
    kv.set('skip:' + ev.id, true);
    return;
  }
  await ev.reply('re ' + ev.id);
  kv.set('done:' + ev.id, true);
});`
	writeScript(t, dir, "rec.js", plugin)

	first := start(t, dir, "run")
	waitReady(t, base, first)

	var (
		mu     sync.Mutex
		acked  = map[string]bool{}
		posted = map[string]string{} // event id -> conversation, of every callback posted
		nAcked atomic.Int64
	)
	postCtx, stopPosting := context.WithCancel(ctx)
	defer stopPosting()
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; postCtx.Err() == nil; i += crashWorkers {
				body, id, conv := crashCallback(i, hosts)
				mu.Lock()
				posted[id] = conv
				mu.Unlock()
				resp, err := client.Post(base+"/callback/quntool", "application/json", bytes.NewReader(body))
				if err != nil {
					// The process is down: wait for the next one.
					select {
					case <-postCtx.Done():
					case <-time.After(10 * time.Millisecond):
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
					nAcked.Add(1)
				}
			}
		}()
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}

	// Kill once callbacks are acknowledged steadily and replies flow.
	waitUntil("callbacks and sends before the kill", func() bool {
		return nAcked.Load() >= 800 && len(vendor.Sent()) >= 300
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	first.waitExit(t, 10*time.Second)
	ackedAtKill := nAcked.Load()
	// A request the dead process had sent may still be served: wait for
	// it, so that what the vendor holds now is what the first run sent.
	waitUntil("the vendor's last request from the killed process", func() bool { return api.active.Load() == 0 })
	sentAtKill := len(vendor.Sent())

	second := start(t, dir, "run")
	waitReady(t, base, second)
	restarted := time.Now()
	waitUntil("callbacks after the restart", func() bool { return nAcked.Load() >= ackedAtKill+400 })
	stopPosting()
	wg.Wait()

	// Everything acknowledged is handled, and every send stored is sent.
	deadline := time.Now().Add(90 * time.Second)
	var missing []string
	for {
		done := kvItems(t, base, "rec", "done:")
		missing = missing[:0]
		for id := range acked {
			if _, ok := done[id]; !ok {
				missing = append(missing, id)
			}
		}
		st := outboxStats(t, base)
		if len(missing) == 0 && st.Pending == 0 && st.InFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged callbacks never handled (e.g. %v); outbox %+v",
				len(missing), len(acked), missing[:min(3, len(missing))], st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	drained := time.Now()

	done := kvItems(t, base, "rec", "done:")
	starts := kvItems(t, base, "rec", "start:")
	skips := kvItems(t, base, "rec", "skip:")
	sent := vendor.Sent()
	copies, beforeKill := map[string]int{}, map[string]bool{}
	for i, s := range sent {
		id, ok := strings.CutPrefix(s.Content, "re ")
		conv, known := posted[id]
		if !ok || !known {
			t.Errorf("send %d %q answers no event the test posted", i, s.Content)
			continue
		}
		if s.ConversationID != conv {
			t.Errorf("the reply to %s went to %s, want %s", id, s.ConversationID, conv)
		}
		if i < sentAtKill && copies[s.Content] > 0 {
			t.Errorf("%q was sent twice before the kill", s.Content)
		}
		copies[s.Content]++
		beforeKill[s.Content] = beforeKill[s.Content] || i < sentAtKill
	}
	for id := range done {
		if copies[replyText(id)] == 0 {
			t.Errorf("event %s was handled but its reply never reached the vendor", id)
		}
	}

	// Duplicates: only replies in flight at the kill, so at most one per
	// conversation (its handler runs one event at a time, and its lane
	// holds that event's reply), each sent at most twice (before the kill,
	// and re-sent from the outbox because the vendor's answer was not
	// recorded). A redelivered handler that sends its reply again is
	// answered from the outbox's record of the first run's send, so every
	// extra copy is a re-sent entry.
	reruns, rerunsSending := 0, 0
	for id, n := range starts {
		if n == "1" {
			continue
		}
		if n != "2" {
			t.Errorf("event %s was started %s times across one kill", id, n)
		}
		reruns++
		if _, skipped := skips[id]; !skipped {
			rerunsSending++
		}
	}
	duplicates, extra, byRetryOnly, vendorHadIt := 0, 0, 0, 0
	dupPerConv := map[string][]string{}
	for text, n := range copies {
		if n < 2 {
			continue
		}
		id := strings.TrimPrefix(text, "re ")
		duplicates++
		extra += n - 1
		if beforeKill[text] {
			vendorHadIt++ // the vendor had it before the kill
		}
		dupPerConv[posted[id]] = append(dupPerConv[posted[id]], id)
		if n > 2 {
			t.Errorf("%q reached the vendor %d times", text, n)
		}
		if starts[id] == "1" {
			byRetryOnly += n - 1 // no redelivery: only the outbox re-sent it
		}
	}
	for conv, ids := range dupPerConv {
		if len(ids) > 1 {
			t.Errorf("conversation %s has %d duplicated replies (%v), at most one can be in flight", conv, len(ids), ids)
		}
	}
	conversations := crashAccounts * crashContacts
	if duplicates > conversations {
		t.Errorf("%d replies were duplicated, more than the %d conversations could have in flight", duplicates, conversations)
	}

	// The outbox's account of the restart: it resumed L stored sends (its
	// log), sent every one (Stats.Resent and the metric agree), and they
	// explain every duplicate that no redelivery does.
	m := regexp.MustCompile(`resuming stored sends:? +pending=(\d+)`).FindStringSubmatch(second.stderr.String())
	resumed := 0
	if m != nil {
		resumed, _ = strconv.Atoi(m[1])
	}
	st := outboxStats(t, base)
	resentMetric, found := metricValue(t, base, "switchboard_outbox_sends_total", `result="resent"`, `vendor="quntool"`)
	if !found && st.Resent > 0 {
		t.Errorf("no switchboard_outbox_sends_total{result=\"resent\"} sample, yet the outbox re-sent %d", st.Resent)
	}
	sentMetric, _ := metricValue(t, base, "switchboard_outbox_sends_total", `result="sent"`, `vendor="quntool"`)
	if uint64(resentMetric) != st.Resent {
		t.Errorf("metric resent = %v, outbox stats resent = %d", resentMetric, st.Resent)
	}
	if int(st.Resent) != resumed {
		t.Errorf("the restart resumed %d stored sends (log) but re-sent %d", resumed, st.Resent)
	}
	if st.Dead != 0 {
		t.Errorf("%d sends were dead-lettered", st.Dead)
	}
	if want := len(sent) - sentAtKill; int(st.Sent) != want || int(sentMetric+resentMetric) != want {
		t.Errorf("the second run sent %d (stats), %v + %v re-sent (metric); the vendor got %d after the kill",
			st.Sent, sentMetric, resentMetric, want)
	}
	if byRetryOnly > int(st.Resent) {
		t.Errorf("%d extra copies of replies whose event was not redelivered, but only %d re-sent entries", byRetryOnly, st.Resent)
	}
	if extra > int(st.Resent) {
		t.Errorf("%d extra copies, more than the %d re-sent entries", extra, st.Resent)
	}
	if reruns == 0 && resumed == 0 {
		t.Errorf("the kill caught nothing in flight: no redelivery, no stored send")
	}
	if v := vendor.Violations(); v > 0 {
		t.Logf("the vendor refused %d sends for frequency (retried by the outbox)", v)
	}

	t.Logf("%d callbacks acknowledged (%d before the kill), %d events handled; the vendor got %d sends (%d before the kill)",
		len(acked), ackedAtKill, len(done), len(sent), sentAtKill)
	t.Logf("after the restart: %d stored sends resumed and re-sent, %d events redelivered (%d skipped as done, %d replied again, %d of those replies answered from the first run's send)",
		resumed, reruns, reruns-rerunsSending, rerunsSending, st.Repeated)
	t.Logf("duplicates: %d replies sent more than once (%d of them reached the vendor before the kill), %d extra copies (%d without redelivery), bound %d conversations",
		duplicates, vendorHadIt, extra, byRetryOnly, conversations)
	t.Logf("timing: kill after %s, ready again %s later, drained %s after the restart, %s in all",
		killed.Sub(began).Round(time.Millisecond), restarted.Sub(killed).Round(time.Millisecond), drained.Sub(restarted).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(second.stderr.String(), "switchboard stopped") {
		t.Errorf("no clean stop logged:\n%s", second.stderr)
	}
}
