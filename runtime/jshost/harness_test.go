package jshost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/kv"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

const testVendor = "fakechat"

// testRegistry is a real registry with a tiny vendor: sends, a namespace
// with two verbs, a slow query and a positional endpoint.
func testRegistry(t testing.TB) *bindings.Registry {
	t.Helper()
	str := func(name string, req bool) bindings.Param {
		return bindings.Param{Name: name, Type: bindings.String, Required: req}
	}
	reg := bindings.NewRegistry()
	err := reg.Add(bindings.Vendor{
		Name: testVendor,
		Endpoints: []bindings.Endpoint{
			{Name: "msg.text", Method: "POST", Path: "/msg/text", Class: bindings.Send, AccountParam: "wxId",
				Params: []bindings.Param{str("wxId", true), str("conversationId", true), str("content", true)}},
			{Name: "msg.image", Method: "POST", Path: "/msg/image", Class: bindings.Send, AccountParam: "wxId",
				Params: []bindings.Param{str("wxId", true), str("conversationId", true), str("imageUrl", true)}},
			{Name: "group.member.add", Method: "POST", Path: "/group/member",
				Params: []bindings.Param{str("roomId", true), {Name: "members", Type: bindings.Strings, Required: true}}},
			{Name: "group.member.remove", Method: "DELETE", Path: "/group/member",
				Params: []bindings.Param{str("roomId", true), {Name: "members", Type: bindings.Strings, Required: true}}},
			{Name: "slow", Method: "GET", Path: "/slow", Params: []bindings.Param{str("tag", false)}},
			{Name: "call", Method: "POST", Path: "/call", Positional: true,
				Params: []bindings.Param{str("path", true), {Name: "body", Type: bindings.Object}}},
		},
		Reply: func(ev *event.Event, content map[string]any) (bindings.Call, error) {
			if ev.Conversation == nil {
				return bindings.Call{}, &bindings.ArgumentError{Endpoint: testVendor + ".reply", Param: "conversation", Reason: "is missing"}
			}
			args := map[string]any{"wxId": ev.Account, "conversationId": ev.Conversation.ID}
			switch {
			case content["text"] != nil:
				args["content"] = content["text"]
				return bindings.Call{Method: "msg.text", Args: args}, nil
			case content["image"] != nil:
				args["imageUrl"] = content["image"]
				return bindings.Call{Method: "msg.image", Args: args}, nil
			}
			return bindings.Call{}, &bindings.ArgumentError{Endpoint: testVendor + ".reply", Param: "content", Reason: "has no text or image"}
		},
	})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return reg
}

// fakeInvoker checks each call against the registry like the real
// innermost invoker does, records it, and answers with fn (or {"ok":true}).
type fakeInvoker struct {
	reg *bindings.Registry
	fn  func(ctx context.Context, c bindings.Call) (json.RawMessage, error)

	mu    sync.Mutex
	calls []bindings.Call
}

func (f *fakeInvoker) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	ep, err := f.reg.Lookup(c.Vendor, c.Method)
	if err != nil {
		return nil, err
	}
	if err := ep.Check(c.Args); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, c)
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func (f *fakeInvoker) Calls() []bindings.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bindings.Call(nil), f.calls...)
}

// memBucket is an in-memory kv.Bucket.
type memBucket struct {
	mu   sync.Mutex
	data map[string]memEntry
	ttls map[string]time.Duration // the last TTL each key was set with
}

type memEntry struct {
	value   json.RawMessage
	expires int64
}

func newMemBucket() *memBucket {
	return &memBucket{data: map[string]memEntry{}, ttls: map[string]time.Duration{}}
}

func (b *memBucket) Get(key string) (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.data[key]
	if !ok {
		return nil, kv.ErrNotFound
	}
	return e.value, nil
}

