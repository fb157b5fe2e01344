;; Hostile: reads kernel memory far outside any block.
(module
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32)
    (drop (call $load_u64 (i64.const 0x7ffffff0)))
    (i32.const 0)))
