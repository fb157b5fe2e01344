package jshost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

func TestEchoReplyGoesThroughRegistryReply(t *testing.T) {
	t.Parallel()
	f := load(t, `
on('message.text', async (ev) => {
  if (ev.message.self) return;
  const data = await ev.reply('echo: ' + ev.message.text);
  kv.set('reply-data', data);
});`, setup{})
	ev := textEvent("e1", "S:u1_bot1", "ping")
	if err := f.handle(t, ev); err != nil {
		t.Fatal(err)
	}
	calls := f.inv.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls: %+v", calls)
	}
	c := calls[0]
	want := map[string]any{"wxId": "bot1", "conversationId": "S:u1_bot1", "content": "echo: ping"}
	if c.Vendor != testVendor || c.Method != "msg.text" || !reflect.DeepEqual(c.Args, want) {
		t.Fatalf("reply call %+v", c)
	}
	if got := f.kvJSON(t, "reply-data"); got != `{"ok":true}` {
		t.Fatalf("reply resolved with %s", got)
	}
	// A message the account sent itself is not echoed.
	self := textEvent("e2", "S:u1_bot1", "mine")
	self.Message.Self = true
	if err := f.handle(t, self); err != nil {
		t.Fatal(err)
	}
	if n := len(f.inv.Calls()); n != 1 {
		t.Fatalf("self message echoed: %d calls", n)
	}
}

func TestReplyContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   string
		method  string
		args    map[string]any
		errCode string
	}{
		{name: "text", reply: `'hi'`, method: "msg.text", args: map[string]any{"content": "hi"}},
		{name: "text object", reply: `{text: 'hi'}`, method: "msg.text", args: map[string]any{"content": "hi"}},
		{name: "image", reply: `{image: 'https://x/y.png'}`, method: "msg.image", args: map[string]any{"imageUrl": "https://x/y.png"}},
		{name: "unknown content", reply: `{sticker: 1}`, errCode: "invalid_argument"},
		{name: "number", reply: `42`, errCode: "invalid_argument"},
		{name: "array", reply: `['hi']`, errCode: "invalid_argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := load(t, `on('message', async (ev) => {
  try { await ev.reply(`+tt.reply+`); kv.set('r', {ok: true}); }
  catch (e) { kv.set('r', {name: e.name, code: e.code, message: e.message, vendor: e.vendor}); }
});`, setup{})
			if err := f.handle(t, textEvent("e", "S:a_b", "x")); err != nil {
				t.Fatal(err)
			}
			r := f.kvDecode(t, "r")
			if tt.errCode != "" {
				if r["code"] != tt.errCode || r["name"] != "BindingError" || r["vendor"] != testVendor {
					t.Fatalf("rejection %v", r)
				}
				if len(f.inv.Calls()) != 0 {
					t.Fatal("a bad reply reached the invoker")
				}
				return
			}
			calls := f.inv.Calls()
			if r["ok"] != true || len(calls) != 1 || calls[0].Method != tt.method {
				t.Fatalf("result %v calls %+v", r, calls)
			}
			for k, v := range tt.args {
				if calls[0].Args[k] != v {
					t.Fatalf("arg %s = %v, want %v", k, calls[0].Args[k], v)
				}
			}
		})
	}
}

func TestPatternsRouteToHandlers(t *testing.T) {
	t.Parallel()
	f := load(t, `
