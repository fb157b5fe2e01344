package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/bindings"
)

func TestParseManifest(t *testing.T) {
	t.Parallel()
	good := `{"name":"autoreply","version":"1.2.0","events":["message.text","room.*"],
	  "permissions":["quntool.msg.*","kv","msgserver.chatMsg.search"],"accounts":["*"],
	  "limits":{"timeout_ms":2000,"memory_mb":64},"config":{"greeting":"welcome"}}`
	m, err := ParseManifest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "autoreply" || m.Limits.TimeoutMS != 2000 || m.Config["greeting"] != "welcome" || len(m.Permissions) != 3 {
		t.Errorf("parsed %+v", m)
	}
	for _, tc := range []struct{ name, json, want string }{
		{"unknown field", `{"permisions":["kv"]}`, `unknown field "permisions"`},
		{"not JSON", `{"name":`, "unexpected EOF"},
		{"trailing data", `{} {}`, "trailing data"},
		{"bad name", `{"name":"../x"}`, `name "../x"`},
		{"bad event pattern", `{"events":["message..text"]}`, `bad pattern "message..text"`},
		{"star inside a pattern", `{"events":["*.text"]}`, `bad pattern "*.text"`},
		{"bad permission", `{"permissions":["quntool/msg"]}`, `bad permission "quntool/msg"`},
		{"empty account", `{"accounts":[" "]}`, "empty account"},
		{"timeout too long", `{"limits":{"timeout_ms":600001}}`, "limits.timeout_ms"},
		{"negative memory", `{"limits":{"memory_mb":-1}}`, "limits.memory_mb"},
		{"too many retries", `{"retries":101}`, "retries"},
		{"wrong type", `{"events":"message"}`, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tc.json))
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrManifest mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, perm string
		want          bool
	}{
		{"*", "quntool.msg.text", true},
		{"quntool.msg.text", "quntool.msg.text", true},
		{"quntool.msg.*", "quntool.msg.text", true},
		{"quntool.msg.*", "quntool.msgx.text", false},
		{"quntool.*", "quntool.group.member.add", true},
		{"quntool", "quntool.msg.text", true},
		{"quntool.msg.*", "quntool.contact.list", false},
		{"wework.*", "quntool.msg.text", false},
		{"kv", "kv", true},
		{"kv", "kvx", false},
	} {
		if got := PermMatch(tc.pattern, tc.perm); got != tc.want {
			t.Errorf("PermMatch(%q, %q) = %v, want %v", tc.pattern, tc.perm, got, tc.want)
		}
	}
	for p, want := range map[string]bool{"*": true, "kv": true, "quntool.msg.*": true, "quntool.msg.text": true,
		"": false, "*.msg": false, "quntool..text": false, "quntool/msg": false, "quntool.m*": false} {
		if got := ValidPermission(p); got != want {
			t.Errorf("ValidPermission(%q) = %v, want %v", p, got, want)
		}
	}

	// Declared intersected with allowed; no manifest means allowed alone.
	g := NewGrants([]string{"quntool.msg.*", "kv"}, []string{"quntool.*"})
	for perm, want := range map[string]bool{"quntool.msg.text": true, "kv": false, "quntool.contact.list": false} {
		if got := g.Allows(perm); got != want {
			t.Errorf("declared∩allowed: Allows(%q) = %v, want %v", perm, got, want)
		}
	}
	if g := NewGrants(nil, []string{"kv"}); !g.Allows("kv") || g.Allows("quntool.msg.text") {
		t.Error("without a manifest the config's allow list alone should decide")
	}
	if g := NewGrants([]string{}, []string{"*"}); g.Allows("kv") {
		t.Error("a manifest declaring no permissions should get none")
	}
}