func (b *memBucket) Set(key string, value json.RawMessage, ttl time.Duration) error {
	if err := kv.CheckKey(key); err != nil {
		return err
	}
	if !json.Valid(value) {
		return kv.ErrInvalidJSON
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := memEntry{value: append(json.RawMessage(nil), value...)}
	if ttl > 0 {
		e.expires = time.Now().Add(ttl).Unix()
	}
	b.data[key] = e
	b.ttls[key] = ttl
	return nil
}

func (b *memBucket) Delete(key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.data, key)
	return nil
}

func (b *memBucket) Incr(key string, delta int64) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	if e, ok := b.data[key]; ok {
		if err := json.Unmarshal(e.value, &n); err != nil {
			return 0, kv.ErrNotNumber
		}
	}
	n += delta
	v, _ := json.Marshal(n)
	e := b.data[key]
	e.value = v
	b.data[key] = e
	return n, nil
}

func (b *memBucket) List(prefix string, limit int, cursor string) ([]kv.Item, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if limit <= 0 {
		limit = 100
	}
	var keys []string
	for k := range b.data {
		if strings.HasPrefix(k, prefix) && k > cursor {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	next := ""
	if len(keys) > limit {
		keys = keys[:limit]
		next = keys[limit-1]
	}
	items := make([]kv.Item, len(keys))
	for i, k := range keys {
		items[i] = kv.Item{Key: k, Value: b.data[k].value, ExpiresAt: b.data[k].expires}
	}
	return items, next, nil
}

func (b *memBucket) ttl(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ttls[key]
}

// logSink collects log lines (JSON) and lets a test wait for one.
type logSink struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []map[string]any
	added chan struct{}
}

func newLogSink() *logSink { return &logSink{added: make(chan struct{}, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	for {
		line, err := s.buf.ReadBytes('\n')
		if err != nil {
			s.buf.Write(line)
			break
		}
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			s.lines = append(s.lines, m)
		}
	}
	s.mu.Unlock()
	select {
	case s.added <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *logSink) find(msg string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if m, _ := l["@message"].(string); strings.Contains(m, msg) {
			return l, true
		}
	}
	return nil, false
}

// waitFor waits until a line whose message contains msg was logged.
func (s *logSink) waitFor(ctx context.Context, t testing.TB, msg string) map[string]any {
	t.Helper()
	for {
		if l, ok := s.find(msg); ok {
			return l
		}
		select {
		case <-s.added:
		case <-ctx.Done():
			t.Fatalf("no log line %q; got %v", msg, s.all())
			return nil
		}
	}
}

func (s *logSink) all() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.lines...)
}

// fixture is one loaded plugin with its fakes.
type fixture struct {
	h      *host
	inv    *fakeInvoker
	bucket *memBucket
	logs   *logSink
	env    plugin.Env
}

type setup struct {
	name       string
	timeout    time.Duration
	maxPending int
	events     []string
	accounts   []string
	config     map[string]any
	noKV       bool
	invoker    func(ctx context.Context, c bindings.Call) (json.RawMessage, error)
	wrap       func(bindings.Invoker) bindings.Invoker
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writePlugin writes a single-file plugin and returns its source.
func writePlugin(t testing.TB, name, src string) plugin.Source {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name+".js")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return plugin.Source{Name: name, Kind: plugin.JS, Entry: path}
}

// newEnv builds the env for src with fakes.
func newEnv(t testing.TB, src plugin.Source, s setup) (plugin.Env, *fakeInvoker, *memBucket, *logSink) {
	t.Helper()
	if s.timeout == 0 {
		s.timeout = 2 * time.Second
	}
	if s.events == nil {
		s.events = []string{"*"}
	}
	if s.accounts == nil {
		s.accounts = []string{"*"}
	}
	reg := testRegistry(t)
	inv := &fakeInvoker{reg: reg, fn: s.invoker}
	logs := newLogSink()
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace, JSONFormat: true}).With("plugin", src.Name)
	spec := &plugin.Spec{Source: src, Events: s.events, Accounts: s.accounts, Timeout: s.timeout,
		MaxPending: s.maxPending, Config: s.config, Grants: plugin.NewGrants(nil, []string{"*"})}
	var invoker bindings.Invoker = inv
	if s.wrap != nil {
		invoker = s.wrap(inv)
	}
	env := plugin.Env{Spec: spec, Log: log, Invoker: invoker, Registry: reg}
	bucket := newMemBucket()
	if !s.noKV {
		env.KV = bucket
	}
	return env, inv, bucket, logs
}