const hit = (name) => (ev) => { kv.incr(name + ':' + ev.id); };
on('message.text', hit('text'));
on('room.*', hit('room'));
on('*', hit('all'));
on('message', hit('message'));
`, setup{})
	tests := []struct {
		ev   *event.Event
		want []string
	}{
		{textEvent("t1", "S:a_b", "x"), []string{"text", "all", "message"}},
		{typedEvent("r1", event.TypeRoomMemberAdded), []string{"room", "all"}},
		{typedEvent("l1", event.TypeLogin), []string{"all"}},
	}
	for _, tt := range tests {
		if err := f.handle(t, tt.ev); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"text", "room", "all", "message"} {
			_, err := f.bucket.Get(name + ":" + tt.ev.ID)
			hit := err == nil
			if want := contains(tt.want, name); hit != want {
				t.Errorf("event %s handler %s: hit %v want %v", tt.ev.ID, name, hit, want)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestEventObjectMatchesJSON(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', (ev) => { kv.set('ev', JSON.parse(JSON.stringify(ev))); kv.set('keys', Object.keys(ev)); kv.set('reply', typeof ev.reply); });`, setup{})
	tests := []struct {
		name string
		ev   *event.Event
	}{
		{"full message", &event.Event{
			ID: "quntool:bot1:message:m9", Type: event.TypeMessage, Vendor: testVendor, Account: "bot1",
			Time: 1686708146000, Received: 1686708147954,
			Conversation: &event.Conversation{ID: "R:10696051737", Kind: event.ConversationGroup},
			Message: &event.Message{ID: "m9", Kind: event.KindFile, Text: "[file] a.pdf",
				From: &event.Party{ID: "u1"}, To: "R:10696051737", Mentions: []string{"u2", "u3"},
				File: &event.File{URL: "https://f/a.pdf", Name: "a.pdf", Size: 1234}},
			Data: map[string]any{"n": json.Number("12345678901"), "f": json.Number("1.5"), "list": []any{"a", true, nil}, "obj": map[string]any{"b": "c"}},
			Raw:  json.RawMessage(`{"z":1,"a":{"deep":[1,2,{"x":"y"}]},"big":16888540000000000}`),
		}},
		{"no conversation", &event.Event{ID: "x:1", Type: event.TypeLogin, Vendor: testVendor, Account: "bot1",
			Time: 1, Received: 2, Raw: json.RawMessage(`{"type":"login"}`)}},
		{"no raw", &event.Event{ID: "x:2", Type: event.TypeLogout, Vendor: testVendor, Account: "bot1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.handle(t, tt.ev); err != nil {
				t.Fatal(err)
			}
			wantJSON, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			_ = json.Unmarshal(wantJSON, &want)
			_ = json.Unmarshal([]byte(f.kvJSON(t, "ev")), &got)
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("ev as JSON:\n got %v\nwant %v", got, want)
			}
			var keys []string
			_ = json.Unmarshal([]byte(f.kvJSON(t, "keys")), &keys)
			if contains(keys, "reply") || keys[0] != "id" {
				t.Fatalf("keys %v", keys)
			}
			if f.kvJSON(t, "reply") != `"function"` {
				t.Fatal("ev.reply is not a function")
			}
		})
	}
}

func TestEventObjectIsMutable(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', (ev) => {
  ev.extra = 1; ev.id = 'changed'; delete ev.raw; const r = ev.reply; ev.reply = 'x';
  kv.set('out', {keys: Object.keys(ev), id: ev.id, hasRaw: 'raw' in ev, extra: ev.extra, reply: ev.reply, kept: typeof r});
});`, setup{})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	got := f.kvDecode(t, "out")
	if got["id"] != "changed" || got["hasRaw"] != false || got["extra"] != float64(1) || got["reply"] != "x" || got["kept"] != "function" {
		t.Fatalf("%v", got)
	}
	keys := got["keys"].([]any)
	if keys[len(keys)-1] != "extra" || contains(toStrings(keys), "raw") || !contains(toStrings(keys), "reply") {
		t.Fatalf("keys %v", keys)
	}
}

func toStrings(a []any) []string {
	out := make([]string, len(a))
	for i, v := range a {
		out[i], _ = v.(string)
	}
	return out
}

func TestAsyncBindingCall(t *testing.T) {
	t.Parallel()
	f := load(t, `
