package wasmbin

import (
	"errors"
	"fmt"
)

var errShort = errors.New("unexpected end")

// reader decodes the binary format. Its first error sticks: every later
// read returns zero, so a decoder checks err once at the end.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) more() bool { return r.off < len(r.b) }

func (r *reader) rest() []byte {
	b := r.b[r.off:]
	r.off = len(r.b)
	return b
}

func (r *reader) peek() byte {
	if r.err != nil || !r.more() {
		return 0
	}
	return r.b[r.off]
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if !r.more() {
		r.err = errShort
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = errShort
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

// uleb reads an unsigned LEB128 of at most bits bits.
func (r *reader) uleb(bits uint) uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift >= bits || (shift+7 > bits && c&0x7F>>(bits-shift) != 0) {
			r.fail("integer too large at byte %d", r.off-1)
			return 0
		}
		v |= uint64(c&0x7F) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

// sleb reads past a signed LEB128 of at most bits bits.
func (r *reader) sleb(bits uint) {
	for n := uint(0); ; n += 7 {
		c := r.byte()
		if r.err != nil {
			return
		}
		if n >= bits {
			r.fail("integer too large at byte %d", r.off-1)
			return
		}
		if c&0x80 == 0 {
			return
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }
func (r *reader) s32()        { r.sleb(32) }
func (r *reader) s33()        { r.sleb(33) }
func (r *reader) s64()        { r.sleb(64) }

// count reads the length of a vector. Every element takes at least one
// byte, so a count above the bytes left is refused before anything is
// sized by it (wazero's decoder would allocate for it).
func (r *reader) count() uint32 {
	n := r.u32()
	if r.err == nil && int64(n) > int64(len(r.b)-r.off) {
		r.fail("vector of %d elements in %d bytes", n, len(r.b)-r.off)
		return 0
	}
	return n
}

func (r *reader) name() []byte { return r.bytes(int(r.u32())) }

// memarg reads an alignment (bit 6: a memory index follows) and an offset.
func (r *reader) memarg() {
	if r.u32()&0x40 != 0 {
		r.u32()
	}
	r.uleb(64)
}

// limits reads table or memory limits: flags (bit 0: a maximum follows;
// bit 2: 64-bit), minimum, maximum.
func (r *reader) limits() {
	flags := r.byte()
	r.uleb(64)
	if flags&1 != 0 {
		r.uleb(64)
	}
}

// valType reads a number, vector or reference type; the typed references
// of the GC proposals are not supported.
func (r *reader) valType() {
	switch t := r.byte(); t {
	case 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
	default:
		r.fail("unsupported value type 0x%02x", t)
	}
}

func (r *reader) refType() {
	switch t := r.byte(); t {
	case 0x70, 0x6F:
	default:
		r.fail("unsupported reference type 0x%02x", t)
	}
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName[S string | []byte](b []byte, s S) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
