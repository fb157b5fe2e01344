;; Hostile: imports kv_get; loaded without the "kv" permission.
(module
  (import "extism:host/user" "kv_get" (func $kv_get (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32) (i32.const 0)))
