;; Malicious: spins forever. Stopped by the nested fuel budget (out_of_fuel).
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "primes") (param i32 i32) (result i64)
    (loop $l (br $l))
    (i64.const 0)))
