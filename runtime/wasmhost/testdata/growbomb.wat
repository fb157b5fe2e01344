;; Hostile: grows its memory 1 MiB at a time until the host refuses, then
;; traps. Had it got past the 16 MiB cap its test sets (256 pages), it
;; spins forever instead, so the test sees a timeout, not a trap.
(module
  (memory (export "memory") 1)
  (func (export "handle") (result i32)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (if (i32.gt_u (memory.size) (i32.const 256))
      (then (loop $spin (br $spin))))
    unreachable))
