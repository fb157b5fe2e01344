// Package wasmhost runs WASM plugins on the Extism plugin ABI (SPEC §7):
// it implements plugin.Loader for plugin.WASM. The ABI is written down in
// docs/wasm-abi.md; its JSON shapes are the types of package pdk, which
// the Go guests use too.
//
// Lifecycle of a version, in order:
//  1. Load reads the module, checks its imports against what the plugin
//     was granted (a module importing a host function it was not granted
//     is refused), compiles it (wazero, with the Loader's on-disk
//     compilation cache so a restart does not recompile), and creates a
//     first instance to check that it instantiates and exports `handle`.
//     Any failure is a *plugin.LoadError naming the plugin.
//  2. Wants and Handle serve events from any number of goroutines. Each
//     Handle takes an idle instance from the version's pool, or creates
//     one: an instance runs one event at a time. The export `handle` gets
//     the event JSON; host functions act at once, and the output's
//     declarative actions are carried out after it returns.
//  3. Close closes the idle instances and the compiled module.
//
// Limits: every memory of the module is capped at the plugin's memory_mb
// (in 64 KiB pages), each event runs under the plugin's deadline, and the
// output is bounded (Options.MaxOutputBytes). An instance that trapped,
// exited, overran its deadline or broke the ABI is closed, never reused;
// the version and every other plugin go on serving.
package wasmhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"

	"github.com/switchboard-dev/switchboard/pdk"
	"github.com/switchboard-dev/switchboard/runtime/event"
	"github.com/switchboard-dev/switchboard/runtime/plugin"
	"github.com/switchboard-dev/switchboard/runtime/wasmhost/wasmbin"
)

// Defaults for Options.
const (
	// DefaultMaxOutputBytes bounds what `handle` may output.
	DefaultMaxOutputBytes = 1 << 20
	// DefaultMaxModuleBytes bounds the size of a .wasm file.
	DefaultMaxModuleBytes = 64 << 20
	// guestTailBytes is how much of a guest's stdout/stderr an error keeps.
	guestTailBytes = 4 << 10
)

// Errors Handle and Load return inside their wrapping; test with errors.Is.
var (
	// ErrOutputTooLarge: `handle` produced more than Options.MaxOutputBytes.
	ErrOutputTooLarge = errors.New("wasm plugin output too large")
	// ErrBadOutput: the output is not {"actions": [...]} of known actions.
	ErrBadOutput = errors.New("wasm plugin output is not valid actions")
	// ErrNotGranted: the module imports a host function the plugin was
	// not granted.
	ErrNotGranted = errors.New("host function not granted")
	// ErrUnknownImport: the module imports something the host does not
	// provide.
	ErrUnknownImport = errors.New("unknown import")
)

// Options configure a Loader. The zero value is valid: no disk cache.
type Options struct {
	// CacheDir holds wazero's compilation cache; "" compiles in memory
	// only. It is created if missing.
	CacheDir string
	// MaxOutputBytes bounds the output of `handle`; 0: DefaultMaxOutputBytes.
	MaxOutputBytes int
	// MaxModuleBytes bounds the .wasm file; 0: DefaultMaxModuleBytes.
	MaxModuleBytes int64
	// MaxIdle is how many idle instances a version keeps for reuse;
	// 0: GOMAXPROCS. Concurrent events beyond it get fresh instances that
	// are closed afterwards.
	MaxIdle int

	// Engine runs the modules: EngineNative (the default) or
	// EngineExtism. Plugins see the same ABI on both.
	Engine Engine

	// engine, when set, overrides Engine (tests).
	engine engine
}

// Engine names an engine that runs WASM modules.
type Engine string

const (
	// EngineNative is wazero with the Extism kernel implemented in the
	// host and checkpoints in the guest's loops: the default, and about
	// three times faster per event.
	EngineNative Engine = "native"
	// EngineExtism is the Extism go-sdk on wazero: the reference
	// implementation of the ABI the native engine is tested against.
	EngineExtism Engine = "extism"
)

