package jshost

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/runtime/event"
)

// runKV runs body inside a handler and returns what it stored under "out".
func runKV(t *testing.T, f *fixture, body string) string {
	t.Helper()
	f.bucket.Delete("out")
	js := `(() => { try { const r = (() => {` + body + `})(); kv.set('out', r === undefined ? null : r); }
  catch (e) { kv.set('out', {thrown: e.name, code: e.code === undefined ? null : e.code, message: e.message}); } })()`
	f.eval(t, js)
	return f.kvJSON(t, "out")
}

func TestKV(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	tests := []struct {
		name string
		body string
		want string // JSON stored under "out", or a substring of it when contains
		sub  bool
	}{
		{name: "get missing", body: `return kv.get('nope') === undefined`, want: `true`},
		{name: "set and get object", body: `kv.set('o', {a: [1, 'x', null], b: {c: true}}); return kv.get('o')`, want: `{"a":[1,"x",null],"b":{"c":true}}`},
		{name: "key order kept", body: `kv.set('k', {z: 1, a: 2}); return Object.keys(kv.get('k'))`, want: `["z","a"]`},
		{name: "set string and number", body: `kv.set('s', 'str'); kv.set('n', 2.5); return [kv.get('s'), kv.get('n')]`, want: `["str",2.5]`},
		{name: "set null", body: `kv.set('nul', null); return kv.get('nul') === null`, want: `true`},
		{name: "toJSON honoured", body: `kv.set('d', {toJSON() { return 'custom' }}); return kv.get('d')`, want: `"custom"`},
		{name: "set undefined", body: `kv.set('u', undefined)`, want: `"thrown":"TypeError"`, sub: true},
		{name: "set function", body: `kv.set('f', () => 1)`, want: `"thrown":"TypeError"`, sub: true},
		{name: "set cycle", body: `const a = {}; a.a = a; kv.set('c', a)`, want: `"thrown":"TypeError"`, sub: true},
		{name: "non-string key", body: `kv.get(5)`, want: `"thrown":"TypeError"`, sub: true},
		{name: "empty key", body: `kv.get('')`, want: `{"thrown":"KVError","code":"invalid_key"`, sub: true},
		{name: "delete", body: `kv.set('del', 1); kv.delete('del'); kv.delete('never'); return kv.get('del') === undefined`, want: `true`},
		{name: "incr default", body: `kv.incr('c1'); return kv.incr('c1')`, want: `2`},
		{name: "incr by", body: `kv.incr('c2', 5); return kv.incr('c2', -2)`, want: `3`},
		{name: "incr not integer", body: `kv.incr('c3', 1.5)`, want: `"thrown":"RangeError"`, sub: true},
		{name: "incr string by", body: `kv.incr('c3', '2')`, want: `"thrown":"TypeError"`, sub: true},
		{name: "incr non-number value", body: `kv.set('txt', 'abc'); kv.incr('txt')`, want: `{"thrown":"KVError","code":"not_number"`, sub: true},
		{name: "ttl options not object", body: `kv.set('t', 1, 60)`, want: `"thrown":"TypeError"`, sub: true},
		{name: "ttl negative", body: `kv.set('t', 1, {ttl: -1})`, want: `"thrown":"RangeError"`, sub: true},
		{name: "ttl bad string", body: `kv.set('t', 1, {ttl: 'soon'})`, want: `"thrown":"TypeError"`, sub: true},
		{name: "ttl NaN", body: `kv.set('t', 1, {ttl: NaN})`, want: `"thrown":"RangeError"`, sub: true},
	}
	for _, tt := range tests {
		got := runKV(t, f, tt.body)
		if tt.sub && !strings.Contains(got, tt.want) || !tt.sub && got != tt.want {
			t.Errorf("%s: got %s want %s", tt.name, got, tt.want)
		}
	}
}

