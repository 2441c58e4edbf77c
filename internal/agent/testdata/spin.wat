;; spin: a vault whose get logs "spinning" (at the warning level) and then
;; loops until the host stops it: a request that hangs for as long as its
;; deadline (the tests grant 10 minutes).
(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"spin\",\"version\":\"1.0.0\"}")
  (data (i32.const 0x100) "spinning")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 41)))
    (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (drop (call $log (i32.const 2) (i32.const 0x100) (i32.const 8)))
    (loop $forever (br $forever))
    (i32.const 0)))
