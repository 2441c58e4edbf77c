;; broken.wat: wat-vault (vault.wat) with one deliberate bug, for the tests of
;; the conformance checker. sesame_get of a secret that does not exist
;; answers OK with no output, where SPEC.md §4 requires NOT_FOUND. The module
;; loads (its imports, exports and manifest follow the ABI) but fails the
;; conformance suite: Overwrite/missing and Overwrite/remove name the case.
;;
;; Everything else is vault.wat line for line, except the line marked
;; ";; BROKEN" (engine/examples_test.go checks that).
;;
;; Build: wat2wasm examples/wat-vault/broken.wat -o examples/wat-vault/broken.wasm
(module
  ;; Host functions (SPEC.md §5). Negative i32/i64 results are -(status).
  (import "sesame_v1" "input"     (func $input     (param i32 i32 i32) (result i32)))
  (import "sesame_v1" "output"    (func $output    (param i32 i32) (result i32)))
  (import "sesame_v1" "error"     (func $error     (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_get"    (func $kv_get    (param i32 i32 i32 i32) (result i64)))
  (import "sesame_v1" "kv_set"    (func $kv_set    (param i32 i32 i32 i32) (result i32)))
  (import "sesame_v1" "kv_delete" (func $kv_delete (param i32 i32) (result i32)))
  (import "sesame_v1" "kv_list"   (func $kv_list   (param i32 i32 i32 i32 i32 i32) (result i64)))

  ;; 72 pages = 0x480000 bytes: OUT has room for the largest record that
  ;; storage holds (2 MiB) with a new name and metadata.
  (memory (export "memory") 72)

  ;; Status codes (SPEC.md §6) used here: 0 OK, 1 NOT_FOUND,
  ;; 2 INVALID_ARGUMENT, 7 UNAVAILABLE, 8 TOO_LARGE, 9 INTERNAL.

  ;; Buffer addresses and capacities.
  (global $KEY      i32 (i32.const 0x1000))
  (global $NAME     i32 (i32.const 0x1002)) ;; KEY + 2: the name itself
  (global $NAMECAP  i32 (i32.const 0x0ffe))
  (global $AFTER    i32 (i32.const 0x2000))
  (global $PAGE     i32 (i32.const 0x10000))
  (global $PAGECAP  i32 (i32.const 0x50000))
  (global $REC      i32 (i32.const 0x60000))
  (global $RECCAP   i32 (i32.const 0x200000))
  (global $OUT      i32 (i32.const 0x260000))

  ;; Per-call state: the length of the key in KEY, of the record in REC.
  (global $klen (mut i32) (i32.const 0))
  (global $rlen (mut i32) (i32.const 0))

  (data (i32.const 0x1000) "s/")
  ;; The manifest (SPEC.md §4.1), 164 bytes. No "operations": every
  ;; operation exported below is supported.
  (data (i32.const 0x100)
    "{\"abi\":1,\"name\":\"wat-vault\",\"version\":\"1.0.0\","
    "\"description\":\"a hand-written WAT vault over host storage\","
    "\"metadata\":true,\"case_sensitive\":true,\"grants\":[\"storage\"]}")
  (data (i32.const 0x400) "t/probe")                ;; 7 bytes
  (data (i32.const 0x410) "sesame wat-vault probe") ;; 22 bytes
  (data (i32.const 0x440) "a stored record is corrupt")  ;; 26 bytes
  (data (i32.const 0x460) "storage returned other bytes than were written") ;; 46 bytes

  ;; The ABI version marker: exported, never called.
  (func (export "sesame_abi_v1"))

  (func (export "sesame_manifest") (result i32)
    (call $output (i32.const 0x100) (i32.const 164)))

  ;; ---- helpers --------------------------------------------------------

  ;; $corrupt sets the message for a record that does not parse.
  (func $corrupt (result i32)
    (drop (call $error (i32.const 0x440) (i32.const 26)))
    (i32.const 9))

  ;; $read_key reads argument 0 (len bytes) to NAME, after "s/", and sets
  ;; $klen. Returns a status.
  (func $read_key (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (global.get $NAMECAP))
      (then (return (i32.const 8))))
    (if (i32.ne (call $input (i32.const 0) (global.get $NAME) (local.get $len)) (local.get $len))
      (then (return (i32.const 2))))
    (global.set $klen (i32.add (local.get $len) (i32.const 2)))
    (i32.const 0))

  ;; $load reads the record under KEY into REC and sets $rlen. Returns a
  ;; status: 1 (NOT_FOUND) when there is none.
  (func $load (result i32)
    (local $n i64)
    (local.set $n (call $kv_get (global.get $KEY) (global.get $klen) (global.get $REC) (global.get $RECCAP)))
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))))
    (if (i64.gt_s (local.get $n) (i64.extend_i32_u (global.get $RECCAP)))
      (then (return (i32.const 8))))
    (global.set $rlen (i32.wrap_i64 (local.get $n)))
    (i32.const 0))

  ;; $str_end returns the address after the str (u32 len, bytes) at $p, or
  ;; 0 when it runs past $end.
  (func $str_end (param $p i32) (param $end i32) (result i32)
    (local $n i32)
    (if (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 4))
      (then (return (i32.const 0))))
    (local.set $n (i32.load (local.get $p)))
    (if (i32.gt_u (local.get $n) (i32.sub (i32.sub (local.get $end) (local.get $p)) (i32.const 4)))
      (then (return (i32.const 0))))
    (i32.add (i32.add (local.get $p) (i32.const 4)) (local.get $n)))

  ;; $meta_end returns the address after the metadata encoding (§7.3) at $p:
  ;; u32 count, then count times (str key, u8 kind, payload), where the
  ;; payload is a str (kind 1), 8 bytes (kind 2) or 12 bytes (kind 3).
  ;; Returns 0 when it is malformed or runs past $end.
  (func $meta_end (param $p i32) (param $end i32) (result i32)
    (local $count i32) (local $kind i32) (local $n i32)
    (if (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 4))
      (then (return (i32.const 0))))
    (local.set $count (i32.load (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 4)))
    (block $done
      (loop $entry
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (local.set $p (call $str_end (local.get $p) (local.get $end)))      ;; key
        (if (i32.or (i32.eqz (local.get $p)) (i32.ge_u (local.get $p) (local.get $end)))
          (then (return (i32.const 0))))
        (local.set $kind (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (if (i32.eq (local.get $kind) (i32.const 1))
          (then
            (local.set $p (call $str_end (local.get $p) (local.get $end)))
            (br_if $entry (local.get $p))
            (return (i32.const 0))))
        (local.set $n (i32.const 0))
        (if (i32.eq (local.get $kind) (i32.const 2)) (then (local.set $n (i32.const 8))))
        (if (i32.eq (local.get $kind) (i32.const 3)) (then (local.set $n (i32.const 12))))
        (if (i32.or (i32.eqz (local.get $n))
                    (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (local.get $n)))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (local.get $n)))
        (br $entry)))
    (local.get $p))

  ;; $info_size returns the size of the info record (str name, u8 type,
  ;; metadata) at the start of the record at $p of $len bytes; 0 when it is
  ;; malformed or leaves no room for a value.
  (func $info_size (param $p i32) (param $len i32) (result i32)
    (local $end i32) (local $q i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $q (call $str_end (local.get $p) (local.get $end)))
    (if (i32.or (i32.eqz (local.get $q)) (i32.ge_u (local.get $q) (local.get $end)))
      (then (return (i32.const 0))))
    (local.set $q (call $meta_end (i32.add (local.get $q) (i32.const 1)) (local.get $end)))
    (if (i32.or (i32.eqz (local.get $q)) (i32.ge_u (local.get $q) (local.get $end)))
      (then (return (i32.const 0))))
    (i32.sub (local.get $q) (local.get $p)))

  ;; ---- operations (SPEC.md §4) ----------------------------------------

  ;; get: the record is the secret encoding; hand it back as it is.
  (func (export "sesame_get") (param $name_len i32) (result i32)
    (local $st i32)
    (local.set $st (call $read_key (local.get $name_len)))
    (if (local.get $st) (then (return (local.get $st))))
    (local.set $st (call $load))
    (if (i32.eq (local.get $st) (i32.const 1)) (then (return (i32.const 0)))) ;; BROKEN: NOT_FOUND answered as OK
    (if (local.get $st) (then (return (local.get $st)))) ;; 1: NOT_FOUND
    (call $output (global.get $REC) (global.get $rlen)))

  ;; stat: the info part of the record.
  (func (export "sesame_stat") (param $name_len i32) (result i32)
    (local $st i32) (local $info i32)
    (local.set $st (call $read_key (local.get $name_len)))
    (if (local.get $st) (then (return (local.get $st))))
    (local.set $st (call $load))
    (if (local.get $st) (then (return (local.get $st))))
    (local.set $info (call $info_size (global.get $REC) (global.get $rlen)))
    (if (i32.eqz (local.get $info)) (then (return (call $corrupt))))
    (call $output (global.get $REC) (local.get $info)))

  ;; set: build str name, u8 type, metadata, value in OUT and store it.
  ;; Metadata of length 0 means "none given": keep the stored metadata.
  (func (export "sesame_set") (param $name_len i32) (param $value_len i32) (param $meta_len i32) (result i32)
    (local $st i32) (local $p i32) (local $head i32) (local $end i32)
    (local.set $st (call $read_key (local.get $name_len)))
    (if (local.get $st) (then (return (local.get $st))))
    (if (i32.eqz (local.get $value_len)) (then (return (i32.const 2))))
    (if (i32.or (i32.gt_u (local.get $value_len) (i32.const 0x100000))
                (i32.gt_u (local.get $meta_len) (i32.const 0x4000)))
      (then (return (i32.const 8))))
    ;; str name
    (i32.store (global.get $OUT) (local.get $name_len))
    (memory.copy (i32.add (global.get $OUT) (i32.const 4)) (global.get $NAME) (local.get $name_len))
    ;; $p: the metadata, after the type byte
    (local.set $p (i32.add (i32.add (global.get $OUT) (i32.const 5)) (local.get $name_len)))
    (if (local.get $meta_len)
      (then
        (if (i32.ne (call $input (i32.const 2) (local.get $p) (local.get $meta_len)) (local.get $meta_len))
          (then (return (i32.const 2))))
        (local.set $p (i32.add (local.get $p) (local.get $meta_len))))
      (else
        (local.set $st (call $load))
        (if (i32.eqz (local.get $st))
          (then
            ;; copy the stored metadata: after str name and the type byte
            (local.set $head (i32.add (i32.add (global.get $REC) (i32.const 5)) (i32.load (global.get $REC))))
            (local.set $end (call $meta_end (local.get $head) (i32.add (global.get $REC) (global.get $rlen))))
            (if (i32.eqz (local.get $end)) (then (return (call $corrupt))))
            (memory.copy (local.get $p) (local.get $head) (i32.sub (local.get $end) (local.get $head)))
            (local.set $p (i32.add (local.get $p) (i32.sub (local.get $end) (local.get $head)))))
          (else
            (if (i32.ne (local.get $st) (i32.const 1)) (then (return (local.get $st))))
            (i32.store (local.get $p) (i32.const 0)) ;; no metadata: count 0
            (local.set $p (i32.add (local.get $p) (i32.const 4)))))))
    ;; the value, and its first byte as the record's type
    (if (i32.ne (call $input (i32.const 1) (local.get $p) (local.get $value_len)) (local.get $value_len))
      (then (return (i32.const 2))))
    (i32.store8 (i32.add (i32.add (global.get $OUT) (i32.const 4)) (local.get $name_len))
                (i32.load8_u (local.get $p)))
    (local.set $p (i32.add (local.get $p) (local.get $value_len)))
    (call $kv_set (global.get $KEY) (global.get $klen)
                  (global.get $OUT) (i32.sub (local.get $p) (global.get $OUT))))

  ;; set_metadata: the stored name and type, the new metadata, the stored value.
  (func (export "sesame_set_metadata") (param $name_len i32) (param $meta_len i32) (result i32)
    (local $st i32) (local $info i32) (local $head i32) (local $p i32)
    (local.set $st (call $read_key (local.get $name_len)))
    (if (local.get $st) (then (return (local.get $st))))
    (if (i32.or (i32.lt_u (local.get $meta_len) (i32.const 4))
                (i32.gt_u (local.get $meta_len) (i32.const 0x4000)))
      (then (return (i32.const 2))))
    (local.set $st (call $load))
    (if (local.get $st) (then (return (local.get $st))))
    (local.set $info (call $info_size (global.get $REC) (global.get $rlen)))
    (if (i32.eqz (local.get $info)) (then (return (call $corrupt))))
    (local.set $head (i32.add (i32.load (global.get $REC)) (i32.const 5)))
    (memory.copy (global.get $OUT) (global.get $REC) (local.get $head))
    (local.set $p (i32.add (global.get $OUT) (local.get $head)))
    (if (i32.ne (call $input (i32.const 1) (local.get $p) (local.get $meta_len)) (local.get $meta_len))
      (then (return (i32.const 2))))
    (local.set $p (i32.add (local.get $p) (local.get $meta_len)))
    (memory.copy (local.get $p) (i32.add (global.get $REC) (local.get $info))
                 (i32.sub (global.get $rlen) (local.get $info)))
    (local.set $p (i32.add (local.get $p) (i32.sub (global.get $rlen) (local.get $info))))
    (call $kv_set (global.get $KEY) (global.get $klen)
                  (global.get $OUT) (i32.sub (local.get $p) (global.get $OUT))))

  ;; remove: kv_delete answers NOT_FOUND itself when there is nothing.
  (func (export "sesame_remove") (param $name_len i32) (result i32)
    (local $st i32)
    (local.set $st (call $read_key (local.get $name_len)))
    (if (local.get $st) (then (return (local.get $st))))
    (call $kv_delete (global.get $KEY) (global.get $klen)))

  ;; list: the info parts of every record whose key starts with "s/" and the
  ;; pattern's literal prefix (up to its first '*' or '?'). That is a
  ;; superset of the matches, which SPEC.md §4 allows: the host filters the
  ;; list again with the whole pattern.
  (func (export "sesame_list") (param $pattern_len i32) (result i32)
    (local $prefix i32) (local $c i32) (local $n i64) (local $count i32)
    (local $q i32) (local $k i32) (local $klen i32) (local $alen i32)
    (local $pos i32) (local $found i32) (local $info i32) (local $need i32)
    ;; the literal prefix, or none when the pattern does not fit in KEY
    (if (i32.le_u (call $input (i32.const 0) (global.get $NAME) (global.get $NAMECAP)) (global.get $NAMECAP))
      (then
        (block $end
          (loop $scan
            (br_if $end (i32.ge_u (local.get $prefix) (local.get $pattern_len)))
            (local.set $c (i32.load8_u (i32.add (global.get $NAME) (local.get $prefix))))
            (br_if $end (i32.or (i32.eq (local.get $c) (i32.const 0x2a))    ;; '*'
                                (i32.eq (local.get $c) (i32.const 0x3f))))  ;; '?'
            (local.set $prefix (i32.add (local.get $prefix) (i32.const 1)))
            (br $scan)))))
    (local.set $prefix (i32.add (local.get $prefix) (i32.const 2)))
    (if (i32.gt_u (local.get $prefix) (i32.const 1024)) (then (local.set $prefix (i32.const 2))))

    (local.set $pos (i32.add (global.get $OUT) (i32.const 4)))
    (block $last_page
      (loop $next_page
        (local.set $n (call $kv_list (global.get $KEY) (local.get $prefix)
                                     (global.get $AFTER) (local.get $alen)
                                     (global.get $PAGE) (global.get $PAGECAP)))
        (if (i64.lt_s (local.get $n) (i64.const 0))
          (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))))
        (if (i64.gt_s (local.get $n) (i64.extend_i32_u (global.get $PAGECAP)))
          (then (return (i32.const 8))))
        (local.set $count (i32.load (global.get $PAGE)))
        (br_if $last_page (i32.eqz (local.get $count)))
        (local.set $q (i32.add (global.get $PAGE) (i32.const 4)))
        (loop $next_key
          (local.set $klen (i32.load (local.get $q)))
          (local.set $k (i32.add (local.get $q) (i32.const 4)))
          (local.set $q (i32.add (local.get $k) (local.get $klen)))
          (local.set $n (call $kv_get (local.get $k) (local.get $klen) (global.get $REC) (global.get $RECCAP)))
          (block $skip
            (br_if $skip (i64.eq (local.get $n) (i64.const -1))) ;; removed since the page was read
            (if (i64.lt_s (local.get $n) (i64.const 0))
              (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))))
            (if (i64.gt_s (local.get $n) (i64.extend_i32_u (global.get $RECCAP)))
              (then (return (i32.const 8))))
            (local.set $info (call $info_size (global.get $REC) (i32.wrap_i64 (local.get $n))))
            (if (i32.eqz (local.get $info)) (then (return (call $corrupt))))
            ;; grow memory when OUT would run past its end
            (local.set $need (i32.add (local.get $pos) (local.get $info)))
            (if (i32.gt_u (local.get $need) (i32.shl (memory.size) (i32.const 16)))
              (then
                (if (i32.lt_s (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $need) (i32.shl (memory.size) (i32.const 16)))
                                                               (i32.const 0xffff))
                                                      (i32.const 16)))
                              (i32.const 0))
                  (then (return (i32.const 8))))))
            (memory.copy (local.get $pos) (global.get $REC) (local.get $info))
            (local.set $pos (local.get $need))
            (local.set $found (i32.add (local.get $found) (i32.const 1))))
          (local.set $count (i32.sub (local.get $count) (i32.const 1)))
          (br_if $next_key (local.get $count)))
        ;; the last key of this page is where the next one starts
        (memory.copy (global.get $AFTER) (local.get $k) (local.get $klen))
        (local.set $alen (local.get $klen))
        (br $next_page)))
    (i32.store (global.get $OUT) (local.get $found))
    (call $output (global.get $OUT) (i32.sub (local.get $pos) (global.get $OUT))))

  ;; test: write, read back and delete a probe record.
  (func (export "sesame_test") (result i32)
    (local $st i32) (local $n i64) (local $i i32)
    (local.set $st (call $kv_set (i32.const 0x400) (i32.const 7) (i32.const 0x410) (i32.const 22)))
    (if (local.get $st) (then (return (local.get $st))))
    (local.set $n (call $kv_get (i32.const 0x400) (i32.const 7) (global.get $REC) (global.get $RECCAP)))
    (if (i64.lt_s (local.get $n) (i64.const 0))
      (then (return (i32.wrap_i64 (i64.sub (i64.const 0) (local.get $n))))))
    (block $differ
      (br_if $differ (i64.ne (local.get $n) (i64.const 22)))
      (loop $byte
        (br_if $differ (i32.ne (i32.load8_u (i32.add (global.get $REC) (local.get $i)))
                               (i32.load8_u (i32.add (i32.const 0x410) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $byte (i32.lt_u (local.get $i) (i32.const 22))))
      (return (call $kv_delete (i32.const 0x400) (i32.const 7))))
    (drop (call $error (i32.const 0x460) (i32.const 46)))
    (i32.const 7))
)
