// Bindings for the sesame extension ABI version 1 (abi/SPEC.md, normative;
// §n below refers to it), for vaults written in AssemblyScript. Copy this
// file into a vault of your own: index.ts shows how it is used.
//
// The host functions live in the import module "sesame_v1". Every
// (pointer, length) pair is checked by the host before it touches memory,
// and a bad one is answered with a status, never a trap. A pointer never
// outlives the call that passed it: the host copies what it reads at once
// and writes only into the buffer it is given.

// ---- Status codes (§6) ----------------------------------------------------

export const OK: u32 = 0;
export const NOT_FOUND: u32 = 1;
export const INVALID_ARGUMENT: u32 = 2;
export const PERMISSION_DENIED: u32 = 3;
export const LOCKED: u32 = 4;
export const CONFLICT: u32 = 5;
export const UNSUPPORTED: u32 = 6;
export const UNAVAILABLE: u32 = 7;
export const TOO_LARGE: u32 = 8;
export const INTERNAL: u32 = 9;
export const DEADLINE_EXCEEDED: u32 = 10;

// ---- Secret types (§7.1) and metadata kinds (§7.3) ------------------------

export const TYPE_BYTES: u8 = 1;
export const TYPE_STRING: u8 = 2;
export const TYPE_SECURESTRING: u8 = 3;
export const TYPE_CREDENTIAL: u8 = 4;
export const TYPE_HASHTABLE: u8 = 5;

export const META_STRING: u8 = 1; // str
export const META_INT: u8 = 2; // i64
export const META_DATETIME: u8 = 3; // i64 seconds since 1970 UTC, u32 nanoseconds
// kind 3, then i16 UTC offset in minutes; sent only to a vault whose manifest
// declares "datetime_offset":true (sesame 0.3)
export const META_DATETIME_OFFSET: u8 = 4;

// The argument of the optional export sesame_batch (§5.3, "Where a batch
// begins and ends"): one byte. A vault that exports
//   export function sesame_batch(len: u32): u32
// is called with BATCH_BEGIN before a batch's first call and with BATCH_END
// after its last, before the commit (sesame 0.5).
export const BATCH_BEGIN: u8 = 0;
export const BATCH_END: u8 = 1;

// What a set did: the one byte it outputs when the manifest declares
// "set_reports":true (§4, sesame 0.5). UNCHANGED: nothing was written, the
// stored secret already had that value (and that metadata, when given).
export const SET_CREATED: u8 = 0;
export const SET_REPLACED: u8 = 1;
export const SET_UNCHANGED: u8 = 2;

// ---- Limits (§8) ----------------------------------------------------------

export const MAX_NAME: u32 = 256;
export const MAX_VALUE: u32 = 1 << 20;
export const MAX_METADATA: u32 = 16 << 10;
export const MAX_STORAGE_KEY: u32 = 1 << 10;
export const MAX_STORAGE_VALUE: u32 = 2 << 20;

// ---- Host functions (§5) --------------------------------------------------

// input copies argument idx to dst if it fits in cap and returns its full
// length either way; -NOT_FOUND when there is no such argument.
// @ts-ignore: decorator
@external("sesame_v1", "input")
export declare function input(idx: u32, dst: usize, cap: u32): i32;

// output replaces this call's output with a copy of [src, src+len).
// @ts-ignore: decorator
@external("sesame_v1", "output")
export declare function output(src: usize, len: u32): u32;

// error sets the message that goes with a non-OK status. Never a secret.
// @ts-ignore: decorator
@external("sesame_v1", "error")
export declare function error(src: usize, len: u32): u32;

// log writes one line at level 0 debug, 1 info, 2 warn, 3 error.
// @ts-ignore: decorator
@external("sesame_v1", "log")
export declare function log(level: u32, src: usize, len: u32): u32;

// Storage (grant "storage", §5.3). kv_get and kv_list return the length of
// the result (>= 0) and copy it only if it fits in cap; negative: -status.

// @ts-ignore: decorator
@external("sesame_v1", "kv_get")
export declare function kv_get(key: usize, keyLen: u32, dst: usize, cap: u32): i64;

