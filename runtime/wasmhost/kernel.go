package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchboard-dev/switchboard/pdk"
)

// The Extism kernel (import module "extism:host/env") implemented in Go:
// what the Extism runtime does in its own WASM module, without a second
// module and without a call into it for every kernel function.

// envNamespace is the import module of the Extism kernel.
const envNamespace = "extism:host/env"

// Bounds of one instance's kernel.
const (
	// arenaBase is the offset of the first block: offset 0 is "no block".
	arenaBase = 8
	// blockOverhead is what each block is charged besides its bytes, for
	// its bookkeeping, so that a guest allocating many tiny blocks is
	// bounded too.
	blockOverhead = 32
	// defaultArenaBytes bounds the kernel's memory when the module has no
	// memory limit.
	defaultArenaBytes = 64 << 20
	// arenaKeepBytes is how much arena an idle instance keeps between calls.
	arenaKeepBytes = 4 << 20
	// maxVarBytes bounds an instance's variables (var_set), as the Extism
	// SDK's default does.
	maxVarBytes = 1 << 20
)

// Errors the kernel traps a guest with.
var (
	// errOutOfBounds is a load or store outside the kernel's blocks.
	errOutOfBounds = errors.New("access outside the kernel's memory blocks")
	// errNotPermitted is a kernel function the host does not offer.
	errNotPermitted = errors.New("not permitted: " + noNetwork)
	// errVarsFull is a var_set past maxVarBytes.
	errVarsFull = errors.New("variable store is full")
)

// block is one allocation of the arena.
type block struct {
	off  uint64 // offset of its first byte
	size uint64 // bytes reserved, a multiple of 8
	n    uint64 // bytes asked for: its length
	free bool
}

// arena is the kernel's memory: blocks addressed by offsets into mem,
// allocated upwards from arenaBase. Freed blocks are reused by later
// allocations that fit; a freed block at the top gives its bytes back.
type arena struct {
	mem    []byte  // mem[:top] holds the blocks
	top    uint64  // end of the last block
	blocks []block // ordered by offset
	used   uint64  // bytes charged: sizes plus blockOverhead per block
	limit  uint64  // bound of used
	nfree  int     // blocks marked free
}

// alloc reserves a block of n bytes and returns its offset; 0 when n is 0
// or the arena's bound would be exceeded.
func (a *arena) alloc(n uint64) uint64 {
	if n == 0 || n > a.limit {
		return 0
	}
	size := (n + 7) &^ 7
	if a.nfree > 0 {
		for i := range a.blocks {
			if b := &a.blocks[i]; b.free && b.size >= size {
				b.free, b.n = false, n
				a.nfree--
				return b.off
			}
		}
	}
	if a.used+size+blockOverhead > a.limit {
		return 0
	}
	if a.top < arenaBase {
		a.top = arenaBase
	}
	if end := a.top + size; end > uint64(len(a.mem)) {
		grown := make([]byte, max(end, 2*uint64(len(a.mem)), 4<<10))
		copy(grown, a.mem)
		a.mem = grown
	}
	off := a.top
	a.top += size
	a.used += size + blockOverhead
	a.blocks = append(a.blocks, block{off: off, size: size, n: n})
	return off
}

// find returns the index of the block at off.
func (a *arena) find(off uint64) (int, bool) {
	return slices.BinarySearchFunc(a.blocks, off, func(b block, off uint64) int {
		switch {
		case b.off < off:
			return -1
		case b.off > off:
			return 1
		}
		return 0
	})
}

// free releases the block at off; anything else is ignored, as the
// Extism kernel does.
func (a *arena) free(off uint64) {
	i, ok := a.find(off)
	if !ok || a.blocks[i].free {
		return
	}
	a.blocks[i].free = true
	a.nfree++
	for len(a.blocks) > 0 {
		last := a.blocks[len(a.blocks)-1]
		if !last.free {
			break
		}
		a.blocks = a.blocks[:len(a.blocks)-1]
		a.nfree--
		a.top = last.off
		a.used -= last.size + blockOverhead
	}
}

// length is the length of the live block starting at off, 0 otherwise.
func (a *arena) length(off uint64) uint64 {
	i, ok := a.find(off)
	if !ok || a.blocks[i].free {
		return 0
	}
	return a.blocks[i].n
}

