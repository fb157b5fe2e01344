package wasmbin

import (
	"errors"
	"testing"
)

func TestImports(t *testing.T) {
	good := assemble(t, `(module
  (import "extism:host/user" "kv_get" (func (param i64) (result i64)))
  (import "env" "mem" (memory 1))
  (import "env" "g" (global i32))
  (import "env" "t" (table 1 funcref)))`)
	imps, err := Imports(good)
	want := []Import{
		{"extism:host/user", "kv_get", ImportFunc}, {"env", "mem", ImportMemory},
		{"env", "g", ImportGlobal}, {"env", "t", ImportTable},
	}
	if err != nil || len(imps) != len(want) {
		t.Fatalf("imports = %+v, %v; want %+v", imps, err, want)
	}
	for i := range want {
		if imps[i] != want[i] {
			t.Errorf("import %d = %+v, want %+v", i, imps[i], want[i])
		}
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not wasm", []byte("#!/bin/sh\necho hi\n")},
		{"component version", []byte("\x00asm\x0d\x00\x01\x00")},
		{"section overruns", []byte("\x00asm\x01\x00\x00\x00\x02\x7f")},
		{"truncated import", append([]byte("\x00asm\x01\x00\x00\x00\x02\x05\x01"), 0x10, 'a', 'b', 'c')},
		{"truncated head", good[:len(good)/3]},
		{"bad kind", []byte("\x00asm\x01\x00\x00\x00\x02\x07\x01\x01m\x01n\x09\x00")},
		{"huge count", []byte("\x00asm\x01\x00\x00\x00\x02\x05\xff\xff\xff\xff\x0f")},
		{"long LEB", []byte("\x00asm\x01\x00\x00\x00\x02\xff\xff\xff\xff\xff\xff\x01")},
		{"bytes after the imports", []byte("\x00asm\x01\x00\x00\x00\x02\x02\x00\x00")},
	}
	for _, tc := range tests {
		if _, err := Imports(tc.in); !errors.Is(err, ErrNotWasm) {
			t.Errorf("%s: err = %v, want ErrNotWasm", tc.name, err)
		}
	}
	if imps, err := Imports([]byte("\x00asm\x01\x00\x00\x00")); err != nil || len(imps) != 0 {
		t.Errorf("empty module: %v, %v", imps, err)
	}
}
