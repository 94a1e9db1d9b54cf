;; Malicious: returns an output of 2 MiB. The challenge accepts at most its buffer's size, so the call
;; ends as output_too_large and nothing is copied into the challenge's memory.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "sort") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 32)))
    (i64.const 0x200000)))