// Loader loads WASM plugin versions. Safe for concurrent use; Close it
// after every version it loaded was closed.
type Loader struct {
	opts  Options
	eng   engine
	cache wazero.CompilationCache
}

var _ plugin.Loader = (*Loader)(nil)

// New returns a Loader. It fails when CacheDir cannot be created.
func New(o Options) (*Loader, error) {
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if o.MaxModuleBytes <= 0 {
		o.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = runtime.GOMAXPROCS(0)
	}
	l := &Loader{opts: o, eng: o.engine}
	if l.eng == nil {
		switch o.Engine {
		case "", EngineNative:
			l.eng = nativeEngine{}
		case EngineExtism:
			l.eng = extismEngine{}
		default:
			return nil, fmt.Errorf("wasmhost: unknown engine %q (want %q or %q)", o.Engine, EngineNative, EngineExtism)
		}
	}
	if o.CacheDir != "" {
		if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(o.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache %s: %w", o.CacheDir, err)
		}
		l.cache = c
	}
	return l, nil
}

// Close releases the compilation cache (its files stay on disk).
func (l *Loader) Close() error {
	if l.cache == nil {
		return nil
	}
	if err := l.cache.Close(context.Background()); err != nil {
		return fmt.Errorf("wasmhost: close compilation cache: %w", err)
	}
	return nil
}

// Kind reports plugin.WASM.
func (*Loader) Kind() plugin.Kind { return plugin.WASM }

// Load reads, checks and compiles env.Spec.Entry and creates its first
// instance, bounded by ctx and the plugin's timeout. Failures are
// *plugin.LoadError. ctx only bounds Load: the version lives until Close.
func (l *Loader) Load(ctx context.Context, env plugin.Env) (plugin.Handler, error) {
	spec := env.Spec
	if spec == nil {
		return nil, &plugin.LoadError{Plugin: "?", Path: "?", Err: errors.New("wasmhost: env has no spec")}
	}
	fail := func(err error) error { return &plugin.LoadError{Plugin: spec.Name, Path: spec.Entry, Err: err} }
	if spec.Kind != "" && spec.Kind != plugin.WASM {
		return nil, fail(fmt.Errorf("wasmhost: cannot load a %s plugin", spec.Kind))
	}
	wasm, err := readModule(spec.Entry, l.opts.MaxModuleBytes)
	if err != nil {
		return nil, fail(err)
	}
	h := newHandler(env, l.opts)
	funcs := h.hostFuncs()
	if err := checkImports(wasm, funcs, h.needs()); err != nil {
		return nil, fail(err)
	}
	lctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	memMB := spec.MemoryMB
	if memMB <= 0 {
		memMB = plugin.DefaultMemoryMB
	}
	cm, err := l.eng.compile(lctx, wasm, compileConfig{
		maxPages: uint32(memMB) * 16, funcs: funcs, cache: l.cache, config: configStrings(spec.Config), log: h.log})
	if err != nil {
		return nil, fail(fmt.Errorf("compile: %w", err))
	}
	h.mod = cm
	inst, err := h.newInstance(lctx)
	if err != nil {
		_ = cm.close(context.Background())
		return nil, fail(fmt.Errorf("instantiate: %w", err))
	}
	if !inst.mi.exports(entryExport) {
		inst.discard()
		_ = cm.close(context.Background())
		return nil, fail(fmt.Errorf("the module does not export %q", entryExport))
	}
	h.put(inst)
	return h, nil
}

// readModule reads a .wasm file of at most max bytes.
func readModule(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	if st.Size() > max {
		return nil, fmt.Errorf("module is %d bytes, over the %d-byte limit", st.Size(), max)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read module: %w", err)
	}
	return buf.Bytes(), nil
}

// configStrings turns the plugin's config into Extism config strings:
// strings as they are, other values as JSON.
func configStrings(cfg map[string]any) map[string]string {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		out[k] = string(b)
	}
	return out
}

