;; Hostile: asks for 1 GiB of memory up front (16384 pages of 64 KiB).
(module
  (memory (export "memory") 16384)
  (func (export "handle") (result i32) (i32.const 0)))