func TestKVTTL(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	tests := []struct {
		name string
		opts string
		want time.Duration
	}{
		{"seconds", `{ttl: 60}`, time.Minute},
		{"fraction", `{ttl: 1.5}`, 1500 * time.Millisecond},
		{"duration string", `{ttl: '10m'}`, 10 * time.Minute},
		{"zero", `{ttl: 0}`, 0},
		{"none", `{}`, 0},
		{"absent", `undefined`, 0},
	}
	for _, tt := range tests {
		key := "ttl-" + strings.ReplaceAll(tt.name, " ", "-")
		f.eval(t, `kv.set('`+key+`', 1, `+tt.opts+`)`)
		if got := f.bucket.ttl(key); got != tt.want {
			t.Errorf("%s: ttl %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestKVList(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	f.eval(t, `for (const k of ['a:1', 'a:2', 'a:3', 'b:1']) kv.set(k, {k}); kv.set('a:4', 4, {ttl: 3600})`)
	got := runKV(t, f, `
const pages = []; let cursor;
do {
  const page = kv.list('a:', {limit: 2, cursor});
  pages.push(page.items.map(i => i.key + '=' + JSON.stringify(i.value) + (i.expires_at === null ? '' : '@exp')));
  cursor = page.cursor;
} while (cursor !== null);
return pages;`)
	if got != `[["a:1={\"k\":\"a:1\"}","a:2={\"k\":\"a:2\"}"],["a:3={\"k\":\"a:3\"}","a:4=4@exp"]]` {
		t.Fatalf("pages %s", got)
	}
	for _, tt := range []struct{ body, want string }{
		{`return kv.list().items.length`, `5`},
		{`kv.list('a', {limit: 0})`, `"thrown":"RangeError"`},
		{`kv.list('a', {limit: 5000})`, `"thrown":"RangeError"`},
		{`kv.list(5)`, `"thrown":"TypeError"`},
		{`kv.list('a', {cursor: 3})`, `"thrown":"TypeError"`},
	} {
		if got := runKV(t, f, tt.body); !strings.Contains(got, tt.want) {
			t.Errorf("%s: %s lacks %s", tt.body, got, tt.want)
		}
	}
}

func TestKVWithoutPermission(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {
  const out = {};
  for (const [name, call] of Object.entries({
    get: () => kv.get('a'), set: () => kv.set('a', 1), delete: () => kv.delete('a'),
    incr: () => kv.incr('a'), list: () => kv.list('a')})) {
    try { call(); out[name] = 'allowed'; } catch (e) { out[name] = e.name + '/' + e.code + '/' + (e instanceof Error); }
  }
  return fakechat.slow({tag: JSON.stringify(out)});
});`, setup{noKV: true})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(f.inv.Calls()[0].Args["tag"].(string)), &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"get", "set", "delete", "incr", "list"} {
		if out[name] != "PermissionError/permission_denied/true" {
			t.Errorf("kv.%s without permission: %s", name, out[name])
		}
	}
}

func TestLogAndConsole(t *testing.T) {
	t.Parallel()
	f := load(t, `
log.info('loaded', {version: 3});
on('*', (ev) => {
  log.info('replied', {n: 2, conversation: ev.conversation.id, obj: {a: [1]}, err: new TypeError('x'), nothing: null});
  log.warn('careful');
  log.debug('details', {flag: true});
  log.error({not: 'a string'});
  console.log('count=%d name=%s', 42, 'ann', {extra: true});
  console.info('100%% done', 'x');
  console.warn('warned');
  console.error(new Error('failed here'));
  console.debug('dbg', undefined, null, 1.5, [1, 2]);
});`, setup{})
	if err := f.handle(t, typedEvent("ev-1", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		msg    string
		level  string
		fields map[string]any
		event  bool
	}{
		{"loaded", "info", map[string]any{"version": float64(3)}, false},
		{"replied", "info", map[string]any{"n": float64(2), "conversation": "R:room1", "obj": map[string]any{"a": []any{float64(1)}}, "err": "TypeError: x", "nothing": nil}, true},
		{"careful", "warn", nil, true},
		{"details", "debug", map[string]any{"flag": true}, true},
		{`{"not":"a string"}`, "error", nil, true},
		{`count=42 name=ann {"extra":true}`, "info", nil, true},
		{"100% done x", "info", nil, true},
		{"warned", "warn", nil, true},
		{"Error: failed here", "error", nil, true},
		{"dbg undefined null 1.5 [1,2]", "debug", nil, true},
	}
	for _, tt := range tests {
		line, ok := f.logs.find(tt.msg)
		if !ok {
			t.Errorf("no line %q in %v", tt.msg, f.logs.all())
			continue
		}
		if line["plugin"] != "testplugin" || line["@level"] != tt.level {
			t.Errorf("%q: plugin %v level %v", tt.msg, line["plugin"], line["@level"])
		}
		if got, want := line["event"], map[bool]any{true: "ev-1", false: nil}[tt.event]; got != want {
			t.Errorf("%q: event %v, want %v", tt.msg, got, want)
		}
		for k, v := range tt.fields {
			if got, err := json.Marshal(line[k]); err != nil || string(got) != mustJSON(v) {
				t.Errorf("%q: field %s = %s, want %s", tt.msg, k, got, mustJSON(v))
			}
		}
	}
	if line, _ := f.logs.find("Error: failed here"); !strings.Contains(line["@message"].(string), "testplugin.js:11:") {
		t.Errorf("console.error of an Error shows no stack: %v", line["@message"])
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestConfigIsFrozen(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{config: map[string]any{
		"greeting": "welcome", "n": json.Number("3"), "nested": map[string]any{"list": []any{"a"}}}})
	tests := []struct {
		js   string
		want any
	}{
		{`config.greeting`, "welcome"},
		{`config.n + 1`, int64(4)},
		{`config.nested.list[0]`, "a"},
		{`Object.isFrozen(config) && Object.isFrozen(config.nested) && Object.isFrozen(config.nested.list)`, true},
		{`config.greeting = 'changed'; config.added = 1; config.greeting + (config.added === undefined)`, "welcometrue"},
		{`(() => { 'use strict'; try { config.greeting = 'x'; return 'assigned'; } catch (e) { return e.name; } })()`, "TypeError"},
	}
	for _, tt := range tests {
		if got := f.eval(t, tt.js); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.js, got, tt.want)
		}
	}
	empty := load(t, `on('*', () => {})`, setup{})
	if got := empty.eval(t, `JSON.stringify(config) + Object.isFrozen(config)`); got != "{}true" {
		t.Fatalf("config without settings: %v", got)
	}
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	f := load(t, `on('*', () => {})`, setup{})
	tests := []struct {
		js   string
		want any
	}{
		{`typeof process`, "undefined"},
		{`typeof fs`, "undefined"},
		{`typeof require`, "undefined"}, // require is per module, not a global
		{`typeof fetch`, "undefined"},
		{`typeof XMLHttpRequest`, "undefined"},
		{`typeof Buffer`, "undefined"},
		{`typeof setTimeout + typeof clearTimeout + typeof setInterval + typeof clearInterval + typeof queueMicrotask`,
			"functionfunctionfunctionfunctionfunction"},
		{`typeof on + typeof kv + typeof log + typeof console + typeof config + typeof fakechat`,
			"functionobjectobjectobjectobjectobject"},
	}
	for _, tt := range tests {
		if got := f.eval(t, tt.js); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.js, got, tt.want)
		}
	}
	// Inside a module, require exists but reaches nothing of the host.
	g := load(t, `
const out = {};
for (const id of ['fs', 'process', 'child_process', 'http', './other', '/etc/passwd']) {
  try { require(id); out[id] = 'loaded'; } catch (e) { out[id] = e.code; }
}
on('*', () => fakechat.slow({tag: JSON.stringify(out)}));`, setup{})
	if err := g.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	_ = json.Unmarshal([]byte(g.inv.Calls()[0].Args["tag"].(string)), &out)
	for _, id := range []string{"fs", "process", "child_process", "http", "./other", "/etc/passwd"} {
		if out[id] != "MODULE_NOT_FOUND" {
			t.Errorf("require(%q) in a single-file plugin: %s", id, out[id])
		}
	}
}

func TestTimers(t *testing.T) {
	t.Parallel()
	f := load(t, `
on('*', async (ev) => {
  const order = [];
  await new Promise((resolve) => setTimeout((a, b) => { order.push('timeout:' + a + b); resolve(); }, 5, 'x', 'y'));
  const cleared = setTimeout(() => order.push('cleared ran'), 1);
  clearTimeout(cleared);
  queueMicrotask(() => order.push('microtask'));
  order.push('sync');
  await new Promise((resolve) => {
    let n = 0;
    const id = setInterval(() => { order.push('tick' + (++n)); if (n === 3) { clearInterval(id); resolve(); } }, 1);
  });
  await new Promise((resolve) => setTimeout(resolve, 5));
  kv.set('order', order);
});`, setup{})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	if got := f.kvJSON(t, "order"); got != `["timeout:xy","sync","microtask","tick1","tick2","tick3"]` {
		t.Fatalf("order %s", got)
	}
	if got := f.eval(t, `(() => { try { setTimeout('code', 1); } catch (e) { return e.name; } })()`); got != "TypeError" {
		t.Fatalf("setTimeout with a string: %v", got)
	}
	if got := f.eval(t, `(() => { try { queueMicrotask(1); } catch (e) { return e.name; } })()`); got != "TypeError" {
		t.Fatalf("queueMicrotask(1): %v", got)
	}
}

func TestUncaughtErrorsAreLogged(t *testing.T) {
	t.Parallel()
	f := load(t, `
on('*', (ev) => {
  setTimeout(() => { throw new Error('timer boom'); }, 1);
  queueMicrotask(() => { throw new Error('microtask boom'); });
  Promise.reject(new Error('nobody listens'));
});`, setup{})
	if err := f.handle(t, typedEvent("ev-9", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for _, want := range []struct{ msg, errText string }{
		{"uncaught exception", "timer boom"},
		{"uncaught exception", "microtask boom"},
		{"unhandled promise rejection", "nobody listens"},
	} {
		found := false
		for !found {
			for _, l := range f.logs.all() {
				if l["@message"] == want.msg && strings.Contains(l["error"].(string), want.errText) {
					found = true
				}
			}
			if !found {
				select {
				case <-f.logs.added:
				case <-ctx.Done():
					t.Fatalf("no %q with %q in %v", want.msg, want.errText, f.logs.all())
				}
			}
		}
	}
}

// A timer callback outside any event that never returns is interrupted by
// the background watchdog, and the plugin goes on serving.
func TestRunawayTimerIsInterrupted(t *testing.T) {
	t.Parallel()
	f := load(t, `
setTimeout(() => { let i = 0; while (true) { i++ } }, 1);
on('*', (ev) => kv.set('served', ev.id));`, setup{timeout: 200 * time.Millisecond})
	f.logs.waitFor(testCtx(t), t, "timer callback interrupted")
	if err := f.handle(t, typedEvent("after", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	if got := f.kvJSON(t, "served"); got != `"after"` {
		t.Fatalf("served %s", got)
	}
}

// Calls made outside any event (here from a timer set at the top level)
// run with the plugin's own context and settle normally.
func TestCallFromTimerOutsideEvents(t *testing.T) {
	t.Parallel()
	got := make(chan bindings.Call, 1)
	f := load(t, `
setTimeout(async () => {
  const r = await fakechat.slow({tag: 'from-timer'});
  log.info('timer call done', {ok: r.ok});
}, 1);
on('*', () => {});`, setup{invoker: func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, context.Canceled // must be bounded
		}
		got <- c
		return json.RawMessage(`{"ok":true}`), nil
	}})
	c := <-got
	if c.Args["tag"] != "from-timer" {
		t.Fatalf("call %+v", c)
	}
	line := f.logs.waitFor(testCtx(t), t, "timer call done")
	if line["ok"] != true || line["event"] != nil {
		t.Fatalf("log %v", line)
	}
}

func TestCloseStopsTimers(t *testing.T) {
	t.Parallel()
	ticks := make(chan struct{}, 100)
	f := load(t, `
setInterval(() => { fakechat.slow({tag: 'tick'}); }, 2);
setTimeout(() => {}, 3600 * 1000);
on('*', () => {});`, setup{invoker: func(context.Context, bindings.Call) (json.RawMessage, error) {
		select {
		case ticks <- struct{}{}:
		default:
		}
		return nil, nil
	}})
	<-ticks
	<-ticks
	if err := f.h.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.h.loop.done:
	default:
		t.Fatal("loop still running after Close")
	}
	if n := len(f.h.timers); n != 0 {
		t.Fatalf("%d timers left after Close", n)
	}
	if f.h.loop.post(job{fn: func() {}}) {
		t.Fatal("a stopped loop accepted a job: a timer could still fire")
	}
	if f.h.life.Err() == nil {
		t.Fatal("the plugin's context outlives Close")
	}
}