// @ts-ignore: decorator
@external("sesame_v1", "kv_set")
export declare function kv_set(key: usize, keyLen: u32, value: usize, valueLen: u32): u32;

// kv_delete returns NOT_FOUND when the key was absent.
// @ts-ignore: decorator
@external("sesame_v1", "kv_delete")
export declare function kv_delete(key: usize, keyLen: u32): u32;

// kv_list lists at most 256 keys that start with prefix and sort after
// `after`, as a key list (§7.8): u32 count, count times (u32 len, bytes).
// @ts-ignore: decorator
@external("sesame_v1", "kv_list")
export declare function kv_list(prefix: usize, prefixLen: u32, after: usize, afterLen: u32, dst: usize, cap: u32): i64;

// kv_scan is kv_list with the values, read in one transaction (optional,
// sesame 0.4): a page of at most 256 entries and 1 MiB as an entry list
// (§7.12): u32 count, count times (u32 len, key, u32 len, value). A page
// always holds the first entry there is: when even that does not fit in
// cap, nothing is copied and the result is the length it needs. An empty
// page (4 bytes) ends the scan; the last key of a page is the next `after`.
// @ts-ignore: decorator
@external("sesame_v1", "kv_scan")
export declare function kv_scan(prefix: usize, prefixLen: u32, after: usize, afterLen: u32, dst: usize, cap: u32): i64;

// ---- Keys behind handles (§5.8), optional, no grant ------------------------
//
// The host keeps the keys and the guest names them by handles (positive
// i32), so that no key byte enters guest memory. A module that imports any
// of these needs a host that has them (sesame 0.3 and later): an older host
// refuses it at load, naming the import. Functions that make a key return
// its handle or -status: -INVALID_ARGUMENT for a handle never given,
// -NOT_FOUND for one whose key is gone (report LOCKED). A box that is not
// authentic (wrong key or password, other additional data, a changed byte)
// is PERMISSION_DENIED. A key made in a call is wiped when the call ends
// unless key_keep keeps it; a kept key lives as long as the keyring's
// content (keyring_set the handle with the password timeout).

export const KEY_MIN: u32 = 16; // bytes of a key
export const KEY_MAX: u32 = 64;
export const KEY_AEAD: u32 = 32; // the key of seal, open, wrap, unwrap
export const KEY_OVERHEAD: u32 = 40; // a box: 24-byte nonce, cipher text, 16-byte tag
export const KEY_HMAC: u32 = 32; // bytes written by key_hmac
export const KEY_HANDLES: u32 = 64; // keys a vault holds at once

// key_generate makes a random key of len bytes (16–64).
// @ts-ignore: decorator
@external("sesame_v1", "key_generate")
export declare function key_generate(len: u32): i32;

// key_import makes a key of bytes the guest holds in clear: only for keys
// already in clear (a store without a password).
// @ts-ignore: decorator
@external("sesame_v1", "key_import")
export declare function key_import(key: usize, len: u32): i32;

// key_argon2id derives a key of len bytes from a password, as kdf_argon2id.
// @ts-ignore: decorator
@external("sesame_v1", "key_argon2id")
export declare function key_argon2id(password: usize, passwordLen: u32, salt: usize, saltLen: u32, time: u32, memoryKiB: u32, threads: u32, len: u32): i32;

// key_hkdf derives a subkey of len bytes (16–64) with HKDF-SHA256.
// @ts-ignore: decorator
@external("sesame_v1", "key_hkdf")
export declare function key_hkdf(key: i32, salt: usize, saltLen: u32, info: usize, infoLen: u32, len: u32): i32;

// key_wrap seals key under kek: the box (key length + 40 bytes) goes to
// dst if it fits in cap; returns its length.
// @ts-ignore: decorator
@external("sesame_v1", "key_wrap")
export declare function key_wrap(kek: i32, key: i32, ad: usize, adLen: u32, dst: usize, cap: u32): i64;

