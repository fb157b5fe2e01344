;; Hostile: allocates kernel blocks of 1 MiB until the kernel refuses (alloc
;; returns 0), then traps. Had the kernel never refused, it would take the
;; host's memory; the test's timeout would end it instead.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32)
    (loop $more
      (br_if $more (i64.ne (call $alloc (i64.const 1048576)) (i64.const 0))))
    unreachable))
