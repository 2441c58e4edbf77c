;; scan: a vault whose get calls kv_scan once and outputs the result as a
;; little-endian i64, followed by the page when the host copied one. Its
;; argument is u32 cap, u32 len(prefix), u32 len(after), prefix, after; the
;; page goes to 0x10008, cap bytes from there (memory holds 2 MiB of it).
(module
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_scan" (func $kv_scan (param i32 i32 i32 i32 i32 i32) (result i64)))
  (memory (export "memory") 34 34)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"scan\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 37)))
    (i32.const 0))
  (func (export "sesame_get") (param $len i32) (result i32)
    (local $cap i32) (local $plen i32) (local $r i64)
    (drop (call $input (i32.const 0) (i32.const 0x100) (i32.const 0xF000)))
    (local.set $cap (i32.load (i32.const 0x100)))
    (local.set $plen (i32.load (i32.const 0x104)))
    (local.set $r (call $kv_scan
      (i32.const 0x10C) (local.get $plen)
      (i32.add (i32.const 0x10C) (local.get $plen)) (i32.load (i32.const 0x108))
      (i32.const 0x10008) (local.get $cap)))
    (i64.store (i32.const 0x10000) (local.get $r))
    (if (i32.and (i64.ge_s (local.get $r) (i64.const 0)) (i64.le_s (local.get $r) (i64.extend_i32_u (local.get $cap))))
      (then (drop (call $output (i32.const 0x10000) (i32.add (i32.const 8) (i32.wrap_i64 (local.get $r))))))
      (else (drop (call $output (i32.const 0x10000) (i32.const 8)))))
    (i32.const 0)))