// key_unwrap opens a box of key_wrap and makes the key it holds.
// @ts-ignore: decorator
@external("sesame_v1", "key_unwrap")
export declare function key_unwrap(kek: i32, box: usize, boxLen: u32, ad: usize, adLen: u32): i32;

// key_seal encrypts [src, src+len) with XChaCha20-Poly1305 and a random
// nonce: the box (len + 40 bytes) goes to dst if it fits; returns its length.
// @ts-ignore: decorator
@external("sesame_v1", "key_seal")
export declare function key_seal(key: i32, src: usize, len: u32, ad: usize, adLen: u32, dst: usize, cap: u32): i64;

// key_open checks and decrypts a box into dst (len - 40 bytes) if it fits;
// returns that length.
// @ts-ignore: decorator
@external("sesame_v1", "key_open")
export declare function key_open(key: i32, box: usize, len: u32, ad: usize, adLen: u32, dst: usize, cap: u32): i64;

// key_hmac writes HMAC-SHA256 of [src, src+len) under key to the 32 bytes
// at dst.
// @ts-ignore: decorator
@external("sesame_v1", "key_hmac")
export declare function key_hmac(key: i32, src: usize, len: u32, dst: usize): u32;

// key_keep makes key outlive the call: it joins the keyring.
// @ts-ignore: decorator
@external("sesame_v1", "key_keep")
export declare function key_keep(key: i32): u32;

// key_release wipes key now.
// @ts-ignore: decorator
@external("sesame_v1", "key_release")
export declare function key_release(key: i32): u32;

// The keyring (§5.7), where a vault records the handles it kept.

// keyring_set replaces the vault's keyring slot with [src, src+len) (at
// most 4 KiB), emptied ttlMs after the call (0: never).
// @ts-ignore: decorator
@external("sesame_v1", "keyring_set")
export declare function keyring_set(src: usize, len: u32, ttlMs: u32): u32;

// keyring_get copies the slot like kv_get; -NOT_FOUND when empty or expired.
// @ts-ignore: decorator
@external("sesame_v1", "keyring_get")
export declare function keyring_get(dst: usize, cap: u32): i64;

// keyring_clear empties the slot, and wipes the kept keys.
// @ts-ignore: decorator
@external("sesame_v1", "keyring_clear")
export declare function keyring_clear(): u32;

// ---- HTTP (§5.9; grant http; optional) -----------------------------------
//
// The host makes one request for the guest, to an origin the grant lists,
// and keeps its response until the call ends or the next request. A
// response of any status (404, 500) is OK; failures are -status
// (PERMISSION_DENIED: an origin not granted; UNAVAILABLE: the server could
// not be reached; TOO_LARGE, DEADLINE_EXCEEDED). A module that imports
// these needs a host that has them (sesame 0.4).

// http_request sends the request encoded at [ptr, +len) (§7.10: str method,
// str url, a params map of headers (§7.2, names in lower case, ascending),
// the body) and copies the encoded response (§7.11: u32 status, headers,
// body) to dst if it fits in cap; returns its length either way.
// @ts-ignore: decorator
@external("sesame_v1", "http_request")
export declare function http_request(ptr: usize, len: u32, dst: usize, cap: u32): i64;

// http_response copies the kept response again, like http_request's;
// -NOT_FOUND when there is none. A guest whose buffer was too small takes
// the response with a larger one without sending the request twice.
// @ts-ignore: decorator
@external("sesame_v1", "http_response")
export declare function http_response(dst: usize, cap: u32): i64;

// http_origins copies the origins the http grant lists, in its order, as a
// key list (§7.8: u32 count, then u32 len and bytes each), like kv_get;
// -PERMISSION_DENIED without the grant.
// @ts-ignore: decorator
@external("sesame_v1", "http_origins")
export declare function http_origins(dst: usize, cap: u32): i64;

// ---- The user's age identity (§5.10; grant identity; optional) ------------
//
// The host holds the user's age identity: it wraps a key behind a handle
// to age recipients and unwraps an age file into a new key, without the
// identity or the key in guest memory. Without the grant each answers
// -PERMISSION_DENIED.

