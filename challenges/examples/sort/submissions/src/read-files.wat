;; Malicious: tries to open files through WASI (path_open). No WASI is granted to submissions, so
;; loading fails (forbidden_import).
(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "input/submission")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sort") (param i32 i32) (result i64)
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64)))
    (i64.const 0)))
