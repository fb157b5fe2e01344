package wasmhost

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// TestKernelConformance runs testdata/kernel.wat on each engine: the
// native kernel must answer what the Extism runtime answers.
func TestKernelConformance(t *testing.T) {
	t.Parallel()
	wasm, err := os.ReadFile(wat(t, "kernel"))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		what string
		v    uint64
	}{
		{"length(0)", 0},
		{"length of a 13-byte block", 13},
		{"length inside a block", 0},
		{"load_u64 after store_u64", 0x1122334455667788},
		{"load_u8 after store_u8", 0xab},
		{"input_length", 16},
		{"input_load_u8(0)", 'h'},
		{"input_load_u64(8)", binary.LittleEndian.Uint64([]byte("ernel!!!"))},
		{"length of config k", 1},
		{"first byte of config k", 'v'},
		{"config_get of a missing key", 0},
		{"length of var x after var_set", 2},
		{"error_get without an error", 0},
		{"alloc(0)", 0},
	}
	forEngines(t, "", func(t *testing.T, eng engine) {
		t.Parallel()
		cm, err := eng.compile(ctxT(t), wasm, compileConfig{maxPages: 16, config: map[string]string{"k": "v"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cm.close(ctxT(t)) })
		mi, err := cm.instance(ctxT(t), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mi.close(ctxT(t)) })
		// Twice: the second call starts from a reset kernel.
		for call := 0; call < 2; call++ {
			out, err := mi.call(ctxT(t), entryExport, []byte("hello, kernel!!!"))
			if err != nil {
				t.Fatalf("call %d: %v", call, err)
			}
			if len(out) != 8*len(want) {
				t.Fatalf("call %d: %d bytes of output, want %d", call, len(out), 8*len(want))
			}
			for i, w := range want {
				if got := binary.LittleEndian.Uint64(out[8*i:]); got != w.v {
					t.Errorf("call %d: %s = %#x, want %#x", call, w.what, got, w.v)
				}
			}
		}
	})
}