func TestGuardStopsUngrantedCalls(t *testing.T) {
	t.Parallel()
	var sent []bindings.Call
	next := bindings.InvokerFunc(func(_ context.Context, c bindings.Call) (json.RawMessage, error) {
		sent = append(sent, c)
		return json.RawMessage(`{}`), nil
	})
	inv := Guard("bot", NewGrants([]string{"quntool.msg.*"}, []string{"*"}), next)
	if _, err := inv.Invoke(context.Background(), bindings.Call{Vendor: "quntool", Method: "msg.text"}); err != nil {
		t.Fatal(err)
	}
	_, err := inv.Invoke(context.Background(), bindings.Call{Vendor: "quntool", Method: "group.create"})
	var pe *bindings.PermissionError
	if !errors.As(err, &pe) || pe.Permission != "quntool.group.create" || pe.Plugin != "bot" {
		t.Fatalf("error %v, want a PermissionError for quntool.group.create", err)
	}
	if len(sent) != 1 || sent[0].Plugin != "bot" {
		t.Errorf("sent %+v, want only the granted call, stamped with the plugin", sent)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "echo.js"), "")
	write(t, filepath.Join(dir, "echo.json"), "{}")
	write(t, filepath.Join(dir, "crm", "index.js"), "")
	write(t, filepath.Join(dir, "crm", "manifest.json"), "{}")
	write(t, filepath.Join(dir, "crm", "lib", "util.js"), "")
	write(t, filepath.Join(dir, "notes", "readme.txt"), "") // a folder without index.js
	write(t, filepath.Join(dir, ".echo.js.swp"), "")
	write(t, filepath.Join(dir, "echo.js~"), "")
	write(t, filepath.Join(dir, "_draft.js"), "")
	write(t, filepath.Join(dir, "other.wasm"), "")
	got, err := Discover(dir, JS)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Name: "crm", Kind: JS, Entry: filepath.Join(dir, "crm", "index.js"), Dir: filepath.Join(dir, "crm"), Manifest: filepath.Join(dir, "crm", "manifest.json")},
		{Name: "echo", Kind: JS, Entry: filepath.Join(dir, "echo.js"), Manifest: filepath.Join(dir, "echo.json")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%+v\nwant\n%+v", got, want)
	}
	wasm, _ := Discover(dir, WASM)
	if len(wasm) != 1 || wasm[0].Name != "other" {
		t.Errorf("wasm plugins %+v, want only other", wasm)
	}
	if none, err := Discover(filepath.Join(dir, "missing"), JS); err != nil || len(none) != 0 {
		t.Errorf("missing dir: %v, %v", none, err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "crm", "lib", "util.js"): "crm",
		filepath.Join(dir, "echo.json"):             "echo",
		filepath.Join(dir, "echo.js"):               "echo",
		dir:                                         "",
		filepath.Join(dir, "..", "x.js"):            "",
	} {
		if got := NameFor(dir, path, JS); got != want {
			t.Errorf("NameFor(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "bot.js"), "")
	write(t, filepath.Join(dir, "bot.json"), `{"name":"bot","version":"2.0.0","events":["message"],
	  "permissions":["quntool.msg.*","kv"],"limits":{"timeout_ms":8000},"retries":2,"config":{"a":1,"b":2}}`)
	src, ok := SourceAt(dir, "bot.js", JS)
	if !ok {
		t.Fatal("bot.js not found")
	}
	defaults := Settings{Allow: []string{"*"}, TimeoutMS: 5000}

	s, err := Resolve(src, defaults, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "2.0.0" || s.Retries != 2 || !reflect.DeepEqual(s.Events, []string{"message"}) {
		t.Errorf("spec %+v", s)
	}
	if s.Timeout != 5*time.Second {
		t.Errorf("timeout %s: the config's default should lower the manifest's 8s", s.Timeout)
	}
	if !s.Grants.Allows("kv") || s.Grants.Allows("quntool.group.create") {
		t.Error("grants should be the manifest's permissions")
	}

	own := &Settings{Allow: []string{"kv"}, TimeoutMS: 1000, Config: map[string]any{"b": 3}}
	s, err = Resolve(src, defaults, own)
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeout != time.Second {
		t.Errorf("timeout %s, want the plugin's own 1s", s.Timeout)
	}
	if !reflect.DeepEqual(s.Config, map[string]any{"a": float64(1), "b": 3}) {
		t.Errorf("config %v: plugins.NAME.config should overlay the manifest's", s.Config)
	}
	if s.Grants.Allows("quntool.msg.text") || !s.Grants.Allows("kv") {
		t.Error("plugins.NAME.allow should narrow the manifest's permissions")
	}

	write(t, filepath.Join(dir, "liar.js"), "")
	write(t, filepath.Join(dir, "liar.json"), `{"name":"someone-else"}`)
	liar, _ := SourceAt(dir, "liar.js", JS)
	var le *LoadError
	if _, err := Resolve(liar, defaults, nil); !errors.As(err, &le) || !errors.Is(err, ErrManifest) {
		t.Errorf("mismatched name: %v, want a LoadError wrapping ErrManifest", err)
	}
}
