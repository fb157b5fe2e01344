package wasmhost

import (
	"errors"
	"fmt"
)

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name string
	kind         byte // 0 func, 1 table, 2 memory, 3 global, 4 tag
}

// errNotWasm is input that is not a WebAssembly binary module.
var errNotWasm = errors.New("not a WebAssembly binary module")

// moduleImports reads the import section of a WebAssembly binary without
// compiling it, so a module can be refused before any code is generated.
func moduleImports(b []byte) ([]wasmImport, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errNotWasm
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return nil, fmt.Errorf("%w: unsupported version % x (components are not supported)", errNotWasm, b[4:8])
	}
	r := &reader{b: b, off: 8}
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		if size > uint32(len(r.b)-r.off) {
			return nil, fmt.Errorf("%w: section %d overruns the file", errNotWasm, id)
		}
		if id != 2 {
			r.off += int(size)
			continue
		}
		sec := &reader{b: r.b[:r.off+int(size)], off: r.off}
		imps := sec.imports()
		if sec.err != nil {
			return nil, fmt.Errorf("%w: import section: %v", errNotWasm, sec.err)
		}
		return imps, nil
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWasm, r.err)
	}
	return nil, nil
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("truncated")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= bits+7 {
			r.err = errors.New("LEB128 too long")
			return 0
		}
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if int(n) > len(r.b)-r.off {
		r.err = errTruncated
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

func (r *reader) limits() {
	flags := r.byte()
	r.uleb(64)
	if flags&1 != 0 {
		r.uleb(64)
	}
}

func (r *reader) imports() []wasmImport {
	n := r.u32()
	if r.err == nil && int(n) > len(r.b)-r.off {
		r.err = fmt.Errorf("%d imports in a %d-byte section", n, len(r.b)-r.off)
	}
	var out []wasmImport
	for i := uint32(0); i < n && r.err == nil; i++ {
		imp := wasmImport{module: r.name(), name: r.name(), kind: r.byte()}
		switch imp.kind {
		case 0: // function: type index
			r.u32()
		case 1: // table: reference type, limits
			r.byte()
			r.limits()
		case 2: // memory: limits
			r.limits()
		case 3: // global: value type, mutability
			r.byte()
			r.byte()
		case 4: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.err = fmt.Errorf("import %s.%s: unknown kind %d", imp.module, imp.name, imp.kind)
		}
		out = append(out, imp)
	}
	return out
}
