;; keys: a vault that keeps a marker from its memory in the keyring. Its
;; test does nothing (it makes an instance, with the marker in its memory);
;; get keeps the marker for as many milliseconds as its name has bytes;
;; unlock keeps it with no timeout; lock does nothing (the host's part of a
;; lock is under test).
(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "keyring_set" (func $kset (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"keys\",\"version\":\"1.0.0\"}")
  (data (i32.const 0x100) "keyring-marker-5e1d")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 41)))
    (i32.const 0))
  (func (export "sesame_test") (result i32) (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (call $kset (i32.const 0x100) (i32.const 19) (local.get 0)))
  (func (export "sesame_unlock") (param i32) (result i32)
    (call $kset (i32.const 0x100) (i32.const 19) (i32.const 0)))
  (func (export "sesame_lock") (result i32) (i32.const 0)))
