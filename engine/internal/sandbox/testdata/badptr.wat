;; badptr: a vault whose get calls every host import with bad pointers,
;; lengths and parameters, and outputs the results as little-endian i64s in
;; the order of the cases in sandbox_test.go. The host must answer each with a
;; status and never trap.
(module
  (import "sesame_v1" "input" (func $input (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (import "sesame_v1" "error" (func $error (param i32 i32) (result i32)))
  (import "sesame_v1" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_add" (func $kv_add (param i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_delete" (func $kv_delete (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "kdf_argon2id" (func $kdf (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "keyring_set" (func $kset (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "keyring_get" (func $kget (param i32 i32) (result i64)))
  (import "sesame_v1" "key_generate" (func $kgen (param i32) (result i32)))
  (import "sesame_v1" "key_import" (func $kimport (param i32 i32) (result i32)))
  (import "sesame_v1" "key_argon2id" (func $kargon (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "key_hkdf" (func $khkdf (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "key_wrap" (func $kwrap (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "key_unwrap" (func $kunwrap (param i32 i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "key_seal" (func $kseal (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "key_open" (func $kopen (param i32 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "key_hmac" (func $khmac (param i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "key_keep" (func $kkeep (param i32) (result i32)))
  (import "sesame_v1" "key_release" (func $krelease (param i32) (result i32)))
  (import "sesame_v1" "age_recipient" (func $arecipient (param i32 i32) (result i64)))
  (import "sesame_v1" "age_wrap" (func $awrap (param i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "age_unwrap" (func $aunwrap (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_scan" (func $kv_scan (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "http_origins" (func $horigins (param i32 i32) (result i64)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "{\"abi\":1,\"name\":\"badptr\",\"version\":\"1.0.0\"}")
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32)
    (drop (call $output (i32.const 0) (i32.const 43)))
    (i32.const 0))
  (func (export "sesame_get") (param i32) (result i32)
    (local $k i32)
    ;; input past the end of memory
    (i64.store (i32.const 1024) (i64.extend_i32_s (call $input (i32.const 0) (i32.const 0xFFFFFFF0) (i32.const 100))))
    ;; input across the end of memory
    (i64.store (i32.const 1032) (i64.extend_i32_s (call $input (i32.const 0) (i32.const 65530) (i32.const 100))))
    ;; input of a missing argument
    (i64.store (i32.const 1040) (i64.extend_i32_s (call $input (i32.const 7) (i32.const 0) (i32.const 0))))
    ;; output of 4 GiB
    (i64.store (i32.const 1048) (i64.extend_i32_u (call $output (i32.const 0xFFFFFFFF) (i32.const 0xFFFFFFFF))))
    ;; output across the end of memory
    (i64.store (i32.const 1056) (i64.extend_i32_u (call $output (i32.const 65000) (i32.const 1000))))
    ;; error outside memory
    (i64.store (i32.const 1064) (i64.extend_i32_u (call $error (i32.const 0xFFFFFFFF) (i32.const 10))))
    ;; log with an unknown level
    (i64.store (i32.const 1072) (i64.extend_i32_u (call $log (i32.const 9) (i32.const 0) (i32.const 1))))
    ;; log across the end of memory
    (i64.store (i32.const 1080) (i64.extend_i32_u (call $log (i32.const 0) (i32.const 65535) (i32.const 100))))
    ;; kv_get key outside memory
    (i64.store (i32.const 1088) (call $kv_get (i32.const 0xFFFFFFFF) (i32.const 4) (i32.const 0) (i32.const 0)))
    ;; kv_get key too long
    (i64.store (i32.const 1096) (call $kv_get (i32.const 0) (i32.const 2000) (i32.const 0) (i32.const 0)))
    ;; kv_set value outside memory
    (i64.store (i32.const 1104) (i64.extend_i32_u (call $kv_set (i32.const 0) (i32.const 1) (i32.const 0xFFFFFF00) (i32.const 0x1000))))
    ;; kv_set value of 2 GiB
    (i64.store (i32.const 1112) (i64.extend_i32_u (call $kv_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0x7FFFFFFF))))
    ;; kv_delete with overflowing pointer and length
    (i64.store (i32.const 1120) (i64.extend_i32_u (call $kv_delete (i32.const 0xFFFFFFFF) (i32.const 0xFFFFFFFF))))
    ;; kv_list destination outside memory
    (i64.store (i32.const 1128) (call $kv_list (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0xFFFFFFF0) (i32.const 100)))
    ;; kdf destination outside memory
    (i64.store (i32.const 1136) (i64.extend_i32_u (call $kdf (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 8192) (i32.const 1) (i32.const 0xFFFFFFF0) (i32.const 32))))
    ;; kdf with too many passes
    (i64.store (i32.const 1144) (i64.extend_i32_u (call $kdf (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 100) (i32.const 8192) (i32.const 1) (i32.const 100) (i32.const 32))))
    ;; kdf with too much memory
    (i64.store (i32.const 1152) (i64.extend_i32_u (call $kdf (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 0x7FFFFFFF) (i32.const 1) (i32.const 100) (i32.const 32))))
    ;; keyring_set outside memory
    (i64.store (i32.const 1160) (i64.extend_i32_u (call $kset (i32.const 0xFFFFFFFF) (i32.const 10) (i32.const 0))))
    ;; keyring_get destination outside memory
    (i64.store (i32.const 1168) (call $kget (i32.const 0xFFFFFFF0) (i32.const 100)))
    ;; kv_add value outside memory
    (i64.store (i32.const 1176) (i64.extend_i32_u (call $kv_add (i32.const 0) (i32.const 1) (i32.const 0xFFFFFF00) (i32.const 0x1000))))
    ;; kv_add of a key that is stored (kv_set first)
    (drop (call $kv_set (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)))
    (i64.store (i32.const 1184) (i64.extend_i32_u (call $kv_add (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1))))
    ;; the keys: $k is a real key, to reach the checks behind the handle's
    (local.set $k (call $kgen (i32.const 32)))
    ;; key_generate of 15 bytes
    (i64.store (i32.const 1192) (i64.extend_i32_s (call $kgen (i32.const 15))))
    ;; key_import outside memory
    (i64.store (i32.const 1200) (i64.extend_i32_s (call $kimport (i32.const 0xFFFFFFF0) (i32.const 32))))
    ;; key_argon2id with too many passes
    (i64.store (i32.const 1208) (i64.extend_i32_s (call $kargon (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 100) (i32.const 8192) (i32.const 1) (i32.const 32))))
    ;; key_hkdf with handle 0, never given
    (i64.store (i32.const 1216) (i64.extend_i32_s (call $khkdf (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 32))))
    ;; key_wrap with additional data of 4 GiB
    (i64.store (i32.const 1224) (call $kwrap (local.get $k) (local.get $k) (i32.const 0) (i32.const 0xFFFFFFFF) (i32.const 0) (i32.const 0)))
    ;; key_unwrap of a box outside memory
    (i64.store (i32.const 1232) (i64.extend_i32_s (call $kunwrap (local.get $k) (i32.const 0xFFFFFFF0) (i32.const 72) (i32.const 0) (i32.const 0))))
    ;; key_seal with the largest handle, never given
    (i64.store (i32.const 1240) (call $kseal (i32.const 0x7FFFFFFF) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 100)))
    ;; key_seal destination across the end of memory
    (i64.store (i32.const 1248) (call $kseal (local.get $k) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 65530) (i32.const 100)))
    ;; key_open of a box shorter than nonce and tag
    (i64.store (i32.const 1256) (call $kopen (local.get $k) (i32.const 0) (i32.const 39) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    ;; key_open of a box of 4 GiB
    (i64.store (i32.const 1264) (call $kopen (local.get $k) (i32.const 0) (i32.const 0xFFFFFFFF) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    ;; key_hmac destination across the end of memory
    (i64.store (i32.const 1272) (i64.extend_i32_u (call $khmac (local.get $k) (i32.const 0) (i32.const 1) (i32.const 65530))))
    ;; key_keep of handle -1
    (i64.store (i32.const 1280) (i64.extend_i32_u (call $kkeep (i32.const -1))))
    ;; key_release twice
    (drop (call $krelease (local.get $k)))
    (i64.store (i32.const 1288) (i64.extend_i32_u (call $krelease (local.get $k))))
    ;; age_recipient destination across the end of memory
    (i64.store (i32.const 1296) (call $arecipient (i32.const 65530) (i32.const 100)))
    ;; age_wrap with a recipient list of 4 GiB
    (i64.store (i32.const 1304) (call $awrap (local.get $k) (i32.const 0) (i32.const 0xFFFFFFFF) (i32.const 0) (i32.const 0)))
    ;; age_unwrap of a file outside memory
    (i64.store (i32.const 1312) (i64.extend_i32_s (call $aunwrap (i32.const 0xFFFFFFF0) (i32.const 100))))
    ;; kv_scan destination across the end of memory
    (i64.store (i32.const 1320) (call $kv_scan (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 65000) (i32.const 1000)))
    ;; kv_scan after of 4 GiB
    (i64.store (i32.const 1328) (call $kv_scan (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0xFFFFFFFF) (i32.const 0) (i32.const 0)))
    ;; http_origins destination across the end of memory
    (i64.store (i32.const 1336) (call $horigins (i32.const 65530) (i32.const 100)))
    (drop (call $output (i32.const 1024) (i32.const 320)))
    (i32.const 0)))
