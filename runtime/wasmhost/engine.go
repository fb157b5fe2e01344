package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"

	extism "github.com/extism/go-sdk"
	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/switchboard-dev/switchboard/pdk"
	"github.com/switchboard-dev/switchboard/runtime/wasmhost/wasmbin"
)

// engine compiles WASM modules that follow the Extism ABI; the host runs
// modules only through it. Two implement it: nativeEngine (native.go, the
// default: wazero with the kernel in Go) and extismEngine (the Extism
// go-sdk, the reference the tests hold the native one to). Safe for
// concurrent use.
type engine interface {
	// compile validates and compiles wasm with the given limits and host
	// functions, the only ones the module can import from HostNamespace.
	compile(ctx context.Context, wasm []byte, cfg compileConfig) (compiledModule, error)
}

// compileConfig is what a compilation needs besides the bytes.
type compileConfig struct {
	maxPages uint32 // 64 KiB pages, for every memory of the module
	funcs    []hostFunc
	cache    wazero.CompilationCache // nil: no disk cache
	config   map[string]string       // what the guest reads with config_get
	log      hclog.Logger            // where the kernel's log functions write; nil: nowhere
}

// compiledModule is one compiled version; instances of it are independent.
// Safe for concurrent use.
type compiledModule interface {
	// instance creates a fresh instance; what the guest writes to stdout
	// and stderr goes to out.
	instance(ctx context.Context, out io.Writer) (moduleInstance, error)
	close(ctx context.Context) error
}

// moduleInstance is one instance: one call at a time.
type moduleInstance interface {
	exports(name string) bool
	// call runs the export fn with input and returns its output. After a
	// *guestError the instance is still usable; after any other error it
	// must be closed.
	call(ctx context.Context, fn string, input []byte) ([]byte, error)
	// kill stops a call running on another goroutine, and the instance
	// for good: under the native engine at the guest's next checkpoint
	// (at most checkInterval loop iterations later), under the go-sdk at
	// its next loop iteration or function call. Safe to call concurrently
	// with call and more than once.
	kill()
	close(ctx context.Context) error
}

// hostFunc is one function of HostNamespace: it receives the bytes of
// the block the guest passed and returns the bytes of the block handed
// back (void functions return nothing). ctx is the guest call's context.
type hostFunc struct {
	name string
	void bool
	fn   func(ctx context.Context, in []byte) ([]byte, error)
}

// extismEngine is the engine on the Extism go-sdk (wazero underneath):
// the reference the native engine is tested against. The kernel's log
// functions go to the go-sdk's own log, not to cfg.log.
type extismEngine struct{}

func (extismEngine) compile(ctx context.Context, wasm []byte, cfg compileConfig) (compiledModule, error) {
	// The go-sdk compiles the module as it is, but only after the same
	// checks of its structure as the native engine's (wazero's decoder
	// sizes allocations by the counts it reads).
	if _, err := wasmbin.InsertCheckpoints(wasm, checkInterval); err != nil {
		return nil, fmt.Errorf("prepare the module: %w", err)
	}
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if cfg.maxPages > 0 {
		rc = rc.WithMemoryLimitPages(cfg.maxPages)
	}
	if cfg.cache != nil {
		rc = rc.WithCompilationCache(cfg.cache)
	}
	funcs := make([]extism.HostFunction, 0, len(cfg.funcs))
	for _, f := range cfg.funcs {
		funcs = append(funcs, adapt(f))
	}
	m := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}, Config: cfg.config}
	if cfg.maxPages > 0 {
		m.Memory = &extism.ManifestMemory{MaxPages: cfg.maxPages, MaxVarBytes: maxVarBytes}
	}
	cp, err := extism.NewCompiledPlugin(ctx, m, extism.PluginConfig{RuntimeConfig: rc, EnableWasi: true}, funcs)
	if err != nil {
		return nil, err
	}
	return &extismCompiled{cp: cp}, nil
}

// adapt turns a hostFunc into an Extism host function taking one block
// offset and, unless void, returning one. A pointer that is not a block
// the guest allocated traps the guest.
func adapt(f hostFunc) extism.HostFunction {
	returns := []extism.ValueType{extism.ValueTypePTR}
	if f.void {
		returns = nil
	}
	hf := extism.NewHostFunctionWithStack(f.name, func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
		k, err := kernelOf(ctx)
		if err != nil {
			panic(fmt.Errorf("host function %s: %w", f.name, err))
		}
		f.serve(ctx, k, stack)
	}, []extism.ValueType{extism.ValueTypePTR}, returns)
	hf.SetNamespace(pdk.HostNamespace)
	return hf
}

// blocks is a kernel's memory as a host function uses it: the block the
// guest passed, and a new block for the answer.
type blocks interface {
	readBlock(ctx context.Context, off uint64) ([]byte, error)
	writeBlock(ctx context.Context, b []byte) (uint64, error)
}

// serve runs f for a guest call on either engine: it reads the block at
// stack[0], calls f.fn and, unless f is void, leaves the offset of the
// answer's block in stack[0]. A failure panics, which traps the guest.
func (f hostFunc) serve(ctx context.Context, k blocks, stack []uint64) {
	in, err := k.readBlock(ctx, stack[0])
	if err != nil {
		panic(fmt.Errorf("host function %s: %w", f.name, err))
	}
	out, err := f.fn(ctx, in)
	if err != nil {
		panic(fmt.Errorf("host function %s: %w", f.name, err))
	}
	if f.void {
		return
	}
	off, err := k.writeBlock(ctx, padWords(out))
	if err != nil {
		panic(fmt.Errorf("host function %s: write result: %w", f.name, err))
	}
	stack[0] = off
}