// bytes is the n bytes at off, which must lie inside the blocks.
func (a *arena) bytes(off, n uint64) ([]byte, error) {
	if off < arenaBase || off > a.top || n > a.top-off {
		return nil, fmt.Errorf("%w: %d bytes at %#x (blocks end at %#x)", errOutOfBounds, n, off, a.top)
	}
	return a.mem[off : off+n], nil
}

// read copies out the block at off; 0 is the empty block.
func (a *arena) read(off uint64) ([]byte, error) {
	if off == 0 {
		return nil, nil
	}
	n := a.length(off)
	if n == 0 {
		return nil, fmt.Errorf("%w: %#x", errBadPointer, off)
	}
	return append([]byte(nil), a.mem[off:off+n]...), nil
}

// write copies b into a new block and returns its offset (0 for no bytes).
func (a *arena) write(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	off := a.alloc(uint64(len(b)))
	if off == 0 {
		return 0, fmt.Errorf("alloc %d bytes: the kernel's %d-byte bound is reached", len(b), a.limit)
	}
	copy(a.mem[off:], b)
	return off, nil
}

// reset frees every block; a large arena is given back.
func (a *arena) reset() {
	a.top, a.used, a.nfree = arenaBase, 0, 0
	a.blocks = a.blocks[:0]
	if len(a.mem) > arenaKeepBytes {
		a.mem = nil
	}
}

// nativeKernel is the kernel state of one instance: its arena, the
// input, output and error of the current call, its variables, and what
// it serves config_get and the log functions from.
//
// Threading: used only by the goroutine running the instance's call (one
// call at a time); kernel functions find it in their context, attached
// once per call under nativeKernelKey.
type nativeKernel struct {
	arena
	input, inputLen   uint64
	output, outputLen uint64
	errOff            uint64
	vars              map[string][]byte
	varBytes          int
	config            map[string]string
	log               hclog.Logger
	// killed is set, from any goroutine, when the instance is killed.
	killed atomic.Bool
}

type nativeKernelKey struct{}

// withKernel attaches k to the context of a call into the guest.
func withKernel(ctx context.Context, k *nativeKernel) context.Context {
	return context.WithValue(ctx, nativeKernelKey{}, k)
}

// readBlock and writeBlock make the kernel the blocks of hostFunc.serve.
func (k *nativeKernel) readBlock(_ context.Context, off uint64) ([]byte, error) { return k.read(off) }
func (k *nativeKernel) writeBlock(_ context.Context, b []byte) (uint64, error)  { return k.write(b) }

// kernelFrom returns the kernel of the call of ctx; a call without one is
// a host bug and traps the guest.
func kernelFrom(ctx context.Context) *nativeKernel {
	k, ok := ctx.Value(nativeKernelKey{}).(*nativeKernel)
	if !ok {
		panic(errors.New("extism kernel: no instance in the call context"))
	}
	return k
}

// reset frees every block and clears the input, output and error: the
// start of each call. Variables stay.
func (k *nativeKernel) reset() {
	k.arena.reset()
	k.input, k.inputLen, k.output, k.outputLen, k.errOff = 0, 0, 0, 0, 0
}

// setInput copies input into a block and makes it the call's input.
func (k *nativeKernel) setInput(input []byte) error {
	off, err := k.write(input)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	k.input, k.inputLen = off, uint64(len(input))
	return nil
}

// errorMessage is the error the guest set, "" if none.
func (k *nativeKernel) errorMessage() string {
	if k.errOff == 0 {
		return ""
	}
	n := k.length(k.errOff)
	if n == 0 {
		return ""
	}
	return string(k.mem[k.errOff : k.errOff+n])
}

// outputBytes copies out the output the guest set.
func (k *nativeKernel) outputBytes() ([]byte, error) {
	if k.outputLen == 0 {
		return nil, nil
	}
	b, err := k.bytes(k.output, k.outputLen)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return append([]byte(nil), b...), nil
}

// at is the n bytes at off for a kernel function, trapping the guest
// when they are outside the blocks.
func (k *nativeKernel) at(fn string, off, n uint64) []byte {
	b, err := k.bytes(off, n)
	if err != nil {
		panic(fmt.Errorf("extism kernel %s: %w", fn, err))
	}
	return b
}

