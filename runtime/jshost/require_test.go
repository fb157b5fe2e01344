package jshost

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

func folderSource(t *testing.T, dir, name string) plugin.Source {
	t.Helper()
	src, ok := plugin.SourceAt(dir, name, plugin.JS)
	if !ok {
		t.Fatalf("%s/%s is not a JS plugin", dir, name)
	}
	return src
}

func TestRequireInsideFolder(t *testing.T) {
	t.Parallel()
	f := loadSource(t, folderSource(t, "testdata", "shop"), setup{})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(f.inv.Calls()[0].Args["tag"].(string)), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"greet":    "hi ann",
		"cached":   true,
		"data":     map[string]any{"price": float64(3), "currency": "CNY"},
		"lib":      "lib-index",
		"cycle":    float64(1),
		"filename": "shop/index.js",
		"dirname":  "shop",
		"utilFile": "shop/lib/util.js",
		"refused": map[string]any{
			"../escape":          "ERR_ACCESS_DENIED",
			"../escape.js":       "ERR_ACCESS_DENIED",
			"./lib/../../escape": "ERR_ACCESS_DENIED",
			"/etc/passwd":        "ERR_ACCESS_DENIED",
			"fs":                 "MODULE_NOT_FOUND",
			"./notes.txt":        "MODULE_NOT_FOUND",
			"./missing":          "MODULE_NOT_FOUND",
			"./lib/broken":       "ERR_SYNTAX",
		},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
}

func TestRequireRefusesSymlinksOut(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "linky")
	write := func(path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(base, "secret.js"), "module.exports = 'secret';")
	write(filepath.Join(dir, "real.js"), "module.exports = 'inside';")
	write(filepath.Join(dir, "index.js"), `
const out = {};
for (const id of ['./out', './outdir/secret', './in']) {
  try { out[id] = require(id); } catch (e) { out[id] = e.code; }
}
on('*', () => fakechat.slow({tag: JSON.stringify(out)}));`)
	for _, l := range []struct{ target, link string }{
		{filepath.Join(base, "secret.js"), filepath.Join(dir, "out.js")},
		{base, filepath.Join(dir, "outdir")},
		{filepath.Join(dir, "real.js"), filepath.Join(dir, "in.js")},
	} {
		if err := os.Symlink(l.target, l.link); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	f := loadSource(t, folderSource(t, base, "linky"), setup{})
	if err := f.handle(t, typedEvent("e", event.TypeLogin)); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	_ = json.Unmarshal([]byte(f.inv.Calls()[0].Args["tag"].(string)), &got)
	want := map[string]string{"./out": "ERR_ACCESS_DENIED", "./outdir/secret": "ERR_ACCESS_DENIED", "./in": "inside"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestRequireErrorsFailLoad(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := filepath.Join(base, "p")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"index.js":   "require('./thrower');\non('*', () => {});",
		"thrower.js": "\nthrow new Error('module failed');",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env, _, _, _ := newEnv(t, folderSource(t, base, "p"), setup{})
	_, err := New(Options{}).Load(testCtx(t), env)
	var le *plugin.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("want LoadError, got %v", err)
	}
	for _, want := range []string{"module failed", "p/thrower.js:2:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
