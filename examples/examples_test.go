package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	msgserversim "github.com/switchboard-dev/switchboard/bindings/msgserver/sim"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	quntoolsim "github.com/switchboard-dev/switchboard/bindings/quntool/sim"
	"github.com/switchboard-dev/switchboard/bindings/simulator"
	wechatsim "github.com/switchboard-dev/switchboard/bindings/wechat/sim"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime"
	"github.com/switchboard-dev/switchboard/runtime/config"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// testTimeout bounds each test's simulator drive and waits.
const testTimeout = 30 * time.Second

// env is one runtime serving one example plugin, with the simulators
// pointed at it and the demo account logged in to the quntool simulator.
type env struct {
	t    *testing.T
	ctx  context.Context
	rt   *runtime.Runtime
	sims *simulator.Cluster
	name string
}

// start copies examples/NAME into a fresh scripts dir and starts a runtime
// (in memory) and the simulator cluster posting callbacks to it. settings,
// when given, are the plugin's settings in switchboard.yaml.
func start(t *testing.T, name string, settings *plugin.Settings) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.ScriptsDir = t.TempDir()
	cfg.PluginsDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	if settings != nil {
		cfg.Plugins = map[string]plugin.Settings{name: *settings}
	}
	copyDir(t, name, filepath.Join(cfg.ScriptsDir, name))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	sims, err := simulator.Start(simulator.Options{CallbackBase: "http://" + ln.Addr().String() + "/callback"})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { sims.Close(context.Background()) })
	sims.Configure(cfg)
	if err := sims.SeedDemo(); err != nil {
		t.Fatal(err)
	}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: testWriter{t}})
	rt, err := runtime.New(runtime.Options{Config: cfg, Logger: log, Listener: ln, InMemory: true, NoWatch: true})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		if err := rt.Stop(stopCtx); err != nil {
			t.Errorf("stop runtime: %v", err)
		}
	})
	return &env{t: t, ctx: ctx, rt: rt, sims: sims, name: name}
}

// status is the example plugin's load status.
func (e *env) status() (running bool, loadErr string) {
	e.t.Helper()
	for _, s := range e.rt.Plugins() {
		if s.Name == e.name {
			return s.Running, s.Error
		}
	}
	e.t.Fatalf("plugin %s is not known to the runtime: %+v", e.name, e.rt.Plugins())
	return false, ""
}

// requireRunning fails the test unless the example loaded cleanly.
func (e *env) requireRunning() {
	e.t.Helper()
	if running, loadErr := e.status(); !running || loadErr != "" {
		e.t.Fatalf("plugin %s: running=%v error=%q", e.name, running, loadErr)
	}
}

// say has from say text to the demo account (privately when conv is "").
func (e *env) say(from, conv, text string) {
	e.t.Helper()
	err := e.sims.Quntool.Say(e.ctx, quntoolsim.Incoming{Account: simulator.DemoAccount, From: from, ConversationID: conv, Text: text})
	if err != nil {
		e.t.Fatalf("say %q: %v", text, err)
	}
}

// waitSent waits for the quntool simulator to have accepted n sends.
func (e *env) waitSent(n int) []quntoolsim.Sent {
	e.t.Helper()
	sent, err := e.sims.Quntool.WaitSent(e.ctx, n)
	if err != nil {
		e.t.Fatalf("waiting for %d sends (have %d: %+v): %v", n, len(e.sims.Quntool.Sent()), e.sims.Quntool.Sent(), err)
	}
	return sent
}

