// keys.ts: a vault in AssemblyScript whose get calls every key function
// of examples/as-vault/assembly/sesame.ts (SPEC.md §5.8) once, checks each
// answer, and returns OK, or INTERNAL with an error naming the first that
// went wrong. It loads only if every declaration matches the host's
// signature.

import {
  OK, INTERNAL, NOT_FOUND, PERMISSION_DENIED, KEY_AEAD, KEY_OVERHEAD, KEY_HMAC,
  output, fail, key_generate, key_import, key_argon2id, key_hkdf, key_wrap, key_unwrap,
  key_seal, key_open, key_hmac, key_keep, key_release, keyring_set, keyring_get, keyring_clear,
} from "../../../../examples/as-vault/assembly/sesame";

export function sesame_abi_v1(): void {}

export function sesame_manifest(): u32 {
  const b = String.UTF8.encode('{"abi":1,"name":"keys-as","version":"1.0.0"}');
  return output(changetype<usize>(b), <u32>b.byteLength);
}

function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function p(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

export function sesame_get(nameLen: u32): u32 {
  const salt = bytes("salt-salt-salt-s"), pw = bytes("pw"), ad = bytes("ad"), plain = bytes("hello");
  const box = new ArrayBuffer(<i32>(KEY_AEAD + KEY_OVERHEAD));
  const sealed = new ArrayBuffer(<i32>(5 + KEY_OVERHEAD));
  const opened = new ArrayBuffer(5);
  const mac = new ArrayBuffer(<i32>KEY_HMAC);
  const clearKey = new ArrayBuffer(16);

  const k = key_generate(KEY_AEAD);
  if (k <= 0) return fail(INTERNAL, "key_generate");
  const imported = key_import(p(clearKey), 16);
  if (imported <= 0) return fail(INTERNAL, "key_import");
  const pk = key_argon2id(p(pw), 2, p(salt), 16, 1, 8192, 1, 32);
  if (pk <= 0) return fail(INTERNAL, "key_argon2id");
  const sub = key_hkdf(k, p(salt), 16, p(ad), 2, 32);
  if (sub <= 0) return fail(INTERNAL, "key_hkdf");
  const n = key_wrap(pk, k, p(ad), 2, p(box), <u32>box.byteLength);
  if (n != <i64>box.byteLength) return fail(INTERNAL, "key_wrap");
  const k2 = key_unwrap(pk, p(box), <u32>n, p(ad), 2);
  if (k2 <= 0) return fail(INTERNAL, "key_unwrap");
  if (key_seal(k2, p(plain), 5, p(ad), 2, p(sealed), <u32>sealed.byteLength) != <i64>sealed.byteLength) return fail(INTERNAL, "key_seal");
  if (key_open(k, p(sealed), <u32>sealed.byteLength, p(ad), 2, p(opened), 5) != 5 || memory.compare(p(opened), p(plain), 5) != 0) return fail(INTERNAL, "key_open");
  if (key_open(k, p(sealed), <u32>sealed.byteLength, p(salt), 2, p(opened), 5) != -<i64>PERMISSION_DENIED) return fail(INTERNAL, "key_open with other additional data");
  if (key_hmac(imported, p(pw), 2, p(mac)) != OK) return fail(INTERNAL, "key_hmac");
  if (key_keep(sub) != OK) return fail(INTERNAL, "key_keep");
  if (key_release(k2) != OK || key_release(k2) != NOT_FOUND) return fail(INTERNAL, "key_release");
  const ring = new ArrayBuffer(4);
  store<i32>(p(ring), sub);
  if (keyring_set(p(ring), 4, 0) != OK) return fail(INTERNAL, "keyring_set");
  if (keyring_get(p(ring), 4) != 4 || load<i32>(p(ring)) != sub) return fail(INTERNAL, "keyring_get");
  if (keyring_clear() != OK || key_release(sub) != NOT_FOUND) return fail(INTERNAL, "keyring_clear wipes the kept key");
  return OK;
}
