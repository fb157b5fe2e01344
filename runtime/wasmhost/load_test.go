package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		l := newLoader(t, Options{engine: eng, MaxModuleBytes: 1 << 20})
		dir := t.TempDir()
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		spec := func(entry string, kind plugin.Kind) *plugin.Spec {
			return &plugin.Spec{Source: plugin.Source{Name: "p", Kind: kind, Entry: entry}, Events: []string{"*"}, Accounts: []string{"*"}}
		}
		tests := []struct {
			name string
			env  plugin.Env
			want string
		}{
			{"no spec", plugin.Env{}, "no spec"},
			{"wrong kind", plugin.Env{Spec: spec(write("p.js", []byte("1")), plugin.JS)}, "cannot load a js plugin"},
			{"missing file", plugin.Env{Spec: spec(filepath.Join(dir, "none.wasm"), plugin.WASM)}, "no such file"},
			{"not wasm", plugin.Env{Spec: spec(write("text.wasm", []byte("hello")), plugin.WASM)}, "not a WebAssembly binary module"},
			{"too large", plugin.Env{Spec: spec(write("big.wasm", make([]byte, 2<<20)), plugin.WASM)}, "over the 1048576-byte limit"},
			{"invalid body", plugin.Env{Spec: spec(write("bad.wasm", []byte("\x00asm\x01\x00\x00\x00\x0a\x02\x01\x00")), plugin.WASM)}, "compile"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				h, err := l.Load(ctxT(t), tc.env)
				if err == nil {
					_ = h.Close()
					t.Fatal("loaded")
				}
				var le *plugin.LoadError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want a *plugin.LoadError mentioning %q", err, tc.want)
				}
			})
		}
	})
}

func TestNewCacheDirError(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{CacheDir: filepath.Join(file, "cache")}); err == nil || !strings.Contains(err.Error(), "compilation cache") {
		t.Errorf("err = %v, want a compilation cache error", err)
	}
}

func TestEngineOption(t *testing.T) {
	t.Parallel()
	for e, want := range map[Engine]engine{"": nativeEngine{}, EngineNative: nativeEngine{}, EngineExtism: extismEngine{}} {
		l, err := New(Options{Engine: e})
		if err != nil {
			t.Fatalf("engine %q: %v", e, err)
		}
		if l.eng != want {
			t.Errorf("engine %q runs on %T, want %T", e, l.eng, want)
		}
		_ = l.Close()
	}
	if _, err := New(Options{Engine: "wasmtime"}); err == nil || !strings.Contains(err.Error(), `unknown engine "wasmtime"`) {
		t.Errorf("err = %v, want an unknown engine error", err)
	}
}

func TestCompilationCacheOnDisk(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		cache := t.TempDir()
		wasm := goWasm(t, "examples/wasm-go")
		for i := 0; i < 2; i++ {
			l, err := New(Options{engine: eng, CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			te := newTestEnv(t, "echo", wasm, echoManifest(t), echoAllow)
			h, err := l.Load(ctxT(t), te.env)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Handle(ctxT(t), textEvent("e", "S:wxid_alice", "ping")); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
		var files int
		_ = filepath.WalkDir(cache, func(_ string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				files++
			}
			return nil
		})
		if files == 0 {
			t.Errorf("nothing was written to the compilation cache %s", cache)
		}
	})
}

func TestConcurrentEventsUseSeparateInstances(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		te := newTestEnv(t, "echo", goWasm(t, "examples/wasm-go"), echoManifest(t), echoAllow)
		h := load(t, newLoader(t, Options{engine: eng, MaxIdle: 2}), te)
		const n = 24
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- h.Handle(ctxT(t), textEvent(fmt.Sprint("e", i), fmt.Sprintf("R:room%d", i), fmt.Sprint("msg ", i)))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		for _, c := range te.inv.Calls() {
			seen[c.Args["content"].(string)+"|"+c.Args["conversationId"].(string)] = true
		}
		for i := 0; i < n; i++ {
			if !seen[fmt.Sprintf("echo: msg %d|R:room%d", i, i)] {
				t.Errorf("event %d got no reply of its own: %v", i, te.inv.Calls())
			}
		}
		if v, err := te.kv.Get("replies"); err != nil || string(v) != fmt.Sprint(n) {
			t.Errorf("replies = %s, %v; want %d", v, err, n)
		}
	})
}

func TestWantsAndClose(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		manifest := `{"events":["message.text","room.*"],"accounts":["wxid_bot"],"permissions":["kv","quntool.msg.*"]}`
		te := newTestEnv(t, "echo", goWasm(t, "examples/wasm-go"), manifest, echoAllow)
		l := newLoader(t, Options{engine: eng})
		h, err := l.Load(ctxT(t), te.env)
		if err != nil {
			t.Fatal(err)
		}
		other := textEvent("o", "S:x", "hi")
		other.Account = "wxid_other"
		room := textEvent("r", "R:1", "")
		room.Type, room.Message = "room.joined", nil
		image := textEvent("i", "S:x", "")
		image.Message.Kind = "image"
		tests := []struct {
			name string
			ev   *event.Event
			want bool
		}{
			{"text", textEvent("t", "S:x", "hi"), true},
			{"room pattern", room, true},
			{"kind not subscribed", image, false},
			{"other account", other, false},
		}
		for _, tc := range tests {
			if got := h.Wants(tc.ev); got != tc.want {
				t.Errorf("%s: Wants = %v, want %v", tc.name, got, tc.want)
			}
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := h.Handle(context.Background(), textEvent("late", "S:x", "hi")); !errors.Is(err, plugin.ErrClosed) {
			t.Errorf("Handle after Close = %v, want plugin.ErrClosed", err)
		}
	})
}

func TestParseOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		out   string
		n     int
		isErr bool
	}{
		{"empty", "", 0, false},
		{"spaces", "   \n", 0, false},
		{"no actions", `{"actions":[]}`, 0, false},
		{"two", `{"actions":[{"reply":"hi"},{"kv_incr":{"key":"n"}}]}`, 2, false},
		{"padded", `{"actions":[{"reply":{"image":"u"}}]}      `, 1, false},
		{"not JSON", `hello`, 0, true},
		{"unknown field", `{"actions":[],"extra":1}`, 0, true},
		{"unknown action", `{"actions":[{"shout":"x"}]}`, 0, true},
		{"two in one", `{"actions":[{"reply":"a","log":{"msg":"b"}}]}`, 0, true},
		{"empty action", `{"actions":[{}]}`, 0, true},
		{"trailing", `{"actions":[]} {}`, 0, true},
	}
	for _, tc := range tests {
		got, err := parseOutput([]byte(tc.out))
		if tc.isErr {
			if !errors.Is(err, ErrBadOutput) {
				t.Errorf("%s: err = %v, want ErrBadOutput", tc.name, err)
			}
			continue
		}
		if err != nil || len(got) != tc.n {
			t.Errorf("%s: %d actions, %v; want %d", tc.name, len(got), err, tc.n)
		}
	}
}

func TestConfigStrings(t *testing.T) {
	t.Parallel()
	got := configStrings(map[string]any{"s": "x", "n": 3, "b": true, "m": map[string]any{"a": []any{1}}, "bad": func() {}})
	want := map[string]string{"s": "x", "n": "3", "b": "true", "m": `{"a":[1]}`}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
