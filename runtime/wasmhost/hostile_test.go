package wasmhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/plugin"
)

// hostileGuest is a module that loads but fails every event.
type hostileGuest struct {
	name     string
	wasm     func(t testing.TB) string
	manifest string
	check    func(t *testing.T, err error)
}

func isTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("err = %v, want plugin.ErrTimeout", err)
	}
}

// handlerError wants a *plugin.HandlerError whose text has every part.
func handlerError(parts ...string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var he *plugin.HandlerError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v (%T), want a *plugin.HandlerError", err, err)
		}
		for _, p := range parts {
			if !strings.Contains(he.Error(), p) {
				t.Errorf("error %q does not mention %q", he.Error(), p)
			}
		}
	}
}

func manifestWith(limits string) string {
	return fmt.Sprintf(`{"events":["*"],"permissions":["kv","quntool.msg.*"],"limits":%s}`, limits)
}

func TestHostileGuestsAreStopped(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		guests := []hostileGuest{
			{"loop", func(t testing.TB) string { return wat(t, "loop") },
				manifestWith(`{"timeout_ms":300}`), isTimeout},
			{"growbomb", func(t testing.TB) string { return wat(t, "growbomb") },
				manifestWith(`{"timeout_ms":2000,"memory_mb":16}`), handlerError("unreachable")},
			{"trap", func(t testing.TB) string { return wat(t, "trap") },
				manifestWith(`{}`), handlerError("unreachable")},
			{"badptr", func(t testing.TB) string { return wat(t, "badptr") },
				manifestWith(`{}`), handlerError("host function log", "pointer is not a block allocated by the guest")},
			{"allocbomb", func(t testing.TB) string { return wat(t, "allocbomb") },
				manifestWith(`{"timeout_ms":5000,"memory_mb":16}`), handlerError("unreachable")},
			{"kernelbadptr", func(t testing.TB) string { return wat(t, "kernelbadptr") },
				manifestWith(`{}`), handlerError("load_u64")},
			{"bigoutput", func(t testing.TB) string { return wat(t, "bigoutput") },
				manifestWith(`{}`), func(t *testing.T, err error) {
					if !errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), "2097152 bytes") {
						t.Fatalf("err = %v, want ErrOutputTooLarge for 2097152 bytes", err)
					}
				}},
			{"gopanic", func(t testing.TB) string { return goWasm(t, "runtime/wasmhost/testdata/gopanic") },
				manifestWith(`{}`), handlerError("unreachable", "panic: boom: event")},
			{"gosleep", func(t testing.TB) string { return goWasm(t, "runtime/wasmhost/testdata/gosleep") },
				manifestWith(`{"timeout_ms":300}`), isTimeout},
			{"gooom", func(t testing.TB) string { return goWasm(t, "runtime/wasmhost/testdata/gooom") },
				manifestWith(`{"memory_mb":32,"timeout_ms":20000}`), handlerError("fatal error: out of memory")},
		}
		echoWasm := goWasm(t, "examples/wasm-go")
		l := newLoader(t, Options{engine: eng, CacheDir: t.TempDir()})
		for _, g := range guests {
			t.Run(g.name, func(t *testing.T) {
				t.Parallel()
				echo := newTestEnv(t, "echo", echoWasm, echoManifest(t), echoAllow)
				eh := load(t, l, echo)
				te := newTestEnv(t, g.name, g.wasm(t), g.manifest, []string{"*"})
				h := load(t, l, te)

				// Two events in a row: the first instance is thrown away, the
				// second event gets a fresh one and fails the same way.
				var wg sync.WaitGroup
				errs := make([]error, 2)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range errs {
						errs[i] = h.Handle(ctxT(t), textEvent(fmt.Sprintf("h%d", i), "S:wxid_mallory", "x"))
					}
				}()
				// Meanwhile the echo plugin in the same host goes on serving.
				for i := 0; i < 5; i++ {
					if err := eh.Handle(ctxT(t), textEvent(fmt.Sprintf("e%d", i), "S:wxid_alice", "ping")); err != nil {
						t.Fatalf("echo event %d while %s runs: %v", i, g.name, err)
					}
				}
				wg.Wait()
				for i, err := range errs {
					if err == nil {
						t.Fatalf("event %d of %s succeeded", i, g.name)
					}
					if !strings.Contains(err.Error(), "plugin "+g.name) {
						t.Errorf("error %q does not name the plugin", err)
					}
					g.check(t, err)
				}
				if err := eh.Handle(ctxT(t), textEvent("after", "S:wxid_alice", "ping")); err != nil {
					t.Fatalf("echo after %s: %v", g.name, err)
				}
				if got := len(echo.inv.Calls()); got != 6 {
					t.Errorf("echo made %d replies, want 6", got)
				}
				if len(te.inv.Calls()) != 0 {
					t.Errorf("%s made binding calls: %v", g.name, te.inv.Calls())
				}
				if g.name != "bigoutput" && !strings.Contains(te.logs.String(), "discarded") {
					t.Errorf("no log line about the discarded instance:\n%s", te.logs.String())
				}
			})
		}
	})
}

