;; Malicious: grows memory a page at a time until refused, then traps. memory.grow fails at the submission's memory
;; limit (clamped in the binary), so it ends as memory_limit.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sort") (param i32 i32) (result i64)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    (unreachable)))
