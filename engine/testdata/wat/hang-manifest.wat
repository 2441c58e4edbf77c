;; A vault whose start never ends: its manifest logs one line, then spins
;; until the deadline of the start (30 s) or the caller's context stops it.
;; The log line tells a test that the start is under way.
(module
  (import "sesame_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hang: in the manifest")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $log (i32.const 1) (i32.const 0) (i32.const 21)))
    (loop $forever (br $forever))
    (i32.const 0)))