// quntoolAPI calls the quntool simulator's API as another device of the
// account would (a staff member inviting people, adding a customer): a
// POST with a JSON body, or a GET with query, and answers the envelope's
// data, failing the test on anything but code 0.
func (e *env) quntoolAPI(method, path string, args map[string]any) json.RawMessage {
	e.t.Helper()
	u := e.sims.BaseURL("quntool") + path
	var body io.Reader
	if method == http.MethodGet {
		q := url.Values{}
		for k, v := range args {
			q.Set(k, fmt.Sprint(v))
		}
		u += "?" + q.Encode()
	} else {
		b, err := json.Marshal(args)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env struct {
		Code int             `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		e.t.Fatalf("%s %s: status %d, answer not JSON: %v", method, path, resp.StatusCode, err)
	}
	if env.Code != 0 {
		e.t.Fatalf("%s %s: code %d: %s", method, path, env.Code, env.Msg)
	}
	return env.Data
}

// waitFor polls cond until it holds, failing the test at its deadline.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// kvGet reads one of the plugin's keys; ok is false when it is missing.
func (e *env) kvGet(key string) (value json.RawMessage, ok bool) {
	e.t.Helper()
	v, err := e.rt.KV().Bucket(e.name).Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		e.t.Fatalf("kv get %s: %v", key, err)
	}
	return v, true
}

// kvInt reads a counter (0 when missing).
func (e *env) kvInt(key string) int64 {
	e.t.Helper()
	v, ok := e.kvGet(key)
	if !ok {
		return 0
	}
	var n int64
	if err := json.Unmarshal(v, &n); err != nil {
		e.t.Fatalf("kv %s = %s: not a number: %v", key, v, err)
	}
	return n
}

// kvItems lists the plugin's keys under prefix.
func (e *env) kvItems(prefix string) []kv.Item {
	e.t.Helper()
	var out []kv.Item
	cursor := ""
	for {
		items, next, err := e.rt.KV().Bucket(e.name).List(prefix, kv.MaxListLimit, cursor)
		if err != nil {
			e.t.Fatalf("kv list %s: %v", prefix, err)
		}
		out = append(out, items...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// copyDir copies the example folder src (relative to examples/) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(path, ".md") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy example %s: %v", src, err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// privateConv is the demo account's private conversation with user.
func privateConv(user string) string {
	return quntool.PrivateConversationID(simulator.DemoAccount, user)
}

func TestKeywordReply(t *testing.T) {
	t.Parallel()
	e := start(t, "keyword-reply", nil)
	e.requireRunning()
	alice := simulator.DemoContact
	room, err := e.sims.Quntool.AddRoom(quntoolsim.Room{Name: "customers", Owner: simulator.DemoAccount, Members: []string{alice}})
	if err != nil {
		t.Fatal(err)
	}

	// One conversation's events are handled in order, so once the answer
	// to the last line has been sent, the lines before it are handled too.
	e.say(alice, "", "What's the PRICE of the big one?")
	e.say(alice, "", "hello there")          // no keyword
	e.say(alice, "", "price again, please?") // the price rule cools down
	e.say(alice, "", "and your opening hours?")
	e.say(alice, room.ID, "价格?") // another conversation: its own cooldown
	sent := e.waitSent(3)

	wantPrivate := []string{"Our price list: https://example.com/prices", "We are open 9:00-18:00, Monday to Friday."}
	var private, group []quntoolsim.Sent
	for _, s := range sent {
		if s.ConversationID == room.ID {
			group = append(group, s)
		} else {
			private = append(private, s)
		}
	}
	if len(private) != len(wantPrivate) {
		t.Fatalf("private answers %+v, want %q", private, wantPrivate)
	}
	for i, want := range wantPrivate {
		if s := private[i]; s.Kind != "text" || s.Content != want || s.ConversationID != privateConv(alice) || s.Account != simulator.DemoAccount {
			t.Errorf("private answer %d = %+v, want text %q in %s", i, s, want, privateConv(alice))
		}
	}
	if len(group) != 1 {
		t.Fatalf("group answers %+v, want one", group)
	}
	g := group[0]
	if g.Kind != "roomAt" || g.Content != "{$@} Our price list: https://example.com/prices" {
		t.Errorf("group answer = %+v, want a roomAt mentioning the sender", g)
	}
	if at, _ := json.Marshal(g.Args["atlist"]); string(at) != `["`+alice+`"]` {
		t.Errorf("group answer mentions %s, want [%s]", at, alice)
	}

	// Counters and cooldowns are in the plugin's kv, written once the
	// answer is sent.
	e.waitFor("every answer counted", func() bool {
		return e.kvInt("replied:price") == 2 && e.kvInt("replied:hours") == 1 && len(e.kvItems("cooldown:")) == 3
	})
	for key, want := range map[string]int64{"replied:price": 2, "suppressed:price": 1, "replied:hours": 1, "suppressed:hours": 0} {
		if got := e.kvInt(key); got != want {
			t.Errorf("kv %s = %d, want %d", key, got, want)
		}
	}
	cooldowns := map[string]bool{}
	for _, it := range e.kvItems("cooldown:") {
		cooldowns[it.Key] = true
		if it.ExpiresAt == 0 {
			t.Errorf("cooldown %s never expires", it.Key)
		}
	}
	for _, key := range []string{
		"cooldown:" + privateConv(alice) + ":price", "cooldown:" + privateConv(alice) + ":hours", "cooldown:" + room.ID + ":price",
	} {
		if !cooldowns[key] {
			t.Errorf("cooldown %s missing; have %v", key, cooldowns)
		}
	}
	if len(cooldowns) != 3 {
		t.Errorf("cooldowns %v, want 3", cooldowns)
	}
	if n := len(e.sims.Quntool.Sent()); n != 3 {
		t.Errorf("%d sends in all, want 3", n)
	}
}

func TestKeywordReplyRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"rule without keywords", map[string]any{"rules": []any{map[string]any{"reply": "x"}}}, "config.rules[0]"},
		{"rule without reply", map[string]any{"rules": []any{map[string]any{"keywords": []any{"a"}}}}, "config.rules[0]"},
		{"negative cooldown", map[string]any{"cooldown_seconds": -5}, "cooldown_seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, "keyword-reply", &plugin.Settings{Config: tc.config})
			running, loadErr := e.status()
			if running || !strings.Contains(loadErr, tc.want) {
				t.Errorf("running=%v error=%q, want a load error naming %q", running, loadErr, tc.want)
			}
		})
	}
}

func TestWelcomeMembers(t *testing.T) {
	t.Parallel()
	e := start(t, "welcome-members", &plugin.Settings{Config: map[string]any{"max_mentions": 2}})
	e.requireRunning()
	q := e.sims.Quntool
	newcomers := []string{"7881300000000101", "7881300000000102", "7881300000000103"}
	for i, id := range newcomers {
		if err := q.AddContact(simulator.DemoAccount, quntoolsim.Contact{UserID: id, Name: fmt.Sprintf("Guest %d", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	room, err := q.AddRoom(quntoolsim.Room{Name: "VIP club", Owner: simulator.DemoAccount, Members: []string{simulator.DemoContact}})
	if err != nil {
		t.Fatal(err)
	}

	// The staff member invites three people from their phone: the
	// simulator adds them and posts notify_type_room_add_member.
	e.quntoolAPI(http.MethodPost, "/group/member", map[string]any{
		"wxId": simulator.DemoAccount, "conversationId": room.ID, "memberWxIds": newcomers,
	})
	sent := e.waitSent(2)
	want := []struct {
		content string
		at      []string
	}{
		{"{$@} {$@} welcome to VIP club! Say \"help\" to see what I can do.", newcomers[:2]},
		{"{$@} welcome to VIP club! Say \"help\" to see what I can do.", newcomers[2:]},
	}
	for i, w := range want {
		s := sent[i]
		at, _ := json.Marshal(s.Args["atlist"])
		wantAt, _ := json.Marshal(w.at)
		if s.Kind != "roomAt" || s.ConversationID != room.ID || s.Content != w.content || string(at) != string(wantAt) {
			t.Errorf("welcome %d = %+v (atList %s), want roomAt %q mentioning %s in %s", i, s, at, w.content, wantAt, room.ID)
		}
	}
	e.waitFor("the welcomes counted", func() bool { return e.kvInt("welcomed:"+room.ID) == 3 })

	// Everyone the group has now is in the simulator's room.
	r, _ := q.Room(room.ID)
	if len(r.Members) != 5 {
		t.Errorf("room members %v, want the account, Alice and the three newcomers", r.Members)
	}
	// A member who leaves is not seen off; when they are invited back
	// they are welcomed again. Events of one group are handled in order,
	// so the welcome back comes after the leaving was handled.
	if err := q.QuitRoom(e.ctx, room.ID, newcomers[0]); err != nil {
		t.Fatal(err)
	}
	e.quntoolAPI(http.MethodPost, "/group/member", map[string]any{
		"wxId": simulator.DemoAccount, "conversationId": room.ID, "memberWxIds": []string{newcomers[0]},
	})
	sent = e.waitSent(3)
	if back := sent[2]; back.Kind != "roomAt" || fmt.Sprint(back.Args["atlist"]) != "["+newcomers[0]+"]" {
		t.Errorf("third send = %+v, want the welcome back of %s", back, newcomers[0])
	}
	e.waitFor("the welcome back counted", func() bool { return e.kvInt("welcomed:"+room.ID) == 4 })
	if n := len(q.Sent()); n != 3 {
		t.Errorf("%d sends, want 3: %+v", n, q.Sent())
	}
}

// The same on WeChat: the text names each newcomer (@name, which WeChat
// shows as it is) and at_list mentions them.
func TestWelcomeMembersOnWeChat(t *testing.T) {
	t.Parallel()
	e := start(t, "welcome-members", &plugin.Settings{Config: map[string]any{"max_mentions": 2}})
	e.requireRunning()
	x := e.sims.Wechat
	const roomID = "100@chatroom"
	guid, err := x.Seed(wechatsim.Instance{
		Account: &wechatsim.Account{WxID: "wxid_staff", Nickname: "Staff"},
		Rooms:   []wechatsim.Room{{ID: roomID, Name: "Tea club", Members: []wechatsim.Person{{WxID: "wxid_alice", Nickname: "Alice"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	newcomers := []wechatsim.Person{{WxID: "wxid_dan", Nickname: "Dan"}, {WxID: "wxid_eve", Nickname: "Eve"}, {WxID: "wxid_fay"}}
	if err := x.AddMembers(e.ctx, guid, roomID, "wxid_alice", newcomers...); err != nil {
		t.Fatal(err)
	}
	sent, err := x.WaitSent(e.ctx, 2)
	if err != nil {
		t.Fatalf("waiting for the welcomes (have %+v): %v", x.Sent(), err)
	}
	want := []struct{ content, at string }{
		{"@Dan @Eve welcome to Tea club! Say \"help\" to see what I can do.", "[wxid_dan wxid_eve]"},
		{"@wxid_fay welcome to Tea club! Say \"help\" to see what I can do.", "[wxid_fay]"},
	}
	for i, w := range want {
		s := sent[i]
		if s.Kind != "room_at" || s.To != roomID || s.Content != w.content || fmt.Sprint(s.Args["at_list"]) != w.at {
			t.Errorf("welcome %d = %s (at_list %v), want room_at %q mentioning %s in %s", i, s, s.Args["at_list"], w.content, w.at, roomID)
		}
	}
	e.waitFor("the welcomes counted", func() bool { return e.kvInt("welcomed:R:"+roomID) == 3 })
}

func TestWelcomeMembersOnlyConfiguredRooms(t *testing.T) {
	t.Parallel()
	// Alice makes both groups external ones, which take outsiders.
	q := quntoolsim.Room{Name: "listed", Owner: simulator.DemoAccount, ID: "R:10800000000000001", Members: []string{simulator.DemoContact}}
	e := start(t, "welcome-members", &plugin.Settings{Config: map[string]any{"rooms": []any{q.ID}}})
	e.requireRunning()
	guest := "7881300000000201"
	if err := e.sims.Quntool.AddContact(simulator.DemoAccount, quntoolsim.Contact{UserID: guest, Name: "Guest"}); err != nil {
		t.Fatal(err)
	}
	other, err := e.sims.Quntool.AddRoom(quntoolsim.Room{Name: "unlisted", Owner: simulator.DemoAccount, Members: []string{simulator.DemoContact}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sims.Quntool.AddRoom(q); err != nil {
		t.Fatal(err)
	}
	// The unlisted room first: events of one account are ordered per
	// conversation only, so wait for the listed room's welcome and then
	// for the unlisted room's event to have been handled.
	for _, id := range []string{other.ID, q.ID} {
		e.quntoolAPI(http.MethodPost, "/group/member", map[string]any{
			"wxId": simulator.DemoAccount, "conversationId": id, "memberWxIds": []string{guest},
		})
	}
	sent := e.waitSent(1)
	if sent[0].ConversationID != q.ID {
		t.Errorf("welcomed in %s, want only %s", sent[0].ConversationID, q.ID)
	}
	e.waitFor("both events handled", func() bool { return len(e.kvItems("seen:")) == 1 && e.kvInt("welcomed:"+q.ID) == 1 })
	if n := e.kvInt("welcomed:" + other.ID); n != 0 {
		t.Errorf("welcomed %d in the unlisted room", n)
	}
}

// befriend has the demo account add the person with mobile as a contact,
// the way a staff member does from their phone: search by number, then
// send the request (the simulated person accepts at once, and the
// simulator posts notify_type_contact_add).
func (e *env) befriend(id, mobile string) {
	e.t.Helper()
	var found struct {
		DataList []struct {
			OpenID   string `json:"openid"`
			WxTicket string `json:"wx_ticket"`
		} `json:"datalist"`
	}
	raw := e.quntoolAPI(http.MethodGet, "/contact/search", map[string]any{"wxId": simulator.DemoAccount, "keyword": mobile})
	if err := json.Unmarshal(raw, &found); err != nil || len(found.DataList) == 0 {
		e.t.Fatalf("contact search %s: %s (%v)", mobile, raw, err)
	}
	e.quntoolAPI(http.MethodPost, "/contact/search/add", map[string]any{
		"wxId": simulator.DemoAccount, "contactUserId": id, "openid": found.DataList[0].OpenID, "wxticket": found.DataList[0].WxTicket,
	})
}

// contactLabels lists the names of the labels a contact of the demo
// account carries, as the quntool simulator holds them.
func (e *env) contactLabels(id string) []string {
	e.t.Helper()
	var labels []struct {
		Name string `json:"name"`
	}
	raw := e.quntoolAPI(http.MethodGet, "/label/contact/labels", map[string]any{"wxId": simulator.DemoAccount, "contactUserId": id})
	if err := json.Unmarshal(raw, &labels); err != nil {
		e.t.Fatalf("labels of %s: %s: %v", id, raw, err)
	}
	var names []string
	for _, l := range labels {
		names = append(names, l.Name)
	}
	return names
}

func TestLabelContacts(t *testing.T) {
	t.Parallel()
	e := start(t, "label-contacts", nil)
	e.requireRunning()
	q := e.sims.Quntool
	if _, err := q.AddLabel(simulator.DemoAccount, "vip"); err != nil {
		t.Fatal(err)
	}
	newID, err := q.AddLabel(simulator.DemoAccount, "new customer")
	if err != nil {
		t.Fatal(err)
	}
	const (
		wechatUser = "7881300000000301" // a WeChat customer: labeled
		returning  = "7881300000000302" // already carries "vip": keeps it
		weComUser  = "1688859999000303" // a WeCom user of another company: left alone
	)
	for _, p := range []quntoolsim.Contact{
		{UserID: wechatUser, Name: "Bob", Mobile: "13800000301"},
		{UserID: weComUser, Name: "Dan", Mobile: "13800000303", CorpID: "1970325000000099"},
	} {
		if err := q.AddPerson(p); err != nil {
			t.Fatal(err)
		}
	}
	// The returning customer is a contact already labeled vip, whose
	// contact_add callback comes again (re-added after a deletion).
	if err := q.AddContact(simulator.DemoAccount, quntoolsim.Contact{UserID: returning, Name: "Carol"}); err != nil {
		t.Fatal(err)
	}
	var all []struct {
		LabelID string `json:"labelId"`
		Name    string `json:"name"`
	}
	if err := json.Unmarshal(e.quntoolAPI(http.MethodGet, "/label/all", map[string]any{"wxId": simulator.DemoAccount}), &all); err != nil {
		t.Fatal(err)
	}
	vipID := ""
	for _, l := range all {
		if l.Name == "vip" {
			vipID = l.LabelID
		}
	}
	e.quntoolAPI(http.MethodPost, "/label/contact/setlabel", map[string]any{
		"wxId": simulator.DemoAccount, "contactUserId": returning, "labelIds": []string{vipID},
	})

	e.befriend(weComUser, "13800000303")
	e.befriend(wechatUser, "13800000301")
	err = q.PostCallback(e.ctx, "notify_type_contact_add", simulator.DemoAccount, map[string]any{
		"user_id": returning, "username": "Carol", "conversation_id": privateConv(returning), "corp_id": quntoolsim.WeChatCorpID,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor("two contacts labeled", func() bool {
		_, a := e.kvGet("labeled:" + wechatUser)
		_, b := e.kvGet("labeled:" + returning)
		return a && b
	})
	for id, want := range map[string]string{wechatUser: "[new customer]", returning: "[vip new customer]", weComUser: "[]"} {
		if got := fmt.Sprint(e.contactLabels(id)); got != want {
			t.Errorf("labels of %s = %s, want %s", id, got, want)
		}
	}
	if n := e.kvInt("labeled"); n != 2 {
		t.Errorf("kv labeled = %d, want 2", n)
	}
	if v, ok := e.kvGet("label-id:" + simulator.DemoAccount); !ok || string(v) != `"`+newID+`"` {
		t.Errorf("cached label id = %s, want %q", v, newID)
	}
	if _, ok := e.kvGet("labeled:" + weComUser); ok {
		t.Errorf("the WeCom user was labeled")
	}
}

func TestLabelContactsMissingLabel(t *testing.T) {
	t.Parallel()
	e := start(t, "label-contacts", &plugin.Settings{Config: map[string]any{"label": "no such label"}})
	e.requireRunning()
	const bob = "7881300000000401"
	if err := e.sims.Quntool.AddPerson(quntoolsim.Contact{UserID: bob, Name: "Bob", Mobile: "13800000401"}); err != nil {
		t.Fatal(err)
	}
	e.befriend(bob, "13800000401")
	e.waitFor("the missing label counted", func() bool { return e.kvInt("missing") == 1 })
	if got := e.contactLabels(bob); len(got) != 0 {
		t.Errorf("labels of %s = %v, want none", bob, got)
	}
	if _, ok := e.kvGet("labeled:" + bob); ok {
		t.Errorf("%s marked labeled", bob)
	}
}

func TestArchiveAlert(t *testing.T) {
	t.Parallel()
	const (
		corp       = "ww00000000000000a1"
		staffID    = "zhangsan"
		supervisor = "1688850000000009" // a colleague of the demo account
	)
	e := start(t, "archive-alert", &plugin.Settings{Config: map[string]any{
		"corp_id": corp, "staff": map[string]any{simulator.DemoAccount: staffID}, "supervisor": supervisor,
		"keywords": []any{"refund", "投诉"},
	}})
	e.requireRunning()
	alice := simulator.DemoContact
	var ext struct {
		ExternalUserID string `json:"ExternalUserId"`
	}
	raw := e.quntoolAPI(http.MethodPost, "/contact/externalUserId", map[string]any{"wxId": simulator.DemoAccount, "ContactUserId": alice})
	if err := json.Unmarshal(raw, &ext); err != nil || ext.ExternalUserID == "" {
		t.Fatalf("external id of %s: %s (%v)", alice, raw, err)
	}
	day := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	_, err := e.sims.Msgserver.Seed(corp, staffID,
		msgserversim.Message{MsgID: "m1", From: ext.ExternalUserID, Text: "I want a refund for order 42", Time: day},
		msgserversim.Message{MsgID: "m2", From: staffID, ToList: []string{ext.ExternalUserID}, Text: "sure, we look into it", Time: day.Add(time.Minute)},
		msgserversim.Message{MsgID: "m3", From: ext.ExternalUserID, Text: "我要投诉", Time: day.Add(2 * time.Minute)},
		msgserversim.Message{MsgID: "m4", From: "wmSomeoneElse000000000000000000", Text: "refund please", Time: day},
	)
	if err != nil {
		t.Fatal(err)
	}

	if err := e.sims.Quntool.AddContact(simulator.DemoAccount, quntoolsim.Contact{UserID: supervisor, Name: "Boss", Inner: true}); err != nil {
		t.Fatal(err)
	}

	e.say(alice, "", "hello again")
	sent := e.waitSent(1)
	a := sent[0]
	if a.Kind != "text" || a.ConversationID != privateConv(supervisor) {
		t.Fatalf("alert = %+v, want a text to %s", a, privateConv(supervisor))
	}
	for _, want := range []string{"Alice (" + alice + ")", "2026-03-02 09:30 Alice: I want a refund for order 42", "2026-03-02 09:32 Alice: 我要投诉"} {
		if !strings.Contains(a.Content, want) {
			t.Errorf("alert %q lacks %q", a.Content, want)
		}
	}
	if strings.Contains(a.Content, "refund please") || strings.Contains(a.Content, "look into it") {
		t.Errorf("alert %q reports messages of another customer or without a keyword", a.Content)
	}
	e.waitFor("the alert counted", func() bool { return e.kvInt("alerts") == 1 })
	for _, id := range []string{"m1", "m3"} {
		if _, ok := e.kvGet("alerted:" + id); !ok {
			t.Errorf("archive message %s not marked alerted", id)
		}
	}

	// Alice's archive is searched once per keyword, then not again until
	// check_every_seconds have passed.
	if searches := e.sims.Msgserver.Requests("/api/v1/chat-msg/search"); searches != 2 {
		t.Errorf("%d searches, want one per keyword", searches)
	}
	items := e.kvItems("checked:")
	if len(items) != 1 || items[0].Key != "checked:"+alice || items[0].ExpiresAt == 0 {
		t.Errorf("checked keys %+v, want one expiring key for %s", items, alice)
	}
}