export const AGE_RECIPIENT_LEN: u32 = 62; // "age1" and 58 bech32 characters
export const AGE_MAX_FILE: u32 = 64 << 10; // bytes of a file age_unwrap takes

// age_recipient copies the user's recipient (age1…) to dst if it fits in
// cap; returns its length.
// @ts-ignore: decorator
@external("sesame_v1", "age_recipient")
export declare function age_recipient(dst: usize, cap: u32): i64;

// age_wrap encrypts key to the recipients (1–256 distinct age1…, separated
// by "\n", no trailing newline; else -INVALID_ARGUMENT) and copies the
// binary age file to dst if it fits in cap; returns its length.
// @ts-ignore: decorator
@external("sesame_v1", "age_wrap")
export declare function age_wrap(key: i32, recipients: usize, recipientsLen: u32, dst: usize, cap: u32): i64;

// age_unwrap opens an age file with the user's identity and makes a key of
// its content (16–64 bytes, else -INVALID_ARGUMENT). A file the identity
// cannot open (for others, changed, cut) is -PERMISSION_DENIED.
// @ts-ignore: decorator
@external("sesame_v1", "age_unwrap")
export declare function age_unwrap(file: usize, len: u32): i32;

// ---- Format primitives on keys behind handles (§5.11; optional) ----------
//
// What a vault needs for a file format whose derived keys should stay in
// the host (KeePass's KDBX). Keys are handles as above; the KDFs and ciphers
// take a 32-byte key. The KDFs keep the call's deadline.

export const KEY_ARGON2D: u32 = 0;
export const KEY_ARGON2ID: u32 = 2;
export const KEY_MAX_CIPHER: u32 = 16 << 20; // bytes per cipher call

// key_hash makes a key of SHA-256 (len 32) or SHA-512 (len 64) of
// prefix ‖ key ‖ suffix; prefix and suffix at most 1 KiB each.
// @ts-ignore: decorator
@external("sesame_v1", "key_hash")
export declare function key_hash(key: i32, prefix: usize, prefixLen: u32, suffix: usize, suffixLen: u32, len: u32): i32;

// key_aes_kdf is KeePass's AES-KDF: rounds of AES-256-ECB under the
// 32-byte seed, then SHA-256: a 32-byte key.
// @ts-ignore: decorator
@external("sesame_v1", "key_aes_kdf")
export declare function key_aes_kdf(key: i32, seed: usize, seedLen: u32, rounds: u64): i32;

// key_argon2 is Argon2d or Argon2id (variant 0 or 2), version 0x13 or
// 0x10, salt 8–64 bytes, 1–1000 passes, 1–256 lanes, a key of len bytes
// (16–64); memory beyond the vault's grant is -TOO_LARGE.
// @ts-ignore: decorator
@external("sesame_v1", "key_argon2")
export declare function key_argon2(key: i32, variant: u32, version: u32, salt: usize, saltLen: u32, time: u32, memoryKiB: u32, lanes: u32, len: u32): i32;

// key_aes_cbc is AES-256-CBC without padding (encrypt 1, decrypt 0) of len
// bytes (whole blocks) from src to dst (the same, or apart), with the
// 16-byte iv; returns a status.
// @ts-ignore: decorator
@external("sesame_v1", "key_aes_cbc")
export declare function key_aes_cbc(key: i32, encrypt: u32, iv: usize, src: usize, len: u32, dst: usize): u32;

// key_chacha20 is ChaCha20 (RFC 8439) with the 12-byte nonce from block
// counter; returns a status.
// @ts-ignore: decorator
@external("sesame_v1", "key_chacha20")
export declare function key_chacha20(key: i32, nonce: usize, counter: u32, src: usize, len: u32, dst: usize): u32;

// ---- Replacing a file of the granted folder (§5.4; optional) -------------

