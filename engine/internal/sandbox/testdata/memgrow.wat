;; memgrow: a vault whose memory declares no maximum, so that the host's
;; grant is its only bound. get writes its argument at the start of memory
;; (a value the host must zero when it lets the memory go), then grows the
;; memory by the little-endian page count in the argument's first 4 bytes,
;; then by one more page, and outputs the two results of memory.grow and the
;; memory's size in pages, 4 bytes each.
(module
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 8192) "{\"abi\":1,\"name\":\"memgrow\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 8192) (i32.const 40)))
    (i32.const 0))
  (func (export "sesame_get") (param $len i32) (result i32)
    (drop (call $input (i32.const 0) (i32.const 0) (i32.const 4096)))
    (i32.store (i32.const 4096) (memory.grow (i32.load (i32.const 0))))
    (i32.store (i32.const 4100) (memory.grow (i32.const 1)))
    (i32.store (i32.const 4104) (memory.size))
    (drop (call $output (i32.const 4096) (i32.const 12)))
    (i32.const 0)))
