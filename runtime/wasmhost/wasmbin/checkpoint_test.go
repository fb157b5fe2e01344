package wasmbin

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// assemble turns WAT text into a binary module with wat2wasm (with the
// debug names, so the name section is rewritten too).
func assemble(t testing.TB, wat string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(src, []byte(wat), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("wat2wasm", "--debug-names", "-o", bin, src).CombinedOutput()
	if err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// features is a module that uses every place a function index can hide:
// calls, call_indirect through an active segment, ref.func in a global
// and in an expression segment, exports, the start function and names;
// it imports a function (which keeps its index) and a global (which the
// budget's index must count).
const features = `(module
  (import "env" "tick" (func $tick (param i32)))
  (import "env" "base" (global $base i32))
  (type $unary (func (param i32) (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $double $square)
  (elem funcref (ref.func $square))
  (global $started (mut i32) (i32.const 0))
  (global $ref funcref (ref.func $double))
  (func $double (type $unary) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $unary) (i32.mul (local.get 0) (local.get 0)))
  (func $init (global.set $started (i32.const 1)))
  (start $init)
  ;; sum of 0..n-1 through a loop with a block parameter
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  ;; two nested loops: n*n inner iterations
  (func (export "nested") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $c i32)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $c))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (type $unary) (local.get 1) (local.get 0)))
  (func (export "direct") (param i32) (result i32)
    (call $tick (local.get 0))
    (i32.add (call $square (local.get 0)) (global.get $base)))
  (func (export "started") (result i32) (global.get $started))
  (func (export "viaref") (param i32) (result i32)
    (table.set 0 (i32.const 3) (global.get $ref))
    (call_indirect (type $unary) (local.get 0) (i32.const 3)))
  (func $boom (export "boom") unreachable)
  (func (export "multi") (param i32) (result i32 i32)
    (local.get 0)
    (loop $l (param i32) (result i32 i32)
      (i32.const 7)))
)`

// host instantiates env and the check function, which counts its calls
// and runs stop (when set) to decide whether to stop the guest.
type host struct {
	rt     wazero.Runtime
	checks atomic.Int64
	ticks  atomic.Int64
	stop   func(n int64) bool
}

var errStopped = errors.New("stopped by the host")

func newHost(t testing.TB) *host {
	t.Helper()
	ctx := context.Background()
	h := &host{rt: wazero.NewRuntime(ctx)}
	t.Cleanup(func() { _ = h.rt.Close(ctx) })
	_, err := h.rt.NewHostModuleBuilder(CheckModule).NewFunctionBuilder().
		WithFunc(func(context.Context) {
			if n := h.checks.Add(1); h.stop != nil && h.stop(n) {
				panic(errStopped)
			}
		}).Export(CheckName).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env := h.rt.NewHostModuleBuilder("env")
	env.NewFunctionBuilder().WithFunc(func(context.Context, int32) { h.ticks.Add(1) }).Export("tick")
	if _, err := env.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

// instantiate compiles wasm after exporting the global env.base = 100
// from a module of its own (host modules cannot export globals).
func (h *host) instantiate(t testing.TB, wasm []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	if h.rt.Module("env-globals") == nil {
		g := assemble(t, `(module (global (export "base") i32 (i32.const 100)))`)
		if _, err := h.rt.InstantiateWithConfig(ctx, g, wazero.NewModuleConfig().WithName("env-globals")); err != nil {
			t.Fatal(err)
		}
	}
	m, err := h.rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	return m
}

func call(t *testing.T, m api.Module, fn string, args ...uint64) []uint64 {
	t.Helper()
	res, err := m.ExportedFunction(fn).Call(context.Background(), args...)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return res
}

func TestRewrittenModuleBehavesTheSame(t *testing.T) {
	wasm := assemble(t, strings.ReplaceAll(features, `"env" "base"`, `"env-globals" "base"`))
	out, err := InsertCheckpoints(wasm, 10)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t)
	m := h.instantiate(t, out)

	if got := call(t, m, "started"); got[0] != 1 {
		t.Errorf("start function did not run: started = %d", got[0])
	}
	if got := call(t, m, "sum", 1000); got[0] != 499500 {
		t.Errorf("sum(1000) = %d, want 499500", got[0])
	}
	if got := call(t, m, "indirect", 0, 7); got[0] != 14 {
		t.Errorf("table[0](7) = %d, want double = 14", got[0])
	}
	if got := call(t, m, "indirect", 1, 7); got[0] != 49 {
		t.Errorf("table[1](7) = %d, want square = 49", got[0])
	}
	if got := call(t, m, "direct", 5); got[0] != 125 || h.ticks.Load() != 1 {
		t.Errorf("direct(5) = %d with %d ticks, want 125 and 1 call of the import", got[0], h.ticks.Load())
	}
	if got := call(t, m, "viaref", 6); got[0] != 12 {
		t.Errorf("ref.func global(6) = %d, want double = 12", got[0])
	}
	if got := call(t, m, "multi", 3); got[0] != 3 || got[1] != 7 {
		t.Errorf("multi(3) = %v, want [3 7]", got)
	}
	_, err = m.ExportedFunction("boom").Call(context.Background())
	if err == nil || !strings.Contains(err.Error(), "$boom") && !strings.Contains(err.Error(), "boom") {
		t.Errorf("trap error %v does not name the function (name section lost)", err)
	}
	if names := m.ExportedFunction("boom").Definition().DebugName(); !strings.HasSuffix(names, "$boom") && !strings.HasSuffix(names, ".boom") {
		t.Errorf("boom's debug name is %q, want the name section's $boom", names)
	}
}

func TestCheckIsCalledEveryIntervalIterations(t *testing.T) {
	wasm := assemble(t, strings.ReplaceAll(features, `"env" "base"`, `"env-globals" "base"`))
	for _, interval := range []uint32{1, 7, 1000} {
		out, err := InsertCheckpoints(wasm, interval)
		if err != nil {
			t.Fatal(err)
		}
		h := newHost(t)
		m := h.instantiate(t, out)
		before := h.checks.Load()
		// sum(n) enters its loop header n+1 times; nested(n) n + n*n.
		// The budget starts full: the first check is at header interval+1.
		call(t, m, "sum", 9999)
		call(t, m, "nested", 100)
		headers := int64(10000 + 100 + 100*100)
		if got, want := h.checks.Load()-before, (headers-1)/int64(interval); got != want {
			t.Errorf("interval %d: %d checks for %d loop iterations, want %d", interval, got, headers, want)
		}
	}
}

func TestRunawayLoopIsStopped(t *testing.T) {
	wasm := assemble(t, `(module (func (export "spin") (loop $l (br $l))))`)
	out, err := InsertCheckpoints(wasm, 1024)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t)
	h.stop = func(n int64) bool { return n == 50 }
	m := h.instantiate(t, out)
	_, err = m.ExportedFunction("spin").Call(context.Background())
	if !errors.Is(err, errStopped) {
		t.Fatalf("spin: err = %v, want the check's panic", err)
	}
	if n := h.checks.Load(); n != 50 {
		t.Errorf("%d checks, want 50", n)
	}
}

func TestModuleWithoutImportsOrGlobals(t *testing.T) {
	// No type, import or global section at all: the rewrite creates them.
	wasm := assemble(t, `(module (memory 1) (func $f (loop $l (br_if $l (i32.const 0)))) (export "f" (func $f)))`)
	noTypes := assemble(t, `(module (memory (export "mem") 1))`)
	for _, w := range [][]byte{wasm, noTypes} {
		out, err := InsertCheckpoints(w, 3)
		if err != nil {
			t.Fatal(err)
		}
		h := newHost(t)
		m := h.instantiate(t, out)
		if f := m.ExportedFunction("f"); f != nil {
			if _, err := f.Call(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	valid := assemble(t, `(module (func (export "f")))`)
	reserved := assemble(t, `(module (import "switchboard:checkpoint" "check" (func)))`)
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"empty", nil, "not a WebAssembly"},
		{"text", []byte("(module)"), "not a WebAssembly"},
		{"truncated", valid[:len(valid)-3], "unexpected end"},
		{"section past the end", append(append([]byte{}, valid[:8]...), 1, 50, 0), "unexpected end"},
		{"unknown section", append(append([]byte{}, valid[:8]...), 99, 0), "unknown section"},
		{"out of order", append(append([]byte{}, valid[:8]...), 3, 1, 0, 1, 1, 0), "out of order"},
		{"overlong integer", append(append([]byte{}, valid[:8]...), 1, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01), "too large"},
		// a body with the exception-handling instruction throw (0x08)
		{"unsupported instruction", append(append([]byte{}, valid[:8]...),
			1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 6, 1, 4, 0, 0x08, 0, 0x0B), "unsupported instruction 0x08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := InsertCheckpoints(tc.wasm, 100)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := InsertCheckpoints(reserved, 100); !errors.Is(err, ErrReserved) {
		t.Errorf("a module importing from %s: err = %v, want ErrReserved", CheckModule, err)
	}
	if _, err := InsertCheckpoints(valid, 0); err == nil {
		t.Error("interval 0 accepted")
	}
}

// FuzzInsert: no input panics the rewrite, and every module wazero
// accepts is still accepted once rewritten.
func FuzzInsert(f *testing.F) {
	f.Add(assemble(f, features))
	f.Add(assemble(f, `(module (func (export "spin") (loop $l (br $l))))`))
	f.Add(assemble(f, `(module (memory 1) (data (i32.const 0) "hi") (func (result v128) (v128.const i32x4 1 2 3 4)))`))
	// Found by fuzzing: a malformed name section (wazero read past it
	// into the sections the rewrite appended), and vectors whose counts
	// wazero's decoder would have allocated for (gigabytes) before
	// finding the bytes missing: a function type's parameters behind a
	// type section of zero entries, and an import count.
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\n\x04name\x00\x01\x020\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x1d\x00`\x8a\x8a\x8a\x8a\x0f000\x17000000000000000000"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x01\x1d\x13`\x8a\x8a\x8a\x8a\x0f0000000000000000000000"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x18\xb2\xb2\xb2\x7f\x03@A\x00!\x02\x03@ \x03A\x01j!\x03 \x02A\x01"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, wasm []byte) {
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		// Only what the rewrite accepts reaches wazero (whose decoder
		// sizes allocations by the counts it reads, so an unchecked
		// count can exhaust the host's memory).
		out, err := InsertCheckpoints(wasm, 16)
		if err != nil {
			return
		}
		cm, err := rt.CompileModule(ctx, out)
		if err == nil {
			_ = cm.Close(ctx)
			return
		}
		if orig, oerr := rt.CompileModule(ctx, wasm); oerr == nil {
			_ = orig.Close(ctx)
			t.Fatalf("a valid module no longer compiles after the rewrite: %v", err)
		}
	})
}

// BenchmarkLoop is the cost of one loop iteration (sum(n) of the features
// module, n = 10000) three ways: without any check (a guest that cannot
// be stopped), with wazero's close-on-context-done (an exit to Go at
// every iteration), and with checkpoints every 1024 iterations.
func BenchmarkLoop(b *testing.B) {
	ctx := context.Background()
	wasm := assemble(b, strings.ReplaceAll(features, `"env" "base"`, `"env-globals" "base"`))
	rewritten, err := InsertCheckpoints(wasm, 1024)
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name  string
		wasm  []byte
		close bool
	}{
		{"unchecked", wasm, false},
		{"close-on-context-done", wasm, true},
		{"checkpoints", rewritten, false},
	}
	const n = 10000
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := newHost(b)
			if c.close {
				_ = h.rt.Close(ctx)
				h.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
				if _, err := h.rt.NewHostModuleBuilder("env").NewFunctionBuilder().
					WithFunc(func(context.Context, int32) {}).Export("tick").Instantiate(ctx); err != nil {
					b.Fatal(err)
				}
			}
			m := h.instantiate(b, c.wasm)
			f := m.ExportedFunction("sum")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.Call(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iteration")
		})
	}
}