// load loads a single-file plugin with source js.
func load(t testing.TB, js string, s setup) *fixture {
	t.Helper()
	if s.name == "" {
		s.name = "testplugin"
	}
	return loadSource(t, writePlugin(t, s.name, js), s)
}

func loadSource(t testing.TB, src plugin.Source, s setup) *fixture {
	t.Helper()
	env, inv, bucket, logs := newEnv(t, src, s)
	hd, err := New(Options{}).Load(testCtx(t), env)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	h := hd.(*host)
	t.Cleanup(func() { _ = h.Close() })
	return &fixture{h: h, inv: inv, bucket: bucket, logs: logs, env: env}
}

// textEvent is a text message in a private conversation.
func textEvent(id, conv, text string) *event.Event {
	return &event.Event{
		ID: id, Type: event.TypeMessage, Vendor: testVendor, Account: "bot1",
		Time: 1686708146000, Received: 1686708147954,
		Conversation: &event.Conversation{ID: conv, Kind: event.ConversationKind(conv)},
		Message: &event.Message{ID: "m-" + id, Kind: event.KindText, Text: text,
			From: &event.Party{ID: "u1", Name: "Ann"}},
		Raw: json.RawMessage(`{"type":"text","msgId":"` + id + `","content":"` + text + `"}`),
	}
}

func typedEvent(id, typ string) *event.Event {
	return &event.Event{ID: id, Type: typ, Vendor: testVendor, Account: "bot1",
		Conversation: &event.Conversation{ID: "R:room1", Kind: event.ConversationGroup},
		Raw:          json.RawMessage(`{}`)}
}

// handle runs Handle with a test deadline.
func (f *fixture) handle(t testing.TB, ev *event.Event) error {
	t.Helper()
	return f.h.Handle(testCtx(t), ev)
}

// eval runs JavaScript on the plugin's loop and returns the exported
// result, for assertions on plugin state.
func (f *fixture) eval(t testing.TB, src string) any {
	t.Helper()
	type result struct {
		v   any
		err error
	}
	ch := make(chan result, 1)
	ok := f.h.loop.post(job{fn: func() {
		v, err := f.h.rt.RunString(src)
		if err != nil {
			ch <- result{err: err}
			return
		}
		ch <- result{v: v.Export()}
	}})
	if !ok {
		t.Fatal("eval: loop stopped")
	}
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("eval %q: %v", src, r.err)
		}
		return r.v
	case <-testCtx(t).Done():
		t.Fatal("eval: timed out")
		return nil
	}
}

// kvJSON reads a value the plugin stored, as JSON text.
func (f *fixture) kvJSON(t testing.TB, key string) string {
	t.Helper()
	v, err := f.bucket.Get(key)
	if err != nil {
		t.Fatalf("kv %s: %v", key, err)
	}
	return string(v)
}

// kvDecode decodes a value the plugin stored.
func (f *fixture) kvDecode(t testing.TB, key string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(f.kvJSON(t, key)), &m); err != nil {
		t.Fatalf("kv %s: %v", key, err)
	}
	return m
}

func asHandlerError(t testing.TB, err error) *plugin.HandlerError {
	t.Helper()
	var he *plugin.HandlerError
	if !errors.As(err, &he) {
		t.Fatalf("want *plugin.HandlerError, got %T %v", err, err)
	}
	return he
}
