package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/switchboard-dev/switchboard/runtime/wasmhost/wasmbin"
)

// nativeEngine is the engine written directly on wazero, with the Extism
// kernel implemented in Go (kernel.go): the default. The guest sees the
// same ABI as under the Extism go-sdk (extismEngine, kept as the
// reference the tests hold it to), but a kernel call is one Go function
// call instead of a call into a second WASM module.
//
// A running guest is stopped through checkpoints (wasmbin.InsertCheckpoints)
// rather than wazero's close-on-context-done, which leaves compiled code
// for Go at every loop iteration: the guest counts its loop iterations
// itself and calls the host back every checkInterval of them, and the
// host stops it there when its instance was killed or the context of
// its instantiation ended.
type nativeEngine struct{}

// checkInterval is the number of loop iterations between two calls of a
// guest to the host's checkpoint. A call costs about as much as 50 ns; at
// one per 1024 iterations a guest whose loops are empty still returns to
// Go every few microseconds, so the Go scheduler and collector are never
// kept waiting and a killed guest stops at once.
const checkInterval = 1024

// nativeCompiled is one compiled module in a wazero runtime of its own,
// with WASI, the kernel and the granted host functions instantiated once.
// Safe for concurrent use.
type nativeCompiled struct {
	rt     wazero.Runtime
	mod    wazero.CompiledModule
	limit  uint64 // bound of each instance's kernel memory
	config map[string]string
	log    hclog.Logger
}