// dir_replace puts the file `from` in the place of `to` (both relative to
// the folder: "Passwords.kdbx", not "/data/Passwords.kdbx") only if `to`
// holds the bytes whose SHA-256 is the 32 bytes at digest, and removes what
// it held, atomically. CONFLICT: `to` holds other bytes, nothing changed;
// UNSUPPORTED: this system cannot exchange names, compare and rename
// yourself; also NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT.
// @ts-ignore: decorator
@external("sesame_v1", "dir_replace")
export declare function dir_replace(from: usize, fromLen: u32, to: usize, toLen: u32, digest: usize): u32;

// ---- Buffers --------------------------------------------------------------

// Buf is a growable byte buffer over an ArrayBuffer. ptr is the address of
// its first byte, valid until the next reserve.
export class Buf {
  data: ArrayBuffer = new ArrayBuffer(256);
  len: u32 = 0;

  get ptr(): usize {
    return changetype<usize>(this.data);
  }

  get cap(): u32 {
    return <u32>this.data.byteLength;
  }

  // reserve makes room for n more bytes after len.
  reserve(n: u32): void {
    const need = <u64>this.len + n;
    if (need <= <u64>this.cap) return;
    let cap = <u64>this.cap;
    while (cap < need) cap *= 2;
    const data = new ArrayBuffer(<i32>cap);
    memory.copy(changetype<usize>(data), this.ptr, this.len);
    this.data = data;
  }

  append(src: usize, n: u32): void {
    this.reserve(n);
    memory.copy(this.ptr + this.len, src, n);
    this.len += n;
  }

  appendU32(v: u32): void {
    this.reserve(4);
    store<u32>(this.ptr + this.len, v);
    this.len += 4;
  }
}

// readInput reads argument idx, of the length len that the export received,
// into b after its first `at` bytes. Returns a status.
export function readInput(b: Buf, idx: u32, len: u32, at: u32 = 0): u32 {
  b.len = at;
  b.reserve(len);
  const n = input(idx, b.ptr + at, len);
  if (n < 0) return <u32>-n;
  if (<u32>n != len) return INVALID_ARGUMENT;
  b.len = at + len;
  return OK;
}

// kvRead reads the value of key into b, growing b when it does not fit.
// Returns a status: NOT_FOUND when there is no such key.
export function kvRead(b: Buf, key: usize, keyLen: u32): u32 {
  b.len = 0;
  let n = kv_get(key, keyLen, b.ptr, b.cap);
  while (n > <i64>b.cap) { // too small: grow and read again
    b.reserve(<u32>n);
    n = kv_get(key, keyLen, b.ptr, b.cap);
  }
  if (n < 0) return <u32>-n;
  b.len = <u32>n;
  return OK;
}

// kvListPage reads one page of kv_list into b, like kvRead.
export function kvListPage(b: Buf, prefix: usize, prefixLen: u32, after: usize, afterLen: u32): u32 {
  b.len = 0;
  let n = kv_list(prefix, prefixLen, after, afterLen, b.ptr, b.cap);
  while (n > <i64>b.cap) {
    b.reserve(<u32>n);
    n = kv_list(prefix, prefixLen, after, afterLen, b.ptr, b.cap);
  }
  if (n < 0) return <u32>-n;
  b.len = <u32>n;
  return OK;
}

// kvScanPage reads one page of kv_scan into b, like kvRead.
export function kvScanPage(b: Buf, prefix: usize, prefixLen: u32, after: usize, afterLen: u32): u32 {
  b.len = 0;
  let n = kv_scan(prefix, prefixLen, after, afterLen, b.ptr, b.cap);
  while (n > <i64>b.cap) {
    b.reserve(<u32>n);
    n = kv_scan(prefix, prefixLen, after, afterLen, b.ptr, b.cap);
  }
  if (n < 0) return <u32>-n;
  b.len = <u32>n;
  return OK;
}

// httpDo sends the encoded request in req and reads the encoded response
// into resp, growing it with http_response (the request is sent once).
// Returns a status.
export function httpDo(req: Buf, resp: Buf): u32 {
  resp.len = 0;
  let n = http_request(req.ptr, req.len, resp.ptr, resp.cap);
  while (n > <i64>resp.cap) {
    resp.reserve(<u32>n);
    n = http_response(resp.ptr, resp.cap);
  }
  if (n < 0) return <u32>-n;
  resp.len = <u32>n;
  return OK;
}

