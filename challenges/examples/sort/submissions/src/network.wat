;; Malicious: tries to reach the network through docklock's HTTP import. Submissions get no imports,
;; so loading fails (forbidden_import) before any of its code runs.
(module
  (import "docklock" "http_request" (func $req (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "GEThttp://example.com/")
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sort") (param i32 i32) (result i64)
    (drop (call $req (i32.const 0) (i32.const 3) (i32.const 3) (i32.const 19) (i32.const 0) (i32.const 0)))
    (i64.const 0)))
