;; extism-wat: the Extism guest of the plugin-boundary benchmark, an
;; in-memory store over Extism's documented host functions (import module
;; "extism:host/env"), written as an Extism PDK would work: the input is
;; copied out of the kernel's memory eight bytes per host call, and the
;; output is allocated in the kernel and copied in the same way.
;;
;; It keeps one secret, the last one set, in its own linear memory: an
;; Extism instance lives as long as the host keeps it.
;;
;;   set  input: u8 name length, name, value.  output: none.
;;   get  input: name.  output: the value; return code 1 when not found.
;;
;;   0x1000  IN    the input (4 KiB)
;;   0x3000  SLOT  u32 name length, u32 value length, name, value
(module
  (import "extism:host/env" "input_length"   (func $input_length   (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8"  (func $input_load_u8  (param i64) (result i32)))
  (import "extism:host/env" "alloc"          (func $alloc          (param i64) (result i64)))
  (import "extism:host/env" "store_u64"      (func $store_u64      (param i64 i64)))
  (import "extism:host/env" "store_u8"       (func $store_u8       (param i64 i32)))
  (import "extism:host/env" "output_set"     (func $output_set     (param i64 i64)))

  (memory (export "memory") 1 1)

  ;; $read_input copies the input to IN and returns its length, or -1 when
  ;; it does not fit.
  (func $read_input (result i32)
    (local $len i64) (local $i i64)
    (local.set $len (call $input_length))
    (if (i64.gt_u (local.get $len) (i64.const 4096)) (then (return (i32.const -1))))
    (block $words
      (loop $word
        (br_if $words (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $len)))
        (i64.store (i32.add (i32.const 0x1000) (i32.wrap_i64 (local.get $i)))
                   (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $word)))
    (block $bytes
      (loop $byte
        (br_if $bytes (i64.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (i32.const 0x1000) (i32.wrap_i64 (local.get $i)))
                    (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $byte)))
    (i32.wrap_i64 (local.get $len)))

  (func (export "set") (result i32)
    (local $n i32) (local $nlen i32)
    (local.set $n (call $read_input))
    (if (i32.lt_s (local.get $n) (i32.const 1)) (then (return (i32.const 1))))
    (local.set $nlen (i32.load8_u (i32.const 0x1000)))
    (if (i32.gt_u (i32.add (local.get $nlen) (i32.const 1)) (local.get $n)) (then (return (i32.const 1))))
    (i32.store (i32.const 0x3000) (local.get $nlen))
    (i32.store (i32.const 0x3004) (i32.sub (i32.sub (local.get $n) (local.get $nlen)) (i32.const 1)))
    (memory.copy (i32.const 0x3008) (i32.const 0x1001) (i32.sub (local.get $n) (i32.const 1)))
    (i32.const 0))

  (func (export "get") (result i32)
    (local $n i32) (local $i i32) (local $vlen i32) (local $val i32) (local $out i64)
    (local.set $n (call $read_input))
    (if (i32.ne (local.get $n) (i32.load (i32.const 0x3000))) (then (return (i32.const 1))))
    (block $same
      (loop $cmp
        (br_if $same (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 0x1000) (local.get $i)))
                    (i32.load8_u (i32.add (i32.const 0x3008) (local.get $i))))
          (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (local.set $vlen (i32.load (i32.const 0x3004)))
    (local.set $val (i32.add (i32.const 0x3008) (local.get $n)))
    (local.set $out (call $alloc (i64.extend_i32_u (local.get $vlen))))
    (local.set $i (i32.const 0))
    (block $words
      (loop $word
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $vlen)))
        (call $store_u64 (i64.add (local.get $out) (i64.extend_i32_u (local.get $i)))
                         (i64.load (i32.add (local.get $val) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $word)))
    (block $bytes
      (loop $byte
        (br_if $bytes (i32.ge_u (local.get $i) (local.get $vlen)))
        (call $store_u8 (i64.add (local.get $out) (i64.extend_i32_u (local.get $i)))
                        (i32.load8_u (i32.add (local.get $val) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (call $output_set (local.get $out) (i64.extend_i32_u (local.get $vlen)))
    (i32.const 0)))
