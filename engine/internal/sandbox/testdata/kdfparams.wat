;; kdfparams: a vault whose get derives a key with kdf_argon2id with the
;; time and memory (KiB) its argument holds (two little-endian u32), and
;; answers with the host's status.
(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "kdf_argon2id" (func $kdf (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"kdf\",\"version\":\"1.0.0\"}")
  (data (i32.const 0x100) "pass")
  (data (i32.const 0x200) "salt-salt-salt-s")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 40)))
    (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (drop (call $input (i32.const 0) (i32.const 0x400) (i32.const 8)))
    (call $kdf (i32.const 0x100) (i32.const 4) (i32.const 0x200) (i32.const 16)
      (i32.load (i32.const 0x400)) (i32.load (i32.const 0x404)) (i32.const 1) (i32.const 0x300) (i32.const 32))))