// appendStr appends s as a str (§7: u32 length, UTF-8).
export function appendStr(b: Buf, s: string): void {
  const e = String.UTF8.encode(s);
  b.appendU32(<u32>e.byteLength);
  b.append(changetype<usize>(e), <u32>e.byteLength);
}

// fail sets msg as the error message and returns status.
export function fail(status: u32, msg: string): u32 {
  const b = String.UTF8.encode(msg);
  error(changetype<usize>(b), <u32>b.byteLength);
  return status;
}

// ---- Encodings (§7): little-endian; str is u32 length + UTF-8 bytes -------

// metadataSize returns the size of the metadata encoding (§7.3) at p,
// reading no more than len bytes; 0 when it is malformed.
export function metadataSize(p: usize, len: u32): u32 {
  if (len < 4) return 0;
  let count = load<u32>(p);
  let off: u32 = 4;
  while (count-- > 0) {
    if (len - off < 4) return 0;
    let n = load<u32>(p + off); // key
    if (n > len - off - 4) return 0;
    off += 4 + n;
    if (len - off < 1) return 0;
    const kind = load<u8>(p + off);
    off += 1;
    if (kind == META_STRING) {
      if (len - off < 4) return 0;
      n = load<u32>(p + off);
      if (n > len - off - 4) return 0;
      n += 4;
    } else if (kind == META_INT) {
      n = 8;
    } else if (kind == META_DATETIME) {
      n = 12;
    } else if (kind == META_DATETIME_OFFSET) {
      n = 14;
    } else {
      return 0;
    }
    if (len - off < n) return 0;
    off += n;
  }
  return off;
}

// infoSize returns the size of the info record (§7.5: str name, u8 type,
// metadata) at p, reading no more than len bytes; 0 when it is malformed.
export function infoSize(p: usize, len: u32): u32 {
  if (len < 4) return 0;
  const n = load<u32>(p);
  if (n > len - 4 || len - 4 - n < 1) return 0;
  const head = 4 + n + 1;
  const md = metadataSize(p + head, len - head);
  return md == 0 ? 0 : head + md;
}

// ---- Patterns (§4) --------------------------------------------------------

// utf8Len is the length of the UTF-8 sequence that starts with byte c.
function utf8Len(c: u8): u32 {
  return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

// match reports whether the name [n, n+nlen) matches the pattern
// [p, p+plen) case-sensitively: '*' matches any run of characters, '?'
// exactly one (a whole UTF-8 sequence); no other metacharacters, no escapes.
export function match(p: usize, plen: u32, n: usize, nlen: u32): bool {
  let pi: u32 = 0, ni: u32 = 0, star: i64 = -1, mark: u32 = 0;
  while (ni < nlen) {
    if (pi < plen) {
      const c = load<u8>(p + pi);
      const ns = min(utf8Len(load<u8>(n + ni)), nlen - ni);
      if (c == 0x2a) { // '*'
        star = ++pi;
        mark = ni;
        continue;
      }
      if (c == 0x3f) { // '?'
        pi++;
        ni += ns;
        continue;
      }
      const ps = utf8Len(c);
      if (ps == ns && ps <= plen - pi && memory.compare(p + pi, n + ni, ps) == 0) {
        pi += ps;
        ni += ns;
        continue;
      }
    }
    if (star < 0) return false;
    mark += min(utf8Len(load<u8>(n + mark)), nlen - mark);
    pi = <u32>star;
    ni = mark;
  }
  while (pi < plen && load<u8>(p + pi) == 0x2a) pi++;
  return pi == plen;
}

// literalPrefix is the length of the pattern before its first '*' or '?':
// every name it matches starts with it.
export function literalPrefix(p: usize, plen: u32): u32 {
  let i: u32 = 0;
  while (i < plen) {
    const c = load<u8>(p + i);
    if (c == 0x2a || c == 0x3f) break;
    i++;
  }
  return i;
}
