package jshost

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		js   string
		want []string // substrings of the error
		is   error
	}{
		{name: "syntax error", js: "on('message', ev => {\n  let x = ;\n});",
			want: []string{"SyntaxError", "bad.js", "Line 2"}},
		{name: "syntax error on the first line", js: "let x = ;",
			want: []string{"SyntaxError", "bad.js", "Line 1:9 "}},
		{name: "throw at init", js: "const a = 1;\nthrow new Error('boom at init');",
			want: []string{"Error: boom at init", "bad.js:2:"}},
		{name: "reference error at init", js: "\n\nundefinedThing.call();",
			want: []string{"ReferenceError", "undefinedThing", "bad.js:3:"}},
		{name: "bad pattern", js: "on('message..text', () => {});",
			want: []string{"invalid event pattern", "message..text"}},
		{name: "bad pattern caught", js: "on('*', () => {});\ntry { on('room.*.x', () => {}); } catch (e) {}",
			want: []string{"invalid event pattern", "room.*.x", "at bad.js:2:"}},
		{name: "pattern not a string", js: "on(42, () => {});",
			want: []string{"pattern must be a string"}},
		{name: "handler not a function", js: "on('message', 'nope');",
			want: []string{"handler for \"message\" must be a function"}},
		{name: "infinite loop at init", js: "on('*', () => {});\nlet i = 0; while (true) { i++ }",
			want: []string{"top level still running", "bad.js:2:"}, is: plugin.ErrTimeout},
		{name: "require in a single file", js: "const fs = require('fs');",
			want: []string{"Cannot find module 'fs'", "single-file plugin"}},
		{name: "stack overflow at init", js: "function f() { return f() + 1 }\nf();",
			want: []string{"stack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := writePlugin(t, "bad", tt.js)
			env, _, _, _ := newEnv(t, src, setup{timeout: 300 * time.Millisecond})
			start := time.Now()
			h, err := New(Options{MaxCallStackSize: 500}).Load(testCtx(t), env)
			if err == nil {
				_ = h.Close()
				t.Fatal("load succeeded")
			}
			var le *plugin.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("want *plugin.LoadError, got %T: %v", err, err)
			}
			if le.Plugin != "bad" || le.Path != src.Entry {
				t.Errorf("LoadError names %s %s", le.Plugin, le.Path)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("load took %s", took)
			}
		})
	}
}

func TestLoadMissingEntry(t *testing.T) {
	t.Parallel()
	src := plugin.Source{Name: "gone", Kind: plugin.JS, Entry: t.TempDir() + "/gone.js"}
	env, _, _, _ := newEnv(t, src, setup{})
	_, err := New(Options{}).Load(testCtx(t), env)
	var le *plugin.LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "read entry") {
		t.Fatalf("want LoadError reading the entry, got %v", err)
	}
}

func TestLoadWrongKind(t *testing.T) {
	t.Parallel()
	src := writePlugin(t, "w", "on('*', () => {})")
	src.Kind = plugin.WASM
	env, _, _, _ := newEnv(t, src, setup{})
	if _, err := New(Options{}).Load(testCtx(t), env); err == nil || !strings.Contains(err.Error(), "wasm") {
		t.Fatalf("want a kind error, got %v", err)
	}
}

// A failed load leaves nothing running: the loop has exited and its timers
// are stopped.
func TestFailedLoadStopsEverything(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, js string }{
		{"timeout", "setInterval(() => {}, 1);\nwhile (true) {}"},
		{"throw", "setInterval(() => {}, 1);\nthrow new Error('x')"},
		{"bad pattern", "setTimeout(() => {}, 100000);\non('', () => {})"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := writePlugin(t, "p", tt.js)
			env, _, _, _ := newEnv(t, src, setup{timeout: 200 * time.Millisecond})
			h, err := newHost(env, New(Options{}).opts)
			if err != nil {
				t.Fatal(err)
			}
			prg, err := compileModule("p.js", []byte(tt.js))
			if err != nil {
				t.Fatal(err)
			}
			if err := h.start(testCtx(t), prg); err == nil {
				t.Fatal("start succeeded")
			}
			select {
			case <-h.loop.done:
			default:
				t.Fatal("loop still running after a failed load")
			}
			if n := len(h.timers); n != 0 {
				t.Fatalf("%d timers left", n)
			}
			if h.loop.post(job{fn: func() {}}) {
				t.Fatal("loop accepts jobs after a failed load")
			}
		})
	}
}

