package wasmbin

// instrs copies instructions from r to out: the rest of r for a function
// body, or up to and including the first `end` for a constant expression
// (constant expressions have no blocks). Function indices are renumbered
// and the countdown is inserted after every `loop`.
func (x *rewriter) instrs(r *reader, out []byte, constExpr bool) []byte {
	for r.more() && r.err == nil {
		start := r.off
		op := r.byte()
		switch {
		case op == 0x10 || op == 0x12 || op == 0xD2: // call, return_call, ref.func
			out = appendU32(append(out, op), x.fn(r.u32()))
			continue
		case op == 0x03: // loop
			r.s33()
			out = append(out, r.b[start:r.off]...)
			out = append(out, x.check...)
			continue
		case op == 0x0B && constExpr: // end
			return append(out, op)
		}
		r.skipImmediates(op)
		out = append(out, r.b[start:r.off]...)
	}
	if constExpr && r.err == nil {
		r.fail("constant expression without end")
	}
	return out
}

// skipImmediates reads past the immediates of the instruction op.
func (r *reader) skipImmediates(op byte) {
	switch {
	case op <= 0x01, op == 0x05, op == 0x0B, op == 0x0F, op == 0x1A, op == 0x1B,
		op >= 0x45 && op <= 0xC4, op == 0xD1:
		// none
	case op == 0x02, op == 0x04: // block, if
		r.s33()
	case op == 0x0C, op == 0x0D: // br, br_if
		r.u32()
	case op == 0x0E: // br_table
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1C: // select t*
		for n := r.count(); n > 0 && r.err == nil; n-- {
			r.valType()
		}
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3E: // loads and stores
		r.memarg()
	case op == 0x3F, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s32()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xD0: // ref.null
		r.s33()
	case op == 0xFC:
		r.skipFC(r.u32())
	case op == 0xFD:
		r.skipSIMD(r.u32())
	case op == 0xFE:
		r.skipAtomic(r.u32())
	default:
		r.fail("unsupported instruction 0x%02x at byte %d", op, r.off-1)
	}
}

// skipFC: saturating conversions, bulk memory and table instructions.
func (r *reader) skipFC(sub uint32) {
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail("unsupported instruction 0xfc %d", sub)
	}
}

// skipSIMD: the fixed-width SIMD instructions and the relaxed ones.
func (r *reader) skipSIMD(sub uint32) {
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads, store, load_zero
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load_lane, store_lane
		r.memarg()
		r.byte()
	case sub <= 0xFF, sub >= 0x100 && sub <= 0x113: // no immediates
	default:
		r.fail("unsupported instruction 0xfd %d", sub)
	}
}

// skipAtomic: the threads proposal.
func (r *reader) skipAtomic(sub uint32) {
	switch {
	case sub == 0x03: // atomic.fence
		r.byte()
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4E:
		r.memarg()
	default:
		r.fail("unsupported instruction 0xfe %d", sub)
	}
}