// padWords pads JSON with spaces to whole 8-byte words: guests copy
// blocks 8 bytes per kernel call and each odd byte costs a call of its own.
func padWords(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// errBadPointer is a block offset that does not name an allocated block.
var errBadPointer = errors.New("pointer is not a block allocated by the guest")

// kernel is the Extism kernel module of one instance, with the two
// functions host functions call kept resolved: the SDK looks a kernel
// function up anew for every call, and each lookup builds a call engine
// with a fresh stack. One per instance, used by one call at a time.
type kernel struct {
	mod           api.Module
	length, alloc api.Function
	stack         [1]uint64
}

type kernelKey struct{}

// kernelOf returns the kernel of the instance running the call of ctx.
func kernelOf(ctx context.Context) (*kernel, error) {
	k, ok := ctx.Value(kernelKey{}).(*kernel)
	if !ok {
		return nil, errors.New("no instance in the call context")
	}
	if k.mod == nil {
		mod, ok := ctx.Value(extism.PluginCtxKey("extism")).(api.Module)
		if !ok {
			return nil, errors.New("no Extism kernel in the call context")
		}
		k.length, k.alloc = mod.ExportedFunction("length"), mod.ExportedFunction("alloc")
		if k.length == nil || k.alloc == nil {
			return nil, errors.New("the Extism kernel lacks length or alloc")
		}
		k.mod = mod
	}
	return k, nil
}

// readBlock copies the block at off out of the kernel's memory. Offset 0 is
// the empty block.
func (k *kernel) readBlock(ctx context.Context, off uint64) ([]byte, error) {
	if off == 0 {
		return nil, nil
	}
	k.stack[0] = off
	if err := k.length.CallWithStack(ctx, k.stack[:]); err != nil {
		return nil, fmt.Errorf("%w: %#x: %v", errBadPointer, off, err)
	}
	n := k.stack[0]
	if n == 0 || off > 1<<32 || n > 1<<32 {
		return nil, fmt.Errorf("%w: %#x", errBadPointer, off)
	}
	b, ok := k.mod.Memory().Read(uint32(off), uint32(n))
	if !ok {
		return nil, fmt.Errorf("%w: %#x+%d is outside memory", errBadPointer, off, n)
	}
	return append([]byte(nil), b...), nil
}

// writeBlock copies b into a new block and returns its offset.
func (k *kernel) writeBlock(ctx context.Context, b []byte) (uint64, error) {
	k.stack[0] = uint64(len(b))
	if err := k.alloc.CallWithStack(ctx, k.stack[:]); err != nil {
		return 0, fmt.Errorf("alloc %d bytes: %w", len(b), err)
	}
	off := k.stack[0]
	if off == 0 && len(b) > 0 {
		return 0, fmt.Errorf("alloc %d bytes: out of memory", len(b))
	}
	if !k.mod.Memory().Write(uint32(off), b) {
		return 0, fmt.Errorf("write %d bytes at %#x: outside memory", len(b), off)
	}
	return off, nil
}

type extismCompiled struct {
	cp *extism.CompiledPlugin
}

func (c *extismCompiled) instance(ctx context.Context, out io.Writer) (moduleInstance, error) {
	// Real clocks, but no real sleep: a guest that sleeps spins on the
	// clock instead of blocking in the host, so its deadline still stops it.
	mc := wazero.NewModuleConfig().WithStdout(out).WithStderr(out).WithSysWalltime().WithSysNanotime()
	p, err := c.cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return nil, err
	}
	return &extismInstance{p: p}, nil
}

func (c *extismCompiled) close(ctx context.Context) error { return c.cp.Close(ctx) }

type extismInstance struct {
	p      *extism.Plugin
	kernel kernel
}

func (i *extismInstance) exports(name string) bool { return i.p.FunctionExists(name) }

func (i *extismInstance) call(ctx context.Context, fn string, input []byte) ([]byte, error) {
	rc, out, err := i.p.CallWithContext(context.WithValue(ctx, kernelKey{}, &i.kernel), fn, input)
	if err != nil {
		// The SDK reports an error the guest set (and returned from
		// normally) as exactly that message; anything else is a trap.
		if msg := i.p.GetErrorWithContext(ctx); msg != "" && err.Error() == msg {
			return nil, &guestError{msg: msg}
		}
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			return nil, &exitError{code: exit.ExitCode(), err: err}
		}
		return nil, err
	}
	if rc != 0 {
		return nil, &guestError{msg: fmt.Sprintf("%s returned %d", fn, rc)}
	}
	return out, nil
}

func (i *extismInstance) close(ctx context.Context) error { return i.p.Close(ctx) }

// kill closes the instance's modules; the runtime was configured to close
// on context done, so compiled code checks for a closed module at every
// loop and call and a running guest stops there.
func (i *extismInstance) kill() { _ = i.p.Close(context.Background()) }

// guestError is a call the guest failed on its own terms: it set an error
// or returned a non-zero status. The instance stays usable.
type guestError struct{ msg string }

func (e *guestError) Error() string { return e.msg }

// exitError is a guest that exited (a Go panic exits with 2, and so does
// a Go runtime out of memory) or was closed by its deadline.
type exitError struct {
	code uint32
	err  error
}

func (e *exitError) Error() string {
	return fmt.Sprintf("guest exited with code %d: %v", e.code, e.err)
}
func (e *exitError) Unwrap() error { return e.err }
