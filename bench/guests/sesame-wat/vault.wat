;; sesame-wat: the WAT guest of the plugin-boundary benchmark, an in-memory
;; vault over sesame's ABI (abi/SPEC.md) with no allocator and no libc.
;;
;; It keeps one secret, the last one set, as its secret encoding (SPEC.md
;; §7.7) in the vault's keyring slot (§5.7): host memory that every instance
;; of the vault shares. Guest memory would not last: the host recycles an
;; instance after 10 000 calls.
;;
;;   0x0100  the manifest
;;   0x1000  NAME  the name argument of get (1 KiB)
;;   0x2000  REC   u32 name length, name, type, u32 0 (no metadata), value
(module
  (import "sesame_v1" "input"       (func $input       (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output"      (func $output      (param i32 i32) (result i32)))
  (import "sesame_v1" "keyring_set" (func $keyring_set (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "keyring_get" (func $keyring_get (param i32 i32) (result i64)))

  (memory (export "memory") 1 1)

  (data (i32.const 0x100)
    "{\"abi\":1,\"name\":\"bench-wat\",\"version\":\"1.0.0\","
    "\"description\":\"one secret in the keyring slot, for benchmarks\","
    "\"case_sensitive\":true,\"operations\":[\"get\",\"set\"]}")

  (func (export "sesame_abi_v1"))

  (func (export "sesame_manifest") (result i32)
    (call $output (i32.const 0x100) (i32.const 158)))  ;; the manifest's length

  ;; set: REC = u32 nlen, name, type, u32 0, value (type byte then data).
  (func (export "sesame_set") (param $nlen i32) (param $vlen i32) (param $mlen i32) (result i32)
    (local $v i32)
    ;; the keyring holds at most 4 KiB; names are at most 256 bytes
    (if (i32.gt_u (local.get $nlen) (i32.const 256)) (then (return (i32.const 8))))
    (if (i32.gt_u (i32.add (i32.add (local.get $nlen) (local.get $vlen)) (i32.const 9))
                  (i32.const 4096))
      (then (return (i32.const 8))))
    (if (i32.eqz (local.get $vlen)) (then (return (i32.const 2))))
    (i32.store (i32.const 0x2000) (local.get $nlen))
    (drop (call $input (i32.const 0) (i32.const 0x2004) (local.get $nlen)))
    (local.set $v (i32.add (i32.const 0x2009) (local.get $nlen)))
    (drop (call $input (i32.const 1) (local.get $v) (local.get $vlen)))
    (i32.store8 (i32.sub (local.get $v) (i32.const 5)) (i32.load8_u (local.get $v)))
    (i32.store (i32.sub (local.get $v) (i32.const 4)) (i32.const 0))
    (call $keyring_set (i32.const 0x2000)
                       (i32.add (i32.add (local.get $nlen) (local.get $vlen)) (i32.const 9))
                       (i32.const 0)))

  ;; get: NOT_FOUND (1) unless the slot holds a secret of this name.
  (func (export "sesame_get") (param $nlen i32) (result i32)
    (local $n i64) (local $i i32)
    (if (i32.gt_u (local.get $nlen) (i32.const 1024)) (then (return (i32.const 1))))
    (drop (call $input (i32.const 0) (i32.const 0x1000) (i32.const 1024)))
    (local.set $n (call $keyring_get (i32.const 0x2000) (i32.const 4096)))
    (if (i64.lt_s (local.get $n) (i64.const 9)) (then (return (i32.const 1))))
    (if (i32.ne (i32.load (i32.const 0x2000)) (local.get $nlen)) (then (return (i32.const 1))))
    (block $done
      (loop $cmp
        (br_if $done (i32.ge_u (local.get $i) (local.get $nlen)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 0x1000) (local.get $i)))
                    (i32.load8_u (i32.add (i32.const 0x2004) (local.get $i))))
          (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (call $output (i32.const 0x2000) (i32.wrap_i64 (local.get $n)))))
