// Package checkpoint rewrites a WebAssembly module so that it calls its
// host back at regular intervals while it runs: every loop of every
// function counts down a budget kept in a global of the module, and when
// the budget runs out the loop refills it and calls the imported function
// Module.Name (no parameters, no results). The host's function is where a
// runaway guest is stopped (it traps or panics) and where the Go
// scheduler gets its thread back.
//
// This is what a runtime's "interrupt check at every loop header" does,
// made cheap: a countdown in the guest's own code costs a load, a
// subtraction and a store per iteration, where an exit to the host at
// every iteration costs tens of nanoseconds.
//
// The rewrite appends one function import, so every function defined by
// the module moves up by one index; the rewrite renumbers them wherever
// they appear: calls, ref.func, exports, the start function, element
// segments, global initializers and the name section. It appends one
// type and one mutable i32 global, which move nothing. Every other byte
// is copied as it was.
//
// Supported: the WebAssembly 2.0 core (multi-value, reference types,
// bulk memory, SIMD, sign extension, saturating conversions) plus
// threads, tail calls and multiple memories. A module using another
// proposal (exception handling, typed function references, GC) is
// refused with an error naming the instruction.
//
// Insert is a pure function, safe for concurrent use.
package checkpoint

import (
	"bytes"
	"errors"
	"fmt"
)

// Module and Name are the import the rewritten module calls.
const (
	Module = "switchboard:checkpoint"
	Name   = "check"
)

// ErrReserved is returned for a module that imports from Module itself.
var ErrReserved = errors.New("checkpoint: the module imports from the reserved module " + Module)

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

// rewriter holds what the rewrite of one module needs to know.
type rewriter struct {
	funcImports   uint32 // function imports before the rewrite: the check's index
	globalImports uint32
	globals       uint32 // globals the module defines before the rewrite
	types         uint32
	interval      uint32
	check         []byte // the code inserted at the top of every loop
}

// Insert returns wasm rewritten so that each loop calls Module.Name once
// every interval iterations (counted over all the module's loops).
// interval must be positive and below 2^31.
func Insert(wasm []byte, interval uint32) ([]byte, error) {
	if interval == 0 || interval > 1<<31-1 {
		return nil, fmt.Errorf("checkpoint: interval %d out of range", interval)
	}
	if !bytes.HasPrefix(wasm, header) {
		return nil, errors.New("checkpoint: not a WebAssembly 1.0 binary module")
	}
	secs, err := sections(wasm[len(header):])
	if err != nil {
		return nil, err
	}
	x := &rewriter{interval: interval}
	if err := x.survey(secs); err != nil {
		return nil, err
	}
	x.check = x.checkCode()

	out := append(make([]byte, 0, len(wasm)+len(wasm)/8+64), header...)
	have := map[byte]bool{}
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	// missing emits the sections the rewrite adds to (type, import,
	// global) that the module lacks, before the first section they
	// precede.
	missing := func(before int) {
		for _, id := range []byte{secType, secImport, secGlobal} {
			if !have[id] && rank[id] < before {
				have[id] = true
				body, err := x.section(id, []byte{0})
				if err != nil {
					panic(err) // an empty vector always rewrites
				}
				emit(id, body)
			}
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			missing(rank[s.id])
			have[s.id] = true
		}
		body, err := x.section(s.id, s.body)
		if err != nil {
			return nil, err
		}
		if body != nil {
			emit(s.id, body)
		}
	}
	missing(len(rank) + 1)
	return out, nil
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
			return nil, fmt.Errorf("checkpoint: section %d: %w", id, r.err)
		}
		if id != secCustom {
			k, ok := rank[id]
			if !ok {
				return nil, fmt.Errorf("checkpoint: unknown section id %d", id)
			}
			if k <= last {
				return nil, fmt.Errorf("checkpoint: section %d out of order", id)
			}
			last = k
			if id != secStart && id != secDataCount {
				// Each of the others is one vector: check its count
				// here, whether or not the rewrite reads the section.
				vr := &reader{b: body}
				if vr.count(); vr.err != nil {
					return nil, fmt.Errorf("checkpoint: section %d: %w", id, vr.err)
				}
			}
		}
		secs = append(secs, section{id, body})
	}
	return secs, nil
}