func TestLoadHonoursContext(t *testing.T) {
	t.Parallel()
	src := writePlugin(t, "slow", "while (true) {}")
	env, _, _, _ := newEnv(t, src, setup{timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := New(Options{}).Load(ctx, env)
	if !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("load ignored its context for %s", took)
	}
}

func TestOnAfterInitThrows(t *testing.T) {
	t.Parallel()
	f := load(t, `on('message', () => { on('room.*', () => {}); });`, setup{})
	err := f.handle(t, textEvent("e1", "S:a_b", "hi"))
	he := asHandlerError(t, err)
	if !strings.Contains(he.Message, "on() can only be called while the plugin initializes") {
		t.Fatalf("message %q", he.Message)
	}
	if f.h.Wants(typedEvent("e2", event.TypeRoomRenamed)) {
		t.Fatal("a handler registered after init")
	}
}

// Handlers are registered once per version: loading the same file again
// (a reload) gives a new version with exactly its own handlers.
func TestReloadRegistersOnce(t *testing.T) {
	t.Parallel()
	js := `let n = 0; on('message', async () => { n++; await fakechat.slow({tag: 'n' + n}); });`
	src := writePlugin(t, "twice", js)
	env, inv, _, _ := newEnv(t, src, setup{})
	l := New(Options{})
	for i := 0; i < 2; i++ {
		h, err := l.Load(testCtx(t), env)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(h.(*host).handlers); got != 1 {
			t.Fatalf("version %d has %d handlers", i, got)
		}
		if err := h.Handle(testCtx(t), textEvent("e", "S:a_b", "x")); err != nil {
			t.Fatal(err)
		}
		_ = h.Close()
	}
	calls := inv.Calls()
	if len(calls) != 2 || calls[0].Args["tag"] != "n1" || calls[1].Args["tag"] != "n1" {
		t.Fatalf("each version should run its handler once with fresh state: %+v", calls)
	}
}

func TestWants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		js       string
		events   []string
		accounts []string
		ev       *event.Event
		want     bool
	}{
		{"exact kind", `on('message.text', () => {})`, nil, nil, textEvent("1", "S:a_b", "x"), true},
		{"other kind", `on('message.image', () => {})`, nil, nil, textEvent("1", "S:a_b", "x"), false},
		{"type prefix", `on('message', () => {})`, nil, nil, textEvent("1", "S:a_b", "x"), true},
		{"room wildcard", `on('room.*', () => {})`, nil, nil, typedEvent("1", event.TypeRoomMemberAdded), true},
		{"room wildcard vs message", `on('room.*', () => {})`, nil, nil, textEvent("1", "S:a_b", "x"), false},
		{"star", `on('*', () => {})`, nil, nil, typedEvent("1", event.TypeLogin), true},
		{"manifest excludes", `on('*', () => {})`, []string{"room.*"}, nil, textEvent("1", "S:a_b", "x"), false},
		{"manifest admits", `on('*', () => {})`, []string{"message.text"}, nil, textEvent("1", "S:a_b", "x"), true},
		{"account excluded", `on('*', () => {})`, nil, []string{"other"}, textEvent("1", "S:a_b", "x"), false},
		{"account admitted", `on('*', () => {})`, nil, []string{"other", "bot1"}, textEvent("1", "S:a_b", "x"), true},
		{"no handlers", `// nothing`, nil, nil, textEvent("1", "S:a_b", "x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := load(t, tt.js, setup{events: tt.events, accounts: tt.accounts})
			if got := f.h.Wants(tt.ev); got != tt.want {
				t.Fatalf("Wants = %v, want %v", got, tt.want)
			}
			// Handle of an unwanted event runs nothing and succeeds.
			if !tt.want {
				if err := f.handle(t, tt.ev); err != nil {
					t.Fatalf("Handle of an unwanted event: %v", err)
				}
			}
		})
	}
}

func TestNoHandlersWarns(t *testing.T) {
	t.Parallel()
	f := load(t, `const x = 1;`, setup{})
	f.logs.waitFor(testCtx(t), t, "registers no handlers")
}