func TestHostileModulesAreRefused(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		tests := []struct {
			name  string
			allow []string
			want  []string
			is    error
		}{
			{"bigmem", []string{"*"}, []string{"compile", "memory"}, nil},
			{"ungranted", []string{"quntool.msg.*"}, []string{`imports extism:host/user.kv_get`, `"kv" permission`}, ErrNotGranted},
			{"unknownimport", []string{"*"}, []string{"imports env.system"}, ErrUnknownImport},
			{"startloop", []string{"*"}, []string{"instantiate", "deadline exceeded"}, nil},
			{"reserved", []string{"*"}, []string{"imports switchboard:checkpoint.check"}, ErrUnknownImport},
			{"http", []string{"*"}, []string{"http_request", "bindings"}, ErrNotGranted},
			{"noexport", []string{"*"}, []string{`does not export "handle"`}, nil},
		}
		l := newLoader(t, Options{engine: eng})
		echo := newTestEnv(t, "echo", goWasm(t, "examples/wasm-go"), echoManifest(t), echoAllow)
		eh := load(t, l, echo)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				te := newTestEnv(t, tc.name, wat(t, tc.name), manifestWith(`{"memory_mb":64}`), tc.allow)
				h, err := l.Load(ctxT(t), te.env)
				if err == nil {
					_ = h.Close()
					t.Fatalf("%s loaded", tc.name)
				}
				var le *plugin.LoadError
				if !errors.As(err, &le) || le.Plugin != tc.name {
					t.Fatalf("err = %v (%T), want a *plugin.LoadError for %s", err, err, tc.name)
				}
				t.Logf("refused: %v", err)
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("err = %v, want %v", err, tc.is)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if err := eh.Handle(ctxT(t), textEvent("e-"+tc.name, "S:wxid_alice", "ping")); err != nil {
					t.Fatalf("echo after refusing %s: %v", tc.name, err)
				}
			})
		}
	})
}

// Modules whose vector counts promise more than their bytes hold are
// refused at load on both engines, before wazero's decoder, which would
// size an allocation by the count (gigabytes here), sees them.
func TestModulesWithImpossibleCountsAreRefused(t *testing.T) {
	t.Parallel()
	const head = "\x00asm\x01\x00\x00\x00"
	tests := []struct {
		name, wasm, want string
	}{
		// a type section of one function type with 2^32-1 parameters
		{"type", head + "\x01\x08\x01\x60\xff\xff\xff\xff\x0f\x00", "vector of 4294967295 elements"},
		// an active element segment of 2^28-1 functions, and nothing after
		{"element", head + "\x01\x04\x01\x60\x00\x00" + "\x03\x02\x01\x00" + "\x04\x04\x01\x70\x00\x01" +
			"\x09\x09\x01\x00\x41\x00\x0b\xff\xff\xff\x7f" + "\x0a\x04\x01\x02\x00\x0b", "vector of 268435455 elements"},
	}
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		l := newLoader(t, Options{engine: eng})
		for _, tc := range tests {
			path := filepath.Join(t.TempDir(), tc.name+".wasm")
			if err := os.WriteFile(path, []byte(tc.wasm), 0o644); err != nil {
				t.Fatal(err)
			}
			te := newTestEnv(t, tc.name, path, manifestWith(`{}`), []string{"*"})
			_, err := l.Load(ctxT(t), te.env)
			var le *plugin.LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want a *plugin.LoadError mentioning %q", tc.name, err, tc.want)
			}
		}
	})
}

func TestUngrantedBindingImport(t *testing.T) {
	t.Parallel()
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		// The ABI guest imports call and reply; with only "kv" granted it is
		// refused, naming what would grant them.
		te := newTestEnv(t, "abi", goWasm(t, "runtime/wasmhost/testdata/abi"), manifestWith(`{}`), []string{"kv"})
		_, err := newLoader(t, Options{engine: eng}).Load(ctxT(t), te.env)
		if !errors.Is(err, ErrNotGranted) || !strings.Contains(err.Error(), `needs a binding permission, e.g. "quntool.msg.*"`) {
			t.Fatalf("err = %v, want ErrNotGranted naming a binding permission", err)
		}
	})
}
