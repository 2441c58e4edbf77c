;; tablegrow: a vault that makes the host allocate table entries. get grows
;; its table by 2^27 entries (1 GiB of host memory if nothing stops it),
;; then by 4096 at a time until the host refuses (-1) or 1000 times, and
;; outputs the first grow's result and the table's final size, two
;; little-endian i32s.
(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 0 funcref)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"tablegrow\",\"version\":\"1\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 42)))
    (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (local $i i32)
    (i32.store (i32.const 1024) (table.grow $t (ref.null func) (i32.const 0x8000000)))
    (block $done
      (loop $more
        (br_if $done (i32.eq (table.grow $t (ref.null func) (i32.const 4096)) (i32.const -1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 1000)))))
    (i32.store (i32.const 1028) (table.size $t))
    (drop (call $output (i32.const 1024) (i32.const 8)))
    (i32.const 0)))