// inputAt is the n bytes at index i of the input.
func (k *nativeKernel) inputAt(fn string, i, n uint64) []byte {
	if i > k.inputLen || n > k.inputLen-i {
		panic(fmt.Errorf("extism kernel %s: %w: %d bytes at index %d of a %d-byte input", fn, errOutOfBounds, n, i, k.inputLen))
	}
	return k.mem[k.input+i : k.input+i+n]
}

// mustRead copies out the block at off for a kernel function, trapping
// the guest when off is not a block.
func (k *nativeKernel) mustRead(fn string, off uint64) []byte {
	b, err := k.read(off)
	if err != nil {
		panic(fmt.Errorf("extism kernel %s: %w", fn, err))
	}
	return b
}

// mustWrite copies b into a new block for a kernel function.
func (k *nativeKernel) mustWrite(fn string, b []byte) uint64 {
	off, err := k.write(b)
	if err != nil {
		panic(fmt.Errorf("extism kernel %s: %w", fn, err))
	}
	return off
}

// setVar sets or (value nil) deletes a variable, within maxVarBytes.
func (k *nativeKernel) setVar(name string, value []byte) {
	old, had := k.vars[name]
	if value == nil {
		if had {
			k.varBytes -= len(name) + len(old)
			delete(k.vars, name)
		}
		return
	}
	size := k.varBytes + len(name) + len(value)
	if had {
		size -= len(name) + len(old)
	}
	if size > maxVarBytes {
		panic(fmt.Errorf("extism kernel var_set: %w: %d bytes over the %d-byte bound", errVarsFull, size, maxVarBytes))
	}
	if k.vars == nil {
		k.vars = map[string][]byte{}
	}
	k.vars[name] = value
	k.varBytes = size
}

// logLevel is the logger's level as the Extism kernel numbers it.
func (k *nativeKernel) logLevel() int32 {
	switch k.log.GetLevel() {
	case hclog.NoLevel, hclog.Trace:
		return 0
	case hclog.Debug:
		return 1
	case hclog.Info:
		return 2
	case hclog.Warn:
		return 3
	case hclog.Error:
		return 4
	}
	return math.MaxInt32
}

// logBlock writes the message in the block at off to the plugin's log at
// level and frees the block.
func (k *nativeKernel) logBlock(fn string, level hclog.Level, off uint64) {
	if level >= k.log.GetLevel() {
		msg := k.mustRead(fn, off)
		if len(msg) > maxLogMsg {
			msg = append(msg[:maxLogMsg], "..."...)
		}
		k.log.Log(level, string(msg))
	}
	k.free(off)
}

