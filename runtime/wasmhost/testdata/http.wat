;; Hostile: imports the Extism kernel's HTTP client.
(module
  (import "extism:host/env" "http_request" (func $http (param i64 i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle") (result i32) (i32.const 0)))
