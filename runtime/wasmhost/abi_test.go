package wasmhost

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// resultLine is the fields of the last "result" log line.
func resultLine(t *testing.T, te *testEnv) map[string]any {
	t.Helper()
	var last map[string]any
	sc := bufio.NewScanner(strings.NewReader(te.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["@message"] == "result" {
			last = line
		}
	}
	if last == nil {
		t.Fatalf("no result line in the log:\n%s", te.logs.String())
	}
	return last
}

func abiPlugin(t *testing.T, eng engine) (*testEnv, plugin.Handler) {
	t.Helper()
	manifest := `{"events":["message.text"],"permissions":["kv","quntool.msg.*"],
		"config":{"greeting":"welcome","n":3}}`
	te := newTestEnv(t, "abi", goWasm(t, "runtime/wasmhost/testdata/abi"), manifest, []string{"*"})
	return te, load(t, newLoader(t, Options{engine: eng}), te)
}

func TestABIHostFunctions(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		te, h := abiPlugin(t, eng)
		tests := []struct {
			scenario string
			want     map[string]any
		}{
			{"kv", map[string]any{
				"topic": "message.text", "from": "Alice",
				"set": nil, "get": nil, "got_s": "é\"\n", "ttl": nil,
				"list": "a,t", "cursor": "", "list_err": nil,
				"delete": nil, "after_delete": "kv: key not found",
				"incr": 5.0, "incr_err": nil, "incr_not_number": "not_number", "bad_key": "invalid_key",
			}},
			{"call", map[string]any{
				"data": `{"msgId":"m1"}`, "err": nil, "ungranted": "permission_denied",
				"missing_arg": "invalid_argument", "no_binding": "invalid_argument",
			}},
			{"reply-image", map[string]any{"err": nil, "bad": "invalid_argument"}},
			{"config", map[string]any{"greeting": "welcome", "ok": true, "n": "3", "missing": false}},
		}
		for _, tc := range tests {
			t.Run(tc.scenario, func(t *testing.T) {
				if err := h.Handle(ctxT(t), textEvent("e-"+tc.scenario, "S:wxid_alice", tc.scenario)); err != nil {
					t.Fatal(err)
				}
				got := resultLine(t, te)
				for k, want := range tc.want {
					if g := got[k]; g != want {
						t.Errorf("%s = %#v, want %#v", k, g, want)
					}
				}
			})
		}
		if ttl, err := te.kv.Get("t"); err != nil || string(ttl) != `"v"` {
			t.Errorf("kv t = %s, %v", ttl, err)
		}
		var image bool
		for _, c := range te.inv.Calls() {
			if c.Method == "msg.image" && c.Args["fileUrl"] == "https://example.com/a.png" {
				image = true
			}
			if c.String() == "quntool.contact.list" {
				t.Errorf("an ungranted call reached the invoker: %v", c)
			}
		}
		if !image {
			t.Errorf("reply with an image made no msg.image call: %v", te.inv.Calls())
		}
	})
}

func TestABIActions(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		te, h := abiPlugin(t, eng)
		if _, err := te.kv.Incr("gone", 1); err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(ctxT(t), textEvent("e1", "S:wxid_alice", "actions")); err != nil {
			t.Fatal(err)
		}
		calls := te.inv.Calls()
		if len(calls) != 2 || calls[0].Args["content"] != "first" || calls[1].Args["content"] != "second" {
			t.Fatalf("calls = %+v, want the reply then the call, in order", calls)
		}
		if calls[0].Args["conversationId"] == nil || calls[1].Plugin != "abi" {
			t.Errorf("calls not made for the plugin in the event's conversation: %+v", calls)
		}
		if v, err := te.kv.Get("k"); err != nil || string(v) != `{"v":1}` {
			t.Errorf("kv k = %s, %v", v, err)
		}
		if items, _, err := te.kv.List("k", 1, ""); err != nil || len(items) != 1 || items[0].ExpiresAt < time.Now().Add(50*time.Minute).Unix() {
			t.Errorf("kv k has no 1h TTL: %+v %v", items, err)
		}
		if v, err := te.kv.Get("c"); err != nil || string(v) != "1" {
			t.Errorf("kv c = %s, %v", v, err)
		}
		if _, err := te.kv.Get("gone"); err == nil {
			t.Errorf("kv_delete action left the key")
		}
		if logs := te.logs.String(); !strings.Contains(logs, `"@message":"from an action"`) || !strings.Contains(logs, `"@level":"warn"`) {
			t.Errorf("log action missing:\n%s", logs)
		}

		t.Run("an ungranted action fails the event", func(t *testing.T) {
			err := h.Handle(ctxT(t), textEvent("e2", "S:wxid_alice", "bad-action"))
			if err == nil || !strings.Contains(err.Error(), "action 0 (call)") || !strings.Contains(err.Error(), "quntool.contact.list") {
				t.Fatalf("err = %v, want a permission error of action 0", err)
			}
		})
		t.Run("a guest error is a HandlerError and keeps the instance", func(t *testing.T) {
			for i := 0; i < 2; i++ {
				err := h.Handle(ctxT(t), textEvent("e3", "S:wxid_alice", "fail"))
				var he *plugin.HandlerError
				if !errors.As(err, &he) || he.Plugin != "abi" || !strings.Contains(he.Message, "refusing event e3") {
					t.Fatalf("err = %v, want the guest's error", err)
				}
			}
			if strings.Contains(te.logs.String(), "discarded") {
				t.Errorf("an instance was discarded after a clean guest error:\n%s", te.logs.String())
			}
		})
	})
}

func TestFailedInstanceIsNeverReused(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		manifest := `{"events":["message.text"],"permissions":["kv","quntool.msg.*"]}`
		te := newTestEnv(t, "abi", goWasm(t, "runtime/wasmhost/testdata/abi"), manifest, []string{"*"})
		h := load(t, newLoader(t, Options{engine: eng, MaxIdle: 1}), te)
		steps := []struct {
			text       string
			wantEvents float64 // events the serving instance has seen; 0: the event fails
		}{
			{"count", 1}, {"count", 2}, {"panic", 0}, {"count", 1}, {"fail", 0}, {"count", 3},
		}
		for i, s := range steps {
			err := h.Handle(ctxT(t), textEvent(fmt.Sprint("e", i), "S:wxid_alice", s.text))
			if s.wantEvents == 0 {
				if err == nil {
					t.Fatalf("step %d (%s) succeeded", i, s.text)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d (%s): %v", i, s.text, err)
			}
			if got := resultLine(t, te)["events"]; got != s.wantEvents {
				t.Errorf("step %d (%s): the instance has seen %v events, want %v", i, s.text, got, s.wantEvents)
			}
		}
	})
}
