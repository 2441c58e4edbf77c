// optional.ts: a vault in AssemblyScript whose get runs, through the
// bindings of examples/as-vault/assembly/sesame.ts, the optional host
// functions its name picks, and outputs what they gave for the test to
// compare:
//
//   "scan"          kv_scan pages over the prefix "a": key=value; each
//   "http URL"      a GET of URL: the status and the body
//   "age"           a key wrapped to the user's recipient, unwrapped, and
//                   a changed file refused: "ok"
//   "format"        the format primitives as a KDBX reader uses them (as
//                   testdata/formatkeys.c): the cipher texts and the MAC
//   "replace HEX"   dir_replace of .new over db with the digest HEX: its
//                   status
//
// It loads only if every declaration matches the host's signature.

import {
  OK, INTERNAL, INVALID_ARGUMENT, PERMISSION_DENIED, KEY_AEAD, KEY_HMAC, KEY_ARGON2D,
  AGE_RECIPIENT_LEN, Buf, output, fail, readInput, kvScanPage, httpDo, appendStr,
  key_generate, key_import, key_hmac, age_recipient, age_wrap, age_unwrap,
  key_hash, key_aes_kdf, key_argon2, key_aes_cbc, key_chacha20, dir_replace,
} from "../../../../examples/as-vault/assembly/sesame";

export function sesame_abi_v1(): void {}

export function sesame_manifest(): u32 {
  const b = String.UTF8.encode('{"abi":1,"name":"optional-as","version":"1.0.0"}');
  return output(changetype<usize>(b), <u32>b.byteLength);
}

