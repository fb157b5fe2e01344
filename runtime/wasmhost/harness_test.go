package wasmhost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	badgerdb "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/switchboard-dev/switchboard/bindings"
	"github.com/switchboard-dev/switchboard/bindings/quntool"
	"github.com/switchboard-dev/switchboard/kv"
	kvbadger "github.com/switchboard-dev/switchboard/kv/badger"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// testTimeout bounds every test's context.
const testTimeout = 60 * time.Second

// buildDir holds the modules the tests build, once per test binary.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoRoot is the module root, two levels up from this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// onceBuild memoizes builds by output name across the tests of one run.
var (
	buildMu   sync.Mutex
	buildErrs = map[string]error{}
)

func memoBuild(t testing.TB, name string, build func(out string) error) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	out := filepath.Join(buildDir, name)
	err, done := buildErrs[name]
	if !done {
		err = build(out)
		buildErrs[name] = err
	}
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	return out
}

// goWasm builds the Go plugin in pkgDir (relative to the module root) with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
func goWasm(t testing.TB, pkgDir string) string {
	t.Helper()
	root := repoRoot(t)
	name := strings.ReplaceAll(pkgDir, "/", "_") + ".wasm"
	return memoBuild(t, name, func(out string) error {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+pkgDir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkgDir, err, b)
		}
		return nil
	})
}

// wat assembles testdata/NAME.wat with wat2wasm (Debian package wabt).
func wat(t testing.TB, name string) string {
	t.Helper()
	return memoBuild(t, name+".wasm", func(out string) error {
		bin, err := exec.LookPath("wat2wasm")
		if err != nil {
			return fmt.Errorf("wat2wasm is required to assemble the hostile fixtures: install it with `apt-get install wabt`: %w", err)
		}
		src, err := filepath.Abs(filepath.Join("testdata", name+".wat"))
		if err != nil {
			return err
		}
		if b, err := exec.Command(bin, src, "-o", out).CombinedOutput(); err != nil {
			return fmt.Errorf("wat2wasm %s: %v\n%s", name, err, b)
		}
		return nil
	})
}

// testEnv is what a loaded test plugin works with.
type testEnv struct {
	inv  *recorder
	kv   kv.Bucket
	logs *syncBuffer
	env  plugin.Env
}

// recorder is the innermost invoker: it checks calls against the registry
// like Registry.Invoke does, records them and answers with fn.
type recorder struct {
	reg *bindings.Registry
	fn  func(ctx context.Context, c bindings.Call) (json.RawMessage, error)

	mu    sync.Mutex
	calls []bindings.Call
}

func (r *recorder) Invoke(ctx context.Context, c bindings.Call) (json.RawMessage, error) {
	ep, err := r.reg.Lookup(c.Vendor, c.Method)
	if err != nil {
		return nil, err
	}
	if err := ep.Check(c.Args); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(ctx, c)
	}
	return json.RawMessage(`{"msgId":"m1"}`), nil
}

func (r *recorder) Calls() []bindings.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bindings.Call(nil), r.calls...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// memStore opens an in-memory Badger store for one test.
func memStore(t testing.TB) kv.Store {
	t.Helper()
	db, err := badgerdb.Open(badgerdb.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	s := kvbadger.New(db)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newTestEnv builds the environment of plugin name at entry: the quntool
// registry, the recorder behind the plugin's Guard, its own KV bucket
// (only when allow grants "kv"), and a JSON log captured for assertions.
// manifest, when not "", is written beside the entry as NAME.json.
func newTestEnv(t testing.TB, name, entry, manifest string, allow []string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	dst := filepath.Join(dir, name+".wasm")
	data, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if manifest != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, ok := plugin.SourceAt(dir, name+".wasm", plugin.WASM)
	if !ok {
		t.Fatalf("no plugin source at %s", dst)
	}
	spec, err := plugin.Resolve(src, plugin.Settings{Allow: allow}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := bindings.NewRegistry()
	if err := reg.Add(quntool.Vendor(nil)); err != nil {
		t.Fatal(err)
	}
	te := &testEnv{inv: &recorder{reg: reg}, logs: &syncBuffer{}}
	log := hclog.New(&hclog.LoggerOptions{Name: name, Output: te.logs, JSONFormat: true, Level: hclog.Trace})
	te.env = plugin.Env{Spec: spec, Log: log, Registry: reg, Invoker: plugin.Guard(name, spec.Grants, te.inv)}
	if spec.Grants.Allows(plugin.PermKV) {
		te.kv = memStore(t).Bucket(name)
		te.env.KV = te.kv
	}
	return te
}

// newLoader returns a Loader closed at the end of the test.
func newLoader(t testing.TB, o Options) *Loader {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// load loads te's plugin and closes it at the end of the test.
func load(t testing.TB, l *Loader, te *testEnv) plugin.Handler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	h, err := l.Load(ctx, te.env)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// textEvent is a quntool text message from alice in a private chat.
func textEvent(id, conv, text string) *event.Event {
	return &event.Event{
		ID: id, Type: event.TypeMessage, Vendor: event.VendorQuntool, Account: "wxid_bot",
		Time: 1700000000000, Received: 1700000000100,
		Conversation: &event.Conversation{ID: conv, Kind: event.ConversationPrivate},
		Message: &event.Message{ID: "srv-" + id, Kind: event.KindText, Text: text,
			From: &event.Party{ID: "wxid_alice", Name: "Alice"}},
		Raw: json.RawMessage(`{}`),
	}
}

// ctxT is a context bounded by testTimeout.
func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// echoAllow is what switchboard.yaml allows the echo example in tests.
var echoAllow = []string{"kv", "quntool.msg.*"}

// testEngines are the engines the suites run on: the native kernel (the
// default) and the Extism go-sdk, the reference it must agree with.
var testEngines = []struct {
	name string
	eng  engine
}{{"native", nativeEngine{}}, {"go-sdk", extismEngine{}}}

// forEngines runs f as a subtest (or sub-benchmark) per engine, named
// prefix/engine, or engine alone when prefix is "".
func forEngines[T interface{ Run(string, func(T)) bool }](t T, prefix string, f func(t T, eng engine)) {
	for _, e := range testEngines {
		name := e.name
		if prefix != "" {
			name = prefix + "/" + e.name
		}
		t.Run(name, func(t T) { f(t, e.eng) })
	}
}