on('message', async (ev) => {
  const r = await fakechat.group.member.add({roomId: 'R:1', members: ['u1', 'u2']});
  const p = await fakechat.call('/custom/path', {deep: {n: 1}});
  kv.set('out', {r, p});
});`, setup{invoker: func(_ context.Context, c bindings.Call) (json.RawMessage, error) {
		if c.Method == "call" {
			return json.RawMessage(`{"path":"` + c.Args["path"].(string) + `"}`), nil
		}
		return json.RawMessage(`{"added":2,"ids":["u1","u2"],"big":12345678901234}`), nil
	}})
	if err := f.handle(t, textEvent("e", "S:a_b", "x")); err != nil {
		t.Fatal(err)
	}
	if got := f.kvJSON(t, "out"); got != `{"r":{"added":2,"ids":["u1","u2"],"big":12345678901234},"p":{"path":"/custom/path"}}` {
		t.Fatalf("out %s", got)
	}
	calls := f.inv.Calls()
	if calls[0].Method != "group.member.add" || !reflect.DeepEqual(calls[0].Args["members"], []any{"u1", "u2"}) {
		t.Fatalf("call %+v", calls[0])
	}
	if body, ok := calls[1].Args["body"].(map[string]any); !ok || calls[1].Args["path"] != "/custom/path" ||
		!reflect.DeepEqual(body["deep"], map[string]any{"n": json.Number("1")}) {
		t.Fatalf("positional call %+v", calls[1])
	}
}

func TestBindingsBuiltFromRegistry(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	for _, ep := range f.env.Registry.Endpoints() {
		if got := f.eval(t, "typeof "+ep.Vendor+"."+ep.Name); got != "function" {
			t.Errorf("%s is %v", ep.Permission(), got)
		}
	}
	if got := f.eval(t, "Object.keys(fakechat).sort().join(',')"); got != "call,group,msg,slow" {
		t.Fatalf("fakechat has %v", got)
	}
	if got := f.eval(t, "Object.keys(fakechat.group.member).sort().join(',')"); got != "add,remove" {
		t.Fatalf("fakechat.group.member has %v", got)
	}
}

func TestBindingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		wrap   func(bindings.Invoker) bindings.Invoker
		call   string
		vendor string
		code   any
		msg    string
	}{
		{name: "vendor error", err: &bindings.VendorError{Vendor: testVendor, Code: -2003, Message: "conversation_id must carry S: or R:"},
			call: `fakechat.msg.text({wxId: 'b', conversationId: 'c', content: 'x'})`, vendor: testVendor, code: float64(-2003), msg: "conversation_id must carry S: or R:"},
		{name: "rate limited", err: &bindings.RateLimitedError{Key: "fakechat/account/b", Wait: time.Second},
			call: `fakechat.msg.text({wxId: 'b', conversationId: 'c', content: 'x'})`, vendor: testVendor, code: "rate_limited", msg: "rate limited"},
		{name: "permission from the guard",
			wrap: func(next bindings.Invoker) bindings.Invoker {
				return plugin.Guard("testplugin", plugin.NewGrants([]string{"fakechat.msg.*"}, []string{"*"}), next)
			},
			call: `fakechat.group.member.add({roomId: 'R:1', members: ['u']})`, vendor: testVendor, code: "permission_denied", msg: "fakechat.group.member.add"},
		{name: "argument check", call: `fakechat.group.member.add({roomId: 'R:1'})`, vendor: testVendor, code: "invalid_argument", msg: "members is required"},
		{name: "args not an object", call: `fakechat.slow('tag')`, vendor: testVendor, code: "invalid_argument", msg: "takes one object"},
		{name: "args not JSON", call: `(() => { const a = {}; a.self = a; return fakechat.slow(a); })()`, vendor: testVendor, code: "invalid_argument", msg: "not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup{wrap: tt.wrap}
			if tt.err != nil {
				s.invoker = func(context.Context, bindings.Call) (json.RawMessage, error) { return nil, tt.err }
			}
			f := load(t, `on('*', async () => {
  try { await `+tt.call+`; kv.set('e', 'resolved'); }
  catch (e) { kv.set('e', {isError: e instanceof Error, name: e.name, vendor: e.vendor, code: e.code, message: e.message, str: String(e)}); }
});`, s)
			if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
				t.Fatal(err)
			}
			got := f.kvDecode(t, "e")
			if got["isError"] != true || got["name"] != "BindingError" || got["vendor"] != tt.vendor || got["code"] != tt.code {
				t.Fatalf("error %v", got)
			}
			if !strings.Contains(got["message"].(string), tt.msg) || !strings.HasPrefix(got["str"].(string), "BindingError: ") {
				t.Fatalf("message %v", got)
			}
		})
	}
}

// A panic in the invoker chain fails the call, not the process.
func TestInvokerPanicRejects(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', async () => {
  try { await fakechat.slow({}); } catch (e) { kv.set('e', {name: e.name, code: e.code}); }
});`, setup{invoker: func(context.Context, bindings.Call) (json.RawMessage, error) { panic("invoker bug") }})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	if got := f.kvJSON(t, "e"); got != `{"name":"BindingError","code":"unsupported"}` {
		t.Fatalf("got %s", got)
	}
	f.logs.waitFor(testCtx(t), t, "binding call panicked")
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		js    string
		msg   string
		stack string
	}{
		{"sync throw", "on('*', function onAny(ev) {\n  throw new TypeError('bad ' + ev.id);\n});", "TypeError: bad e1", "onAny (testplugin.js:2:"},
		{"async rejection", "on('*', async (ev) => {\n  await null;\n  throw new Error('later');\n});", "Error: later", "testplugin.js:3:"},
		{"uncaught binding error", "on('*', async () => {\n  await fakechat.slow({});\n});", "BindingError: no", ""},
		{"throw a string", "on('*', () => { throw 'plain'; });", "plain", "testplugin.js:1:"},
		{"throwing thenable", "on('*', () => ({ get then() { throw new Error('bad thenable') } }));", "Error: bad thenable", "testplugin.js:1:"},
		{"rejecting thenable", "on('*', () => ({ then(ok, fail) { fail(new RangeError('no way')) } }));", "RangeError: no way", ""},
		{"reject an object", "on('*', () => Promise.reject({code: 7}));", `{"code":7}`, ""},
		{"stack overflow", "function f() { return f() + 1 }\non('*', () => f());", "maximum call stack size exceeded", "testplugin.js:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := load(t, tt.js, setup{invoker: func(context.Context, bindings.Call) (json.RawMessage, error) {
				return nil, &bindings.VendorError{Vendor: testVendor, Code: 1, Message: "no"}
			}})
			he := asHandlerError(t, f.handle(t, typedEvent("e1", event.TypeLogin)))
			if he.Plugin != "testplugin" || !strings.Contains(he.Message, tt.msg) {
				t.Fatalf("message %q", he.Message)
			}
			if !strings.Contains(he.Stack, tt.stack) {
				t.Fatalf("stack %q lacks %q", he.Stack, tt.stack)
			}
			// The plugin goes on serving.
			if got := f.eval(t, "1 + 1"); got != int64(2) {
				t.Fatalf("eval after error: %v", got)
			}
		})
	}
}