// survey counts what the rewrite appends to: types, function and global
// imports, and defined globals. It also checks the nested vectors of the
// sections the rewrite copies without reading them (types, data), so no
// count in the result is larger than the bytes that follow it.
func (x *rewriter) survey(secs []section) error {
	for _, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secType:
			x.types = r.count()
			for n := x.types; n > 0 && r.err == nil; n-- {
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
			for n := r.count(); n > 0 && r.err == nil; n-- {
				switch flags := r.u32(); flags {
				case 0, 2:
					if flags == 2 {
						r.u32() // memory
					}
					x.constExpr(r, nil)
				case 1:
				default:
					r.fail("data segment flags %d", flags)
				}
				r.name() // the bytes
			}
		case secGlobal:
			x.globals = r.count()
		case secImport:
			for n := r.count(); n > 0 && r.err == nil; n-- {
				mod, _ := r.name(), r.name()
				if string(mod) == Module {
					return ErrReserved
				}
				switch kind := r.byte(); kind {
				case 0x00: // function
					r.u32()
					x.funcImports++
				case 0x01: // table
					r.refType()
					r.limits()
				case 0x02: // memory
					r.limits()
				case 0x03: // global
					r.valType()
					r.byte()
					x.globalImports++
				case 0x04: // tag
					r.byte()
					r.u32()
				default:
					r.fail("import kind 0x%02x", kind)
				}
			}
		}
		if (s.id == secType || s.id == secImport || s.id == secData) && r.err == nil && r.more() {
			r.fail("%d bytes after the section's contents", len(r.b)-r.off)
		}
		if r.err != nil {
			return fmt.Errorf("checkpoint: section %d: %w", s.id, r.err)
		}
	}
	return nil
}

// fn maps a function index of the module to its index after the rewrite.
func (x *rewriter) fn(i uint32) uint32 {
	if i < x.funcImports {
		return i
	}
	return i + 1
}

// checkCode is the countdown put at the top of each loop:
//
//	global.get $budget
//	i32.eqz
//	if
//	  i32.const interval
//	  global.set $budget
//	  call $check
//	end
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
func (x *rewriter) checkCode() []byte {
	g := x.globalImports + x.globals
	var c []byte
	c = appendU32(append(c, 0x23), g)
	c = append(c, 0x45, 0x04, 0x40)
	c = appendS32(append(c, 0x41), int32(x.interval))
	c = appendU32(append(c, 0x24), g)
	c = appendU32(append(c, 0x10), x.funcImports)
	c = append(c, 0x0B)
	c = appendU32(append(c, 0x23), g)
	c = append(c, 0x41, 0x01, 0x6B)
	return appendU32(append(c, 0x24), g)
}

// section returns the rewritten body of a section (nil to drop it).
func (x *rewriter) section(id byte, body []byte) ([]byte, error) {
	r := &reader{b: body}
	var out []byte
	switch id {
	case secType:
		n := r.count()
		out = appendU32(out, n+1)
		out = append(out, r.rest()...)
		out = append(out, 0x60, 0x00, 0x00) // func [] -> []
	case secImport:
		n := r.count()
		out = appendU32(out, n+1)
		out = append(out, r.rest()...)
		out = appendName(out, Module)
		out = appendName(out, Name)
		out = appendU32(append(out, 0x00), x.types)
	case secTable:
		out = x.tables(r)
	case secGlobal:
		out = x.globalSection(r)
	case secExport:
		out = x.exports(r)
	case secStart:
		out = appendU32(out, x.fn(r.u32()))
	case secElement:
		out = x.elements(r)
	case secCode:
		out = x.code(r)
	case secCustom:
		if bytes.Equal(r.name(), []byte("name")) && r.err == nil {
			return x.names(body, r), nil
		}
		return body, nil
	default:
		return body, nil
	}
	if r.err == nil && r.more() {
		r.fail("%d bytes after the section's contents", len(r.b)-r.off)
	}
	if r.err != nil {
		return nil, fmt.Errorf("checkpoint: section %d: %w", id, r.err)
	}
	return out, nil
}

// tables copies the table section; a table with an initializer
// expression (typed function references) is refused.
func (x *rewriter) tables(r *reader) []byte {
	start := r.off
	for n := r.count(); n > 0 && r.err == nil; n-- {
		if r.peek() == 0x40 {
			r.fail("table initializer expressions are not supported")
			break
		}
		r.refType()
		r.limits()
	}
	return r.b[start:r.off]
}

