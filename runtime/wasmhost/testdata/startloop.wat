;; Hostile: its start function never returns, so no instance of it can
;; be created.
(module
  (memory (export "memory") 1)
  (func $spin (loop $forever (br $forever)))
  (start $spin)
  (func (export "handle") (result i32) (i32.const 0)))
