;; Hostile: imports a host function that does not exist.
(module
  (import "env" "system" (func $system (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32) (i32.const 0)))