// globalSection renumbers functions in the initializers and appends the
// budget.
func (x *rewriter) globalSection(r *reader) []byte {
	n := r.count()
	out := appendU32(nil, n+1)
	for ; n > 0 && r.err == nil; n-- {
		start := r.off
		r.valType()
		r.byte() // mutability
		out = append(out, r.b[start:r.off]...)
		out = x.constExpr(r, out)
	}
	out = append(out, 0x7F, 0x01, 0x41) // mut i32 = i32.const interval
	out = appendS32(out, int32(x.interval))
	return append(out, 0x0B)
}

func (x *rewriter) exports(r *reader) []byte {
	n := r.count()
	out := appendU32(nil, n)
	for ; n > 0 && r.err == nil; n-- {
		out = appendName(out, string(r.name()))
		kind := r.byte()
		idx := r.u32()
		if kind == 0x00 {
			idx = x.fn(idx)
		}
		out = appendU32(append(out, kind), idx)
	}
	return out
}

// elements renumbers the functions of each element segment; the flags'
// bit 0 marks passive or declarative segments, bit 1 an explicit table
// (or, when passive, declarative) and bit 2 expressions instead of
// function indices.
func (x *rewriter) elements(r *reader) []byte {
	n := r.count()
	out := appendU32(nil, n)
	for ; n > 0 && r.err == nil; n-- {
		flags := r.u32()
		if flags > 7 {
			r.fail("element segment flags %d", flags)
			break
		}
		out = appendU32(out, flags)
		active := flags&1 == 0
		if active && flags&2 != 0 {
			out = appendU32(out, r.u32()) // table index
		}
		if active {
			out = x.constExpr(r, out) // offset
		}
		if flags&3 != 0 { // elemkind or reftype
			out = append(out, r.byte())
		}
		count := r.count()
		out = appendU32(out, count)
		for ; count > 0 && r.err == nil; count-- {
			if flags&4 != 0 {
				out = x.constExpr(r, out)
			} else {
				out = appendU32(out, x.fn(r.u32()))
			}
		}
	}
	return out
}

// code rewrites every function body.
func (x *rewriter) code(r *reader) []byte {
	n := r.count()
	out := appendU32(nil, n)
	var body []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		fr := &reader{b: r.bytes(int(size))}
		if r.err != nil {
			break
		}
		body = body[:0]
		start := fr.off
		for locals := fr.count(); locals > 0 && fr.err == nil; locals-- {
			fr.u32()
			fr.valType()
		}
		body = append(body, fr.b[start:fr.off]...)
		body = x.instrs(fr, body, false)
		if fr.err != nil {
			r.fail("function %d: %w", x.funcImports+i, fr.err)
			break
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}

// constExpr copies a constant expression, up to and including its end.
func (x *rewriter) constExpr(r *reader, out []byte) []byte {
	return x.instrs(r, out, true)
}

// names renumbers the function entries of the name section: function
// names (subsection 1), local names (2) and label names (3). Module (0)
// and other index names (4-9) are checked and copied; other subsections
// are dropped. A name section that does not parse is dropped whole (it
// is only debug information; wazero reads past a malformed one).
func (x *rewriter) names(body []byte, r *reader) []byte {
	out := append([]byte(nil), body[:r.off]...)
	same := func(i uint32) uint32 { return i }
	for r.more() && r.err == nil {
		id := r.byte()
		sub := &reader{b: r.bytes(int(r.u32()))}
		var s []byte
		switch {
		case id == 0:
			s = appendName(s, string(sub.name()))
		case id == 1:
			s = nameMap(sub, s, x.fn, false)
		case id == 2 || id == 3:
			s = nameMap(sub, s, x.fn, true)
		case id <= 9:
			s = nameMap(sub, s, same, false)
		default:
			continue
		}
		if sub.err != nil || sub.more() {
			return nil
		}
		out = appendU32(append(out, id), uint32(len(s)))
		out = append(out, s...)
	}
	if r.err != nil {
		return nil
	}
	return out
}

// nameMap copies a name map (or, when indirect, a map of name maps) with
// its outer indices mapped through idx.
func nameMap(r *reader, out []byte, idx func(uint32) uint32, indirect bool) []byte {
	n := r.count()
	out = appendU32(out, n)
	for ; n > 0 && r.err == nil; n-- {
		out = appendU32(out, idx(r.u32()))
		if !indirect {
			out = appendName(out, string(r.name()))
			continue
		}
		start := r.off
		for m := r.count(); m > 0 && r.err == nil; m-- {
			r.u32()
			r.name()
		}
		out = append(out, r.b[start:r.off]...)
	}
	return out
}
