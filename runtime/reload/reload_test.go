package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// fileLoader "compiles" a plugin whose entry file reads "ok <tag>"; any
// other content fails to load.
type fileLoader struct {
	mu    sync.Mutex
	loads int
}

type fileHandler struct{ tag string }

func (fileHandler) Wants(*event.Event) bool                    { return true }
func (fileHandler) Handle(context.Context, *event.Event) error { return nil }
func (fileHandler) Close() error                               { return nil }
func (l *fileLoader) Kind() plugin.Kind                        { return plugin.JS }
func (l *fileLoader) count() int                               { l.mu.Lock(); defer l.mu.Unlock(); return l.loads }
func (l *fileLoader) Load(_ context.Context, env plugin.Env) (plugin.Handler, error) {
	l.mu.Lock()
	l.loads++
	l.mu.Unlock()
	b, err := os.ReadFile(env.Spec.Entry)
	if err != nil {
		return nil, &plugin.LoadError{Plugin: env.Spec.Name, Path: env.Spec.Entry, Err: err}
	}
	tag, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "ok ")
	if !ok {
		return nil, &plugin.LoadError{Plugin: env.Spec.Name, Path: env.Spec.Entry, Err: errors.New("SyntaxError: " + string(b))}
	}
	return fileHandler{tag: tag}, nil
}

type fakeTarget struct {
	mu  sync.Mutex
	cur map[string]string // name -> tag
	log []string
}

func (t *fakeTarget) Set(name string, _ *plugin.Spec, h plugin.Handler) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur[name] = h.(fileHandler).tag
	t.log = append(t.log, "set "+name+" "+h.(fileHandler).tag)
	return nil
}

func (t *fakeTarget) Remove(_ context.Context, name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.cur, name)
	t.log = append(t.log, "remove "+name)
	return nil
}

func (t *fakeTarget) get(name string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.cur[name]
	return v, ok
}

func setup(t *testing.T) (string, *Manager, *fileLoader, *fakeTarget) {
	t.Helper()
	dir := t.TempDir()
	l := &fileLoader{}
	tg := &fakeTarget{cur: map[string]string{}}
	m := NewManager(Options{
		Dirs:    map[plugin.Kind]string{plugin.JS: dir},
		Loaders: map[plugin.Kind]plugin.Loader{plugin.JS: l},
		Target:  tg,
		Resolve: func(src plugin.Source) (*plugin.Spec, error) {
			return plugin.Resolve(src, plugin.Settings{Allow: []string{"*"}}, nil)
		},
		Env: func(spec *plugin.Spec) plugin.Env { return plugin.Env{Spec: spec} },
	})
	return dir, m, l, tg
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSyncAllKeepsOldOnFailure(t *testing.T) {
	t.Parallel()
	dir, m, _, tg := setup(t)
	writeFile(t, filepath.Join(dir, "a.js"), "ok 1")
	writeFile(t, filepath.Join(dir, "b.js"), "broken")
	writeFile(t, filepath.Join(dir, "c", "index.js"), "ok folder")
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a plugin")
	err := m.SyncAll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "SyntaxError") {
		t.Fatalf("SyncAll error = %v, want b's SyntaxError", err)
	}
	if v, _ := tg.get("a"); v != "1" {
		t.Fatalf("a = %q", v)
	}
	if v, _ := tg.get("c"); v != "folder" {
		t.Fatalf("c = %q", v)
	}
	if _, ok := tg.get("b"); ok {
		t.Fatal("broken b was installed")
	}
	// a breaks: the old version keeps running, the error is reported.
	writeFile(t, filepath.Join(dir, "a.js"), "still broken")
	if err := m.Reload(context.Background(), plugin.JS, []string{"a"}); err == nil {
		t.Fatal("no error for broken a")
	}
	if v, _ := tg.get("a"); v != "1" {
		t.Fatalf("a after a failed reload = %q, want the old version", v)
	}
	var st Status
	for _, s := range m.Status() {
		if s.Name == "a" {
			st = s
		}
	}
	if !st.Running || !strings.Contains(st.Error, "SyntaxError") {
		t.Fatalf("status of a = %+v", st)
	}
	// Disappearing from disk unloads.
	os.Remove(filepath.Join(dir, "a.js"))
	if err := m.Reload(context.Background(), plugin.JS, []string{All}); err == nil {
		t.Fatal("b is still broken: want its error")
	}
	if _, ok := tg.get("a"); ok {
		t.Fatal("deleted a still installed")
	}
}

func TestWatcherReloads(t *testing.T) {
	t.Parallel()
	dir, m, l, tg := setup(t)
	writeFile(t, filepath.Join(dir, "echo.js"), "ok v1")
	if err := m.SyncAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := Watch(ctx, dir, plugin.JS, 50*time.Millisecond, nil, func(names []string) {
		_ = m.Reload(ctx, plugin.JS, names)
	})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("plain write", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "echo.js"), "ok v2")
		eventually(t, "v2", func() bool { v, _ := tg.get("echo"); return v == "v2" })
	})
	t.Run("save by rename", func(t *testing.T) {
		tmp := filepath.Join(dir, ".echo.js.swp")
		writeFile(t, tmp, "ok v3")
		if err := os.Rename(tmp, filepath.Join(dir, "echo.js")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "v3", func() bool { v, _ := tg.get("echo"); return v == "v3" })
	})
	t.Run("burst is debounced", func(t *testing.T) {
		before := l.count()
		for i := 0; i < 20; i++ {
			writeFile(t, filepath.Join(dir, "echo.js"), "ok burst")
		}
		eventually(t, "burst", func() bool { v, _ := tg.get("echo"); return v == "burst" })
		time.Sleep(150 * time.Millisecond)
		if n := l.count() - before; n > 3 {
			t.Fatalf("20 quick writes caused %d loads", n)
		}
	})
	t.Run("broken keeps old", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "echo.js"), "syntax error here")
		eventually(t, "error reported", func() bool {
			for _, s := range m.Status() {
				if s.Name == "echo" && s.Error != "" {
					return true
				}
			}
			return false
		})
		if v, _ := tg.get("echo"); v != "burst" {
			t.Fatalf("echo = %q after a broken save, want the old version", v)
		}
	})
	t.Run("new folder plugin and nested change", func(t *testing.T) {
		writeFile(t, filepath.Join(dir, "crm", "lib", "util.js"), "module.exports = 1")
		writeFile(t, filepath.Join(dir, "crm", "index.js"), "ok crm1")
		eventually(t, "crm1", func() bool { v, _ := tg.get("crm"); return v == "crm1" })
		writeFile(t, filepath.Join(dir, "crm", "lib", "util.js"), "module.exports = 2")
		writeFile(t, filepath.Join(dir, "crm", "index.js"), "ok crm2")
		eventually(t, "crm2", func() bool { v, _ := tg.get("crm"); return v == "crm2" })
	})
	t.Run("delete unloads", func(t *testing.T) {
		os.Remove(filepath.Join(dir, "echo.js"))
		eventually(t, "echo removed", func() bool { _, ok := tg.get("echo"); return !ok })
	})
	cancel()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not stop")
	}
}
