;; spin: a vault that never ends a call on its own, in the ways a guest can
;; run on without end: get of "loop" spins in a loop with no call in it, get
;; of "tree" recurses twice a level (2^40 calls, with no loop, never deeper
;; than 40 frames), and set spins in a loop that only calls the host. Get of
;; "x" returns at once. Remove reads its storage once (so that a test knows
;; it runs), then spins in a loop with no call in it.
(module
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"spin\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 37)))
    (i32.const 0))
  (func $tree (param $n i32)
    (if (local.get $n)
      (then
        (call $tree (i32.sub (local.get $n) (i32.const 1)))
        (call $tree (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "sesame_get") (param $len i32) (result i32)
    (drop (call $input (i32.const 0) (i32.const 1024) (i32.const 16)))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 0x78)) ;; "x"
      (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 0x74)) ;; "t"
      (then (call $tree (i32.const 40)) (return (i32.const 0))))
    (loop $spin (br $spin))
    (i32.const 0))
  (func (export "sesame_set") (param i32 i32 i32) (result i32)
    (loop $spin
      (drop (call $input (i32.const 0) (i32.const 1024) (i32.const 0)))
      (br $spin))
    (i32.const 0))
  (func (export "sesame_remove") (param i32) (result i32)
    (drop (call $kv_get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))
    (loop $spin (br $spin))
    (i32.const 0)))
