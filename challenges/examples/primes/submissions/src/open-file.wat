;; Malicious: imports WASI's path_open to read the challenge's files. Rejected at load (forbidden_import).
(module
  (import "wasi_snapshot_preview1" "path_open" (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "primes") (param i32 i32) (result i64) (i64.const 0)))
