;; Hostile: hands the log host function a pointer to no block at all.
(module
  (import "extism:host/user" "log" (func $log (param i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32)
    (call $log (i64.const 0xfffffff0))
    (i32.const 0)))
