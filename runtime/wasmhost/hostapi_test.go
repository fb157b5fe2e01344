package wasmhost

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/pdk"
)

func TestParseTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"null", 0, false},
		{"60", time.Minute, false},
		{"0.5", 500 * time.Millisecond, false},
		{`"90s"`, 90 * time.Second, false},
		{`"1h30m"`, 90 * time.Minute, false},
		{"-1", 0, true},
		{`"-5s"`, 0, true},
		{`"soon"`, 0, true},
		{"1e300", 0, true},
		{"{}", 0, true},
	}
	for _, tc := range tests {
		got, err := parseTTL(json.RawMessage(tc.in))
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseTTL(%s) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// kvHandler is a handler over a real bucket, without a module.
func kvHandler(t *testing.T, withKV bool) (*handler, *testEnv) {
	t.Helper()
	allow := []string{"quntool.msg.*"}
	if withKV {
		allow = append(allow, "kv")
	}
	te := newTestEnv(t, "kvp", wat(t, "noop"), "", allow)
	return newHandler(te.env, Options{MaxIdle: 1}), te
}

func TestKVHostFunctions(t *testing.T) {
	t.Parallel()
	h, _ := kvHandler(t, true)
	funcs := map[string]hostFunc{}
	for _, f := range h.hostFuncs() {
		funcs[f.name] = f
	}
	call := func(name, req string) map[string]any {
		t.Helper()
		out, err := funcs[name].fn(ctxT(t), []byte(req))
		if err != nil {
			t.Fatalf("%s(%s): %v", name, req, err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s(%s) answered %s: %v", name, req, out, err)
		}
		return m
	}
	code := func(m map[string]any) any {
		if e, ok := m["error"].(map[string]any); ok {
			return e["code"]
		}
		return nil
	}
	tests := []struct {
		name, fn, req string
		wantCode      any
		check         func(m map[string]any) bool
	}{
		{"set", pdk.FuncKVSet, `{"key":"a","value":{"x":1},"ttl":60}`, nil, nil},
		{"get", pdk.FuncKVGet, `{"key":"a"}`, nil, func(m map[string]any) bool {
			v, _ := m["value"].(map[string]any)
			return m["found"] == true && v["x"] == 1.0
		}},
		{"get missing", pdk.FuncKVGet, `{"key":"zz"}`, nil, func(m map[string]any) bool { return m["found"] == nil }},
		{"incr default by", pdk.FuncKVIncr, `{"key":"n"}`, nil, func(m map[string]any) bool { return m["n"] == 1.0 }},
		{"incr by", pdk.FuncKVIncr, `{"key":"n","by":41}`, nil, func(m map[string]any) bool { return m["n"] == 42.0 }},
		{"incr not a number", pdk.FuncKVIncr, `{"key":"a"}`, "not_number", nil},
		{"list", pdk.FuncKVList, `{"prefix":"","limit":1}`, nil, func(m map[string]any) bool {
			items, _ := m["items"].([]any)
			return len(items) == 1 && m["cursor"] != nil
		}},
		{"list limit too big", pdk.FuncKVList, `{"limit":100000}`, "invalid_argument", nil},
		{"set without value", pdk.FuncKVSet, `{"key":"b"}`, "invalid_argument", nil},
		{"set bad ttl", pdk.FuncKVSet, `{"key":"b","value":1,"ttl":"soon"}`, "invalid_argument", nil},
		{"empty key", pdk.FuncKVGet, `{"key":""}`, "invalid_key", nil},
		{"not JSON", pdk.FuncKVGet, `key`, "invalid_argument", nil},
		{"unknown field", pdk.FuncKVGet, `{"kee":"a"}`, "invalid_argument", nil},
		{"delete", pdk.FuncKVDelete, `{"key":"a"}`, nil, nil},
		{"gone", pdk.FuncKVGet, `{"key":"a"}`, nil, func(m map[string]any) bool { return m["found"] == nil }},
	}
	for _, tc := range tests {
		m := call(tc.fn, tc.req)
		if got := code(m); got != tc.wantCode {
			t.Errorf("%s: code %v, want %v (%v)", tc.name, got, tc.wantCode, m)
		}
		if tc.check != nil && !tc.check(m) {
			t.Errorf("%s: answer %v", tc.name, m)
		}
	}
}

func TestHostFunctionsFollowGrants(t *testing.T) {
	t.Parallel()
	names := func(h *handler) string {
		var out []string
		for _, f := range h.hostFuncs() {
			out = append(out, f.name)
		}
		return strings.Join(out, ",")
	}
	with, _ := kvHandler(t, true)
	if got := names(with); got != "log,call,reply,kv_get,kv_set,kv_delete,kv_incr,kv_list" {
		t.Errorf("with kv and bindings: %s", got)
	}
	without, _ := kvHandler(t, false)
	if got := names(without); got != "log,call,reply" {
		t.Errorf("without kv: %s", got)
	}
	err := without.act(ctxT(t), textEvent("e", "S:x", ""), &pdk.Action{KVIncr: &pdk.KVRequest{Key: "n"}})
	if err == nil || !strings.Contains(err.Error(), "kv.incr") || !strings.Contains(err.Error(), `"kv"`) {
		t.Errorf("kv action without kv: %v, want a permission error naming kv", err)
	}
	te := newTestEnv(t, "bare", wat(t, "noop"), "", nil)
	if got := names(newHandler(te.env, Options{MaxIdle: 1})); got != "log" {
		t.Errorf("with nothing granted: %s", got)
	}
}

func TestLogRecordLevels(t *testing.T) {
	t.Parallel()
	h, te := kvHandler(t, false)
	for _, rec := range []pdk.LogRecord{
		{Level: "debug", Msg: "d1"}, {Level: "WARN", Msg: "w1", Fields: map[string]any{"b": 2, "a": 1}},
		{Level: "loud", Msg: "l1"}, {Msg: strings.Repeat("x", maxLogMsg+10)},
	} {
		h.logRecord(&rec)
	}
	logs := te.logs.String()
	for _, want := range []string{`"@level":"debug","@message":"d1"`, `"@level":"warn","@message":"w1"`, `"a":1`,
		`"@message":"l1"`, `"level":"loud"`, strings.Repeat("x", maxLogMsg) + `..."`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%.500s", want, logs)
		}
	}
}

// A log record below the plugin's level is dropped on its first bytes;
// anything else is decoded in full.
func TestLeadingLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		level hclog.Level
		ok    bool
	}{
		{"debug first", `{"level":"debug","msg":"x"}`, hclog.Debug, true},
		{"warning spelled out", `{"level":"warning","msg":"x"}`, hclog.Warn, true},
		{"level not first", `{"msg":"x","level":"debug"}`, 0, false},
		{"spaces", `{ "level": "debug" }`, 0, false},
		{"unknown level", `{"level":"loud","msg":"x"}`, 0, false},
		{"upper case", `{"level":"DEBUG","msg":"x"}`, 0, false},
		{"unterminated", `{"level":"debu`, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			level, ok := leadingLevel([]byte(tc.in))
			if ok != tc.ok || (ok && level != tc.level) {
				t.Errorf("leadingLevel(%s) = %v, %v; want %v, %v", tc.in, level, ok, tc.level, tc.ok)
			}
		})
	}
}
