package wasmhost

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/bindings"
)

// echoManifest is examples/wasm-go/manifest.json.
func echoManifest(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "wasm-go", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGoExampleEcho(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		wasm := goWasm(t, "examples/wasm-go")
		te := newTestEnv(t, "echo", wasm, echoManifest(t), echoAllow)
		l := newLoader(t, Options{engine: eng, CacheDir: t.TempDir()})
		h := load(t, l, te)

		tests := []struct {
			name, text, want string
		}{
			{"ping gets pong", "ping", "pong"},
			{"text is echoed trimmed", "  hello there ", "echo: hello there"},
			{"unicode survives", "你好", "echo: 你好"},
		}
		for i, tc := range tests {
			ev := textEvent("e"+tc.name, "S:wxid_alice", tc.text)
			if !h.Wants(ev) {
				t.Fatalf("%s: the plugin does not want a text message", tc.name)
			}
			if err := h.Handle(ctxT(t), ev); err != nil {
				t.Fatalf("%s: handle: %v", tc.name, err)
			}
			calls := te.inv.Calls()
			if len(calls) != i+1 {
				t.Fatalf("%s: %d calls, want %d", tc.name, len(calls), i+1)
			}
			c := calls[i]
			if c.Plugin != "echo" || c.Vendor != "quntool" || c.Method != "msg.text" {
				t.Fatalf("%s: call %s by %q, want quntool.msg.text by echo", tc.name, c, c.Plugin)
			}
			if got := c.Args["content"]; got != tc.want {
				t.Errorf("%s: replied %q, want %q (args %v)", tc.name, got, tc.want, c.Args)
			}
			if got := c.Args["wxId"]; got != "wxid_bot" {
				t.Errorf("%s: replied through %v, want the event's account wxid_bot", tc.name, got)
			}
		}
		n, err := te.kv.Get("replies")
		if err != nil || string(n) != "3" {
			t.Errorf("kv replies = %s (%v), want 3", n, err)
		}
		if logs := te.logs.String(); !strings.Contains(logs, `"@message":"replied"`) || !strings.Contains(logs, `"n":3`) {
			t.Errorf("log has no replied line with n=3:\n%s", logs)
		}

		t.Run("self and other kinds are ignored", func(t *testing.T) {
			self := textEvent("self", "S:wxid_alice", "ping")
			self.Message.Self = true
			before := len(te.inv.Calls())
			if err := h.Handle(ctxT(t), self); err != nil {
				t.Fatal(err)
			}
			if got := len(te.inv.Calls()); got != before {
				t.Errorf("a message sent by the account itself got a reply")
			}
			img := textEvent("img", "S:wxid_alice", "")
			img.Message.Kind = "image"
			if h.Wants(img) {
				t.Errorf("the manifest subscribes to message.text only, but an image is wanted")
			}
		})
	})
}

func TestGoExampleConfigPrefix(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		wasm := goWasm(t, "examples/wasm-go")
		var m map[string]any
		if err := json.Unmarshal([]byte(echoManifest(t)), &m); err != nil {
			t.Fatal(err)
		}
		m["config"] = map[string]any{"prefix": ">> "}
		b, _ := json.Marshal(m)
		te := newTestEnv(t, "echo", wasm, string(b), echoAllow)
		h := load(t, newLoader(t, Options{engine: eng}), te)
		if err := h.Handle(ctxT(t), textEvent("e1", "S:wxid_alice", "hi")); err != nil {
			t.Fatal(err)
		}
		calls := te.inv.Calls()
		if len(calls) != 1 || calls[0].Args["content"] != ">> hi" {
			t.Fatalf("calls = %+v, want one reply \">> hi\"", calls)
		}
	})
}

// A send a guest makes reaches the invoker under the context of its
// event's delivery, so the outbox can name it (bindings.SendKey) and does
// not repeat it when the event is delivered again.
func TestGuestSendsCarryTheDelivery(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		te := newTestEnv(t, "echo", goWasm(t, "examples/wasm-go"), echoManifest(t), echoAllow)
		keys := make(chan string, 4)
		te.inv.fn = func(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
			k, _ := bindings.SendKey(ctx)
			keys <- k
			return json.RawMessage(`{"msgId":"m1"}`), nil
		}
		h := load(t, newLoader(t, Options{engine: eng}), te)
		ctx := bindings.WithRedelivery(ctxT(t), "echo/17", false)
		if err := h.Handle(ctx, textEvent("e1", "S:wxid_alice", "ping")); err != nil {
			t.Fatal(err)
		}
		if k := <-keys; k != "echo/17#1" {
			t.Errorf("the reply was sent under key %q, want echo/17#1", k)
		}
	})
}