// TestKernelTraps checks what the native kernel says when it stops a
// guest, and that the instance is not reported as reusable.
func TestKernelTraps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want []string
	}{
		{"kernelbadptr", []string{"extism kernel load_u64", "outside the kernel's memory blocks"}},
		{"badptr", []string{"host function log", "pointer is not a block allocated by the guest", "0xfffffff0"}},
		{"http", []string{"extism kernel http_request", "not permitted"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(wat(t, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			funcs := []hostFunc{{name: "log", void: true, fn: (&handler{log: hclog.NewNullLogger()}).hostLog}}
			cm, err := nativeEngine{}.compile(ctxT(t), wasm, compileConfig{maxPages: 16, funcs: funcs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cm.close(ctxT(t)) })
			mi, err := cm.instance(ctxT(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = mi.close(ctxT(t)) })
			_, err = mi.call(ctxT(t), entryExport, nil)
			var ge *guestError
			if err == nil || errors.As(err, &ge) {
				t.Fatalf("err = %v, want a trap", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// arenaOp is one step of an arena table test: alloc n (want: the offset,
// or 0/non-zero), free or length of the block of step ref.
type arenaOp struct {
	op      string // "alloc", "free", "length"
	n       uint64 // alloc: size
	ref     int    // free, length: index of the alloc step
	want    uint64 // alloc: 0 when refused, 1 for any block; length: its value
	wantOff int    // alloc: when >= 0, the block must be at the offset step wantOff got
}

func TestArena(t *testing.T) {
	t.Parallel()
	alloc := func(n, want uint64) arenaOp { return arenaOp{op: "alloc", n: n, want: want, wantOff: -1} }
	tests := []struct {
		name  string
		limit uint64
		ops   []arenaOp
	}{
		{"lengths", 1 << 20, []arenaOp{
			alloc(5, 1), alloc(0, 0), alloc(8, 1),
			{op: "length", ref: 0, want: 5}, {op: "length", ref: 2, want: 8},
		}},
		{"a freed block is no block", 1 << 20, []arenaOp{
			alloc(5, 1), alloc(5, 1), {op: "free", ref: 0}, {op: "length", ref: 0, want: 0}, {op: "length", ref: 1, want: 5},
		}},
		{"a freed block is reused by what fits", 1 << 20, []arenaOp{
			alloc(64, 1), alloc(8, 1), {op: "free", ref: 0},
			{op: "alloc", n: 100, want: 1, wantOff: -1}, {op: "alloc", n: 60, want: 1, wantOff: 0},
			{op: "length", ref: 4, want: 60},
		}},
		{"freeing the top gives its bytes back", 1 << 20, []arenaOp{
			alloc(16, 1), alloc(16, 1), {op: "free", ref: 1}, {op: "alloc", n: 16, want: 1, wantOff: 1},
		}},
		{"the bound refuses", 1024, []arenaOp{
			alloc(2048, 0), alloc(900, 1), alloc(200, 0), {op: "free", ref: 1}, alloc(900, 1),
		}},
		{"tiny blocks are bounded by their bookkeeping", 40 * 3, []arenaOp{
			alloc(1, 1), alloc(1, 1), alloc(1, 1), alloc(1, 0),
		}},
		{"a huge request is refused", 1 << 20, []arenaOp{alloc(math.MaxUint64, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &arena{limit: tc.limit}
			a.reset()
			offs := make([]uint64, len(tc.ops))
			for i, op := range tc.ops {
				switch op.op {
				case "alloc":
					offs[i] = a.alloc(op.n)
					if (offs[i] != 0) != (op.want != 0) {
						t.Fatalf("step %d: alloc(%d) = %#x, want a block: %v", i, op.n, offs[i], op.want != 0)
					}
					if offs[i] != 0 && offs[i] < arenaBase {
						t.Fatalf("step %d: alloc(%d) = %#x, below the base", i, op.n, offs[i])
					}
					if op.wantOff >= 0 && offs[i] != offs[op.wantOff] {
						t.Errorf("step %d: alloc(%d) = %#x, want the block of step %d at %#x", i, op.n, offs[i], op.wantOff, offs[op.wantOff])
					}
				case "free":
					a.free(offs[op.ref])
				case "length":
					if got := a.length(offs[op.ref]); got != op.want {
						t.Errorf("step %d: length of step %d's block = %d, want %d", i, op.ref, got, op.want)
					}
				}
			}
			if a.used > a.limit {
				t.Errorf("used %d bytes over the %d-byte bound", a.used, a.limit)
			}
		})
	}
}

func TestArenaBounds(t *testing.T) {
	t.Parallel()
	a := &arena{limit: 1 << 20}
	a.reset()
	p := a.alloc(16)
	tests := []struct {
		name   string
		off, n uint64
		ok     bool
	}{
		{"the block", p, 16, true},
		{"its last byte", p + 15, 1, true},
		{"past the end", p + 9, 8, false},
		{"offset 0", 0, 1, false},
		{"wrapping around", p, math.MaxUint64, false},
		{"far away", 1 << 40, 8, false},
	}
	for _, tc := range tests {
		_, err := a.bytes(tc.off, tc.n)
		if (err == nil) != tc.ok {
			t.Errorf("%s: bytes(%#x, %d) err = %v, want ok %v", tc.name, tc.off, tc.n, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errOutOfBounds) {
			t.Errorf("%s: err = %v, want errOutOfBounds", tc.name, err)
		}
	}
	if _, err := a.read(p + 1); !errors.Is(err, errBadPointer) {
		t.Errorf("read inside a block: %v, want errBadPointer", err)
	}
}

func TestKernelVars(t *testing.T) {
	t.Parallel()
	k := &nativeKernel{}
	k.setVar("a", []byte("1"))
	k.setVar("a", []byte("22"))
	k.setVar("b", []byte("3"))
	if string(k.vars["a"]) != "22" || k.varBytes != len("a22b3") {
		t.Fatalf("vars %q, %d bytes", k.vars, k.varBytes)
	}
	k.setVar("a", nil)
	if _, ok := k.vars["a"]; ok || k.varBytes != len("b3") {
		t.Fatalf("after delete: vars %q, %d bytes", k.vars, k.varBytes)
	}
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, errVarsFull) {
			t.Errorf("recovered %v, want errVarsFull", err)
		}
		if _, ok := k.vars["big"]; ok {
			t.Errorf("a variable over the bound was kept")
		}
	}()
	k.setVar("big", make([]byte, maxVarBytes))
}

func TestKernelLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level     hclog.Level
		wantLevel int32
		logged    []string
	}{
		{hclog.Trace, 0, []string{"t", "d", "i", "w", "e"}},
		{hclog.Info, 2, []string{"i", "w", "e"}},
		{hclog.Error, 4, []string{"e"}},
		{hclog.Off, math.MaxInt32, nil},
	}
	for _, tc := range tests {
		var buf syncBuffer
		k := &nativeKernel{log: hclog.New(&hclog.LoggerOptions{Output: &buf, Level: tc.level})}
		k.limit = 1 << 20
		k.reset()
		if got := k.logLevel(); got != tc.wantLevel {
			t.Errorf("%v: get_log_level = %d, want %d", tc.level, got, tc.wantLevel)
		}
		for _, m := range []struct {
			level hclog.Level
			msg   string
		}{{hclog.Trace, "t"}, {hclog.Debug, "d"}, {hclog.Info, "i"}, {hclog.Warn, "w"}, {hclog.Error, "e"}} {
			off, err := k.write([]byte("msg-" + m.msg))
			if err != nil {
				t.Fatal(err)
			}
			k.logBlock("log", m.level, off)
			if k.length(off) != 0 {
				t.Errorf("%v: the message block was not freed", tc.level)
			}
		}
		got := buf.String()
		if n := strings.Count(got, "msg-"); n != len(tc.logged) {
			t.Errorf("%v: %d lines logged, want %d:\n%s", tc.level, n, len(tc.logged), got)
		}
		for _, m := range tc.logged {
			if !strings.Contains(got, "msg-"+m) {
				t.Errorf("%v: %q not logged:\n%s", tc.level, m, got)
			}
		}
	}
}