func TestSeveralHandlerErrorsAreJoined(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => { throw new Error('one') }); on('*', async () => { throw new Error('two') }); on('*', () => {});`, setup{})
	err := f.handle(t, typedEvent("e", event.TypeLogin))
	if err == nil || !strings.Contains(err.Error(), "one") || !strings.Contains(err.Error(), "two") {
		t.Fatalf("%v", err)
	}
	asHandlerError(t, err)
}

func TestInfiniteLoopInHandlerIsInterrupted(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, spin string }{
		{"synchronous", `let i = 0; while (true) { i++ }`},
		{"after an await", `await fakechat.slow({}); let i = 0; while (true) { i++ }`},
		{"in a timer of the event", `await new Promise(() => setTimeout(() => { let i = 0; while (true) { i++ } }, 1));`},
		{"in a microtask", `queueMicrotask(() => { let i = 0; while (true) { i++ } });`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := 300 * time.Millisecond
			f := load(t, `on('message', async (ev) => {
  if (ev.message.text === 'spin') { `+tt.spin+` }
  kv.set('served', ev.id);
});`, setup{timeout: timeout})
			start := time.Now()
			err := f.handle(t, textEvent("spin1", "S:a_b", "spin"))
			if !errors.Is(err, plugin.ErrTimeout) {
				t.Fatalf("want ErrTimeout, got %v", err)
			}
			if took := time.Since(start); took < timeout || took > timeout+3*time.Second {
				t.Fatalf("Handle returned after %s with a %s timeout", took, timeout)
			}
			if err := f.handle(t, textEvent("next", "S:a_b", "hello")); err != nil {
				t.Fatalf("next event: %v", err)
			}
			if got := f.kvJSON(t, "served"); got != `"next"` {
				t.Fatalf("served %s", got)
			}
		})
	}
}

// An event whose deadline passes while another event's code runs is
// abandoned without interrupting the code that is running.
func TestDeadlineInterruptsOnlyItsEvent(t *testing.T) {
	t.Parallel()
	slowStarted := make(chan struct{})
	f := load(t, `on('message', async (ev) => {
  if (ev.message.text === 'wait') { await fakechat.slow({}); return; }
  log.info('spinning');
  const end = Date.now() + 300;
  while (Date.now() < end) {}
  kv.set('spun', ev.id);
});`, setup{timeout: 20 * time.Second, invoker: func(ctx context.Context, _ bindings.Call) (json.RawMessage, error) {
		close(slowStarted)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	ctxA, cancelA := context.WithCancel(testCtx(t))
	aDone := make(chan error, 1)
	go func() { aDone <- f.h.Handle(ctxA, textEvent("a", "S:a_x", "wait")) }()
	<-slowStarted
	bDone := make(chan error, 1)
	go func() { bDone <- f.handle(t, textEvent("b", "S:b_x", "spin")) }()
	f.logs.waitFor(testCtx(t), t, "spinning")
	cancelA()
	if err := <-aDone; !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("A: want ErrTimeout, got %v", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("B was hit by A's deadline: %v", err)
	}
	if got := f.kvJSON(t, "spun"); got != `"b"` {
		t.Fatalf("spun %s", got)
	}
}

func TestNeverSettlingPromiseIsAbandoned(t *testing.T) {
	t.Parallel()
	f := load(t, `on('message', (ev) => {
  if (ev.message.text === 'hang') return new Promise(() => {});
  kv.set('served', ev.id);
});`, setup{timeout: 200 * time.Millisecond})
	if err := f.handle(t, textEvent("hang1", "S:a_b", "hang")); !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if err := f.handle(t, textEvent("next", "S:a_b", "hi")); err != nil {
		t.Fatalf("next event: %v", err)
	}
	if got := f.kvJSON(t, "served"); got != `"next"` {
		t.Fatalf("served %s", got)
	}
}

// The dispatcher's own context ends the event too.
func TestHandleContextCancel(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => new Promise(() => {}))`, setup{timeout: time.Minute})
	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := f.h.Handle(ctx, typedEvent("e", event.TypeLogin)); !errors.Is(err, plugin.ErrTimeout) || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("want ErrTimeout (canceled), got %v", err)
	}
}