// kernelFunc is one function of the kernel's import module.
type kernelFunc struct {
	name            string
	params, results []api.ValueType
	fn              func(k *nativeKernel, stack []uint64)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func logFunc(name string, level hclog.Level) kernelFunc {
	return kernelFunc{name, []api.ValueType{i64}, nil, func(k *nativeKernel, s []uint64) { k.logBlock(name, level, s[0]) }}
}

func notPermitted(name string, params, results []api.ValueType) kernelFunc {
	return kernelFunc{name, params, results, func(*nativeKernel, []uint64) {
		panic(fmt.Errorf("extism kernel %s: %w", name, errNotPermitted))
	}}
}

// kernelFuncs are the functions of "extism:host/env", with the Extism
// kernel's names and signatures.
var kernelFuncs = []kernelFunc{
	{"alloc", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.alloc(s[0]) }},
	{"free", []api.ValueType{i64}, nil, func(k *nativeKernel, s []uint64) { k.free(s[0]) }},
	{"length", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.length(s[0]) }},
	{"length_unsafe", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.length(s[0]) }},
	{"load_u8", []api.ValueType{i64}, []api.ValueType{i32}, func(k *nativeKernel, s []uint64) {
		s[0] = uint64(k.at("load_u8", s[0], 1)[0])
	}},
	{"load_u64", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) {
		s[0] = le64(k.at("load_u64", s[0], 8))
	}},
	{"store_u8", []api.ValueType{i64, i32}, nil, func(k *nativeKernel, s []uint64) {
		k.at("store_u8", s[0], 1)[0] = byte(s[1])
	}},
	{"store_u64", []api.ValueType{i64, i64}, nil, func(k *nativeKernel, s []uint64) {
		putLE64(k.at("store_u64", s[0], 8), s[1])
	}},
	{"input_set", []api.ValueType{i64, i64}, nil, func(k *nativeKernel, s []uint64) {
		k.at("input_set", s[0], s[1])
		k.input, k.inputLen = s[0], s[1]
	}},
	{"input_length", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.inputLen }},
	{"input_offset", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.input }},
	{"input_load_u8", []api.ValueType{i64}, []api.ValueType{i32}, func(k *nativeKernel, s []uint64) {
		s[0] = uint64(k.inputAt("input_load_u8", s[0], 1)[0])
	}},
	{"input_load_u64", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) {
		s[0] = le64(k.inputAt("input_load_u64", s[0], 8))
	}},
	{"output_set", []api.ValueType{i64, i64}, nil, func(k *nativeKernel, s []uint64) {
		k.at("output_set", s[0], s[1])
		k.output, k.outputLen = s[0], s[1]
	}},
	{"output_length", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.outputLen }},
	{"output_offset", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.output }},
	{"error_set", []api.ValueType{i64}, nil, func(k *nativeKernel, s []uint64) { k.errOff = s[0] }},
	{"error_get", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.errOff }},
	{"reset", nil, nil, func(k *nativeKernel, _ []uint64) { k.reset() }},
	{"memory_bytes", nil, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) { s[0] = k.top }},
	{"config_get", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) {
		v, ok := k.config[string(k.mustRead("config_get", s[0]))]
		s[0] = 0
		if ok {
			s[0] = k.mustWrite("config_get", []byte(v))
		}
	}},
	{"var_get", []api.ValueType{i64}, []api.ValueType{i64}, func(k *nativeKernel, s []uint64) {
		name := k.mustRead("var_get", s[0])
		k.free(s[0])
		v, ok := k.vars[string(name)]
		s[0] = 0
		if ok {
			s[0] = k.mustWrite("var_get", v)
		}
	}},
	{"var_set", []api.ValueType{i64, i64}, nil, func(k *nativeKernel, s []uint64) {
		name := k.mustRead("var_set", s[0])
		k.free(s[0])
		if s[1] == 0 {
			k.setVar(string(name), nil)
			return
		}
		v := k.mustRead("var_set", s[1])
		k.free(s[1])
		k.setVar(string(name), v)
	}},
	{"get_log_level", nil, []api.ValueType{i32}, func(k *nativeKernel, s []uint64) { s[0] = uint64(uint32(k.logLevel())) }},
	logFunc("log_trace", hclog.Trace),
	logFunc("log_debug", hclog.Debug),
	logFunc("log_info", hclog.Info),
	logFunc("log_warn", hclog.Warn),
	logFunc("log_error", hclog.Error),
	notPermitted("http_request", []api.ValueType{i64, i64}, []api.ValueType{i64}),
	notPermitted("http_status_code", nil, []api.ValueType{i32}),
	notPermitted("http_headers", nil, []api.ValueType{i64}),
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func putLE64(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	b[4], b[5], b[6], b[7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
}

// instantiateKernel defines and instantiates "extism:host/env" in rt.
func instantiateKernel(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(envNamespace)
	for _, f := range kernelFuncs {
		fn := f.fn
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
			fn(kernelFrom(ctx), stack)
		}), f.params, f.results).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate %s: %w", envNamespace, err)
	}
	return nil
}

// instantiateHostFuncs defines and instantiates the granted functions of
// HostNamespace in rt: each reads the block the guest passed, calls the
// function and hands back its answer as a new block padded by padWords.
// A pointer that is not a block traps the guest.
func instantiateHostFuncs(ctx context.Context, rt wazero.Runtime, funcs []hostFunc) error {
	b := rt.NewHostModuleBuilder(pdk.HostNamespace)
	for _, f := range funcs {
		results := []api.ValueType{i64}
		if f.void {
			results = nil
		}
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
			f.serve(ctx, kernelFrom(ctx), stack)
		}), []api.ValueType{i64}, results).Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("instantiate %s: %w", pdk.HostNamespace, err)
	}
	return nil
}