function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function p(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

export function sesame_get(nameLen: u32): u32 {
  const nb = new Buf();
  const s = readInput(nb, 0, nameLen);
  if (s != OK) return s;
  const name = String.UTF8.decodeUnsafe(nb.ptr, nb.len);
  if (name == "scan") return scan();
  if (name.startsWith("http ")) return get(name.substring(5));
  if (name == "age") return wrapUnwrap();
  if (name == "format") return format();
  if (name.startsWith("replace ")) return replace(name.substring(8));
  return fail(INVALID_ARGUMENT, "unknown test " + name);
}

function scan(): u32 {
  const page = new Buf(), out = new Buf(), after = new Buf();
  const prefix = bytes("a");
  while (true) {
    const s = kvScanPage(page, p(prefix), 1, after.ptr, after.len);
    if (s != OK) return s;
    const count = load<u32>(page.ptr);
    if (count == 0) break;
    let at = page.ptr + 4;
    for (let i: u32 = 0; i < count; i++) {
      const kl = load<u32>(at), k = at + 4;
      const vl = load<u32>(k + kl), v = k + kl + 4;
      out.append(k, kl);
      out.append(p(bytes("=")), 1);
      out.append(v, vl);
      out.append(p(bytes(";")), 1);
      after.len = 0;
      after.append(k, kl);
      at = v + vl;
    }
  }
  return output(out.ptr, out.len);
}

function get(url: string): u32 {
  const req = new Buf(), resp = new Buf();
  appendStr(req, "GET");
  appendStr(req, url);
  req.appendU32(0); // no headers
  const s = httpDo(req, resp);
  if (s != OK) return s;
  const status = load<u32>(resp.ptr);
  let at = resp.ptr + 4;
  const headers = load<u32>(at);
  at += 4;
  for (let i: u32 = 0; i < headers; i++) {
    at += 4 + load<u32>(at); // the name
    at += 4 + load<u32>(at); // the value
  }
  const out = bytes(status.toString() + " ");
  const b = new Buf();
  b.append(p(out), <u32>out.byteLength);
  b.append(at, <u32>(resp.ptr + resp.len - at));
  return output(b.ptr, b.len);
}

function wrapUnwrap(): u32 {
  const me = new ArrayBuffer(<i32>AGE_RECIPIENT_LEN);
  const r = age_recipient(p(me), AGE_RECIPIENT_LEN);
  if (r == -<i64>PERMISSION_DENIED) return fail(PERMISSION_DENIED, "age_recipient: not granted");
  if (r != <i64>AGE_RECIPIENT_LEN) return fail(INTERNAL, "age_recipient");
  const k = key_generate(KEY_AEAD);
  if (k <= 0) return fail(INTERNAL, "key_generate");
  const n = age_wrap(k, p(me), AGE_RECIPIENT_LEN, 0, 0);
  if (n <= 0) return fail(INTERNAL, "age_wrap asked for its length");
  const file = new ArrayBuffer(<i32>n);
  if (age_wrap(k, p(me), AGE_RECIPIENT_LEN, p(file), <u32>n) != n) return fail(INTERNAL, "age_wrap");
  const k2 = age_unwrap(p(file), <u32>n);
  if (k2 <= 0 || k2 == k) return fail(INTERNAL, "age_unwrap");
  const x = bytes("x"), mac1 = new ArrayBuffer(<i32>KEY_HMAC), mac2 = new ArrayBuffer(<i32>KEY_HMAC);
  if (key_hmac(k, p(x), 1, p(mac1)) != OK || key_hmac(k2, p(x), 1, p(mac2)) != OK || memory.compare(p(mac1), p(mac2), KEY_HMAC) != 0) {
    return fail(INTERNAL, "the unwrapped key is the wrapped one");
  }
  store<u8>(p(file) + <usize>n - 1, load<u8>(p(file) + <usize>n - 1) ^ 1);
  if (age_unwrap(p(file), <u32>n) != -<i32>PERMISSION_DENIED) return fail(INTERNAL, "age_unwrap of a changed file");
  const bad = bytes("age1xyz");
  if (age_wrap(k, p(bad), 7, p(file), <u32>n) != -<i64>INVALID_ARGUMENT) return fail(INTERNAL, "age_wrap to a malformed recipient");
  const ok = bytes("ok");
  return output(p(ok), 2);
}

function seq(from: u8, n: i32): ArrayBuffer {
  const b = new ArrayBuffer(n);
  for (let i = 0; i < n; i++) store<u8>(p(b) + i, from + <u8>i);
  return b;
}

// format derives and uses keys as formatkeys.c does: the key 80…9f;
// AES-KDF (1000 rounds, seed 30…4f) hashed with the seed into the cipher
// key; Argon2d (2 passes, 64 KiB, 2 lanes, salt 60…7f) hashed with the
// seed and 01, then with ff×8, into a block key; AES-256-CBC (IV 10…1f)
// and ChaCha20 (nonce 40…4b) of "a"…, and the MAC of "header".
function format(): u32 {
  const key = seq(0x80, 32), seed = seq(0x30, 32), salt = seq(0x60, 32), iv = seq(0x10, 16), nonce = seq(0x40, 12);
  const plain = seq(0x61, 64), ff = new ArrayBuffer(8), one = new ArrayBuffer(1), empty = new ArrayBuffer(0);
  memory.fill(p(ff), 0xff, 8);
  store<u8>(p(one), 1);
  const out = new ArrayBuffer(64 + 64 + <i32>KEY_HMAC);
  const k = key_import(p(key), 32);
  if (k <= 0) return fail(INTERNAL, "key_import");
  const t = key_aes_kdf(k, p(seed), 32, 1000);
  if (t <= 0) return fail(INTERNAL, "key_aes_kdf");
  const a = key_argon2(k, KEY_ARGON2D, 0x13, p(salt), 32, 2, 64, 2, 32);
  if (a <= 0) return fail(INTERNAL, "key_argon2");
  const ck = key_hash(t, p(seed), 32, p(empty), 0, 32);
  const hb = key_hash(a, p(seed), 32, p(one), 1, 64);
  const bk = key_hash(hb, p(ff), 8, p(empty), 0, 64);
  if (ck <= 0 || hb <= 0 || bk <= 0) return fail(INTERNAL, "key_hash");
  memory.copy(p(out), p(plain), 64);
  if (key_aes_cbc(ck, 1, p(iv), p(out), 64, p(out)) != OK) return fail(INTERNAL, "key_aes_cbc in place");
  const back = new ArrayBuffer(64);
  if (key_aes_cbc(ck, 0, p(iv), p(out), 64, p(back)) != OK || memory.compare(p(back), p(plain), 64) != 0) {
    return fail(INTERNAL, "key_aes_cbc decrypts what it encrypted");
  }
  if (key_chacha20(ck, p(nonce), 0, p(plain), 64, p(out) + 64) != OK) return fail(INTERNAL, "key_chacha20");
  const header = bytes("header");
  if (key_hmac(bk, p(header), 6, p(out) + 128) != OK) return fail(INTERNAL, "key_hmac under a hashed key");
  if (key_hash(k, p(empty), 0, p(empty), 0, 48) != -<i32>INVALID_ARGUMENT) return fail(INTERNAL, "key_hash of 48 bytes");
  if (key_chacha20(hb, p(nonce), 0, p(plain), 64, p(back)) != INVALID_ARGUMENT) return fail(INTERNAL, "key_chacha20 under a 64-byte key");
  return output(p(out), <u32>out.byteLength);
}

function nibble(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function replace(hex: string): u32 {
  if (hex.length != 64) return fail(INVALID_ARGUMENT, "want 64 hex digits");
  const digest = new ArrayBuffer(32);
  for (let i = 0; i < 32; i++) {
    const hi = nibble(hex.charCodeAt(2 * i)), lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return fail(INVALID_ARGUMENT, "digest is not hex");
    store<u8>(p(digest) + i, <u8>(hi << 4 | lo));
  }
  const from = bytes(".new"), to = bytes("db");
  return dir_replace(p(from), 4, p(to), 2, p(digest));
}