// Imports the host provides besides HostNamespace: WASI (no files, no
// sockets, no environment: only clocks, random and stdout/stderr, which go
// to the log) and the Extism kernel, less its HTTP functions (a plugin's
// only network is the bindings).
const noNetwork = "plugins reach the network only through the bindings"

var envDenied = map[string]string{"http_request": noNetwork, "http_status_code": noNetwork, "http_headers": noNetwork}

// ImportError is a module import the host refuses.
type ImportError struct {
	Module, Name string
	// Needs says what would grant it ("the \"kv\" permission"), "" when
	// nothing can.
	Needs  string
	Err    error // ErrNotGranted or ErrUnknownImport
	Reason string
}

func (e *ImportError) Error() string {
	switch {
	case e.Needs != "":
		return fmt.Sprintf("imports %s.%s: %v (needs %s)", e.Module, e.Name, e.Err, e.Needs)
	case e.Reason != "":
		return fmt.Sprintf("imports %s.%s: %v (%s)", e.Module, e.Name, e.Err, e.Reason)
	}
	return fmt.Sprintf("imports %s.%s: %v", e.Module, e.Name, e.Err)
}

func (e *ImportError) Unwrap() error { return e.Err }

// checkImports refuses a module importing a host function that is not
// linked (needs maps every HostNamespace function to the permission that
// links it) or anything else the host does not provide.
func checkImports(wasm []byte, linked []hostFunc, needs map[string]string) error {
	imps, err := wasmbin.Imports(wasm)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range linked {
		have[f.name] = true
	}
	for _, imp := range imps {
		switch imp.Module {
		case pdk.HostNamespace:
			if have[imp.Name] {
				continue
			}
			if perm, ok := needs[imp.Name]; ok {
				return &ImportError{Module: imp.Module, Name: imp.Name, Needs: perm, Err: ErrNotGranted}
			}
			return &ImportError{Module: imp.Module, Name: imp.Name, Err: ErrUnknownImport,
				Reason: "host functions are " + strings.Join(sortedKeys(needs), ", ")}
		case envNamespace:
			if why, denied := envDenied[imp.Name]; denied {
				return &ImportError{Module: imp.Module, Name: imp.Name, Err: ErrNotGranted, Reason: why}
			}
		case "wasi_snapshot_preview1":
		default:
			return &ImportError{Module: imp.Module, Name: imp.Name, Err: ErrUnknownImport,
				Reason: "modules may import " + pdk.HostNamespace + ", " + envNamespace + " and wasi_snapshot_preview1"}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// handler is one loaded version: the plugin.Handler Load returns.
//
// Threading: Wants, Handle and Close may be called from any goroutine;
// the pool is a channel, instances are owned by one Handle at a time.
type handler struct {
	name   string
	env    plugin.Env
	spec   *plugin.Spec
	log    hclog.Logger
	opts   Options
	mod    compiledModule
	idle   chan *instance
	closed atomic.Bool
	once   sync.Once
}

var _ plugin.Handler = (*handler)(nil)

func newHandler(env plugin.Env, opts Options) *handler {
	h := &handler{name: env.Spec.Name, env: env, spec: env.Spec, log: env.Log, opts: opts,
		idle: make(chan *instance, opts.MaxIdle)}
	if h.log == nil {
		h.log = hclog.NewNullLogger()
	}
	return h
}

// timeout is the plugin's per-event deadline.
func (h *handler) timeout() time.Duration {
	if h.spec.Timeout > 0 {
		return h.spec.Timeout
	}
	return plugin.DefaultTimeout
}

// Wants reports whether ev matches the manifest's events and accounts
// (no events listed: every event, as for a plugin without a manifest).
func (h *handler) Wants(ev *event.Event) bool {
	if !h.spec.WantsAccount(ev.Account) {
		return false
	}
	if len(h.spec.Events) == 0 {
		return true
	}
	for _, p := range h.spec.Events {
		if event.Match(p, ev) {
			return true
		}
	}
	return false
}

// Handle runs `handle` on ev in an instance of its own and then carries
// out the output's actions. Errors name the plugin: plugin.ErrTimeout
// (wrapped) when ctx or the plugin's timeout ends it, a
// *plugin.HandlerError for a trap, an exit or an error the guest set,
// ErrOutputTooLarge / ErrBadOutput (wrapped) for a bad output, and the
// failing action's error otherwise.
func (h *handler) Handle(ctx context.Context, ev *event.Event) error {
	if h.closed.Load() {
		return fmt.Errorf("plugin %s: %w", h.name, plugin.ErrClosed)
	}
	input, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("plugin %s: encode event: %w", h.name, err)
	}
	input = padWords(input)
	cctx, cancel := context.WithTimeout(ctx, h.timeout())
	defer cancel()
	cctx = withCall(cctx, ev)
	inst, err := h.get(cctx)
	if err != nil {
		if cctx.Err() != nil {
			return fmt.Errorf("plugin %s: %w while creating an instance", h.name, plugin.ErrTimeout)
		}
		return fmt.Errorf("plugin %s: instantiate: %w", h.name, err)
	}
	out, err := inst.call(cctx, input)
	if err == nil && cctx.Err() != nil {
		err = cctx.Err() // stopped at the deadline as it returned: not trusted
	}
	var ge *guestError
	if errors.As(err, &ge) {
		tail := inst.tail()
		h.put(inst)
		return &plugin.HandlerError{Plugin: h.name, Message: ge.msg, Stack: tail}
	}
	if err != nil {
		inst.discard()
		return h.callError(cctx, ev, err, inst.tail())
	}
	h.put(inst)
	if len(out) > h.opts.MaxOutputBytes {
		return fmt.Errorf("plugin %s: %w: %d bytes, the limit is %d", h.name, ErrOutputTooLarge, len(out), h.opts.MaxOutputBytes)
	}
	actions, err := parseOutput(out)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", h.name, err)
	}
	for i := range actions {
		if err := h.act(cctx, ev, &actions[i]); err != nil {
			if cctx.Err() != nil {
				return fmt.Errorf("plugin %s: action %d (%s): %w", h.name, i, actions[i].Kind(), plugin.ErrTimeout)
			}
			return fmt.Errorf("plugin %s: action %d (%s): %w", h.name, i, actions[i].Kind(), err)
		}
	}
	return nil
}

// callError describes a failed guest call; the instance is already gone.
func (h *handler) callError(ctx context.Context, ev *event.Event, err error, tail string) error {
	if ctx.Err() != nil {
		h.log.Warn("instance stopped at its deadline and discarded", "event", ev.ID)
		return fmt.Errorf("plugin %s: %w (guest stopped and its instance discarded)", h.name, plugin.ErrTimeout)
	}
	h.log.Warn("instance failed and discarded", "event", ev.ID, "error", err)
	return &plugin.HandlerError{Plugin: h.name, Message: err.Error(), Stack: tail}
}

// parseOutput decodes the output of `handle`: empty, or {"actions": [...]}
// of actions with exactly one field each.
func parseOutput(out []byte) ([]pdk.Action, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var o pdk.Output
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadOutput, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrBadOutput)
	}
	for i := range o.Actions {
		if o.Actions[i].Kind() == "" {
			return nil, fmt.Errorf("%w: action %d must have exactly one of reply, call, kv_set, kv_delete, kv_incr, log", ErrBadOutput, i)
		}
	}
	return o.Actions, nil
}

// Close closes the idle instances and the compiled module. Called once
// after every Handle returned; later Handles fail with plugin.ErrClosed.
func (h *handler) Close() error {
	var err error
	h.once.Do(func() {
		h.closed.Store(true)
		for {
			select {
			case inst := <-h.idle:
				inst.discard()
				continue
			default:
			}
			break
		}
		if cerr := h.mod.close(context.Background()); cerr != nil {
			err = fmt.Errorf("plugin %s: close: %w", h.name, cerr)
		}
	})
	return err
}
