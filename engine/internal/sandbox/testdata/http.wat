;; A vault that hands its host any HTTP request: sesame_get's argument is
;; the request's encoding (SPEC.md §7.10), as a hostile guest could write
;; it, and its output the response's (§7.11). It asks http_request for the
;; length only, then takes the response with http_response: the request
;; must not be sent twice. A failed request returns its status. An empty
;; argument asks for the granted origins (http_origins) instead.
(module
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "http_request" (func $request (param i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "http_response" (func $response (param i32 i32) (result i64)))
  (import "sesame_v1" "http_origins" (func $origins (param i32 i32) (result i64)))
  (memory (export "memory") 80)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"http-probe\",\"version\":\"1.0.0\",\"operations\":[\"get\"]}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (call $output (i32.const 0) (i32.const 68)))
  ;; request at 64 KiB (up to 1 MiB), response from 0x110000 to the end
  (func (export "sesame_get") (param $n i32) (result i32)
    (local $r i64)
    (if (i32.gt_u (local.get $n) (i32.const 0x100000)) (then (return (i32.const 8))))
    (if (i32.eqz (local.get $n))
      (then
        (local.set $r (call $origins (i32.const 0x110000) (i32.const 0x3f0000)))
        (if (i64.lt_s (local.get $r) (i64.const 0))
          (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $r))))))
        (return (call $output (i32.const 0x110000) (i32.wrap_i64 (local.get $r))))))
    (drop (call $input (i32.const 0) (i32.const 0x10000) (local.get $n)))
    (local.set $r (call $request (i32.const 0x10000) (local.get $n) (i32.const 0x110000) (i32.const 0)))
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $r))))))
    (local.set $r (call $response (i32.const 0x110000) (i32.const 0x3f0000)))
    (if (i64.lt_s (local.get $r) (i64.const 0))
      (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $r))))))
    (call $output (i32.const 0x110000) (i32.wrap_i64 (local.get $r))))
)