// A binding call still pending when its event is abandoned is cancelled
// through the event's context.
func TestAbandonedEventCancelsItsCalls(t *testing.T) {
	t.Parallel()
	started, cancelled := make(chan struct{}), make(chan error, 1)
	f := load(t, `on('*', async () => { await fakechat.slow({}); });`, setup{timeout: 200 * time.Millisecond,
		invoker: func(ctx context.Context, _ bindings.Call) (json.RawMessage, error) {
			close(started)
			<-ctx.Done()
			cancelled <- ctx.Err()
			return nil, ctx.Err()
		}})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	<-started
	select {
	case err := <-cancelled:
		if err == nil {
			t.Fatal("call context not cancelled")
		}
	case <-testCtx(t).Done():
		t.Fatal("the pending call was not cancelled")
	}
}

// A call the handler does not await is cancelled when the event finishes,
// and the log says why.
func TestUnawaitedCallIsCancelledWithWarning(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	f := load(t, `on('*', (ev) => { fakechat.slow({tag: 'fire-and-forget'}); });`, setup{
		invoker: func(ctx context.Context, _ bindings.Call) (json.RawMessage, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}})
	if err := f.handle(t, typedEvent("e7", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	<-started
	line := f.logs.waitFor(testCtx(t), t, "binding call cancelled")
	if line["event"] != "e7" || line["call"] != "fakechat.slow" {
		t.Fatalf("log %v", line)
	}
	f.logs.waitFor(testCtx(t), t, "unhandled promise rejection")
}

// A handler of conversation A awaiting a slow call does not block
// conversation B.
func TestConversationsInterleave(t *testing.T) {
	t.Parallel()
	slowStarted, release := make(chan struct{}), make(chan struct{})
	f := load(t, `on('message', async (ev) => {
  if (ev.message.text === 'slow') await fakechat.slow({tag: ev.conversation.id});
  kv.incr('done:' + ev.conversation.id);
});`, setup{timeout: 10 * time.Second, invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		close(slowStarted)
		select {
		case <-release:
			return json.RawMessage(`null`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}})
	aDone := make(chan error, 1)
	go func() { aDone <- f.handle(t, textEvent("a", "S:a_x", "slow")) }()
	<-slowStarted
	if err := f.handle(t, textEvent("b", "S:b_x", "fast")); err != nil {
		t.Fatalf("B: %v", err)
	}
	select {
	case err := <-aDone:
		t.Fatalf("A finished before its call was released: %v", err)
	default:
	}
	if _, err := f.bucket.Get("done:S:a_x"); err == nil {
		t.Fatal("A ran past its await")
	}
	close(release)
	if err := <-aDone; err != nil {
		t.Fatalf("A: %v", err)
	}
	if got := f.kvJSON(t, "done:S:a_x"); got != "1" {
		t.Fatalf("A count %s", got)
	}
}

func TestMaxPending(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := load(t, `on('*', async () => {
  const a = fakechat.slow({tag: 'a'}), b = fakechat.slow({tag: 'b'});
  let code = null;
  try { await fakechat.slow({tag: 'c'}); } catch (e) { code = e.code; }
  await Promise.all([a, b]);
  kv.set('code', code);
  await fakechat.slow({tag: 'd'});
});`, setup{maxPending: 2, invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		if c.Args["tag"] == "d" {
			return nil, nil
		}
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}})
	done := make(chan error, 1)
	go func() { done <- f.handle(t, typedEvent("e", event.TypeLogin)) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.kvJSON(t, "code"); got != `"too_many_pending"` {
		t.Fatalf("third call: %s", got)
	}
	tags := []string{}
	for _, c := range f.inv.Calls() {
		tags = append(tags, c.Args["tag"].(string))
	}
	if strings.Join(tags, ",") != "a,b,d" && strings.Join(tags, ",") != "b,a,d" {
		t.Fatalf("calls %v: the call over the cap must never be sent, and the cap frees up", tags)
	}
	if f.eval(t, "1") != int64(1) || f.h.pending != 0 {
		t.Fatalf("pending %d after all settled", f.h.pending)
	}
}

// TestMaxPendingIsPerEvent: many events, each awaiting one call at the
// same time, are not refused by a cap meant for one event's runaway calls.
func TestMaxPendingIsPerEvent(t *testing.T) {
	t.Parallel()
	const events = 6
	started := make(chan struct{}, events)
	release := make(chan struct{})
	f := load(t, `on('*', async (ev) => {
  await fakechat.slow({tag: ev.id});
  kv.incr('ok');
});`, setup{maxPending: 2, invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		started <- struct{}{}
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}})
	errs := make(chan error, events)
	for i := range events {
		go func() { errs <- f.handle(t, textEvent(fmt.Sprint("e", i), fmt.Sprint("S:a_", i), "hi")) }()
	}
	for range events {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the events' calls did not all start: refused over the cap?")
		}
	}
	close(release)
	for range events {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := f.kvJSON(t, "ok"); got != fmt.Sprint(events) {
		t.Fatalf("ok = %s, want %d", got, events)
	}
}

func TestHandleAfterClose(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	if err := f.h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.h.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); !errors.Is(err, plugin.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}

// The sends a handler makes reach the invoker under the context of its
// event's delivery, numbered in the order they were made, so the outbox
// can tell them apart and does not repeat them when the event is
// delivered again.
func TestSendsCarryTheDelivery(t *testing.T) {
	t.Parallel()
	keys := make(chan string, 8)
	f := load(t, `
on('message.text', async (ev) => {
  await ev.reply('one');
  await ev.reply('two');
});`, setup{invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		k, _ := bindings.SendKey(ctx)
		keys <- k
		return json.RawMessage(`{"msgId":"m1"}`), nil
	}})
	ctx := bindings.WithRedelivery(testCtx(t), "testplugin/9", false)
	if err := f.h.Handle(ctx, textEvent("e1", "S:bot1_u1", "hi")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"testplugin/9#1", "testplugin/9#2"} {
		if k := <-keys; k != want {
			t.Errorf("send under key %q, want %q", k, want)
		}
	}
}

// Calls a handler starts together are numbered in the order it started
// them, whichever reaches the invoker first.
func TestConcurrentSendsNumberedInProgramOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	keys := map[string]string{}
	var order []string
	f := load(t, `
on('message.text', async (ev) => {
  await Promise.all([ev.reply('one'), ev.reply('two'), ev.reply('three')]);
});`, setup{invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		content, _ := c.Args["content"].(string)
		if content == "one" {
			time.Sleep(50 * time.Millisecond) // reaches the outbox last
		}
		k, _ := bindings.SendKey(ctx)
		mu.Lock()
		keys[content] = k
		order = append(order, content)
		mu.Unlock()
		return json.RawMessage(`{"msgId":"m1"}`), nil
	}})
	ctx := bindings.WithRedelivery(testCtx(t), "testplugin/9", false)
	if err := f.h.Handle(ctx, textEvent("e1", "S:bot1_u1", "hi")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if order[len(order)-1] != "one" {
		t.Fatalf("the delayed call was not last (%v): the test proves nothing", order)
	}
	for content, want := range map[string]string{"one": "testplugin/9#1", "two": "testplugin/9#2", "three": "testplugin/9#3"} {
		if keys[content] != want {
			t.Errorf("%s was sent under key %q, want %q (order of arrival %v)", content, keys[content], want, order)
		}
	}
}
