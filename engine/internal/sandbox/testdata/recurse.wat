;; recurse: a vault that nests calls without bound. get recurses until
;; something stops it; stat counts the calls its instance has served and
;; outputs the count, a little-endian i32, so that a test can tell a fresh
;; instance.
(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 0) "{\"abi\":1,\"name\":\"recurse\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 40)))
    (i32.const 0))
  (func $down (param $n i32) (result i32)
    (i32.add (call $down (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  (func (export "sesame_get") (param i32) (result i32)
    (drop (call $down (i32.const 0)))
    (i32.const 0))
  (func (export "sesame_stat") (param i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 1024) (global.get $calls))
    (drop (call $output (i32.const 1024) (i32.const 4)))
    (i32.const 0)))
