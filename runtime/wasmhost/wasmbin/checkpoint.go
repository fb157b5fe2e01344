package wasmbin

import (
	"bytes"
	"errors"
	"fmt"
)

// CheckModule and CheckName are the import a module rewritten by
// InsertCheckpoints calls at its checkpoints.
const (
	CheckModule = "switchboard:checkpoint"
	CheckName   = "check"
)

// ErrReserved is returned for a module that imports from CheckModule itself.
var ErrReserved = errors.New("the module imports from the reserved module " + CheckModule)

// rewriter holds what the rewrite of one module needs to know.
type rewriter struct {
	funcImports   uint32 // function imports before the rewrite: the check's index
	globalImports uint32
	globals       uint32 // globals the module defines before the rewrite
	types         uint32
	interval      uint32
	check         []byte // the code inserted at the top of every loop
}

// InsertCheckpoints returns wasm rewritten so that its loops call its
// host back: every loop of every function counts down a budget kept in a
// global of the module, and when the budget runs out the loop refills it
// and calls the imported function CheckModule.CheckName (no parameters,
// no results). The host's function is where a runaway guest is stopped
// (it traps or panics) and where the Go scheduler gets its thread back.
// The call comes once every interval iterations, counted over all the
// module's loops; interval must be positive and below 2^31.
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
// is copied as it was. A module using an instruction of a proposal
// beyond those listed in the package comment is refused, naming it.
func InsertCheckpoints(wasm []byte, interval uint32) ([]byte, error) {
	if interval == 0 || interval > 1<<31-1 {
		return nil, fmt.Errorf("checkpoint interval %d out of range", interval)
	}
	secs, err := parse(wasm)
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

// survey counts what the rewrite appends to: types, function and global
// imports, and defined globals.
func (x *rewriter) survey(secs []section) error {
	for _, s := range secs {
		r := &reader{b: s.body}
		switch s.id {
		case secType:
			x.types = r.count()
		case secGlobal:
			x.globals = r.count()
		case secImport:
			for _, imp := range r.imports() {
				switch {
				case imp.Module == CheckModule:
					return ErrReserved
				case imp.Kind == ImportFunc:
					x.funcImports++
				case imp.Kind == ImportGlobal:
					x.globalImports++
				}
			}
		}
		if s.id == secImport && r.err == nil && r.more() {
			r.fail("%d bytes after the section's contents", len(r.b)-r.off)
		}
		if r.err != nil {
			return fmt.Errorf("section %d: %w", s.id, r.err)
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
		out = appendName(out, CheckModule)
		out = appendName(out, CheckName)
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
		return nil, fmt.Errorf("section %d: %w", id, r.err)
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
		out = appendName(out, r.name())
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
	out := appendU32(make([]byte, 0, len(r.b)+len(r.b)/8), n)
	var body []byte
	fr := &reader{} // one reader for every body
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		*fr = reader{b: r.bytes(int(size))}
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
			s = appendName(s, sub.name())
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
			out = appendName(out, r.name())
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
