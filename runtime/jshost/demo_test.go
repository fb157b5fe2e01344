package jshost

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// The shipped echo demo runs against the real quntool registry: every
// quntool endpoint is a function, and ev.reply goes through quntool's own
// reply mapping to a checked msg.text call.
func TestShippedEchoDemoWithQuntool(t *testing.T) {
	t.Parallel()
	reg := bindings.NewRegistry()
	if err := reg.Add(quntool.Vendor(nil)); err != nil {
		t.Fatal(err)
	}
	inv := &fakeInvoker{reg: reg}
	logs := newLogSink()
	src, ok := plugin.SourceAt(filepath.Join("..", "..", "scripts"), "echo.js", plugin.JS)
	if !ok {
		t.Fatal("scripts/echo.js not found")
	}
	bucket := newMemBucket()
	env := plugin.Env{
		Spec: &plugin.Spec{Source: src, Events: []string{"*"}, Accounts: []string{"*"},
			Timeout: plugin.DefaultTimeout, MaxPending: plugin.DefaultMaxPending, Config: map[string]any{}},
		Log:      hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info, JSONFormat: true}).With("plugin", "echo"),
		KV:       bucket,
		Invoker:  plugin.Guard("echo", plugin.NewGrants(nil, []string{"quntool.msg.*", "kv"}), inv),
		Registry: reg,
	}
	hd, err := New(Options{}).Load(testCtx(t), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hd.Close() })
	f := &fixture{h: hd.(*host), inv: inv, bucket: bucket, logs: logs, env: env}
	for _, ep := range reg.Endpoints() {
		if got := f.eval(t, "typeof "+ep.Vendor+"."+ep.Name); got != "function" {
			t.Errorf("%s is %v", ep.Permission(), got)
		}
	}
	ev := &event.Event{ID: "quntool:1688850000000001:message:9001", Type: event.TypeMessage, Vendor: event.VendorQuntool,
		Account: "1688850000000001", Time: 1686708146000,
		Conversation: &event.Conversation{ID: "S:1688850000000001_7881300000000002", Kind: event.ConversationPrivate},
		Message:      &event.Message{ID: "9001", Kind: event.KindText, Text: " ping ", From: &event.Party{ID: "7881300000000002"}},
		Raw:          json.RawMessage(`{}`)}
	if !hd.Wants(ev) {
		t.Fatal("echo does not want a text message")
	}
	if err := hd.Handle(testCtx(t), ev); err != nil {
		t.Fatal(err)
	}
	calls := inv.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	c := calls[0]
	if c.Plugin != "echo" || c.String() != "quntool.msg.text" || c.Args["content"] != "pong" ||
		c.Args["wxId"] != ev.Account || c.Args["conversationId"] != ev.Conversation.ID {
		t.Fatalf("reply call %+v", c)
	}
	if got := f.kvJSON(t, "replies"); got != "1" {
		t.Fatalf("replies %s", got)
	}
	line := logs.waitFor(testCtx(t), t, "replied")
	if line["plugin"] != "echo" || line["event"] != ev.ID || line["reply"] != "pong" || line["n"] != float64(1) {
		t.Fatalf("log %v", line)
	}
}
