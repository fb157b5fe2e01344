// Package wasmbin reads and rewrites WebAssembly binary modules without
// compiling them: the imports a module declares (Imports), so a module
// can be refused before any code is generated, and the checkpoints the
// host's engine needs to stop a runaway guest cheaply
// (InsertCheckpoints).
//
// Both check every vector count they read against the bytes left (a
// runtime's decoder may allocate by them before finding the bytes
// missing), and InsertCheckpoints checks the framing of every section.
//
// Supported: the WebAssembly 2.0 core (multi-value, reference types,
// bulk memory, SIMD, sign extension, saturating conversions) plus
// threads, tail calls and multiple memories. Exception handling, typed
// function references and GC are not.
//
// Every function is pure and safe for concurrent use.
package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNotWasm is input that is not a well-formed WebAssembly binary module.
var ErrNotWasm = errors.New("not a WebAssembly binary module")

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secTable     = 4
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// rank orders the known sections as the binary format requires.
var rank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

type section struct {
	id   byte
	body []byte
}

// parse checks the header and splits the sections; its errors wrap
// ErrNotWasm.
func parse(wasm []byte) ([]section, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, ErrNotWasm
	}
	if !bytes.Equal(wasm[:8], header) {
		return nil, fmt.Errorf("%w: unsupported version % x (components are not supported)", ErrNotWasm, wasm[4:8])
	}
	secs, err := sections(wasm[8:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotWasm, err)
	}
	return secs, nil
}

// sections splits a module's sections, checking their framing and order.
func sections(b []byte) ([]section, error) {
	var secs []section
	last := 0
	r := &reader{b: b}
	for r.more() {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		if id != secCustom {
			k, ok := rank[id]
			if !ok {
				return nil, fmt.Errorf("unknown section id %d", id)
			}
			if k <= last {
				return nil, fmt.Errorf("section %d out of order", id)
			}
			last = k
			if err := checkVectors(id, body); err != nil {
				return nil, fmt.Errorf("section %d: %w", id, err)
			}
		}
		secs = append(secs, section{id, body})
	}
	return secs, nil
}

// checkVectors checks the count of the vector a known section is, whether
// or not InsertCheckpoints reads the section, and the vectors inside the
// type and data sections, which it copies without reading: no count in a
// module either function accepts is larger than the bytes that follow it.
func checkVectors(id byte, body []byte) error {
	if id == secStart || id == secDataCount { // an index, a count: no vector
		return nil
	}
	r := &reader{b: body}
	n := r.count()
	switch id {
	case secType:
		for ; n > 0 && r.err == nil; n-- {
			if form := r.byte(); form != 0x60 {
				r.fail("type form 0x%02x: only function types are supported", form)
			}
			for range 2 { // parameters, results
				for m := r.count(); m > 0 && r.err == nil; m-- {
					r.valType()
				}
			}
		}
	case secData:
		var x rewriter
		var expr []byte // reused: only the reading counts
		for ; n > 0 && r.err == nil; n-- {
			switch flags := r.u32(); flags {
			case 0, 2:
				if flags == 2 {
					r.u32() // memory
				}
				expr = x.constExpr(r, expr[:0]) // offset
			case 1:
			default:
				r.fail("data segment flags %d", flags)
			}
			r.name() // the bytes
		}
	default:
		return r.err
	}
	if r.err == nil && r.more() {
		r.fail("%d bytes after the section's contents", len(r.b)-r.off)
	}
	return r.err
}
