//go:build wasip1

package pdk

import "encoding/binary"

// Copies between the guest and the Extism kernel's blocks. They use the
// kernel's own functions (the same ABI as the Extism Go PDK) but move
// four words per loop iteration: inside a guest its host can stop, each
// iteration costs a check of its own.

//go:wasmimport extism:host/env input_length
func kernelInputLength() uint64

//go:wasmimport extism:host/env input_load_u64
func kernelInputLoadU64(index uint64) uint64

//go:wasmimport extism:host/env input_load_u8
func kernelInputLoadU8(index uint64) uint32

//go:wasmimport extism:host/env alloc
func kernelAlloc(n uint64) uint64

//go:wasmimport extism:host/env length
func kernelLength(offset uint64) uint64

//go:wasmimport extism:host/env load_u64
func kernelLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env load_u8
func kernelLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env store_u64
func kernelStoreU64(offset, v uint64)

//go:wasmimport extism:host/env store_u8
func kernelStoreU8(offset uint64, v uint32)

// readInput copies the input of the call.
func readInput() []byte {
	n := kernelInputLength()
	buf := make([]byte, n)
	i := uint64(0)
	for ; i+32 <= n; i += 32 {
		binary.LittleEndian.PutUint64(buf[i:], kernelInputLoadU64(i))
		binary.LittleEndian.PutUint64(buf[i+8:], kernelInputLoadU64(i+8))
		binary.LittleEndian.PutUint64(buf[i+16:], kernelInputLoadU64(i+16))
		binary.LittleEndian.PutUint64(buf[i+24:], kernelInputLoadU64(i+24))
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], kernelInputLoadU64(i))
	}
	for ; i < n; i++ {
		buf[i] = byte(kernelInputLoadU8(i))
	}
	return buf
}

// readBlock copies the block at off (0: none) out of the kernel.
func readBlock(off uint64) []byte {
	if off == 0 {
		return nil
	}
	n := kernelLength(off)
	buf := make([]byte, n)
	i := uint64(0)
	for ; i+32 <= n; i += 32 {
		binary.LittleEndian.PutUint64(buf[i:], kernelLoadU64(off+i))
		binary.LittleEndian.PutUint64(buf[i+8:], kernelLoadU64(off+i+8))
		binary.LittleEndian.PutUint64(buf[i+16:], kernelLoadU64(off+i+16))
		binary.LittleEndian.PutUint64(buf[i+24:], kernelLoadU64(off+i+24))
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], kernelLoadU64(off+i))
	}
	for ; i < n; i++ {
		buf[i] = byte(kernelLoadU8(off + i))
	}
	return buf
}

// writeBlock copies b into a new block and returns its offset (0 for no
// bytes).
func writeBlock(b []byte) uint64 {
	n := uint64(len(b))
	if n == 0 {
		return 0
	}
	off := kernelAlloc(n)
	i := uint64(0)
	for ; i+32 <= n; i += 32 {
		kernelStoreU64(off+i, binary.LittleEndian.Uint64(b[i:]))
		kernelStoreU64(off+i+8, binary.LittleEndian.Uint64(b[i+8:]))
		kernelStoreU64(off+i+16, binary.LittleEndian.Uint64(b[i+16:]))
		kernelStoreU64(off+i+24, binary.LittleEndian.Uint64(b[i+24:]))
	}
	for ; i+8 <= n; i += 8 {
		kernelStoreU64(off+i, binary.LittleEndian.Uint64(b[i:]))
	}
	for ; i < n; i++ {
		kernelStoreU8(off+i, uint32(b[i]))
	}
	return off
}
