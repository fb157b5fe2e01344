;; Hostile: calls the Extism kernel's HTTP client (refused at load; a host
;; that linked it anyway traps the call).
(module
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32)
    (drop (call $http (i64.const 0) (i64.const 0)))
    (i32.const 0)))