func (nativeEngine) compile(ctx context.Context, wasm []byte, cfg compileConfig) (compiledModule, error) {
	wasm, err := wasmbin.InsertCheckpoints(wasm, checkInterval)
	if err != nil {
		return nil, fmt.Errorf("prepare the module: %w", err)
	}
	rc := wazero.NewRuntimeConfig()
	limit := uint64(defaultArenaBytes)
	if cfg.maxPages > 0 {
		rc = rc.WithMemoryLimitPages(cfg.maxPages)
		limit = uint64(cfg.maxPages) * 65536
	}
	if cfg.cache != nil {
		rc = rc.WithCompilationCache(cfg.cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	fail := func(err error) (compiledModule, error) {
		_ = rt.Close(context.Background())
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(fmt.Errorf("instantiate WASI: %w", err))
	}
	if err := instantiateKernel(ctx, rt); err != nil {
		return fail(err)
	}
	if err := instantiateCheckpoint(ctx, rt); err != nil {
		return fail(err)
	}
	if err := instantiateHostFuncs(ctx, rt, cfg.funcs); err != nil {
		return fail(err)
	}
	mod, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(err)
	}
	log := cfg.log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &nativeCompiled{rt: rt, mod: mod, limit: limit, config: cfg.config, log: log}, nil
}

// instance instantiates the module anonymously (so it can be instantiated
// any number of times), without running `_start`. Its runtime is
// initialized by its first call.
func (c *nativeCompiled) instance(ctx context.Context, out io.Writer) (moduleInstance, error) {
	// Real clocks, but no real sleep: a guest that sleeps spins on the
	// clock instead of blocking in the host, so its deadline still stops it.
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStdout(out).WithStderr(out).WithSysWalltime().WithSysNanotime()
	mod, err := c.rt.InstantiateModule(ctx, c.mod, mc)
	if err != nil {
		return nil, err
	}
	i := &nativeInstance{mod: mod, kernel: nativeKernel{config: c.config, log: c.log}}
	i.kernel.limit = c.limit
	i.inits = i.initFuncs()
	return i, nil
}

func (c *nativeCompiled) close(ctx context.Context) error { return c.rt.Close(ctx) }

// nativeInstance is one instance of the module and its kernel state.
//
// Threading: call runs on one goroutine at a time; kill may be called
// from any goroutine, concurrently with call.
type nativeInstance struct {
	mod    api.Module
	kernel nativeKernel
	// fnName and fn cache the export call last ran, with the number of
	// its results (0 or 1).
	fnName   string
	fn       api.Function
	fnResult bool
	stack    [1]uint64
	// inits are the initialization exports the first call runs first.
	inits []string
}

// initFuncs are the guest runtime's initialization exports, in the
// order the Extism go-sdk runs them: `_initialize` (WASI reactors, such as
// Go with -buildmode=c-shared) or else `__wasm_call_ctors` (WASI
// commands), and `hs_init` after `_initialize` for Haskell.
func (i *nativeInstance) initFuncs() []string {
	reactor := i.noParams("_initialize") != nil
	switch {
	case i.mod.ExportedFunction("hs_init") != nil && reactor:
		return []string{"_initialize", "hs_init"}
	case i.mod.ExportedFunction("hs_init") != nil:
		return []string{"hs_init"}
	case reactor:
		return []string{"_initialize"}
	case i.noParams("__wasm_call_ctors") != nil:
		return []string{"__wasm_call_ctors"}
	}
	return nil
}

// initialize runs the initialization exports once, in the context of
// the first call (its kernel holds that call's input).
func (i *nativeInstance) initialize(ctx context.Context) error {
	for len(i.inits) > 0 {
		name := i.inits[0]
		i.inits = i.inits[1:]
		// hs_init(argc, argv) gets zeros; the others take nothing.
		f := i.mod.ExportedFunction(name)
		if _, err := f.Call(ctx, make([]uint64, len(f.Definition().ParamTypes()))...); err != nil {
			return fmt.Errorf("initialize the guest runtime: %s: %w", name, err)
		}
	}
	return nil
}

// noParams returns the export name when it is a function without
// parameters, nil otherwise.
func (i *nativeInstance) noParams(name string) api.Function {
	f := i.mod.ExportedFunction(name)
	if f == nil || len(f.Definition().ParamTypes()) != 0 {
		return nil
	}
	return f
}

func (i *nativeInstance) exports(name string) bool { return i.mod.ExportedFunction(name) != nil }

// export returns the function fn, cached: looking an export up builds a
// new call engine with a stack of its own.
func (i *nativeInstance) export(fn string) (api.Function, error) {
	if i.fn != nil && i.fnName == fn {
		return i.fn, nil
	}
	f := i.mod.ExportedFunction(fn)
	if f == nil {
		return nil, fmt.Errorf("unknown function: %s", fn)
	}
	d := f.Definition()
	if len(d.ParamTypes()) != 0 || len(d.ResultTypes()) > 1 {
		return nil, fmt.Errorf("function %s has %d parameters and %d results, expected none and 0 or 1",
			fn, len(d.ParamTypes()), len(d.ResultTypes()))
	}
	i.fnName, i.fn, i.fnResult = fn, f, len(d.ResultTypes()) == 1
	return f, nil
}

// call runs fn with input. Its errors are those of extismInstance.call:
// an error the guest set, or a non-zero status, is a *guestError and the
// instance stays usable; an exit with a non-zero code is an *exitError;
// a trap (the kernel's included) is a plain error.
func (i *nativeInstance) call(ctx context.Context, fn string, input []byte) ([]byte, error) {
	if i.mod.IsClosed() {
		return nil, errors.New("the instance is closed")
	}
	f, err := i.export(fn)
	if err != nil {
		return nil, err
	}
	k := &i.kernel
	k.reset()
	if err := k.setInput(input); err != nil {
		return nil, err
	}
	kctx := withKernel(ctx, k)
	if err := i.initialize(kctx); err != nil {
		return nil, err
	}
	i.stack[0] = 0
	if err := f.CallWithStack(kctx, i.stack[:]); err != nil {
		var exit *sys.ExitError
		if !errors.As(err, &exit) {
			return nil, err
		}
		if exit.ExitCode() != 0 {
			return nil, &exitError{code: exit.ExitCode(), err: err}
		}
		i.stack[0] = 0 // exited with 0: a success, as under the go-sdk
	}
	if msg := k.errorMessage(); msg != "" {
		return nil, &guestError{msg: msg}
	}
	if rc := uint32(i.stack[0]); i.fnResult && rc != 0 {
		return nil, &guestError{msg: fmt.Sprintf("%s returned %d", fn, rc)}
	}
	return k.outputBytes()
}

// kill marks the instance killed; a running guest stops at its next
// checkpoint, a guest blocked in a host function when it returns and
// reaches one. The instance is never called again (its owner discards
// it).
func (i *nativeInstance) kill() { i.kernel.killed.Store(true) }

// instantiateCheckpoint defines the function the guest calls at its
// checkpoints: it stops the guest, with the exit code of a deadline,
// when its instance was killed or when the call's context ended (the
// context of the instantiation while a start function runs).
func instantiateCheckpoint(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(wasmbin.CheckModule).NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(ctx context.Context, _ []uint64) {
			k, _ := ctx.Value(nativeKernelKey{}).(*nativeKernel)
			if (k != nil && k.killed.Load()) || ctx.Err() != nil {
				panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
			}
		}), nil, nil).Export(wasmbin.CheckName).Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", wasmbin.CheckModule, err)
	}
	return nil
}

func (i *nativeInstance) close(ctx context.Context) error { return i.mod.Close(ctx) }
